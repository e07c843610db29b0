"""The read service: the one way every entrypoint reads the ledger.

Live questions (registry, a provider's standing, grades, counters, lists,
timelines) are answered from the read models the projections keep, never by
folding events. Questions about the past (history on either time axis),
explanations and what-ifs need the events themselves and read the store. Every
method returns a typed model (``ledger.views.models``) and raises
:class:`NotFound` or :class:`InvalidQuery` with one clear sentence instead of
returning an empty answer to a question that named something unknown.
"""
from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from ledger import wire
from ledger.aggregates import DomainError, Provider
from ledger.aggregates.provider import STANDINGS
from ledger.application import Ledger
from ledger.audit.verify import Digest, VerifyReport
from ledger.clock import business_date, to_utc
from ledger.projections import InProcessProjections, read_models
from ledger.projections.db import iso, loads
from ledger.projections.explain import ExplainError, Node, explain, explain_removal
from ledger.projections.history import fold_as_of, instant, registry_as_of
from ledger.projections.providers import LIST_KINDS, provider_rows, standing_since
from ledger.projections.queries import ReadModels, lists_page, registry_page, timeline_page
from ledger.projections.whatif import what_if
from ledger.rules import PACKS
from ledger.standing import standing
from ledger.views.models import (
    AsOf,
    CounterValue,
    Explanation,
    ExplanationNode,
    Grade,
    History,
    ListEntry,
    Page,
    ProviderStanding,
    RegistryAsOf,
    RegistryEntry,
    SanctionSummary,
    TimelineEntry,
    VerifyResult,
    WhatIfResult,
)

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

#: ``Provider.Applied`` (timelines projected before event names were registered) -> stable name
_LEGACY_SHORT = {topic.split(":", 1)[1]: name for topic, name in wire.LEGACY_TOPICS.items()}


class ViewError(Exception):
    """A read that cannot be answered as asked; the message says why in one sentence."""


class NotFound(ViewError, LookupError):
    """The question names a provider, event or other thing the ledger does not have."""


