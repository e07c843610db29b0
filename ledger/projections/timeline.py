"""Timelines: every event of a provider, of its projects and of its complaints and appeals.

A fold over Provider, Project, Complaint and Appeal events. The first event of
each aggregate says which provider(s) its events belong to (``Project.Registered``
names the integrated and product providers; a complaint or an appeal names one
provider); that map is kept in ``rm_subjects`` so that the fold never reads the
event store. Rulebook events belong to no provider's timeline.
"""
from __future__ import annotations

from collections.abc import Callable
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


#: ``dict.get`` of an event's attributes
Getter = Callable[[str], Any]


def _provider_sanction_imposed(g: Getter) -> str:
    how = "derived" if g("derived") else "on a finding"
    deadline = f", rectify by {g('deadline')}" if g("deadline") else ""
    return f"{g('sanction')} under {_article(g('citation'))} ({how}, evidence {len(g('evidence') or [])}){deadline}"


def _provider_sanction_rescinded(g: Getter) -> str:
    by = f" (appeal {_short(g('appeal_ref'))})" if g("appeal_ref") else ""
    return f"sanction {_short(g('sanction_ref'))} rescinded{by}: {g('reason')}"


def _project_registered(g: Getter) -> str:
    providers = [p for p in [g("integrated_provider_id"), *(g("product_provider_ids") or [])] if p]
    return f"project {g('project_id')} for {g('enterprise_name')} ({g('enterprise_id')}), providers {', '.join(providers)}"


def _project_acceptance_decided(g: Getter) -> str:
    level = f", level {g('level_after')}" if g("level_after") is not None else ""
    return "acceptance " + ("passed" if g("passed") else "failed") + level


def _project_payment_recorded(g: Getter) -> str:
    cited = f" ({_cited(g('citation'))})" if g("citation") else ""
    return f"payment {g('kind')} {g('amount')}" + (f" to {g('provider_id')}" if g("provider_id") else "") + cited


def _project_withholding_reviewed(g: Getter) -> str:
    outcome = f"fees withheld ({g('amount')}) lifted" if g("lifted") else f"fees withheld ({g('amount')}) stay"
    return f"{outcome}: {g('reason')} ({_cited(g('citation'))})"


def _complaint_filed(g: Getter) -> str:
    return f"{g('nature') or 'complaint'} {g('complaint_id')} by {g('complainant_kind')} {g('complainant_name') or ''}: {g('subject')}".replace("  ", " ")


