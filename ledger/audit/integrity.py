"""One verification of a ledger, for every entrypoint: what ``ledger verify`` and ``GET /v1/verify`` check,
and what ``ledger digest`` and ``ledger proof`` require before they sign anything.

:func:`verify_ledger` walks the event chain once (:mod:`ledger.audit.verify`) and checks around it,
each problem one line naming what is wrong:

- the command chain (``ledger_commands``): every row in ``seq`` order links to
  the one before, its hash covers its content, and its ``payload_digest`` is the
  digest of the payload stored with it — a forged payload breaks it;
- the two chains against each other: the events of each command, in position order, name a
  command the command chain records over exactly their positions, and every command with
  positions has its events — a command row removed (the newest too) is named;
- the store's append-only protections (missing, disabled or redefined triggers
  and trigger function; a table dropped and recreated), as the store reports them;
- the read models' position: if they have folded events beyond the end of the log, events
  were removed from it (or the log was dropped and recreated empty); asked
  (``read_models=True``), their content: rebuilt from the log in a temporary SQLite file and
  compared table by table with the live ones;
- the personal-data vault (:mod:`ledger.personal`): every personal marker the log holds has its
  record, or an erasure of its person is recorded; a kept record decrypts under its person's key
  and matches its MAC; an erased person's key is gone.

What no check of the ledger alone can show is listed with every result (``unchecked``): the
newest events removed together with their commands and tracking rows, or the whole log re-hashed
consistently (only a digest kept outside the system catches those), and personal data
re-encrypted under the person's own key with its MAC recomputed (the MAC is keyed by that key,
which the vault keeps in the same database).
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from ledger.audit.verify import Digest, UnreadableEvent, VerifyReport, take_digest, walk_log
from ledger.personal import MARKER, person_of
from ledger.store.base import GENESIS_HASH, EventStore, RecordedCommand, RecordedEvent, command_hash, payload_digest

if TYPE_CHECKING:
    from ledger.projections.db import ReadModelDB


def command_chain_problems(store: EventStore) -> list[str]:
    """The first break in the command chain, if any (one line), as a list."""
    prev_hash, expected = GENESIS_HASH, 1
    for command in store.read_commands():
        where = f"command {command.seq} ({command.command_id})"
        if command.seq != expected:
            return [f"command chain broken at seq {expected}: the next command found is at seq {command.seq}"]
        if command.prev_hash != prev_hash:
            return [f"command chain broken at {where}: prev_hash does not match the command before it"]
        if payload_digest(command.payload) != command.payload_digest:
            return [f"command chain broken at {where}: the payload was altered (it does not match its digest)"]
        recomputed = command_hash(
            command.prev_hash, command.seq, command.command_id, command.command_type, command.recorded_by,
            command.recorded_at, command.payload_digest, command.first_position, command.last_position,
        )  # fmt: skip
        if recomputed != command.hash:
            return [f"command chain broken at {where}: content does not match its hash: the row was altered"]
        prev_hash, expected = command.hash, expected + 1
    return []


def read_model_problems(database_url: str, head: int) -> list[str]:
    """Read models that have folded more events than the log holds."""
    from ledger.projections.db import ReadModelDB

    with ReadModelDB(database_url) as db, db.transaction(write=False) as tx:
        if not tx.has_tables("projection_tracking"):
            return []
        row = tx.fetchone("SELECT MAX(position) FROM projection_tracking")
    folded = int(row[0]) if row and row[0] is not None else 0
    if folded > head:
        return [
            f"the read models have folded events up to position {folded}, but the log ends at {head}: "
            "events were removed (or the log was dropped and recreated)"
        ]
    return []


def command_head_problems(store: EventStore, digest: Digest) -> list[str]:
    """The command chain still holds the digest's command head."""
    if digest.command_seq is None or digest.command_seq == 0:
        return []
    for command in store.read_commands(after=digest.command_seq - 1):
        if command.hash != digest.command_hash:
            return [f"command {digest.command_seq} no longer has the hash of the digest: the command chain was rewritten"]
        return []
    return [f"the command chain ends before command {digest.command_seq} of the digest: commands were removed"]


