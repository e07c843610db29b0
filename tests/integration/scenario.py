"""A small vocabulary for integration tests: run commands against a real ledger.

Every command gets a fresh ``command_id``. Dates are business dates; the clock
only moves when a test moves it (``scenario.on(day)``). Helpers that record
evidence return the refs a sanction would cite (see :class:`Noted`).
"""
from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from ledger.aggregates import Complaint, Project, Provider
from ledger.application import CommandResult, Ledger
from ledger.clock import ManualClock, business_date
from ledger.commands import models as m
from ledger.deadlines import SweepResult, sweep
from ledger.rules import credit_code
from ledger.rules.base import ref_key
from ledger.store.base import event_ref
from ledger.wire import DecodedEvent

#: a provider kind of each jurisdiction's rulebook
KINDS = {
    "tianjin": "云服务商",
    "xinxiang": "数字化服务商",
    "province": "系统解决方案服务商",
    "tangshan": "数字化服务商",
    "liuzhou": "集成服务商",
}


def credit_code_for(seed: str, division: str = "120116") -> str:
    """A valid 统一社会信用代码 (enterprise, registered by market regulation: 91…) derived from ``seed``."""
    digest = hashlib.sha256(seed.encode()).digest()
    return credit_code.complete("91" + division + "".join(credit_code.ALPHABET[b % 31] for b in digest[:9]))


def profile_changes_in_log(store: Any, provider_id: str) -> list[dict[str, Any]]:
    """A provider's profile changes as its events recorded them (the aggregate keeps only late ones)."""
    events = (DecodedEvent.of(e) for e in store.read_aggregate(Provider.create_id(provider_id)))
    return [e.attributes for e in events if e.name == "provider.profile-changed.v1"]


@dataclass(frozen=True)
class Noted:
    """Evidence about a provider: the event it came from, and the fact noted on the provider."""

    source: str  # e.g. the project's SatisfactionRated event, the complaint's Verified event
    fact: str  # the provider's FactNoted event: what sanctions cite


