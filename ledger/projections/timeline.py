"""Timelines: every event of a provider, of its projects and of its complaints and appeals.

A fold over Provider, Project, Complaint and Appeal events. The first event of
each aggregate says which provider(s) its events belong to (``Project.Registered``
names the integrated and product providers; a complaint or an appeal names one
provider); that map is kept in ``rm_subjects`` so that the fold never reads the
event store. Rulebook events belong to no provider's timeline.
"""
from __future__ import annotations

from typing import Any

from ledger import wire
from ledger.projections.db import Tx, dumps, iso, loads
from ledger.wire import DecodedEvent

AGGREGATES = ("provider", "project", "complaint", "appeal")
#: the stable names of their events (other aggregates' events, the rulebook's, belong to no timeline)
EVENT_NAMES = frozenset(name for name in wire.EVENT_TYPES if name.split(".", 1)[0] in AGGREGATES)


def _short(ref: Any) -> str:
    """A ref in a summary: whole (refs are never shortened, an auditor copies them)."""
    return str(ref)


def _article(citation: Any) -> str:
    if isinstance(citation, dict):
        return f"{citation.get('short', '')} {citation.get('article', '')}".strip()
    return ""


def _cited(citation: dict | None) -> str:
    return f"{citation['short']} {citation['article']}" if citation else ""