def integrity_problems(store: EventStore, *, read_models: bool = True) -> list[str]:
    """Every problem besides the event chain: protections, command chain, read models."""
    from ledger.redaction import describe_failure

    problems = store.protection_problems()
    checks = [lambda: command_chain_problems(store)]
    if read_models:
        checks.append(lambda: read_model_problems(store.database_url, store.max_position()))
    for check in checks:
        try:
            problems += check()
        except Exception as error:
            problems.append(f"cannot check: {describe_failure(error)}")
    return problems


# -- the two chains against each other --------------------------------------------------------------


def _span(first: int, last: int) -> str:
    return f"the event at position {first}" if first == last else f"the events at positions {first}..{last}"


def _positions(command: RecordedCommand) -> str:
    first, last = command.first_position, command.last_position
    return f"position {first}" if first == last else f"positions {first}..{last}"


class CommandCrossCheck:
    """Fed the sound events in position order: each run of events naming one command must be the
    next command of the chain that recorded events, over exactly its ``first..last`` positions. The
    commands are read as the events come (nothing held but the current run)."""

    def __init__(self, store: EventStore) -> None:
        self._commands: Iterator[RecordedCommand] = (c for c in store.read_commands() if c.first_position is not None)
        self._run: list[Any] | None = None  # [command_id, first, last]
        self._last: RecordedCommand | None = None
        self.problem: str | None = None

    def feed(self, event: RecordedEvent) -> None:
        run = self._run
        if run is not None and event.command_id == run[0] and event.position == run[2] + 1:
            run[2] = event.position
            return
        if run is not None:
            self._close(run)
        self._run = [event.command_id, event.position, event.position]

    def _close(self, run: list[Any]) -> None:
        if self.problem is not None:
            return
        command_id, first, last = run
        command = next(self._commands, None)
        names = "names" if first == last else "name"
        if command is None:
            end = (
                f"its last command with events, seq {self._last.seq}, ends at position {self._last.last_position}"
                if self._last else "it records no command with events"
            )  # fmt: skip
            self.problem = (
                f"{_span(first, last)} {names} command {command_id}, which is not in the command chain ({end}): "
                "a command row was removed"
            )
        elif command.command_id != command_id:
            self.problem = (
                f"{_span(first, last)} {names} command {command_id}, but the command chain records command "
                f"{command.seq} ({command.command_id}) for {_positions(command)} there: "
                f"{command_id} is not in the command chain where its events are (a command row was removed or replaced)"
            )
        elif (command.first_position, command.last_position) != (first, last):
            self.problem = (
                f"{_span(first, last)} {names} command {command_id}, but the command chain records it "
                f"(command {command.seq}) for {_positions(command)}"
            )
        self._last = command

    def finish(self, head: int, *, sound: bool, now: int | None = None) -> list[str]:
        """The problem found, if any. ``sound``: the event chain verified up to ``head``, where the walk
        ended; otherwise the events after the last sound one are not looked at (the chain's break is
        reported). A command recorded since, whose events the log holds ``now``, is not looked at either."""
        if sound:
            if self._run is not None:
                self._close(self._run)
                self._run = None
            if self.problem is None:
                left = next(self._commands, None)
                first, last = (left.first_position or 0, left.last_position or 0) if left is not None else (0, 0)
                if left is not None and not (first > head and now is not None and last <= now):
                    self.problem = (
                        f"command {left.seq} ({left.command_id}) records {_positions(left)}, but "
                        + (f"the log ends at position {head}" if head < first else "its events are not there")
                        + ": events were removed"
                    )
        return [self.problem] if self.problem else []


# -- the personal-data vault ---------------------------------------------------------------------------