class Scenario:
    def __init__(self, ledger: Ledger, clock: ManualClock) -> None:
        self.ledger = ledger
        self.clock = clock
        self._ids = itertools.count(1)

    # --- plumbing -------------------------------------------------------------

    def run(self, command: type[m.Command], **fields: Any) -> CommandResult:
        return self.ledger.execute(self.command(command, **fields))

    def command(self, command: type[m.Command], **fields: Any) -> m.Command:
        return command(command_id=f"{command.__name__}-{next(self._ids)}", **fields)

    @property
    def today(self) -> date:
        return business_date(self.clock.now())

    def on(self, day: date) -> None:
        """Move the clock forward to ``day``."""
        self.clock.set(day)

    def provider(self, provider_id: str) -> Provider:
        return self.ledger.load(Provider, provider_id)

    def sanctions(self, provider_id: str, *, active: bool = True) -> list[dict]:
        """The provider's sanctions in the order they were imposed."""
        provider = self.provider(provider_id)
        found = provider.active_sanctions() if active else list(provider.sanctions.values())
        return sorted(found, key=lambda s: ref_key(s["ref"]))

    # --- providers --------------------------------------------------------------

    def admit(
        self, provider_id: str, jurisdiction: str, kind: str | None = None, *, on: date | None = None, credit_code: str | None = None, **eligibility: Any
    ) -> Provider:
        """Apply and be in the pool by ``on`` (default today); where the rulebook requires
        a public notice, it runs for the seven days before ``on``. The entity's credit code
        derives from the provider id unless given."""
        on = on or self.today
        self.run(
            m.SubmitApplication, provider_id=provider_id, jurisdiction=jurisdiction, name=f"{provider_id} Ltd",
            credit_code=credit_code or credit_code_for(provider_id), kind=kind or KINDS[jurisdiction],
            eligibility=eligibility, effective_on=on - timedelta(days=8),
        )  # fmt: skip
        if self.ledger.pack(jurisdiction).requires_notice:
            self.run(m.OpenPublicNotice, provider_id=provider_id, effective_on=on - timedelta(days=7))
            self.run(m.ClosePublicNotice, provider_id=provider_id, last_day=on - timedelta(days=1))
        else:
            self.run(m.AdmitProvider, provider_id=provider_id, effective_on=on)
        return self.provider(provider_id)

    def finding(self, provider_id: str, article: str, *, on: date | None = None, **fields: Any) -> str:
        """A regulator's finding; returns the ref of the sanction it imposed. A warning or an order
        is given 30 days to rectify unless ``deadline_days`` says otherwise (the period is the
        regulator's to set: a removal ignores it)."""
        fields.setdefault("deadline_days", 30)
        self.run(m.RecordFinding, provider_id=provider_id, article=article, summary=f"finding under {article}", effective_on=on, **fields)
        return [s for s in self.sanctions(provider_id, active=False) if not s["derived"]][-1]["ref"]

    def bureau_period(self, jurisdiction: str, days: int, *, on: date = date(2024, 1, 1)) -> None:
        """The bureau's period, from ``on``, for the warnings or orders the ledger derives (新乡
        ``warning_rectification_days``, 柳州 ``rectification_days``): without it they have none until
        the regulator sets one (``SetRectificationPeriod``)."""
        param = {"xinxiang": "warning_rectification_days", "liuzhou": "rectification_days"}[jurisdiction]
        if on > self.today:
            self.on(on)
        self.run(m.SetRulebookParameters, jurisdiction=jurisdiction, params={param: days}, reference="the bureau's notice", effective_on=on)

    def passed_deadlines(self, as_of: date) -> SweepResult:
        """The scheduler runs on ``as_of``."""
        self.on(as_of)
        return sweep(self.ledger, as_of)

    # --- projects and ratings -----------------------------------------------------

    def project(
        self, provider_id: str, enterprise_id: str, *, accepted: bool = True, level_after: int | None = None, on: date | None = None
    ) -> str:
        """A project of ``enterprise_id`` led by ``provider_id``, filed and approved before implementation,
        every step taking effect ``on`` (default today)."""
        project_id = f"P-{next(self._ids)}"
        jurisdiction = self.provider(provider_id).jurisdiction
        self.run(
            m.RegisterProject, project_id=project_id, jurisdiction=jurisdiction, enterprise_id=enterprise_id,
            enterprise_name=f"{enterprise_id} Co", integrated_provider_id=provider_id, effective_on=on,
        )  # fmt: skip
        self.run(m.RecordDiagnosis, project_id=project_id, level_before=1, effective_on=on)
        self.run(m.SubmitFiling, project_id=project_id, content="plan", cost="100000", effective_on=on)
        self.run(m.DecideFiling, project_id=project_id, approved=True, effective_on=on)
        self.run(m.StartImplementation, project_id=project_id, effective_on=on)
        if accepted:
            self.run(m.RecordAcceptance, project_id=project_id, passed=True, level_after=level_after, effective_on=on)
        return project_id

    def rate(self, project_id: str, provider_id: str, rating: str = "不满意", *, on: date | None = None) -> Noted | None:
        self.run(m.RateSatisfaction, project_id=project_id, provider_id=provider_id, rating=rating, effective_on=on)
        source = self.ledger.load(Project, project_id).ratings[provider_id]["ref"]
        return self._noted(provider_id, source)

    def unsatisfied(self, provider_id: str, enterprise_id: str, *, accepted: bool = True, on: date | None = None) -> Noted:
        """A project of ``enterprise_id`` rated 不满意."""
        noted = self.rate(self.project(provider_id, enterprise_id, accepted=accepted, on=on), provider_id, on=on)
        assert noted is not None
        return noted

    # --- complaints and reports -----------------------------------------------------

    def complaint(self, provider_id: str, complainant_kind: str = "enterprise", *, on: date | None = None, **fields: Any) -> str:
        complaint_id = f"C-{next(self._ids)}"
        fields = {"complainant_name": f"{complainant_kind} complainant", "contact": "13800000000", "evidence": ["photos"], **fields}
        enterprise_id = f"E-{complaint_id}" if complainant_kind == "enterprise" else None
        self.run(
            m.FileComplaint, complaint_id=complaint_id, provider_id=provider_id, complainant_kind=complainant_kind,
            subject="service not delivered", enterprise_id=enterprise_id, effective_on=on, **fields,
        )  # fmt: skip
        return complaint_id

    def report(self, provider_id: str, **fields: Any) -> str:
        """A real-name report (举报) by a member of the public, with evidence and contact details."""
        return self.complaint(provider_id, "public", nature="report", **fields)

    def verify(self, complaint_id: str, verdict: str = "true", *, on: date | None = None) -> Noted | None:
        self.run(m.VerifyComplaint, complaint_id=complaint_id, verdict=verdict, effective_on=on)
        complaint = self.ledger.load(Complaint, complaint_id)
        return self._noted(complaint.provider_id, event_ref(complaint.id, complaint.version))

    def verified_complaint(self, provider_id: str, complainant_kind: str = "enterprise", *, on: date | None = None) -> Noted:
        noted = self.verify(self.complaint(provider_id, complainant_kind, on=on), on=on)
        assert noted is not None
        return noted

    # --- appeals ----------------------------------------------------------------------

    def appeal(self, provider_id: str, ground: str, *refs: str, upheld: bool = True, on: date | None = None) -> CommandResult:
        """File an appeal naming ``refs`` and decide it (both ``on``); returns the decision's result."""
        appeal_id = f"A-{next(self._ids)}"
        self.run(
            m.FileAppeal, appeal_id=appeal_id, provider_id=provider_id, ground=ground, evidence_refs=list(refs),
            matter="the evidence named", reasons="it does not hold", purpose="void it",
            supporting_evidence=["the enterprise's letter"], effective_on=on,
        )  # fmt: skip
        return self.run(m.DecideAppeal, appeal_id=appeal_id, upheld=upheld, effective_on=on)

    def _noted(self, provider_id: str, source: str) -> Noted | None:
        fact = self.provider(provider_id).find_fact_by_source(source)
        return Noted(source, fact["ref"]) if fact else None


def summary(sanction: dict) -> dict:
    """What a test asserts of a recorded sanction."""
    return {
        "sanction": sanction["sanction"],
        "article": sanction["citation"]["article"],
        "pack_version": sanction["pack_version"],
        "params": sanction["params"],
        "evidence": sanction["evidence"],
    }