#: event name -> its summary from the attributes' ``get`` (names not here summarise as themselves)
SUMMARIES: dict[str, Callable[[Getter], str]] = {
    "provider.applied.v1": lambda g: f"applied to the {g('jurisdiction')} pool as {g('kind')}: {g('name')}",
    "provider.public-notice-opened.v1": lambda g: "public notice opened",
    "provider.objection-raised.v1": lambda g: f"objection {g('objection_id')} raised by {g('raised_by')}: {g('grounds')}",
    "provider.objection-resolved.v1": lambda g: f"objection {g('objection_id')} {'stands' if g('stands') else 'dismissed'}",
    "provider.public-notice-closed.v1": lambda g: f"public notice closed, last day {g('last_day')} ({g('days')} days)",
    "provider.admitted.v1": lambda g: "admitted to the pool" + (f" ({_article(g('citation'))})" if g("citation") else ""),
    "provider.admission-refused.v1": lambda g: f"admission refused: {g('reason')}",
    "provider.application-lapsed.v1": lambda g: f"application lapsed: {g('reason')}",
    "provider.profile-changed.v1": lambda g: f"{g('field')} changed from {g('old')!r} to {g('new')!r} on {g('changed_on')}, reported {g('reported_on')}",
    "provider.score-recorded.v1": lambda g: f"{g('year')} score {g('score')}: grade {g('grade')}",
    "provider.evaluation-recorded.v1": lambda g: f"{g('year')} evaluation: {'qualified' if g('qualified') else 'unqualified'}",
    "provider.stars-rated.v1": lambda g: f"star rating {g('rating_round')}: {g('stars')}★",
    "provider.fact-noted.v1": lambda g: f"fact noted: {g('kind')} (from {_short(g('source_ref'))})",
    "provider.finding-recorded.v1": lambda g: f"finding under {g('article')}: {g('summary')}",
    "provider.sanction-imposed.v1": _provider_sanction_imposed,
    "provider.rectification-completed.v1": lambda g: f"rectification of {_short(g('sanction_ref'))} completed",
    "provider.rectification-period-set.v1": lambda g: f"period to rectify {_short(g('sanction_ref'))} set: by {g('deadline')}",
    "provider.rectification-refused.v1": lambda g: f"rectification of {_short(g('sanction_ref'))} refused",
    "provider.rectification-overdue.v1": lambda g: f"rectification of {_short(g('sanction_ref'))} overdue (deadline {g('deadline')})",
    "provider.evidence-voided.v1": lambda g: f"evidence voided by appeal {_short(g('appeal_ref'))}: {', '.join(_short(r) for r in g('refs') or [])}",
    "provider.sanction-rescinded.v1": _provider_sanction_rescinded,
    "provider.reinstated.v1": lambda g: f"reinstated: {g('reason')}",
    "provider.exited.v1": lambda g: f"exited the pool: {g('reason')}",
    "provider.fees-withheld.v1": lambda g: f"fees withheld ({g('amount')}): {g('reason')}",
    "project.registered.v1": _project_registered,
    "project.diagnosed.v1": lambda g: f"diagnosed: digital level {g('level_before')}",
    "project.filing-submitted.v1": lambda g: "filing submitted",
    "project.filing-decided.v1": lambda g: "filing " + ("approved" if g("approved") else "rejected"),
    "project.major-change-recorded.v1": lambda g: f"major change: {g('description')}",
    "project.implementation-started.v1": lambda g: "implementation started" + (" before the filing was approved" if g("before_approval") else ""),
    "project.acceptance-decided.v1": _project_acceptance_decided,
    "project.satisfaction-rated.v1": lambda g: f"{g('provider_id')} rated {g('rating')}",
    "project.payment-recorded.v1": _project_payment_recorded,
    "project.prepayment-recoverable.v1": lambda g: f"prepayment {g('amount')} recoverable by the enterprise ({_cited(g('citation'))})",
    "project.withholding-reviewed.v1": _project_withholding_reviewed,
    "project.fees-not-payable.v1": lambda g: f"{g('fees')} not to be paid ({g('grounds')}, {_cited(g('citation'))})",
    "complaint.filed.v1": _complaint_filed,
    "complaint.filed.v2": _complaint_filed,
    "complaint.answer-requested.v1": lambda g: f"answer requested by {g('deadline')}",
    "complaint.answered.v1": lambda g: f"answered: {g('summary')}",
    "complaint.answer-overdue.v1": lambda g: f"answer overdue (deadline {g('deadline')})",
    "complaint.verified.v1": lambda g: "verified as true" if g("verdict") == "true" else "found unfounded",
    "appeal.filed.v1": lambda g: f"appeal {g('appeal_id')} under {g('ground')} against {', '.join(_short(r) for r in g('evidence_refs') or [])}",
    "appeal.decided.v1": lambda g: ("appeal upheld" if g("upheld") else "appeal dismissed") + (f": {g('reasons')}" if g("reasons") else ""),
}


def summarize(name: str, s: dict[str, Any] | wire.LazyAttributes) -> str:
    """A short readable line for one event (``name``: the stable name, :func:`ledger.wire.event_type`)."""
    summary = SUMMARIES.get(name)
    return name if summary is None else summary(s.get)


def subject_of(name: str, state: dict[str, Any] | wire.LazyAttributes) -> tuple[str, str, list[str]] | None:
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
        state = event.attributes_read_lazily()  # a few attributes: the summary's, the subject's
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
        if not provider_ids:
            return  # a project naming no provider belongs to no timeline
        first = (provider_ids[0], event.position, event.ref, aggregate, subject_id, name, event.recorded_at_iso,
                 event.recorded_by, event.effective_on_iso, event.command_id, summarize(name, state))  # fmt: skip
        timeline = rows["timeline"]
        timeline.append(first)
        for pid in provider_ids[1:]:  # a project's product providers: the same row in each timeline
            timeline.append((pid, *first[1:]))

    def flush(self, tx: Tx) -> None:
        rows = tx.scratch.get(self.name)
        if rows:
            tx.insert_rows("subjects", SUBJECT_COLUMNS, rows["subjects"])
            tx.insert_rows("timeline", TIMELINE_COLUMNS, rows["timeline"])
            answers = rows["answers"]
            tx.delete_keys(tx.table("answer_deadlines"), "complaint_id", list(answers))
            tx.insert_rows("answer_deadlines", ANSWER_COLUMNS, [row for row in answers.values() if row is not None])
            rows["subjects"], rows["timeline"], rows["answers"] = [], [], {}

    def _remember(self, key: str, subject: tuple[str, str, list[str]] | None) -> None:
        if len(self._subjects) >= SUBJECTS_KEPT:
            self._subjects.clear()
        self._subjects[key] = subject
