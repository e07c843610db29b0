"""Complaint (投诉/举报) about a provider, and Appeal (申诉) by a provider."""
from __future__ import annotations

from datetime import date
from typing import Any

from eventsourcing.domain import event

from ledger.aggregates.base import LedgerAggregate, aggregate_id

COMPLAINANT_KINDS = ("enterprise", "provider", "public")


class Complaint(LedgerAggregate):
    @staticmethod
    def create_id(complaint_id: str, **_: Any):
        return aggregate_id("complaint", complaint_id)

    @event("Filed")
    def __init__(
        self,
        complaint_id: str,
        provider_id: str,
        jurisdiction: str,
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
        self.complainant_kind = complainant_kind
        self.enterprise_id = enterprise_id
        self.status = "filed"
        self.answer_deadline: date | None = None
        self.answer_requested_on: date | None = None
        self.answered_on: date | None = None
        self.answer_overdue = False
        self.verdict: str | None = None  # true / unfounded

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
        self.status = "answered"

    @event("AnswerOverdue")
    def mark_answer_overdue(self, deadline: date, effective_on: date) -> None:
        self.answer_overdue = True
        self.status = "answer_overdue"

    @event("Verified")
    def verify(self, verdict: str, findings: str, effective_on: date) -> None:
        self.verdict = verdict
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