def summarize(name: str, s: dict[str, Any]) -> str:
    """A short readable line for one event (``name``: the stable name, :func:`ledger.wire.event_type`)."""
    g = s.get
    match name:
        case "provider.applied.v1":
            return f"applied to the {g('jurisdiction')} pool as {g('kind')}: {g('name')}"
        case "provider.public-notice-opened.v1":
            return "public notice opened"
        case "provider.objection-raised.v1":
            return f"objection {g('objection_id')} raised by {g('raised_by')}: {g('grounds')}"
        case "provider.objection-resolved.v1":
            return f"objection {g('objection_id')} {'stands' if g('stands') else 'dismissed'}"
        case "provider.public-notice-closed.v1":
            return f"public notice closed, last day {g('last_day')} ({g('days')} days)"
        case "provider.admitted.v1":
            return "admitted to the pool" + (f" ({_article(g('citation'))})" if g("citation") else "")
        case "provider.admission-refused.v1":
            return f"admission refused: {g('reason')}"
        case "provider.application-lapsed.v1":
            return f"application lapsed: {g('reason')}"
        case "provider.profile-changed.v1":
            return f"{g('field')} changed from {g('old')!r} to {g('new')!r} on {g('changed_on')}, reported {g('reported_on')}"
        case "provider.score-recorded.v1":
            return f"{g('year')} score {g('score')}: grade {g('grade')}"
        case "provider.evaluation-recorded.v1":
            return f"{g('year')} evaluation: {'qualified' if g('qualified') else 'unqualified'}"
        case "provider.stars-rated.v1":
            return f"star rating {g('rating_round')}: {g('stars')}★"
        case "provider.fact-noted.v1":
            return f"fact noted: {g('kind')} (from {_short(g('source_ref'))})"
        case "provider.finding-recorded.v1":
            return f"finding under {g('article')}: {g('summary')}"
        case "provider.sanction-imposed.v1":
            how = "derived" if g("derived") else "on a finding"
            deadline = f", rectify by {g('deadline')}" if g("deadline") else ""
            return f"{g('sanction')} under {_article(g('citation'))} ({how}, evidence {len(g('evidence') or [])}){deadline}"
        case "provider.rectification-completed.v1":
            return f"rectification of {_short(g('sanction_ref'))} completed"
        case "provider.rectification-refused.v1":
            return f"rectification of {_short(g('sanction_ref'))} refused"
        case "provider.rectification-overdue.v1":
            return f"rectification of {_short(g('sanction_ref'))} overdue (deadline {g('deadline')})"
        case "provider.evidence-voided.v1":
            return f"evidence voided by appeal {_short(g('appeal_ref'))}: {', '.join(_short(r) for r in g('refs') or [])}"
        case "provider.sanction-rescinded.v1":
            by = f" (appeal {_short(g('appeal_ref'))})" if g("appeal_ref") else ""
            return f"sanction {_short(g('sanction_ref'))} rescinded{by}: {g('reason')}"
        case "provider.reinstated.v1":
            return f"reinstated: {g('reason')}"
        case "provider.exited.v1":
            return f"exited the pool: {g('reason')}"
        case "provider.fees-withheld.v1":
            return f"fees withheld ({g('amount')}): {g('reason')}"
        case "project.registered.v1":
            providers = [p for p in [g("integrated_provider_id"), *(g("product_provider_ids") or [])] if p]
            return f"project {g('project_id')} for {g('enterprise_name')} ({g('enterprise_id')}), providers {', '.join(providers)}"
        case "project.diagnosed.v1":
            return f"diagnosed: digital level {g('level_before')}"
        case "project.filing-submitted.v1":
            return "filing submitted"
        case "project.filing-decided.v1":
            return "filing " + ("approved" if g("approved") else "rejected")
        case "project.major-change-recorded.v1":
            return f"major change: {g('description')}"
        case "project.implementation-started.v1":
            return "implementation started" + (" before the filing was approved" if g("before_approval") else "")
        case "project.acceptance-decided.v1":
            level = f", level {g('level_after')}" if g("level_after") is not None else ""
            return "acceptance " + ("passed" if g("passed") else "failed") + level
        case "project.satisfaction-rated.v1":
            return f"{g('provider_id')} rated {g('rating')}"
        case "project.payment-recorded.v1":
            cited = f" ({_cited(g('citation'))})" if g("citation") else ""
            return f"payment {g('kind')} {g('amount')}" + (f" to {g('provider_id')}" if g("provider_id") else "") + cited
        case "project.prepayment-recoverable.v1":
            return f"prepayment {g('amount')} recoverable by the enterprise ({_cited(g('citation'))})"
        case "project.withholding-reviewed.v1":
            outcome = f"fees withheld ({g('amount')}) lifted" if g("lifted") else f"fees withheld ({g('amount')}) stay"
            return f"{outcome}: {g('reason')} ({_cited(g('citation'))})"
        case "complaint.filed.v1" | "complaint.filed.v2":
            return f"{g('nature') or 'complaint'} {g('complaint_id')} by {g('complainant_kind')} {g('complainant_name') or ''}: {g('subject')}".replace("  ", " ")
        case "complaint.answer-requested.v1":
            return f"answer requested by {g('deadline')}"
        case "complaint.answered.v1":
            return f"answered: {g('summary')}"
        case "complaint.answer-overdue.v1":
            return f"answer overdue (deadline {g('deadline')})"
        case "complaint.verified.v1":
            return "verified as true" if g("verdict") == "true" else "found unfounded"
        case "appeal.filed.v1":
            return f"appeal {g('appeal_id')} under {g('ground')} against {', '.join(_short(r) for r in g('evidence_refs') or [])}"
        case "appeal.decided.v1":
            return ("appeal upheld" if g("upheld") else "appeal dismissed") + (f": {g('reasons')}" if g("reasons") else "")
    return name


def subject_of(name: str, state: dict[str, Any]) -> tuple[str, str, list[str]] | None:
    """(aggregate, business id, provider ids) from an aggregate's first event."""
    match name:
        case "provider.applied.v1":
            return "provider", state["provider_id"], [state["provider_id"]]
        case "project.registered.v1":
            ids = [state["integrated_provider_id"]] if state.get("integrated_provider_id") else []
            ids += [p for p in state.get("product_provider_ids") or [] if p not in ids]
            return "project", state["project_id"], ids
        case "complaint.filed.v1" | "complaint.filed.v2":
            return "complaint", state["complaint_id"], [state["provider_id"]]
        case "appeal.filed.v1":
            return "appeal", state["appeal_id"], [state["provider_id"]]
    return None