class InvalidQuery(ViewError, ValueError):
    """A filter, date, cursor or reference that is not valid; ``field`` names the argument at fault."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _cursor(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, ensure_ascii=False).encode("utf-8")).decode("ascii").rstrip("=")


def _uncursor(cursor: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("utf-8"))
    except ValueError:
        raise InvalidQuery(f"cursor {cursor!r} is not one this service returned", field="cursor") from None


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidQuery(f"limit must be between 1 and {MAX_LIMIT}, got {limit}", field="limit")
    return limit


def _event_type(name: str) -> str:
    return name if name in wire.EVENT_TYPES else _LEGACY_SHORT.get(name, name)


class Views:
    """Typed reads over one ledger (``App.views``)."""

    def __init__(self, ledger: Ledger, read_models: InProcessProjections | ReadModels | None, *, own_writes: bool = True) -> None:
        self.ledger = ledger
        self._read_models = read_models
        #: wait, before each read, for the read models to hold what this process recorded (a CLI or a
        #: script reading its own writes); off for a server, whose readers do not wait for the other
        #: callers' writes (a writer that needs its effect asks its command to wait: ``caught_up``)
        self.own_writes = own_writes

    # -- checks -----------------------------------------------------------------------------

    @property
    def models(self) -> ReadModels:
        """The read models: with ``own_writes``, once they hold what this ledger recorded; without,
        as they are."""
        if self._read_models is None:
            raise ViewError("this App was bootstrapped without read models (projections=False)")
        if not self.own_writes and isinstance(self._read_models, InProcessProjections):
            return self._read_models.models
        return read_models(self._read_models)

    def caught_up(self, position: int, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the read models to apply ``position``; False if they
        are still behind then (what was recorded stays recorded)."""
        from ledger.projections.worker import ProjectionLag

        if not isinstance(self._read_models, InProcessProjections):
            raise ViewError("these read models are not followed in this process: it cannot wait for them")
        try:
            self._read_models.wait_for(position, timeout=timeout)
        except ProjectionLag:
            return False
        return True

    @staticmethod
    def check_jurisdiction(jurisdiction: str | None) -> None:
        if jurisdiction is not None and jurisdiction not in PACKS:
            raise InvalidQuery(f"unknown jurisdiction {jurisdiction!r}; jurisdictions are {', '.join(PACKS)}", field="jurisdiction")

    @staticmethod
    def check_list_kind(kind: str | None) -> None:
        if kind is not None and kind not in LIST_KINDS:
            raise InvalidQuery(f"unknown list {kind!r}; lists are {', '.join(LIST_KINDS)}", field="kind")

    def _registry_row(self, provider_id: str) -> dict[str, Any]:
        with self.models.db.transaction(write=False) as tx:
            rows = tx.dicts(
                "SELECT standing_json, standing_since FROM rm_registry WHERE provider_id = ?", (provider_id,)
            )
        if not rows:
            raise NotFound(f"no provider {provider_id!r} in the ledger")
        return rows[0]

    # -- live reads (read models) -------------------------------------------------------------

    def registry(
        self,
        jurisdiction: str | None = None,
        standing: str | None = None,
        kind: str | None = None,
        grade: str | None = None,
        *,
        offset: int = 0,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page[RegistryEntry]:
        """Every provider (filtered) with its standing and since when, by jurisdiction and id."""
        self.check_jurisdiction(jurisdiction)
        if standing is not None and standing not in STANDINGS:  # a misspelt filter would match nothing, silently
            raise InvalidQuery(f"standing {standing!r} is not one of {', '.join(STANDINGS)}", field="standing")
        limit = _limit(limit)
        if offset < 0:
            raise InvalidQuery(f"offset must be 0 or more, got {offset}", field="offset")
        after = tuple(_uncursor(cursor)) if cursor else None
        if after is not None and (len(after) != 2 or not all(isinstance(k, str) for k in after)):
            raise InvalidQuery(f"cursor {cursor!r} is not a registry cursor", field="cursor")
        rows, total = registry_page(
            self.models, jurisdiction=jurisdiction, standing=standing, kind=kind, grade=grade,
            after=after, offset=0 if after else offset, limit=limit + 1,
        )  # fmt: skip
        items = [RegistryEntry.model_validate(r) for r in rows[:limit]]
        more = len(rows) > limit
        next_cursor = _cursor([items[-1].jurisdiction, items[-1].provider_id]) if more and items else None
        return Page[RegistryEntry](items=items, total=total, limit=limit, offset=offset, next_cursor=next_cursor)

    def provider(self, provider_id: str) -> ProviderStanding:
        """A provider's standing: status, grades, counters, sanctions with their citations."""
        row = self._registry_row(provider_id)
        standing = loads(row["standing_json"])
        return self._standing(standing, row["standing_since"], self.grades(provider_id), self.counters(provider_id))

    def providers(self, jurisdiction: str) -> list[ProviderStanding]:
        """Every provider of a jurisdiction as :meth:`provider` gives it, by provider id (a report's
        input): read together, not provider by provider."""
        self.check_jurisdiction(jurisdiction)
        return [
            self._standing(s["standing"], s["standing_since"], _grades(s["grades"]), _counters(s["counters"]))
            for s in self.models.standings(jurisdiction)
        ]

    def sanction_records(self, provider_id: str, refs: Iterable[str]) -> dict[str, dict[str, Any]]:
        """For each of the provider's sanctions ``refs``: the instant the ledger recorded it
        (``recorded_at``) and, where it was rescinded, the rescission (``rescinded_on``,
        ``recorded_at``, the deciding ``appeal_ref`` and that appeal's ``appeal_id``, None when no
        appeal rescinded it): what an announcement's archive shows of it (the day it may be signed,
        and that what it announced was rescinded later)."""
        wanted = set(refs)
        found: dict[str, dict[str, Any]] = {ref: {"recorded_at": None, "rescission": None} for ref in wanted}
        for event in self.ledger.store.read_aggregate(Provider.create_id(provider_id)):
            if event.ref in wanted:
                found[event.ref]["recorded_at"] = event.recorded_at
            elif wire.event_type(event) == "provider.sanction-rescinded.v1":
                state = wire.decode_state(event)
                if state.get("sanction_ref") in wanted:
                    found[state["sanction_ref"]]["rescission"] = {
                        "rescinded_on": event.effective_on, "recorded_at": event.recorded_at, "appeal_ref": state.get("appeal_ref"), "appeal_id": None,
                    }  # fmt: skip
        filed = {r["rescission"]["appeal_ref"].rpartition("/")[0] + "/1": r["rescission"] for r in found.values() if r["rescission"] and r["rescission"]["appeal_ref"]}
        for ref, event in self.ledger.store.read_refs(filed).items():
            filed[ref]["appeal_id"] = wire.decode_state(event).get("appeal_id")
        return found

    def grades(self, provider_id: str) -> list[Grade]:
        """Letter grades by year (天津), stars by round (新乡), qualified/unqualified by year (省指南)."""
        rows = self.models.grades(provider_id)
        if not rows:
            self._registry_row(provider_id)  # NotFound for an unknown provider
        return _grades(rows)

    def counters(self, provider_id: str) -> list[CounterValue]:
        """What the rulebooks count for the provider, each with the events counted."""
        rows = self.models.counters(provider_id)
        if not rows:
            self._registry_row(provider_id)
        return _counters(rows)

    def lists(
        self,
        kind: str | None = None,
        jurisdiction: str | None = None,
        *,
        offset: int = 0,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page[ListEntry]:
        """What the bureaus publish: blacklist, gray list, disqualified, removed; each entry with its article."""
        self.check_list_kind(kind)
        self.check_jurisdiction(jurisdiction)
        limit = _limit(limit)
        after = _uncursor(cursor) if cursor else None
        if after is not None and not isinstance(after, str):
            raise InvalidQuery(f"cursor {cursor!r} is not a list cursor", field="cursor")
        rows, total = lists_page(self.models, kind=kind, jurisdiction=jurisdiction, after=after, offset=0 if after else offset, limit=limit + 1)
        items = [ListEntry.model_validate(r) for r in rows[:limit]]
        next_cursor = _cursor(items[-1].sanction_ref) if len(rows) > limit and items else None
        return Page[ListEntry](items=items, total=total, limit=limit, offset=offset, next_cursor=next_cursor)

    def timeline(
        self,
        provider_id: str,
        effective_from: date | None = None,
        effective_to: date | None = None,
        event_type: str | None = None,
        actor: str | None = None,
        *,
        recorded_from: datetime | date | None = None,
        recorded_to: datetime | date | None = None,
        cursor: str | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> Page[TimelineEntry]:
        """Every event of a provider, its projects, complaints and appeals, in log order.

        On the effective axis, ``effective_from``/``effective_to`` bound the date the fact took
        effect (both days included). On the recorded axis, ``recorded_from``/``recorded_to``
        bound the instant the ledger recorded it (both included; a naive time is Asia/Shanghai;
        a date means from the start of that day, or to its end, in Asia/Shanghai — as
        ``known_at`` does). ``event_type`` is a stable name (``provider.sanction-imposed.v1``)
        or its aggregate (``provider``); ``actor`` is who recorded it.
        """
        self._registry_row(provider_id)
        limit = _limit(limit)
        if effective_from and effective_to and effective_to < effective_from:
            raise InvalidQuery(f"effective_to {effective_to} is before effective_from {effective_from}", field="effective_to")
        recorded_since = to_utc(recorded_from, clamp=True) if recorded_from is not None else None  # 0001-01-01: from the first
        recorded_until = instant(recorded_to) if recorded_to is not None else None
        if recorded_since is not None and recorded_until is not None and recorded_until < recorded_since:
            raise InvalidQuery(f"recorded_to {recorded_to} is before recorded_from {recorded_from}", field="recorded_to")
        types: list[str] | None = None
        if event_type is not None:
            types = [n for n in wire.EVENT_TYPES if n == event_type or n.split(".", 1)[0] == event_type]
            if not types:
                raise InvalidQuery(f"unknown event type {event_type!r}; e.g. provider.sanction-imposed.v1, or provider for all of them", field="event_type")
            types += [short for short, name in _LEGACY_SHORT.items() if name in types]
        after = _uncursor(cursor) if cursor else None
        if after is not None and not isinstance(after, int):
            raise InvalidQuery(f"cursor {cursor!r} is not a timeline cursor", field="cursor")
        rows, total = timeline_page(
            self.models, provider_id, effective_from=iso(effective_from), effective_to=iso(effective_to),
            recorded_from=iso(recorded_since), recorded_to=iso(recorded_until), event_types=types, actor=actor, after=after, limit=limit + 1,
        )  # fmt: skip
        items = [TimelineEntry.model_validate({**r, "event_type": _event_type(r["event_name"])}) for r in rows[:limit]]
        next_cursor = _cursor(items[-1].position) if len(rows) > limit and items else None
        return Page[TimelineEntry](items=items, total=total, limit=limit, next_cursor=next_cursor)

    # -- the past, explanations, what-if (the events) ----------------------------------------------

    def _as_of(self, known_at: datetime | date | None, effective_at: date | None) -> AsOf:
        if known_at is None and effective_at is None:
            raise InvalidQuery("give known_at and/or effective_at", field="known_at")
        today = business_date(self.ledger.clock.now())
        known_day = known_at.date() if isinstance(known_at, datetime) else known_at
        for label, day in (("known_at", known_day), ("effective_at", effective_at)):
            if day is not None and day > today:
                raise InvalidQuery(f"{label} {day} is in the future (today is {today})", field=label)
        return AsOf(known_at=instant(known_at) if known_at is not None else None, effective_at=effective_at)

    def history(self, provider_id: str, known_at: datetime | date | None = None, effective_at: date | None = None) -> History:
        """The provider's standing as recorded by ``known_at`` (a date: the end of that day in
        Asia/Shanghai) and/or as in effect on ``effective_at``."""
        as_of = self._as_of(known_at, effective_at)
        events = self.ledger.store.read_aggregate(Provider.create_id(provider_id))
        if not events:
            raise NotFound(f"no provider {provider_id!r} in the ledger")
        folded = fold_as_of(events, known_at, effective_at)
        if folded.provider is None:
            raise NotFound(f"provider {provider_id!r} had not applied {as_of.describe()}")
        rows = provider_rows(folded.provider, {}, 0, "")
        grades = [Grade.model_validate({**g, "detail": loads(g["detail"])}) for g in rows.grades]
        counters = [
            CounterValue.model_validate({"name": c["counter"], "value": c["value"], "refs": loads(c["refs"]),
                                         "source_refs": loads(c["source_refs"]), "detail": loads(c["detail"])})
            for c in rows.counters
        ]  # fmt: skip
        data = standing(folded.provider)
        return History(
            as_of=as_of,
            view=as_of.describe(),
            standing=self._standing(data, standing_since(folded.provider), grades, counters),
            events_applied=len(folded.applied),
            skipped=folded.skipped,
        )

    def grades_as_of(self, provider_ids: Iterable[str], effective_at: date) -> dict[str, list[Grade]]:
        """Each provider's grades as :meth:`history` gives them on ``effective_at`` (the same fold): a
        verdict a later one of its year replaced, or an appeal voided, after that day still stands on
        it; by provider id, each provider's rows ordered as the read model orders them (scheme,
        period, date, ref). A report's grades for a past period."""
        out: dict[str, list[Grade]] = {}
        for provider_id in provider_ids:
            folded = fold_as_of(self.ledger.store.read_aggregate(Provider.create_id(provider_id)), None, effective_at)
            if folded.provider is None:
                out[provider_id] = []
                continue
            rows = sorted(provider_rows(folded.provider, {}, 0, "").grades, key=lambda g: (g["scheme"], g["period"], g["effective_on"], g["ref"]))
            out[provider_id] = [Grade.model_validate({**g, "detail": loads(g["detail"])}) for g in rows]
        return out

    def registry_as_of(
        self, jurisdiction: str | None = None, known_at: datetime | date | None = None, effective_at: date | None = None
    ) -> RegistryAsOf:
        """The registry as recorded by ``known_at`` and/or as in effect on ``effective_at``."""
        self.check_jurisdiction(jurisdiction)
        as_of = self._as_of(known_at, effective_at)
        rows = registry_as_of(self.ledger, known_at=known_at, effective_at=effective_at, jurisdiction=jurisdiction, models=self.models)
        return RegistryAsOf(as_of=as_of, view=as_of.describe(), items=[RegistryEntry.model_validate(r) for r in rows])

    def explain(self, provider_or_ref: str) -> Explanation:
        """Why a sanction (by its ref) or a provider's removal (by provider id)."""
        try:
            found = explain(self.ledger, provider_or_ref) if "/" in provider_or_ref else explain_removal(self.ledger, provider_or_ref)
        except ExplainError as error:
            message = str(error)
            if " is not " in message:
                raise InvalidQuery(message, field="ref") from None
            raise NotFound(message) from None
        return Explanation(provider_id=found.provider_id, jurisdiction=found.jurisdiction, root=_node(found.root), text=found.render())

    def whatif(self, provider_id: str, void: list[str]) -> WhatIfResult:
        """What an upheld appeal voiding the ``void`` refs would change today. Writes nothing."""
        if not void:
            raise InvalidQuery("name at least one evidence ref to void", field="void")
        if self.ledger.find(Provider, provider_id) is None:
            raise NotFound(f"no provider {provider_id!r} in the ledger")
        try:
            result = what_if(self.ledger, provider_id, list(void))
        except (DomainError, ValueError, KeyError) as error:
            raise InvalidQuery(str(error).strip("'\""), field="void") from None
        return WhatIfResult(
            provider_id=result.provider_id,
            refs=result.refs,
            voided=result.voided,
            as_of=date.fromisoformat(result.as_of),
            status_before=result.status_before,
            status_after=result.status_after,
            standing_before=result.standing_before,
            standing_after=result.standing_after,
            would_rescind=[SanctionSummary.model_validate(s) for s in result.would_rescind],
            would_impose=[SanctionSummary.model_validate(s) for s in result.would_impose],
            would_reinstate=result.would_reinstate,
            counters_before=result.counters_before,
            counters_after=result.counters_after,
            events=result.events,
            text=result.render(),
        )

    def verify(
        self, digest: Digest | None = None, *, progress: bool = False, read_models: bool = False, public_key: str | None = None
    ) -> VerifyResult:
        """Verify the ledger: the one verification of every entrypoint (:func:`ledger.audit.integrity.verify_ledger`:
        the event chain, the command chain and how the two name each other, the protections, the read
        models' position and the personal-data vault; with ``read_models`` the read models rebuilt and
        compared; with a digest, that the log still holds it, checked against ``public_key`` if pinned)."""
        from ledger.audit.integrity import verify_ledger
        from ledger.audit.signing import signature_problem

        verification = verify_ledger(self.ledger.store, digest, read_models=read_models, progress=progress)
        problems = list(verification.problems)
        if digest is not None:
            refused = signature_problem(digest, public_key)
            if refused:
                problems.insert(0, f"the digest: {refused}")
        return verify_result(
            verification.report, digest=digest, public_key=public_key, problems=problems,
            checks=verification.checks, unchecked=verification.unchecked,
        )  # fmt: skip

    # -- shaping ------------------------------------------------------------------------------

    @staticmethod
    def _standing(s: dict[str, Any], standing_since: Any, grades: list[Grade], counters: list[CounterValue]) -> ProviderStanding:
        data = {k: v for k, v in s.items() if k not in ("grades", "counters")}
        return ProviderStanding.model_validate({**data, "standing_since": standing_since, "grades": grades, "counters": counters})


def _grades(rows: list[dict[str, Any]]) -> list[Grade]:
    return [Grade.model_validate(r) for r in rows]


def _counters(rows: dict[str, dict[str, Any]]) -> list[CounterValue]:
    return [CounterValue.model_validate({"name": name, **value}) for name, value in rows.items()]


def verify_result(
    report: VerifyReport,
    *,
    digest: Digest | None = None,
    public_key: str | None = None,
    problems: list[str] | None = None,
    checks: list[str] | None = None,
    unchecked: list[str] | None = None,
) -> VerifyResult:
    """A verification as the read service returns it: the chain's report, the other problems found, and
    what was and was not checked; the summary's first line is the chain's, with a digest saying whose
    key signed it and whether it was pinned (:func:`ledger.audit.signing.signer_note`)."""
    from ledger.audit.signing import signer_note

    problems = problems or []
    digest_checked = digest is not None
    empty = report.ok and report.checked == 0
    if empty:
        summary = "the ledger is empty: there is no event to verify"
    elif report.ok and digest is not None:
        summary = f"{report.summary()}; the digest matched ({signer_note(digest, public_key)})"
    else:
        summary = report.summary()
    if problems:
        summary = f"FAILED: {len(problems)} problem(s) found; the event chain itself: {summary}"
    return VerifyResult(
        ok=report.ok and not problems,
        chain_ok=report.ok,
        problems=problems,
        checks=checks or [],
        unchecked=unchecked or [],
        signed_by=digest.public_key if digest is not None else None,
        key_pinned=bool(public_key) if digest is not None else None,
        empty=empty,
        checked=report.checked,
        head_position=report.head_position,
        head_hash=report.head_hash,
        first_bad_position=report.first_bad_position,
        first_bad_ref=report.first_bad_ref,
        reason=report.reason,
        digest_matched=report.ok if digest_checked else None,
        summary=summary,
    )


def _node(node: Node) -> ExplanationNode:
    return ExplanationNode(
        ref=node.ref,
        kind=node.kind,
        title=node.title,
        event_type=node.event_name,
        effective_on=date.fromisoformat(node.effective_on) if node.effective_on else None,
        recorded_at=datetime.fromisoformat(node.recorded_at) if node.recorded_at else None,
        recorded_by=node.recorded_by,
        details=node.details,
        voided=node.voided,
        rescinded=node.rescinded,
        children=[_node(child) for child in node.children],
    )
