"""The service layer: runs commands against aggregates and records their events.

``Ledger.execute`` loads the aggregates a command touches, lets the handler
decide (the aggregates and rule packs do all the deciding), and appends every
resulting event in one batch with the versions it loaded. A concurrent change
to any of those aggregates is detected by the store (optimistic concurrency):
the command is re-run on fresh state a few times, then reported.

With group commit (``Ledger(store, group_commit=True)``) the batches of commands
executed concurrently from several threads are recorded together, one
transaction per group (:mod:`ledger.group_commit`); what ``execute`` returns or
raises does not change.
"""
from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, TypeVar
from uuid import UUID

from ledger import wire
from ledger.aggregate_cache import DEFAULT_SIZE as DEFAULT_CACHE_SIZE
from ledger.aggregate_cache import AggregateCache
from ledger.aggregates import DomainError, Project, Provider, Rulebook
from ledger.aggregates.base import LedgerAggregate
from ledger.clock import Clock, FixedClock, SystemClock, business_date, clock_scope
from ledger.commands.models import Command
from ledger.group_commit import GroupCommitOptions, GroupCommitter
from ledger.personal import PersonalDataVault, Sealed, seal_command
from ledger.rules import PACKS
from ledger.rules.base import RulePack
from ledger.rules.engine import reconcile
from ledger.snapshots import SNAPSHOT_FORMAT, Snapshot, SnapshotStore, usable
from ledger.snapshots import digest as snapshot_digest
from ledger.store import AppendResult, CommandBatch, CommandIdReused, ConcurrencyConflict, EventStore, PersonalKeyConflict
from ledger.store.base import RecordedEvent, event_ref, payload_digest

log = logging.getLogger("ledger.application")

A = TypeVar("A", bound=LedgerAggregate)

MAX_ATTEMPTS = 5
#: after the n-th conflict with another writer, a command waits a random time of at most
#: min(CONFLICT_WAIT_CAP, CONFLICT_WAIT * 2 ** (n - 1)) seconds before deciding again, so that
#: writers that collided do not collide again at once (another process's, which the turns of
#: ``AggregateCache.claim`` do not order)
CONFLICT_WAIT = 0.005
CONFLICT_WAIT_CAP = 0.1
#: jurisdictions of aggregates remembered by ``Ledger.jurisdiction_of`` (then forgotten all at once)
JURISDICTIONS_KEPT = 100_000


class NotFound(DomainError):
    """The command names an aggregate the ledger does not have."""


class CommandConflict(Exception):
    """The command kept colliding with concurrent writers and was not recorded."""


def fold(events: Iterable[Any], aggregate: Any = None) -> Any:
    for domain_event in events:
        aggregate = domain_event.mutate(aggregate)
    return aggregate


def _from_snapshot(cls: type[LedgerAggregate], snapshot: Snapshot, tail: list[RecordedEvent]) -> LedgerAggregate | None:
    """The aggregate from ``snapshot`` and the log's events from its version on, or None if the
    snapshot cannot stand in for the log's history (see :func:`ledger.snapshots.usable`)."""
    if not usable(snapshot, tail[0] if tail else None):
        return None
    try:
        aggregate = wire.decode_snapshot(snapshot.originator_id, snapshot.version, snapshot.state, cls)
    except Exception:  # undecodable (a format change, a damaged row): the log decides
        return None
    if not isinstance(aggregate, cls) or aggregate.id != snapshot.originator_id or aggregate.version != snapshot.version:
        return None
    return fold((wire.decode(e) for e in tail[1:]), aggregate)


def take_snapshot(snapshots: SnapshotStore, aggregate: LedgerAggregate, event_hash: str) -> None:
    """Keep ``aggregate`` (as recorded: no pending events) whose event at its version has ``event_hash``.
    A snapshot that cannot be written is logged and skipped, and the process takes no more: it is
    a cache, the command stands."""
    try:
        state = wire.encode_snapshot(aggregate)
        snapshots.write(Snapshot(aggregate.id, aggregate.version, event_hash, SNAPSHOT_FORMAT, state, snapshot_digest(state)))
    except Exception:
        snapshots.writable = False  # once: a command does not pay for a failing write again and again
        log.warning("snapshot of %s at version %d not kept; no more snapshots in this process", aggregate.id, aggregate.version, exc_info=True)