#: a personal field's marker in an event (``ledger.personal.MARKER``): ``"sealed:<holder>/<field>"``
MARKER_PATTERN = re.compile(rf'"{re.escape(MARKER)}([^"/\\]+)/([^"\\]+)"')
#: at most this many lines about the vault (a deleted vault would name every holder)
VAULT_LINES = 20


def _vault_tables(db: ReadModelDB) -> bool:
    with db.transaction(write=False) as tx:
        return tx.has_tables("personal_data", "personal_keys", "personal_macs", "personal_erasures")


def vault_problems(db: ReadModelDB, markers: dict[str, tuple[int, set[str]]]) -> list[str]:
    """Check the vault against the markers the log holds (holder -> first position, fields marked).

    Without a secret of its own the check is as strong as the vault's design allows: a record is
    checked with its person's key, which the vault keeps beside it, so a record re-encrypted under
    that key with its MAC recomputed passes (``unchecked`` says so)."""
    from cryptography.exceptions import InvalidTag

    from ledger.personal import Sealed, _mac, decrypt

    if not markers:
        return []
    if not _vault_tables(db):
        data: dict[str, tuple[str, str, str]] = {}
        keys: dict[str, str] = {}
        macs: dict[str, str] = {}
        erased: set[str] = set()
    else:
        with db.transaction(write=False) as tx:
            data = {h: (p, n, c) for h, p, n, c in tx.fetchall("SELECT holder, person_id, nonce, ciphertext FROM personal_data")}
            keys = dict(tx.fetchall("SELECT person_id, key_material FROM personal_keys"))
            macs = dict(tx.fetchall("SELECT holder, mac FROM personal_macs"))
            erased = {row[0] for row in tx.fetchall("SELECT person_id FROM personal_erasures")}
    problems: list[str] = []
    for holder, (position, fields) in sorted(markers.items(), key=lambda item: item[1][0]):
        person = person_of(holder)
        record = data.get(holder)
        marked = ", ".join(sorted(fields))
        if record is None:
            if person is None or person not in erased:
                problems.append(
                    f"personal data missing: position {position} marks {marked} of {holder}, but the vault holds no "
                    f"record of it and no erasure of {person or 'its person'} is recorded"
                )
            continue
        person_id, nonce, ciphertext = record
        if person is not None and person_id != person:
            problems.append(f"the vault's record of {holder} names person {person_id}, not {person}: the record was moved")
        key = keys.get(person_id)
        if person_id in erased:
            if key is not None:
                problems.append(f"an erasure of {person_id} is recorded, but its key is still kept: the erasure did not destroy it")
            continue
        if key is None:
            problems.append(
                f"the key of {person_id} (for {holder}) is missing, but no erasure of {person_id} is recorded: "
                "it was deleted behind the ledger's back"
            )
            continue
        try:
            values = decrypt(key, nonce, ciphertext, holder)
            if not isinstance(values, dict):
                raise ValueError("not an object")
        except (InvalidTag, ValueError, TypeError):
            problems.append(
                f"the vault's record of {holder} does not decrypt under the key of {person_id}: "
                "its ciphertext, nonce or key was altered"
            )
            continue
        if set(values) != fields:
            problems.append(f"the vault's record of {holder} holds {', '.join(sorted(values))}, but the log marks {marked}")
        mac = macs.get(holder)
        if mac is None:
            problems.append(f"the vault keeps no MAC for {holder}: its row in personal_macs was deleted")
        elif mac != _mac(bytes.fromhex(key), Sealed(person_id, holder, values)):
            problems.append(
                f"the vault's record of {holder} does not match its MAC: its values were re-encrypted, "
                "or its MAC replaced, behind the ledger's back"
            )
    if len(problems) > VAULT_LINES:
        problems = [*problems[:VAULT_LINES], f"... and {len(problems) - VAULT_LINES} more problems of the personal-data vault"]
    return problems


# -- the read models' content ----------------------------------------------------------------------------