TIMELINE_COLUMNS = (
    "provider_id", "position", "ref", "aggregate", "subject_id", "event_name",
    "recorded_at", "recorded_by", "effective_on", "command_id", "summary",
)  # fmt: skip
SUBJECT_COLUMNS = ("originator_id", "aggregate", "subject_id", "provider_ids")
ANSWER_COLUMNS = ("complaint_id", "provider_id", "deadline")
#: the complaint events that open or close its answer deadline
ANSWER_EVENTS = ("complaint.answer-requested.v1", "complaint.answered.v1", "complaint.answer-overdue.v1", "complaint.verified.v1")

#: subjects kept in memory (an aggregate's subject never changes once its first event is recorded)
SUBJECTS_KEPT = 200_000


class TimelineProjection:
    """Rows are gathered while a batch is applied and written at its end, set-based (COPY on
    PostgreSQL): one statement per table per batch, not one per event."""

    name = "timeline"
    tables: tuple[str, ...] = ("timeline", "subjects", "answer_deadlines")

    def __init__(self) -> None:
        #: originator id (text) -> subject, as the aggregate's first event said (the same in every generation)
        self._subjects: dict[str, tuple[str, str, list[str]] | None] = {}

    def apply(self, event: DecodedEvent, tx: Tx) -> None:
        try:
            name = event.name
        except wire.UnknownEventType:
            return
        if name not in EVENT_NAMES:
            return
        rows = tx.scratch.get(self.name)
        if rows is None:
            rows = tx.scratch[self.name] = {"timeline": [], "subjects": [], "answers": {}}
        state = event.attributes
        key = event.originator_text
        if event.originator_version == 1:
            subject = subject_of(name, state)
            self._remember(key, subject)
            if subject is None:
                return
            rows["subjects"].append((key, subject[0], subject[1], dumps(subject[2])))
        elif key in self._subjects:
            subject = self._subjects[key]
        else:
            row = tx.fetchone(f"SELECT aggregate, subject_id, provider_ids FROM {tx.table('subjects')} WHERE originator_id = ?", (key,))
            subject = (row[0], row[1], loads(row[2])) if row else None
            if row is not None:  # an aggregate not found may yet be written by this batch's flush
                self._remember(key, subject)
        if subject is None:
            return
        aggregate, subject_id, provider_ids = subject
        if name in ANSWER_EVENTS:  # the complaint's answer deadline: open until answered, overdue or verified
            opened = name == "complaint.answer-requested.v1"
            rows["answers"][subject_id] = (subject_id, provider_ids[0], iso(state["deadline"])) if opened else None
        common = (event.ref, aggregate, subject_id, name, event.recorded_at_iso, event.recorded_by,
                  event.effective_on_iso, event.command_id, summarize(name, state))  # fmt: skip
        position, timeline = event.position, rows["timeline"]
        for pid in provider_ids:
            timeline.append((pid, position, *common))

    def flush(self, tx: Tx) -> None:
        rows = tx.scratch.get(self.name)
        if rows:
            tx.insert_rows(tx.table("subjects"), SUBJECT_COLUMNS, rows["subjects"])
            tx.insert_rows(tx.table("timeline"), TIMELINE_COLUMNS, rows["timeline"])
            answers = rows["answers"]
            tx.delete_keys(tx.table("answer_deadlines"), "complaint_id", list(answers))
            tx.insert_rows(tx.table("answer_deadlines"), ANSWER_COLUMNS, [row for row in answers.values() if row is not None])
            rows["subjects"], rows["timeline"], rows["answers"] = [], [], {}

    def _remember(self, key: str, subject: tuple[str, str, list[str]] | None) -> None:
        if len(self._subjects) >= SUBJECTS_KEPT:
            self._subjects.clear()
        self._subjects[key] = subject
