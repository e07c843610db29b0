"""Timelines: every event of a provider, of its projects and of its complaints and appeals.

A fold over Provider, Project, Complaint and Appeal events. The first event of
each aggregate says which provider(s) its events belong to (``Project.Registered``
names the integrated and product providers; a complaint or an appeal names one
provider); that map is kept in ``rm_subjects`` so that the fold never reads the
event store. Rulebook events belong to no provider's timeline.
"""
from __future__ import annotations

from typing import Any
from uuid import UUID

from ledger.projections.db import Tx, dumps, iso, loads
from ledger.serialization import decode_state, event_name
from ledger.store.base import RecordedEvent

AGGREGATES = ("Provider", "Project", "Complaint", "Appeal")


def _short(ref: Any) -> str:
    """``<uuid>/7`` -> ``…90d9/7`` for summaries (the full ref is in its own column)."""
    text = str(ref)
    if "/" in text:
        head, version = text.rsplit("/", 1)
        return f"…{head[-4:]}/{version}"
    return text


def _article(citation: Any) -> str:
    if isinstance(citation, dict):
        return f"{citation.get('short', '')} {citation.get('article', '')}".strip()
    return ""


def _cited(citation: dict | None) -> str:
    return f"{citation['short']} {citation['article']}" if citation else ""


def summarize(name: str, s: dict[str, Any]) -> str:
    """A short readable line for one event (``name`` as :func:`event_name` gives it)."""
    g = s.get
    match name:
        case "Provider.Applied":
            return f"applied to the {g('jurisdiction')} pool as {g('kind')}: {g('name')}"
        case "Provider.PublicNoticeOpened":
            return "public notice opened"
        case "Provider.ObjectionRaised":
            return f"objection {g('objection_id')} raised by {g('raised_by')}: {g('grounds')}"
        case "Provider.ObjectionResolved":
            return f"objection {g('objection_id')} {'stands' if g('stands') else 'dismissed'}"
        case "Provider.PublicNoticeClosed":
            return f"public notice closed, last day {g('last_day')} ({g('days')} days)"
        case "Provider.Admitted":
            return "admitted to the pool" + (f" ({_article(g('citation'))})" if g("citation") else "")
        case "Provider.AdmissionRefused":
            return f"admission refused: {g('reason')}"
        case "Provider.ApplicationLapsed":
            return f"application lapsed: {g('reason')}"
        case "Provider.ProfileChanged":
            return f"{g('field')} changed from {g('old')!r} to {g('new')!r} on {g('changed_on')}, reported {g('reported_on')}"
        case "Provider.ScoreRecorded":
            return f"{g('year')} score {g('score')}: grade {g('grade')}"
        case "Provider.EvaluationRecorded":
            return f"{g('year')} evaluation: {'qualified' if g('qualified') else 'unqualified'}"
        case "Provider.StarsRated":
            return f"star rating {g('rating_round')}: {g('stars')}★"
        case "Provider.FactNoted":
            return f"fact noted: {g('kind')} (from {_short(g('source_ref'))})"
        case "Provider.FindingRecorded":
            return f"finding under {g('article')}: {g('summary')}"
        case "Provider.SanctionImposed":
            how = "derived" if g("derived") else "on a finding"
            deadline = f", rectify by {g('deadline')}" if g("deadline") else ""
            return f"{g('sanction')} under {_article(g('citation'))} ({how}, evidence {len(g('evidence') or [])}){deadline}"
        case "Provider.RectificationCompleted":
            return f"rectification of {_short(g('sanction_ref'))} completed"
        case "Provider.RectificationRefused":
            return f"rectification of {_short(g('sanction_ref'))} refused"
        case "Provider.RectificationOverdue":
            return f"rectification of {_short(g('sanction_ref'))} overdue (deadline {g('deadline')})"
        case "Provider.EvidenceVoided":
            return f"evidence voided by appeal {_short(g('appeal_ref'))}: {', '.join(_short(r) for r in g('refs') or [])}"
        case "Provider.SanctionRescinded":
            by = f" (appeal {_short(g('appeal_ref'))})" if g("appeal_ref") else ""
            return f"sanction {_short(g('sanction_ref'))} rescinded{by}: {g('reason')}"
        case "Provider.Reinstated":
            return f"reinstated: {g('reason')}"
        case "Provider.Exited":
            return f"exited the pool: {g('reason')}"
        case "Provider.FeesWithheld":
            return f"fees withheld ({g('amount')}): {g('reason')}"
        case "Project.Registered":
            providers = [p for p in [g("integrated_provider_id"), *(g("product_provider_ids") or [])] if p]
            return f"project {g('project_id')} for {g('enterprise_name')} ({g('enterprise_id')}), providers {', '.join(providers)}"
        case "Project.Diagnosed":
            return f"diagnosed: digital level {g('level_before')}"
        case "Project.FilingSubmitted":
            return "filing submitted"
        case "Project.FilingDecided":
            return "filing " + ("approved" if g("approved") else "rejected")
        case "Project.MajorChangeRecorded":
            return f"major change: {g('description')}"
        case "Project.ImplementationStarted":
            return "implementation started" + (" before the filing was approved" if g("before_approval") else "")
        case "Project.AcceptanceDecided":
            level = f", level {g('level_after')}" if g("level_after") is not None else ""
            return "acceptance " + ("passed" if g("passed") else "failed") + level
        case "Project.SatisfactionRated":
            return f"{g('provider_id')} rated {g('rating')}"
        case "Project.PaymentRecorded":
            cited = f" ({_cited(g('citation'))})" if g("citation") else ""
            return f"payment {g('kind')} {g('amount')}" + (f" to {g('provider_id')}" if g("provider_id") else "") + cited
        case "Project.PrepaymentRecoverable":
            return f"prepayment {g('amount')} recoverable by the enterprise ({_cited(g('citation'))})"
        case "Complaint.Filed":
            return f"complaint {g('complaint_id')} by {g('complainant_kind')} {g('complainant_name') or ''}: {g('subject')}".replace("  ", " ")
        case "Complaint.AnswerRequested":
            return f"answer requested by {g('deadline')}"
        case "Complaint.Answered":
            return f"answered: {g('summary')}"
        case "Complaint.AnswerOverdue":
            return f"answer overdue (deadline {g('deadline')})"
        case "Complaint.Verified":
            return "verified as true" if g("verdict") == "true" else "found unfounded"
        case "Appeal.Filed":
            return f"appeal {g('appeal_id')} under {g('ground')} against {', '.join(_short(r) for r in g('evidence_refs') or [])}"
        case "Appeal.Decided":
            return ("appeal upheld" if g("upheld") else "appeal dismissed") + (f": {g('reasons')}" if g("reasons") else "")
    return name