def _comparable(table: str, row: dict[str, Any]) -> tuple[Any, ...]:
    """A read-model row as compared: a provider's snapshot without the instant it was taken."""
    if table == "provider_state" and isinstance(row.get("snapshot"), str):
        snapshot = json.loads(row["snapshot"])
        if isinstance(snapshot, dict):
            snapshot.pop("timestamp", None)  # when the snapshot was taken: wall clock, not ledger content
        row = {**row, "snapshot": json.dumps(snapshot, sort_keys=True, ensure_ascii=False)}
    return tuple(sorted(row.items()))


def _first_key(table: str, row: tuple[Any, ...]) -> str:
    values = dict(row)
    for column in ("provider_id", "complaint_id", "sanction_ref", "originator_id"):
        if values.get(column) is not None:
            named = f"{column} {values[column]}"
            if column == "provider_id" and values.get("position") is not None:
                named += f" at position {values['position']}"
            return named
    return repr(values)


def read_model_content_problems(store: EventStore, db: ReadModelDB) -> list[str]:
    """Rebuild the read models from the log, in a temporary SQLite file, each projection up to the
    position it has folded, and compare them table by table with the live ones; one line per table
    that differs, naming the first differing row. Read models a newer version added and a replay
    has not filled yet (``projection_incomplete``) are left out, and said so."""
    import tempfile
    from pathlib import Path

    from ledger.projections.db import ReadModelDB as Db
    from ledger.projections.providers import ProviderViewsProjection
    from ledger.projections.replay import fold_share
    from ledger.projections.runner import Projection
    from ledger.projections.schema import GLOBAL_TABLES, TABLES, create_generation, live_generation
    from ledger.projections.timeline import TimelineProjection

    with db.transaction(write=False) as tx:
        if not tx.has_tables("projection_generation"):
            return ["the read models cannot be compared: the ledger has none (no projection_generation table)"]
        live = live_generation(tx)
        if live is None:
            return ["the read models cannot be compared: projection_generation names no live generation"]
        folded = {name: int(position) for name, position in tx.fetchall("SELECT projection, position FROM projection_tracking WHERE generation = ?", (live,))}
        incomplete = {r[0] for r in tx.fetchall("SELECT table_name FROM projection_incomplete")}
    problems: list[str] = []
    head = store.max_position()
    projections: list[Projection] = [ProviderViewsProjection(deferred=True), TimelineProjection()]
    with tempfile.TemporaryDirectory(prefix="ledger-verify-") as folder:
        rebuilt = Db(f"sqlite:///{Path(folder) / 'rebuilt.db'}", pool_size=1)
        try:
            with rebuilt.transaction() as tx:
                for statement in GLOBAL_TABLES:
                    tx.execute(statement)
                create_generation(tx, 1, list(TABLES), [p.name for p in projections])
            for projection in projections:
                upto = folded.get(projection.name)
                if upto is None:
                    problems.append(f"read models of projection {projection.name}: no tracking row in the live generation {live}")
                    continue
                if upto > head:
                    continue  # reported by the position check
                fold_share(store, rebuilt, [projection], 1, upto, 0, 1, 5000)
                for table in projection.tables:
                    if table in incomplete:
                        continue
                    with db.transaction(write=False) as tx:
                        kept = {_comparable(table, r) for r in tx.dicts(f"SELECT * FROM {tx.table(table, live)}")}
                    with rebuilt.transaction(write=False) as tx:
                        fresh = {_comparable(table, r) for r in tx.dicts(f"SELECT * FROM {tx.table(table, 1)}")}
                    if kept != fresh:
                        only_kept, only_fresh = kept - fresh, fresh - kept
                        first = min([*only_kept, *only_fresh], key=repr)
                        problems.append(
                            f"read model {table} (projection {projection.name}, folded to position {upto}) differs from "
                            f"its rebuild from the log: {len(only_kept)} row(s) only in the live table, {len(only_fresh)} "
                            f"only in the rebuild; the first differing row: {_first_key(table, first)}"
                        )
        finally:
            rebuilt.close()
    if incomplete:
        problems_note = ", ".join(sorted(incomplete))
        problems.append(f"read models {problems_note} not compared: added by a newer version and not yet filled (run `ledger replay`)")
    return problems


