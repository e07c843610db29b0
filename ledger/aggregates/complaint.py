"""Complaint (投诉/举报) about a provider, and Appeal (申诉) by a provider.

A filing is a *complaint* (投诉: an enterprise or another provider complains of
the service, 天津 第十二条（四）) or a *report* (举报: anyone reports a problem with
the truth or accuracy of a provider's information, 新乡 第十八条 "实名举报，并提供
佐证材料和联系方式"). ``Filed`` carries which (``nature``) since version 2.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from eventsourcing.domain import event

from ledger.aggregates.base import LedgerAggregate, aggregate_id

COMPLAINANT_KINDS = ("enterprise", "provider", "public")
NATURES = ("complaint", "report")  # 投诉, 举报


class Complaint(LedgerAggregate):
    @staticmethod
    def create_id(complaint_id: str, **_: Any):
        return aggregate_id("complaint", complaint_id)

    class Filed(LedgerAggregate.Created):
        """Version 2 adds ``nature``. A version-1 filing in Xinxiang was handled as a real-name
        report (新乡 第十八条: real name, contact, evidence required; answer requested), so it
        is read as a report there, and as a complaint elsewhere."""

        class_version = 2
        complaint_id: str
        provider_id: str
        jurisdiction: str
        nature: str
        complainant_kind: str
        complainant_name: str | None
        contact: str | None
        real_name: bool
        subject: str
        evidence: list
        enterprise_id: str | None
        effective_on: date

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state.setdefault("nature", "report" if state.get("jurisdiction") == "xinxiang" else "complaint")

    @event(Filed)
    def __init__(
        self,
        complaint_id: str,
        provider_id: str,
        jurisdiction: str,
        nature: str,
        complainant_kind: str,
        complainant_name: str | None,
        contact: str | None,
        real_name: bool,
        subject: str,
        evidence: list,
        enterprise_id: str | None,
        effective_on: date,
    ) -> None:
        self.complaint_id = complaint_id
        self.filed_on = effective_on
        self.provider_id = provider_id
        self.jurisdiction = jurisdiction
        self.nature = nature
        self.complainant_kind = complainant_kind
        self.enterprise_id = enterprise_id
        self.status = "filed"
        self.answer_deadline: date | None = None
        self.answer_requested_on: date | None = None
        self.answered_on: date | None = None
        self.answer_overdue = False
        self.verdict: str | None = None  # true / unfounded
        self.verified_on: date | None = None  # the verdict's day

    @property
    def begins(self) -> tuple[str, date]:
        return f"complaint {self.complaint_id} was filed", self.filed_on

    @event("AnswerRequested")
    def request_answer(self, deadline: date, effective_on: date) -> None:
        self.answer_deadline = deadline
        self.answer_requested_on = effective_on
        self.status = "awaiting_answer"

    @event("Answered")
    def answer(self, summary: str, effective_on: date) -> None:
        self.answered_on = effective_on
        if self.verdict is None:  # an answer dated before the verdict, entered after it: the verdict's status stands
            self.status = "answered"

    @event("AnswerOverdue")
    def mark_answer_overdue(self, deadline: date, effective_on: date) -> None:
        self.answer_overdue = True
        self.status = "answer_overdue"

    @event("Verified")
    def verify(self, verdict: str, findings: str, effective_on: date) -> None:
        self.verdict = verdict
        self.verified_on = effective_on
        self.status = "verified_true" if verdict == "true" else "unfounded"


class Appeal(LedgerAggregate):
    @staticmethod
    def create_id(appeal_id: str, **_: Any):
        return aggregate_id("appeal", appeal_id)

    @event("Filed")
    def __init__(
        self,
        appeal_id: str,
        provider_id: str,
        jurisdiction: str,
        ground: str,
        citation: dict,
        evidence_refs: list,
        matter: str,
        reasons: str,
        purpose: str,
        supporting_evidence: list,
        effective_on: date,
    ) -> None:
        self.appeal_id = appeal_id
        self.filed_on = effective_on
        self.provider_id = provider_id
        self.jurisdiction = jurisdiction
        self.ground = ground
        self.evidence_refs = list(evidence_refs)
        self.status = "filed"

    @property
    def begins(self) -> tuple[str, date]:
        return f"appeal {self.appeal_id} was filed", self.filed_on

    @event("Decided")
    def decide(self, upheld: bool, reasons: str, effective_on: date) -> None:
        self.status = "upheld" if upheld else "dismissed"