class UnitOfWork:
    """The aggregates one command (or one import) has loaded, and their loaded versions."""

    def __init__(
        self,
        store: EventStore,
        cache: AggregateCache | None = None,
        unreserved: UnreservedApplications | None = None,
        snapshots: SnapshotStore | None = None,
        *,
        presume_new: bool = False,
        claims: bool = False,
    ) -> None:
        self._store = store
        self._cache = cache
        #: take turns with this process's other commands on each aggregate named (``AggregateCache.claim``)
        self._claims = claims and cache is not None
        #: the aggregates this unit of work claimed: let go by :meth:`let_go`
        self.claimed: list[UUID] = []
        self._unreserved = unreserved
        self._snapshots = snapshots
        self._presume_new = presume_new
        self._aggregates: dict[UUID, LedgerAggregate | None] = {}
        #: aggregate id -> the order this unit of work first looked at it (``_aggregates``' order)
        self._order: dict[UUID, int] = {}
        self.versions: dict[UUID, int] = {}
        #: aggregates the current command has looked at (found, missed or added)
        self.seen: set[UUID] = set()
        #: aggregates :meth:`find_new` took to be absent without reading the store
        self.presumed: set[UUID] = set()
        #: aggregate id -> the events folded when it was read from the store (after its snapshot)
        self.folded: dict[UUID, int] = {}

    def find(self, cls: type[A], business_id: str) -> A | None:
        return self._find(cls, business_id, presume_absent=False)

    def find_new(self, cls: type[A], business_id: str) -> A | None:
        """:meth:`find` for a command that creates the aggregate. With ``presume_new``, an id the
        cache does not know is taken to be absent without reading the store: the batch expects
        version 0, so an aggregate that exists after all is a :class:`ConcurrencyConflict` at the
        append, and the command is decided again with ``presume_new`` off (as is one that
        fails: its refusal is then the one the store's state gives)."""
        return self._find(cls, business_id, presume_absent=self._presume_new)

    def _find(self, cls: type[A], business_id: str, *, presume_absent: bool) -> A | None:
        agg_id = cls.create_id(business_id)
        self.seen.add(agg_id)
        if agg_id in self._aggregates:
            aggregate = self._aggregates[agg_id]
        else:
            if self._claims and cls is not Rulebook and self._cache is not None and self._cache.claim(agg_id):
                self.claimed.append(agg_id)
            hit, aggregate = self._cache.take(agg_id) if self._cache is not None else (False, None)
            if not hit and presume_absent:
                self.presumed.add(agg_id)
            elif not hit:
                aggregate = self._read(cls, agg_id)
            self._hold(agg_id, aggregate)
            self.versions[agg_id] = aggregate.version if aggregate else 0
        if aggregate is not None and not isinstance(aggregate, cls):
            raise DomainError(f"{business_id} is a {type(aggregate).__name__}, not a {cls.__name__}")
        return aggregate

    def providers_of(self, jurisdiction: str) -> list[Provider]:
        """Every provider of ``jurisdiction`` (:meth:`of_jurisdiction`)."""
        return self.of_jurisdiction(Provider, "provider", "provider_id", jurisdiction)

    def projects_of(self, jurisdiction: str) -> list[Project]:
        """Every project of ``jurisdiction`` (:meth:`of_jurisdiction`)."""
        return self.of_jurisdiction(Project, "project", "project_id", jurisdiction)

    def of_jurisdiction(self, cls: type[A], kind: str, id_field: str, jurisdiction: str) -> list[A]:
        """Every aggregate of ``cls`` in ``jurisdiction``: those the log holds (found from their first
        events) and those this unit of work added. A rulebook whose validity or parameters its regulator
        declares after facts were recorded re-judges them all; it is a rare command, and reads them all."""
        ids = wire.aggregate_ids(self._store, kind)
        business_ids: list[str] = []
        for start in range(0, len(ids), 1024):
            part = ids[start : start + 1024]
            firsts = self._store.read_refs([event_ref(i, 1) for i in part])
            for i in part:
                state = wire.decode_state(firsts[event_ref(i, 1)])
                if state["jurisdiction"] == jurisdiction:
                    business_ids.append(state[id_field])
        found = [self.get(cls, business_id) for business_id in business_ids]
        stored = {aggregate.id for aggregate in found}
        added = [
            a for a in self._aggregates.values()
            if isinstance(a, cls) and getattr(a, "jurisdiction", None) == jurisdiction and a.id not in stored
        ]  # fmt: skip
        self.seen.update(a.id for a in added)  # what the command derives for them is its own events
        return found + added

    def _read(self, cls: type[LedgerAggregate], agg_id: UUID) -> LedgerAggregate | None:
        """The aggregate as the log has it: from its snapshot and the events after it when there
        is a usable one (:mod:`ledger.snapshots`), else by folding its whole history. (Snapshots
        are taken after a command's batch is recorded, :meth:`Ledger._snapshot`: a read writes nothing.)"""
        snapshots = self._snapshots
        snapshot = snapshots.read(agg_id) if snapshots is not None else None
        if snapshots is not None and snapshot is not None:
            tail = self._store.read_aggregate(agg_id, from_version=snapshot.version)
            aggregate = _from_snapshot(cls, snapshot, tail)
            if aggregate is not None:
                self.folded[agg_id] = len(tail) - 1  # the first is the snapshot's own event, checked
                return aggregate
            snapshots.ignored += 1
            log.warning("snapshot of %s at version %d does not match the log: ignored, whole history folded", agg_id, snapshot.version)
        history = self._store.read_aggregate(agg_id)
        self.folded[agg_id] = len(history)
        return fold(wire.decode(e) for e in history)

    def get(self, cls: type[A], business_id: str) -> A:
        aggregate = self.find(cls, business_id)
        if aggregate is None:
            raise NotFound(f"no {cls.__name__.lower()} {business_id!r} in the ledger")
        return aggregate

    def applications_before_reservations(self, jurisdiction: str, credit_code: str) -> list[str]:
        """The provider ids an entity applied under before credit codes were reserved (ledgers
        from before 2026-12 have applications without an :class:`~ledger.aggregates.Entity`)."""
        return self._unreserved.provider_ids(jurisdiction, credit_code) if self._unreserved is not None else []

    def add(self, aggregate: LedgerAggregate) -> None:
        if self._aggregates.get(aggregate.id) is not None:
            raise DomainError(f"{aggregate.id} already exists")
        self._hold(aggregate.id, aggregate)
        self.versions.setdefault(aggregate.id, 0)
        self.seen.add(aggregate.id)

    def _hold(self, agg_id: UUID, aggregate: LedgerAggregate | None) -> None:
        self._aggregates[agg_id] = aggregate
        self._order.setdefault(agg_id, len(self._order))

    def _touched(self) -> list[LedgerAggregate]:
        """The aggregates the current command looked at, in the order this unit of work first
        looked at them. Only these can hold its events: a unit of work that decides a whole import
        (:meth:`Ledger.execute_all`) holds every aggregate of the file, and going through all of them
        for each command made an import quadratic (20,000 commands: 85 % of its time)."""
        ids = sorted((i for i in self.seen if i in self._order), key=self._order.__getitem__)
        return [aggregate for aggregate in map(self._aggregates.__getitem__, ids) if aggregate is not None]

    def collect(self) -> list[Any]:
        """The events the current command's aggregates hold, taken out of them."""
        events: list[Any] = []
        for aggregate in self._touched():
            events.extend(aggregate.collect_events())
        return events

    def loaded(self) -> list[LedgerAggregate]:
        """The aggregates found or added (after a recorded batch: at their recorded versions)."""
        return [aggregate for aggregate in self._aggregates.values() if aggregate is not None]

    def absent(self) -> list[UUID]:
        """The ids looked up and not found (nor added); not those presumed absent unread."""
        return [agg_id for agg_id, aggregate in self._aggregates.items() if aggregate is None and agg_id not in self.presumed]

    def release(self, cache: AggregateCache, *, recorded: bool) -> None:
        """Put the aggregates back in ``cache``: all of them after their batch was recorded,
        else only those the command did not change (no events pending: still as recorded)."""
        aggregates = self.loaded()
        if not recorded:
            aggregates = [a for a in aggregates if not a.pending_events and a.version == self.versions.get(a.id)]
        cache.put(aggregates, self.absent())

    def let_go(self) -> None:
        """End this unit of work's claims (after its aggregates went back to the cache, or not)."""
        if self.claimed and self._cache is not None:
            self._cache.let_go(self.claimed)
            self.claimed = []

    def mark_saved(self) -> None:
        """After a batch is staged, later commands expect the aggregates' new versions (only those
        the command looked at can have moved)."""
        for aggregate in self._touched():
            self.versions[aggregate.id] = aggregate.version
        self.seen.clear()