# -- one verification ---------------------------------------------------------------------------------------


CHECKS = (
    "the event chain (each event's content and its link to the one before, from position 1)",
    "the command chain, and that it records each event's command over exactly that command's positions",
    "the append-only protections of the log",
    "the read models' position (none folded beyond the log's end)",
    "the personal-data vault (a record or a recorded erasure for every personal marker in the log; "
    "each kept record decrypts under its person's key and matches its MAC)",
)
READ_MODELS_CHECKED = "the read models' content (rebuilt from the log and compared table by table)"
READ_MODELS_UNCHECKED = "the read models' content: an edited row passes (give --read-models to rebuild and compare them)"
NO_DIGEST_UNCHECKED = (
    "the newest events removed together with their commands and tracking rows, or the whole log re-hashed "
    "consistently: only a digest taken earlier and kept outside the system catches those (--digest FILE)"
)
VAULT_UNCHECKED = (
    "personal data re-encrypted under the person's own key with its MAC recomputed: the MAC is keyed by that key, "
    "which the vault keeps in the same database"
)


@dataclass(frozen=True)
class LedgerVerification:
    """The event chain's report, every other problem found (one line each), and what was and was not checked."""

    report: VerifyReport
    problems: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.report.ok and not self.problems

    def failure(self) -> str:
        """One line: why the ledger does not verify."""
        found = ([] if self.report.ok else [self.report.summary()]) + self.problems
        more = f" (and {len(found) - 1} more problem(s): run `ledger verify`)" if len(found) > 1 else ""
        return f"{found[0]}{more}" if found else ""


class LedgerUnsound(ValueError):
    """The ledger does not verify (:func:`verify_ledger`): nothing is signed or written over it."""

    def __init__(self, verification: LedgerVerification) -> None:
        super().__init__(f"the ledger does not verify: {verification.failure()}")
        self.verification = verification


_UNREADABLE = (
    ("originator_id", lambda v: UUID(str(v)), "a UUID"),
    ("originator_version", lambda v: int(v) if not isinstance(v, bool) and str(int(v)) == str(v) else int("x"), "an integer"),
    ("recorded_at", lambda v: v if isinstance(v, datetime) else datetime.fromisoformat(v), "an ISO 8601 instant"),
    ("effective_on", lambda v: v if v is None or isinstance(v, date) else date.fromisoformat(v), "an ISO 8601 date"),
)


def _unreadable(db: ReadModelDB, after: int, error: Exception) -> UnreadableEvent:
    """Which row after position ``after`` could not be read as an event, and which column."""
    with db.transaction(write=False) as tx:
        row = tx.fetchone(
            "SELECT position, originator_id, originator_version, recorded_at, effective_on FROM ledger_events"
            " WHERE position > ? ORDER BY position LIMIT 1", (after,),
        )  # fmt: skip
    if row is None:
        return UnreadableEvent(after + 1, f"the row cannot be read as an event: {error}")
    values = dict(zip(("originator_id", "originator_version", "recorded_at", "effective_on"), row[1:], strict=True))
    for column, parse, what in _UNREADABLE:
        try:
            parse(values[column])
        except (ValueError, TypeError):
            return UnreadableEvent(int(row[0]), f"column {column} holds {values[column]!r}, which is not {what}: the row was altered")
    return UnreadableEvent(int(row[0]), f"the row cannot be read as an event: {error}")