def subject_of(name: str, state: dict[str, Any]) -> tuple[str, str, list[str]] | None:
    """(aggregate, business id, provider ids) from an aggregate's first event."""
    match name:
        case "Provider.Applied":
            return "provider", state["provider_id"], [state["provider_id"]]
        case "Project.Registered":
            ids = [state["integrated_provider_id"]] if state.get("integrated_provider_id") else []
            ids += [p for p in state.get("product_provider_ids") or [] if p not in ids]
            return "project", state["project_id"], ids
        case "Complaint.Filed":
            return "complaint", state["complaint_id"], [state["provider_id"]]
        case "Appeal.Filed":
            return "appeal", state["appeal_id"], [state["provider_id"]]
    return None


class TimelineProjection:
    name = "timeline"
    tables = ("timeline", "subjects")

    def apply(self, event: RecordedEvent, tx: Tx) -> None:
        name = event_name(event.topic)
        if name.split(".", 1)[0] not in AGGREGATES:
            return
        state = decode_state(event)
        subjects: dict[UUID, tuple[str, str, list[str]] | None] = tx.scratch.setdefault(self.name, {})
        if event.originator_version == 1:
            subject = subject_of(name, state)
            if subject is None:
                return
            subjects[event.originator_id] = subject
            tx.execute(
                f"INSERT INTO {tx.table('subjects')} (originator_id, aggregate, subject_id, provider_ids) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (originator_id) DO NOTHING",
                (str(event.originator_id), subject[0], subject[1], dumps(subject[2])),
            )
        elif event.originator_id in subjects:
            subject = subjects[event.originator_id]
        else:
            row = tx.fetchone(
                f"SELECT aggregate, subject_id, provider_ids FROM {tx.table('subjects')} WHERE originator_id = ?",
                (str(event.originator_id),),
            )
            subject = (row[0], row[1], loads(row[2])) if row else None
            subjects[event.originator_id] = subject
        if subject is None:
            return
        aggregate, subject_id, provider_ids = subject
        summary = summarize(name, state)
        tx.executemany(
            f"INSERT INTO {tx.table('timeline')} (provider_id, position, ref, aggregate, subject_id, event_name,"
            " recorded_at, recorded_by, effective_on, command_id, summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (provider_id, position) DO NOTHING",
            [
                (pid, event.position, event.ref, aggregate, subject_id, name, iso(event.recorded_at), event.recorded_by,
                 iso(event.effective_on), event.command_id, summary)
                for pid in provider_ids
            ],
        )  # fmt: skip

    def flush(self, tx: Tx) -> None:
        pass