class UnreservedApplications:
    """The applications a ledger recorded before credit codes were reserved, by entity.

    Since 2026-12 every application records the entity's credit code on an
    :class:`~ledger.aggregates.Entity` (one aggregate per jurisdiction and code) in the
    same command, so deciding whether an entity may apply again reads that aggregate,
    not the pool. A ledger recorded before has applications no entity lists. They all
    precede the first reservation in the log (a writer of this version never records an
    application without one, and ``ledger import`` re-decides commands), so they are a
    fixed set: it is found once per process, on the first application whose entity has
    no reservation yet — the first events of the providers recorded before the command
    of the first reservation (none at all on a ledger begun with reservations: two
    index lookups) — and the entity's first reservation then lists them
    (``earlier_provider_ids``), after which they are never looked up again for it.
    """

    def __init__(self, store: EventStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._by_entity: dict[tuple[str, str], list[str]] | None = None
        #: how many providers' first events the one scan read (0 on a ledger begun with reservations)
        self.scanned = 0

    def provider_ids(self, jurisdiction: str, credit_code: str) -> list[str]:
        with self._lock:
            if self._by_entity is None:
                self._by_entity = self._find()
            return list(self._by_entity.get((jurisdiction, credit_code), ()))

    def _find(self) -> dict[tuple[str, str], list[str]]:
        providers = wire.aggregate_ids(self._store, "provider")
        reservations = wire.aggregate_ids(self._store, "entity")
        before = None  # the first position of the command that recorded the first reservation
        if reservations:
            first = self._store.read_refs([event_ref(reservations[0], 1)])[event_ref(reservations[0], 1)]
            recorded = self._store.command_result(first.command_id)
            before = min(recorded.positions) if recorded is not None and recorded.positions else first.position
        by_entity: dict[tuple[str, str], list[str]] = {}
        chunk, start = 16, 0
        while start < len(providers):  # in creation order, until the first reserved one
            ids = providers[start : start + chunk]
            firsts = self._store.read_refs([event_ref(i, 1) for i in ids])
            for i in ids:
                applied = firsts[event_ref(i, 1)]
                if before is not None and applied.position >= before:
                    return by_entity
                self.scanned += 1
                state = wire.decode_state(applied)
                code = (state.get("profile") or {}).get("credit_code")
                if code:
                    by_entity.setdefault((state["jurisdiction"], code), []).append(state["provider_id"])
            start, chunk = start + chunk, min(chunk * 4, 4096)
        return by_entity


@dataclass
class Context:
    """What a handler may use besides the aggregates: the rule packs and today's date."""

    uow: UnitOfWork
    today: date
    now: datetime

    def pack(self, jurisdiction: str, on: date | None = None) -> RulePack:
        """The jurisdiction's pack with the validity and parameters its regulator declared; with
        ``on``, the parameters in force that day (:meth:`RulePack.as_of`)."""
        pack = PACKS[jurisdiction]
        rulebook = self.uow.find(Rulebook, jurisdiction)
        if rulebook is not None:
            if rulebook.validity_declared:
                pack = pack.with_validity(rulebook.valid_from, rulebook.valid_until)
            changes = rulebook.changes()
            if changes:
                pack = pack.with_param_changes(changes)
        return pack if on is None else pack.as_of(on)

    def effective(self, command: Command, *not_before: tuple[str, date | None]) -> date:
        """The day the command's fact took effect (``effective_on``, default today).

        Dates come from the facts, within bounds: not after today, and not before any
        of ``not_before`` — (what, day) pairs such as ``provider.begins``.
        """
        return bounded("effective_on", command.effective_on or self.today, self.today, *not_before)

    def reconcile(self, provider: Provider, on: date | None = None, appeal_ref: str | None = None) -> list[str]:
        """Derive what the provider's record now decides; rescissions take effect ``on``."""
        return reconcile(provider, self.pack(provider.jurisdiction), on or self.today, appeal_ref)


def bounded(field_name: str, on: date, today: date, *not_before: tuple[str, date | None]) -> date:
    """``on``, if a fact may take effect that day: not in the future, not before what it concerns."""
    if on > today:
        raise DomainError(f"{field_name} {on} is in the future (today is {today})", field=field_name)
    for what, earliest in not_before:
        if earliest is not None and on < earliest:
            raise DomainError(f"{field_name} {on} is before {what} ({earliest})", field=field_name)
    return on


#: decides one command: loads aggregates through ``ctx.uow`` and calls their ``@event`` methods
Handler = Callable[[Any, Context], None]


@dataclass
class CommandResult:
    command_id: str
    positions: tuple[int, ...]
    duplicate: bool = False
    events: list[str] = field(default_factory=list)  # names of the events recorded


class Ledger:
    """The application: one event store, one clock, and what listens after each commit."""

    def __init__(
        self,
        store: EventStore,
        clock: Clock | None = None,
        operator: str = "system",
        *,
        handlers: Mapping[type[Command], Handler],
        group_commit: bool | GroupCommitOptions = False,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        self.store = store
        #: command type -> the function that decides it (``ledger.commands.handlers.HANDLERS``)
        self.handlers = dict(handlers)
        self.clock = clock or SystemClock()
        self.operator = operator
        #: aggregates as last recorded, so that commands do not refold them (:mod:`ledger.aggregate_cache`)
        self.aggregates = AggregateCache(cache_size)
        #: aggregate id -> its jurisdiction, as :meth:`jurisdiction_of` found it (it never changes)
        self._jurisdictions: dict[UUID, str] = {}
        #: the highest position this ledger recorded: what a reader of its own writes waits for
        self.last_position = 0
        self._position_lock = threading.Lock()
        #: called after each commit (in-process projections catch up here); once per group with group commit
        self.after_commit: list[Callable[[], None]] = []
        #: records the batches of concurrent ``execute`` calls together (None: one transaction per command)
        self.committer: GroupCommitter | None = None
        #: applications recorded before credit codes were reserved (found once, when first needed)
        self.unreserved = UnreservedApplications(store)
        #: where personal data goes instead of the log (``ledger.personal``; bootstrap sets it)
        self.personal: PersonalDataVault | None = None
        #: aggregates' snapshots every N events, read on a cold load (``ledger.snapshots``; bootstrap sets it)
        self.snapshots: SnapshotStore | None = None
        if group_commit:
            options = group_commit if isinstance(group_commit, GroupCommitOptions) else GroupCommitOptions()
            self.committer = GroupCommitter(store, options, on_commit=self._notify)

    # --- writing --------------------------------------------------------------

    def _writable(self) -> None:
        if self.store.read_only:
            from ledger.redaction import redact
            from ledger.store import ReadOnlyLedger

            raise ReadOnlyLedger(f"the ledger at {redact(self.store.database_url)} is read-only (this process may not write it): nothing was recorded")

    def execute(self, command: Command) -> CommandResult:
        self._writable()
        command, sealed = self._seal(command)
        committer = self.committer
        with committer.session() if committer is not None else nullcontext():
            presume_new = True  # only the first decision (UnitOfWork.find_new)
            look_up_keys = False  # the first sealing presumes the command's people new (PersonalDataVault.records)
            conflicts = 0
            while conflicts < MAX_ATTEMPTS:
                uow = UnitOfWork(self.store, self.aggregates, self.unreserved, self.snapshots, presume_new=presume_new, claims=True)
                presume_new = False
                try:
                    outcome = self._attempt(command, sealed, uow, committer, look_up_keys)
                finally:
                    uow.let_go()  # after its aggregates went back to the cache: the next command's turn
                if outcome is None:  # decided again
                    continue
                if isinstance(outcome, PersonalKeyConflict) and not look_up_keys:
                    look_up_keys = True  # sealed again under the people's keys: not a concurrent writer's conflict
                    continue
                if isinstance(outcome, ConcurrencyConflict):
                    if not uow.presumed:  # a conflict of a presumption is not a concurrent writer's
                        conflicts += 1
                        if conflicts < MAX_ATTEMPTS:
                            time.sleep(random.uniform(0, min(CONFLICT_WAIT_CAP, CONFLICT_WAIT * 2 ** (conflicts - 1))))
                    continue
                return outcome
        raise CommandConflict(
            f"command {command.command_id} conflicted with concurrent writers {MAX_ATTEMPTS} times; not recorded"
        )

    def _attempt(
        self, command: Command, sealed: Sealed | None, uow: UnitOfWork, committer: GroupCommitter | None, look_up_keys: bool,
    ) -> CommandResult | ConcurrencyConflict | None:  # fmt: skip
        """One decision and append of :meth:`execute`: its result; the conflict that refused its
        batch (the taken aggregates are dropped: the next attempt reads the store); or None, to
        be decided again on what the store has (a refusal that rested on a presumption). The
        command's personal values go with its batch, sealed under new keys or, ``look_up_keys``,
        under the keys its people have (:meth:`~ledger.personal.PersonalDataVault.records`)."""
        try:
            batch, names = self._decide(command, uow)
        except Exception:
            uow.release(self.aggregates, recorded=False)
            if uow.presumed:
                return None  # decided again on what the store has: the refusal is the one it gives
            # a command recorded before is a duplicate, even if it would be refused now;
            # the store's write transaction finds every other duplicate (no check up front)
            previous = self.store.command_result(command.command_id)
            if previous is not None:  # unless the id was used for another command: that is refused
                previous.check_retry(command.command_id, payload_digest(command.canonical_json()))
                self._check_personal_retry(command.command_id, sealed, previous)
                return CommandResult(command.command_id, previous.positions, duplicate=True)
            raise
        if sealed is not None and self.personal is not None:
            try:
                [record] = self.personal.records([sealed], look_up=look_up_keys)
            except BaseException:  # the vault's database failed: not a decision, and nothing is recorded
                uow.release(self.aggregates, recorded=False)
                raise
            batch = replace(batch, personal=() if record is None else (record,))
        if committer is None:
            try:
                result = self.store.append(batch)
            except ConcurrencyConflict as conflict:
                return conflict
            self._recorded(uow, result)
            self._notify()
        else:
            outcome = committer.submit(batch)  # the group's after_commit listeners have run
            if isinstance(outcome, ConcurrencyConflict):
                return outcome
            result = outcome
            self._recorded(uow, result)
        if result.duplicate:  # its personal records were not kept: a retry never replaces what the first recording kept
            self._check_personal_retry(command.command_id, sealed, result)
        return CommandResult(command.command_id, result.positions, result.duplicate, [] if result.duplicate else names)

    def execute_all(self, commands: Sequence[Command], on_progress: Callable[[int], None] | None = None) -> list[CommandResult]:
        """Apply commands in order as one transaction: all are recorded or none.

        A command that breaks a rule, reuses a command id with another payload, or
        keeps colliding with concurrent writers (the whole batch is decided again
        on fresh state, like a single command) raises :class:`BatchError` naming
        its index; nothing is written then (and the aggregates it changed are not
        put back in the cache).
        """
        self._writable()
        sealed_commands = [self._seal(command) for command in commands]
        commands = [command for command, _ in sealed_commands]
        command_ids = [command.command_id for command in commands]
        recorded_before = self.store.command_results(command_ids)
        for index, (command, sealed) in enumerate(sealed_commands):  # before anything is written
            previous = recorded_before.get(command.command_id) if sealed is not None and self.personal is not None else None
            if previous is not None:
                try:
                    self._check_personal_retry(command.command_id, sealed, previous)
                except CommandIdReused as reused:
                    raise BatchError(index, command, reused) from reused
        for attempt in range(1, MAX_ATTEMPTS + 1):
            if attempt > 1:  # after a conflict: a concurrent writer may have recorded some of them since
                recorded_before = self.store.command_results(command_ids)
            # the first decision presumes that ids the cache does not know are new (UnitOfWork.find_new):
            # an import creates thousands, and each would be a read of the store
            decided = self._decide_all(commands, recorded_before, on_progress if attempt == 1 else None, presume_new=attempt == 1)
            if decided is None:  # a refusal that rested on a presumption: decided again on what the store has
                decided = self._decide_all(commands, recorded_before, on_progress, presume_new=False)
            assert decided is not None
            uow, batches, names = decided
            batches = self._with_personal(batches, [sealed for _, sealed in sealed_commands])
            try:
                results = self.store.append_many(batches, atomic=True)
                break
            except ConcurrencyConflict as conflict:
                if attempt == MAX_ATTEMPTS:
                    if isinstance(conflict, PersonalKeyConflict):
                        index = next(i for i, b in enumerate(batches) if any(r.person_id in conflict.person_ids for r in b.personal))
                    else:
                        index = next(i for i, b in enumerate(batches) if conflict.originator_id in b.expected_versions)
                    raise BatchError(
                        index, commands[index],
                        CommandConflict(f"{conflict}; it changed under {MAX_ATTEMPTS} attempts by concurrent writers"),
                    ) from conflict  # fmt: skip
            except CommandIdReused as reused:  # recorded by a concurrent writer since it was checked
                index = next(i for i, c in enumerate(commands) if c.command_id == reused.command_id)
                raise BatchError(index, commands[index], reused) from reused
        recorded = [result for result in results if isinstance(result, AppendResult)]
        if not any(result.duplicate and batch.events for result, batch in zip(recorded, batches)):
            self._snapshot(uow)
            uow.release(self.aggregates, recorded=True)  # else some aggregates hold changes that were not recorded
        for result in recorded:
            self._advance(result)
        self._notify()
        out = []
        for outcome, event_names in zip(results, names):
            assert isinstance(outcome, AppendResult)
            out.append(CommandResult(outcome.command_id, outcome.positions, outcome.duplicate, event_names))
        return out

    def _decide_all(
        self,
        commands: Sequence[Command],
        recorded_before: Mapping[str, AppendResult],
        on_progress: Callable[[int], None] | None,
        *,
        presume_new: bool,
    ) -> tuple[UnitOfWork, list[CommandBatch], list[list[str]]] | None:
        """Each command decided on the state the earlier ones leave (``recorded_before``: the commands
        of the batch the store already holds): the unit of work and the batches to append; None if a
        command was refused while ids were presumed new (decide again without)."""
        uow = UnitOfWork(self.store, self.aggregates, self.unreserved, self.snapshots, presume_new=presume_new)
        batches: list[CommandBatch] = []
        names: list[list[str]] = []
        seen: dict[str, tuple[int, str]] = {}  # command id -> (index, payload digest) of its first use
        for index, command in enumerate(commands):
            digest = payload_digest(command.canonical_json())
            first = seen.setdefault(command.command_id, (index, digest))
            previous = recorded_before.get(command.command_id) if first[0] == index else None
            if first[1] != digest:
                raise BatchError(index, command, ValueError(
                    f"command id {command.command_id!r} is used for a different command at #{first[0] + 1}"
                ), earlier_index=first[0])  # fmt: skip
            if first[0] != index or previous is not None:
                if previous is not None:
                    try:
                        previous.check_retry(command.command_id, digest)
                    except CommandIdReused as reused:
                        raise BatchError(index, command, reused) from reused
                batches.append(self._batch(command, [], {}))
                names.append([])
            else:
                try:
                    batch, event_names = self._decide(command, uow)
                except (DomainError, ValueError) as error:
                    if uow.presumed:
                        return None
                    raise BatchError(index, command, error) from error
                batches.append(batch)
                names.append(event_names)
                uow.mark_saved()
            if on_progress:
                on_progress(index + 1)
        return uow, batches, names

    def _seal(self, command: Command) -> tuple[Command, Sealed | None]:
        """Personal fields out of the command (and so out of the log), when the ledger has a vault."""
        return seal_command(command) if self.personal is not None else (command, None)

    def _check_personal_retry(self, command_id: str, sealed: Sealed | None, previous: AppendResult) -> None:
        """A retry's personal data must be what the first recording kept (the log holds only markers,
        equal whatever the values): :class:`CommandIdReused` if the kept MAC says otherwise."""
        if sealed is not None and self.personal is not None and self.personal.same_as_kept(sealed) is False:
            raise CommandIdReused(command_id, previous)

    def _with_personal(self, batches: list[CommandBatch], sealed: Sequence[Sealed | None]) -> list[CommandBatch]:
        """An import's batches, each with its command's personal values sealed under the keys its
        people have (one lookup for all of them). The store keeps them with the batches it records:
        not a duplicate's (a retry never replaces what the first recording kept)."""
        wanted = [(index, one) for index, one in enumerate(sealed) if one is not None]
        if not wanted or self.personal is None:
            return batches
        records = self.personal.records([one for _, one in wanted], look_up=True)  # None for an erased person
        batches = list(batches)
        for (index, _), record in zip(wanted, records, strict=True):
            if record is not None:
                batches[index] = replace(batches[index], personal=(record,))
        return batches

    def _decide(self, command: Command, uow: UnitOfWork) -> tuple[CommandBatch, list[str]]:
        handler = self.handlers.get(type(command))
        if handler is None:
            raise DomainError(f"no handler for {type(command).__name__}")
        now = self.clock.now()
        with clock_scope(FixedClock(now)):
            ctx = Context(uow=uow, today=business_date(now), now=now)
            handler(command, ctx)
            events = uow.collect()
        # expected versions: what every aggregate the command looked at had before it, whether
        # the command wrote to it or only checked it (a provider still in the pool, a rulebook's dates)
        versions = {agg_id: uow.versions[agg_id] for agg_id in uow.seen}
        return self._batch(command, events, versions), [wire.name_of(type(e)) for e in events]

    def _batch(self, command: Command, events: list[Any], versions: dict[UUID, int]) -> CommandBatch:
        return CommandBatch(
            command_id=command.command_id,
            command_type=type(command).__name__,
            recorded_by=command.recorded_by or self.operator,
            payload=command.canonical_json(),
            events=[wire.encode(e) for e in events],
            expected_versions=versions,
        )

    def _recorded(self, uow: UnitOfWork, result: AppendResult) -> None:
        if not result.duplicate:  # a duplicate's aggregates hold changes that were not recorded
            self._snapshot(uow)
            uow.release(self.aggregates, recorded=True)
        self._advance(result)

    def _snapshot(self, uow: UnitOfWork) -> None:
        """After a batch is recorded (before its aggregates go back to the cache, where another
        command could take them): a snapshot of each that is ``every`` events past its last one, or
        that this command had to read from the store folding :data:`~ledger.snapshots.REREAD_TAIL`
        events or more (the next process, or this one after a conflict, reads it again)."""
        snapshots = self.snapshots
        if snapshots is None or snapshots.every == 0:
            return
        due = [a for a in uow.loaded() if not a.pending_events and snapshots.due(a.id, a.version, uow.folded.get(a.id, 0))]
        if not due:
            return
        refs = {a.id: event_ref(a.id, a.version) for a in due}
        recorded = self.store.read_refs(refs.values())
        for aggregate in due:
            event = recorded.get(refs[aggregate.id])
            if event is not None:
                take_snapshot(snapshots, aggregate, event.hash)

    def _advance(self, result: AppendResult) -> None:
        if result.positions:
            with self._position_lock:
                self.last_position = max(self.last_position, result.positions[-1])

    def _notify(self) -> None:
        for listener in self.after_commit:
            listener()

    # --- reading ----------------------------------------------------------------

    def load(self, cls: type[A], business_id: str) -> A:
        return UnitOfWork(self.store, snapshots=self.snapshots).get(cls, business_id)

    def find(self, cls: type[A], business_id: str) -> A | None:
        return UnitOfWork(self.store, snapshots=self.snapshots).find(cls, business_id)

    def jurisdiction_of(self, cls: type[A], business_id: str) -> str:
        """The jurisdiction an aggregate belongs to (``NotFound`` if there is none). It is fixed by
        the aggregate's first event, so once known it is remembered; else it is read from the
        aggregate kept in memory, else as :meth:`load` reads it. (A provider many commands change
        at once is mostly taken by one of them, not in the cache: each check read it from the
        store, 56 % of the server's time in that case, BENCHMARKS.md.)"""
        agg_id = cls.create_id(business_id)
        known = self._jurisdictions.get(agg_id)
        if known is None:
            kept = self.aggregates.peek(agg_id)
            aggregate = kept if isinstance(kept, cls) else self.load(cls, business_id)
            known = str(aggregate.jurisdiction)  # type: ignore[attr-defined]  # every aggregate a command is scoped by has one
            if len(self._jurisdictions) >= JURISDICTIONS_KEPT:
                self._jurisdictions.clear()
            self._jurisdictions[agg_id] = known
        return known

    def pack(self, jurisdiction: str) -> RulePack:
        now = self.clock.now()
        return Context(UnitOfWork(self.store), business_date(now), now).pack(jurisdiction)

    def close(self) -> None:
        try:
            if self.personal is not None:
                self.personal.close()
            if self.snapshots is not None:
                self.snapshots.close()
        finally:
            self.store.close()


class BatchError(Exception):
    """Command ``index`` of a batch could not be recorded (nor, then, any other)."""

    def __init__(self, index: int, command: Command, error: Exception, *, earlier_index: int | None = None) -> None:
        super().__init__(f"command #{index + 1} ({type(command).__name__} {command.command_id}): {error}")
        self.index = index
        self.command = command
        self.error = error
        #: for a command id used twice in the batch with different payloads: where it was first used
        self.earlier_index = earlier_index