class _Tap:
    """Between the store and the chain walk: hands each event the walk *accepted* (the one before the
    event it asks for next) to the command cross-check and the vault's marker list, and turns a row
    that cannot be read into an :class:`UnreadableEvent` at its position."""

    def __init__(self, store: EventStore, db: ReadModelDB) -> None:
        self.store, self.db = store, db
        self.commands = CommandCrossCheck(store)
        self.markers: dict[str, tuple[int, set[str]]] = {}
        self.accepted = 0

    def _accept(self, event: RecordedEvent) -> None:
        self.accepted = event.position
        self.commands.feed(event)
        if MARKER in event.state:
            for holder, name in MARKER_PATTERN.findall(event.state):
                self.markers.setdefault(holder, (event.position, set()))[1].add(name)

    def events(self, source: Iterable[RecordedEvent]) -> Iterator[RecordedEvent]:
        iterator = iter(source)
        pending: RecordedEvent | None = None
        while True:
            try:
                event = next(iterator)
            except StopIteration:
                break
            except UnreadableEvent:
                raise
            except (ValueError, TypeError) as error:
                if pending is not None:
                    self._accept(pending)  # asked for the next one: the walk accepted it
                raise _unreadable(self.db, pending.position if pending else 0, error) from None
            if pending is not None:
                self._accept(pending)
            pending = event
            yield event
        if pending is not None:
            self._accept(pending)


def verify_ledger(
    store: EventStore, digest: Digest | None = None, *, read_models: bool = False, progress: bool = False
) -> LedgerVerification:
    """Every check of the ledger, the one verification of the CLI, the API, digests and receipts
    (see the module's docstring); with ``digest``, also that the log and the command chain still
    hold it; with ``read_models``, the read models rebuilt and compared."""
    from ledger.projections.db import ReadModelDB as Db
    from ledger.redaction import describe_failure

    problems = store.protection_problems()
    problems += command_chain_problems(store)
    with Db(store.database_url, pool_size=1) as db:
        tap = _Tap(store, db)
        total = store.max_position()  # the log as it is now: events recorded meanwhile are left to the next verification
        report = walk_log(tap.events(store.read_all(limit=total)), digest, progress=progress, total=total)
        checks: list[tuple[str, Any]] = [
            ("the two chains", lambda: tap.commands.finish(total, sound=report.ok, now=store.max_position())),
            ("the read models' position", lambda: read_model_problems(store.database_url, store.max_position())),
            ("the personal-data vault", lambda: vault_problems(db, tap.markers)),
        ]
        if digest is not None:
            checks.append(("the digest's command head", lambda: command_head_problems(store, digest)))
        if read_models:
            checks.append(("the read models' content", lambda: read_model_content_problems(store, db)))
        for name, check in checks:
            try:
                problems += check()
            except Exception as error:
                problems.append(f"cannot check {name}: {describe_failure(error)}")
    checked = list(CHECKS)
    unchecked = [VAULT_UNCHECKED]
    if read_models:
        checked.append(READ_MODELS_CHECKED)
    else:
        unchecked.insert(0, READ_MODELS_UNCHECKED)
    if digest is not None:
        checked.append(
            f"the digest of {digest.taken_at.isoformat()}: the log up to its position {digest.position} still has the "
            "hashes it recorded, and the command chain its command head"
        )
        unchecked.insert(0, f"events after the digest's position {digest.position}: their removal or rewriting is caught only by a later digest")
    else:
        unchecked.insert(0, NO_DIGEST_UNCHECKED)
    return LedgerVerification(report, problems, checked, unchecked)


def require_sound(store: EventStore, *, progress: bool = False) -> LedgerVerification:
    """:func:`verify_ledger`, raising :class:`LedgerUnsound` (one line) when the ledger does not verify."""
    verification = verify_ledger(store, progress=progress)
    if not verification.ok:
        raise LedgerUnsound(verification)
    return verification


def verified_digest(store: EventStore, *, progress: bool = False) -> Digest:
    """A digest (:func:`take_digest`) of a ledger that verifies in full; :class:`LedgerUnsound` otherwise."""
    require_sound(store, progress=progress)
    return take_digest(store, progress=progress)
