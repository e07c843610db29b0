"""Tamper evidence: verify the hash chain of a store or of an export, and digests.

The chain shows that no stored event was altered, inserted or removed *inside*
the log: every event's ``hash`` covers its content and the previous event's hash.
What the chain alone cannot show is that the newest events were dropped, or that
the whole log was rewritten with fresh hashes. For that an auditor keeps a
:class:`Digest` (the head's position and hash at some moment) outside the system
and later checks the store against it with :func:`verify_against_digest`.
"""
from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError, field_validator, model_validator

from ledger import wire
from ledger.audit.merkle import leaf_of, tree_head
from ledger.clock import current_time
from ledger.store.base import GENESIS_HASH, EventStore, RecordedEvent, chain_hash


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of walking a chain from position 1."""

    ok: bool
    #: events found sound, in order from position 1 (the bad one, if any, not counted)
    checked: int
    #: the last sound event (0 and GENESIS_HASH if there is none)
    head_position: int
    head_hash: str
    #: where the chain breaks: the first bad or missing position
    first_bad_position: int | None = None
    #: ``originator_id/version`` of the event found at that point, if there is one
    first_bad_ref: str | None = None
    reason: str = ""

    def summary(self) -> str:
        if self.ok:
            return f"OK: {self.checked} events verified, head {self.head_position} {self.head_hash}"
        where = f"position {self.first_bad_position}"
        if self.first_bad_ref:
            where += f" ({self.first_bad_ref})"
        return f"BROKEN at {where}: {self.reason} ({self.checked} events sound before it)"


class ChainBroken(Exception):
    """The chain did not verify where it had to (e.g. before taking a digest)."""

    def __init__(self, report: VerifyReport) -> None:
        super().__init__(report.summary())
        self.report = report


class ExportFormatError(ValueError):
    """A line of an export is not an event as :func:`ledger.wire.to_export` writes it."""

    def __init__(self, path: Path, line: int, problem: str) -> None:
        super().__init__(f"{path}:{line}: {problem}")
        self.path = path
        self.line = line
        self.problem = problem


class UnreadableEvent(ValueError):
    """A stored row that cannot be read as an event (a column that does not parse): the chain breaks there."""

    def __init__(self, position: int, problem: str) -> None:
        super().__init__(f"position {position}: {problem}")
        self.position = position
        self.problem = problem


def recompute_hash(event: RecordedEvent) -> str:
    return chain_hash(
        event.prev_hash,
        event.position,
        event.originator_id,
        event.originator_version,
        event.topic,
        event.state,
        event.recorded_at,
        event.effective_on,
        event.recorded_by,
        event.command_id,
    )


class ChainWalker:
    """Checks events one at a time, in position order, and stops at the first bad one."""

    def __init__(self) -> None:
        self.checked = 0
        self.head_position = 0
        self.head_hash = GENESIS_HASH
        self.failure: tuple[int, str | None, str] | None = None

    @property
    def broken(self) -> bool:
        return self.failure is not None

    def problem(self, event: RecordedEvent) -> tuple[int, str] | None:
        """What is wrong with ``event`` as the next event of the chain: (bad position, reason)."""
        expected = self.head_position + 1
        if event.position != expected:
            if event.position > expected:
                missing = str(expected) if event.position == expected + 1 else f"{expected}..{event.position - 1}"
                return expected, f"position {missing} missing: the next event found is at {event.position}"
            return expected, f"position {event.position} found where {expected} was expected (repeated or out of order)"
        if event.prev_hash != self.head_hash:
            before = f"position {self.head_position}" if self.head_position else "the genesis hash"
            return event.position, (
                f"prev_hash does not match the hash of {before}: an event was altered and re-hashed, or replaced"
            )
        if recompute_hash(event) != event.hash:
            return event.position, "content does not match its hash: the event was altered"
        return None

    def fail(self, position: int, ref: str | None, reason: str) -> bool:
        if self.failure is None:
            self.failure = (position, ref, reason)
        return False

    def accept(self, event: RecordedEvent) -> None:
        self.checked += 1
        self.head_position = event.position
        self.head_hash = event.hash

    def feed(self, event: RecordedEvent) -> bool:
        """Check the next event; False (and the walk is over) if it is bad."""
        if self.failure is not None:
            return False
        problem = self.problem(event)
        if problem is not None:
            return self.fail(problem[0], event.ref, problem[1])
        self.accept(event)
        return True

    def report(self) -> VerifyReport:
        if self.failure is None:
            return VerifyReport(True, self.checked, self.head_position, self.head_hash)
        position, ref, reason = self.failure
        return VerifyReport(False, self.checked, self.head_position, self.head_hash, position, ref, reason)


# -- progress ------------------------------------------------------------------------


@contextmanager
def _progress(enabled: bool, description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """Yields ``advance(n)``; shows a rich progress bar on stderr when enabled."""
    if not enabled:
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    ) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)


def _walk(events: Iterable[RecordedEvent], walker: ChainWalker, advance: Callable[[int], None]) -> None:
    pending = 0
    for event in events:
        if not walker.feed(event):
            break
        pending += 1
        if pending == 1000:
            advance(pending)
            pending = 0
    advance(pending)


# -- verifying -----------------------------------------------------------------------


def verify_events(events: Iterable[RecordedEvent]) -> VerifyReport:
    """Walk events in position order from 1; stop at the first gap, broken link or altered event."""
    walker = ChainWalker()
    _walk(events, walker, lambda n: None)
    return walker.report()


def verify_store(store: EventStore, *, progress: bool = False) -> VerifyReport:
    """Verify the whole log of a store (up to its head at the time of reading)."""
    walker = ChainWalker()
    with _progress(progress, "verifying", store.max_position()) as advance:
        _walk(store.read_all(), walker, advance)
    return walker.report()


# -- writing files -------------------------------------------------------------------


class TargetExists(FileExistsError):
    """The file to write exists, and overwriting it was not asked for."""

    def __init__(self, target: Path) -> None:
        super().__init__(errno.EEXIST, os.strerror(errno.EEXIST), str(target))
        self.target = target


class LedgerFileTarget(ValueError):
    """The file to write is one of the open ledger's own files: it is never written, whatever is asked."""

    def __init__(self, target: Path, ledger_file: Path) -> None:
        named = "" if str(target) == str(ledger_file) else f" ({ledger_file})"
        super().__init__(f"{target} is the ledger's own database file{named}; it is never overwritten")
        self.target = target
        self.ledger_file = ledger_file


def ledger_files(store: EventStore) -> tuple[Path, ...]:
    """The files of a SQLite ledger (the database, its WAL, shared memory and rollback journal); none otherwise."""
    path = getattr(store, "path", None)
    if not isinstance(path, Path):
        return ()
    return (path, *(path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal")))


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)  # also through a hard link or a symbolic link
    except OSError:  # one of them does not exist (yet)
        return a.resolve() == b.resolve()


def refuse_target(path: str | os.PathLike[str], *, overwrite: bool = False, protected: Iterable[Path] = ()) -> None:
    """Raise :class:`LedgerFileTarget` if ``path`` is one of the ``protected`` files (see :func:`ledger_files`),
    even with ``overwrite``; :class:`TargetExists` if it exists and ``overwrite`` is not given."""
    target = Path(path)
    for own in protected:
        if _same_file(target, own):
            raise LedgerFileTarget(target, own)
    if not overwrite and os.path.lexists(target):
        raise TargetExists(target)


def write_file(path: str | os.PathLike[str], text: str, *, overwrite: bool = False) -> None:
    """Write ``text`` (UTF-8) to ``path``; an existing file is kept (:class:`TargetExists`) unless ``overwrite``."""
    target = Path(path)
    try:
        out = target.open("w" if overwrite else "x", encoding="utf-8")  # "x": never over a file, atomically
    except FileExistsError:
        raise TargetExists(target) from None
    with out:
        out.write(text)


def _move_into_place(partial: Path, target: Path, *, overwrite: bool) -> None:
    """Rename the complete ``partial`` to ``target``; without ``overwrite`` never over a file, even one
    that appeared while ``partial`` was written."""
    if overwrite:
        os.replace(partial, target)
        return
    try:
        os.link(partial, target)  # unlike a rename, fails if the target exists
    except FileExistsError:
        raise TargetExists(target) from None
    except OSError:  # a file system without hard links: check, then rename
        refuse_target(target)
        os.replace(partial, target)
        return
    partial.unlink()


# -- exports -------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    count: int
    head_position: int
    head_hash: str


def export_events(
    store: EventStore, path: str | os.PathLike[str], *, progress: bool = False, overwrite: bool = False
) -> ExportSummary:
    """Write the log, up to the head at the start, as JSON Lines (one :func:`ledger.wire.to_export` a line).

    The file is written beside ``path`` under a fresh name and renamed into place when complete. An
    existing ``path`` is refused (:class:`TargetExists`) unless ``overwrite``; the store's own files
    always are (:class:`LedgerFileTarget`).
    """
    target = Path(path)
    refuse_target(target, overwrite=overwrite, protected=ledger_files(store))
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{uuid4().hex[:12]}.part")
    head = store.max_position()
    count, last_position, last_hash = 0, 0, GENESIS_HASH
    out = partial.open("x", encoding="utf-8")  # a fresh name: nothing is overwritten while writing
    try:
        with _progress(progress, "exporting", head) as advance, out:
            for event in store.read_all(limit=head):
                out.write(json.dumps(wire.to_export(event), ensure_ascii=False, separators=(",", ":")))
                out.write("\n")
                count, last_position, last_hash = count + 1, event.position, event.hash
                if count % 1000 == 0:
                    advance(1000)
            advance(count % 1000)
            out.flush()
            os.fsync(out.fileno())
        _move_into_place(partial, target, overwrite=overwrite)
    except BaseException:  # interrupted or refused: no partial file is left behind
        partial.unlink(missing_ok=True)
        raise
    return ExportSummary(target, count, last_position, last_hash)


def read_export(path: str | os.PathLike[str]) -> Iterator[RecordedEvent]:
    """The events of an export, in file order; raises :class:`ExportFormatError` at a bad line."""
    source = Path(path)
    with source.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield wire.from_export(json.loads(line))
            except ValueError as exc:  # json.JSONDecodeError is a ValueError
                raise ExportFormatError(source, number, str(exc)) from exc


def verify_export(path: str | os.PathLike[str], *, progress: bool = False) -> VerifyReport:
    """Verify an export offline; a line that is not an event breaks the chain there."""
    walker = ChainWalker()
    with _progress(progress, "verifying export", None) as advance:
        try:
            _walk(read_export(path), walker, advance)
        except ExportFormatError as exc:
            walker.fail(walker.head_position + 1, None, f"line {exc.line} is not a valid event: {exc.problem}")
    return walker.report()


# -- digests -------------------------------------------------------------------------


@dataclass(frozen=True)
class Digest:
    """The head of the log at one moment, kept by an auditor outside the system.

    Besides the head it holds *checkpoints*: the chain hash at evenly spaced positions
    (every one for a log of up to :data:`MAX_CHECKPOINTS` events), so that a rewritten
    log is located — the first checkpoint that no longer matches, after the last that
    does — and the head of the command chain. Signed (Ed25519, :mod:`ledger.audit.signing`),
    it cannot be altered or forged without the signing key.
    """

    position: int
    hash: str
    taken_at: datetime
    #: (position, chain hash) at evenly spaced positions up to ``position``
    checkpoints: tuple[tuple[int, str], ...] = ()
    #: the head of the command chain (seq, hash)
    command_seq: int | None = None
    command_hash: str | None = None
    #: RFC 9162 Merkle tree head (hex) of the first ``position`` events (:mod:`ledger.audit.merkle`):
    #: what inclusion receipts and consistency proofs are checked against
    tree_root: str | None = None
    #: Ed25519 signature (base64) of :meth:`signed_content`, and the signer's public key (base64, raw)
    signature: str | None = None
    public_key: str | None = None

    def signed_content(self) -> bytes:
        """What the signature covers: every field but the signature and the key, as canonical JSON."""
        content = {k: v for k, v in self.to_json().items() if k not in ("signature", "public_key")}
        return json.dumps(content, sort_keys=True, separators=(",", ":")).encode("utf-8")

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"position": self.position, "hash": self.hash, "taken_at": self.taken_at.isoformat()}
        if self.checkpoints:
            data["checkpoints"] = [[position, digest] for position, digest in self.checkpoints]
        if self.command_seq is not None:
            data["command_seq"], data["command_hash"] = self.command_seq, self.command_hash
        if self.tree_root is not None:
            data["tree_root"] = self.tree_root
        if self.signature is not None:
            data["signature"], data["public_key"] = self.signature, self.public_key
        return data

    @classmethod
    def from_json(cls, data: Any) -> Digest:
        """A digest from its JSON (:meth:`to_json`), checked field by field (:class:`DigestFile`); a
        malformed one raises ``ValueError`` in one line naming the field."""
        if not isinstance(data, dict):
            raise ValueError(f"a digest is a JSON object, not {_json_kind(data)}")
        try:
            parsed = DigestFile.model_validate(data)
        except ValidationError as error:
            first = error.errors()[0]
            message = str(first["msg"]).removeprefix("Value error, ")
            if not first["loc"]:  # a check across fields: the message names them
                raise ValueError(message) from None
            field = ".".join(str(part) for part in first["loc"])
            if first["type"] == "extra_forbidden":
                message = "not a field of a digest"
            got = f" (got {json.dumps(first['input'])})" if first["type"] != "missing" and not isinstance(first.get("input"), dict) else ""
            raise ValueError(f"field {field!r}: {message}{got}") from None
        return cls(
            position=parsed.position,
            hash=parsed.hash,
            taken_at=datetime.fromisoformat(parsed.taken_at),
            checkpoints=tuple((position, digest) for position, digest in parsed.checkpoints),
            command_seq=parsed.command_seq,
            command_hash=parsed.command_hash,
            tree_root=parsed.tree_root,
            signature=parsed.signature,
            public_key=parsed.public_key,
        )

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> None:
        """Write the digest as JSON; an existing file is kept (:class:`TargetExists`) unless ``overwrite``."""
        write_file(path, json.dumps(self.to_json(), indent=2) + "\n", overwrite=overwrite)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Digest:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ValueError(f"not JSON: {error}") from None
        return cls.from_json(data)


#: a SHA-256 hash as the ledger writes it (lowercase hex)
HEX64 = r"^[0-9a-f]{64}$"


def _json_kind(value: Any) -> str:
    return {list: "a JSON array", str: "a JSON string", bool: "a JSON boolean", type(None): "null"}.get(type(value), "a JSON number")


class DigestFile(BaseModel):
    """What a digest file (or a receipt's ``tree_head``) must hold: every field typed and in range."""

    model_config = ConfigDict(extra="forbid")

    position: StrictInt = Field(ge=0)
    hash: StrictStr = Field(pattern=HEX64)
    taken_at: StrictStr
    checkpoints: list[tuple[StrictInt, StrictStr]] = []
    command_seq: StrictInt | None = Field(None, ge=0)
    command_hash: StrictStr | None = Field(None, pattern=HEX64)
    tree_root: StrictStr | None = Field(None, pattern=HEX64)
    signature: StrictStr | None = None
    public_key: StrictStr | None = None

    @field_validator("taken_at")
    @classmethod
    def _instant(cls, value: str) -> str:
        try:
            taken = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("must be an ISO 8601 instant") from None
        if taken.tzinfo is None:
            raise ValueError("must be an ISO 8601 instant with its UTC offset")
        return value

    @field_validator("checkpoints")
    @classmethod
    def _checkpoints(cls, value: list[tuple[int, str]]) -> list[tuple[int, str]]:
        import re

        last = 0
        for position, digest in value:
            if position <= last:
                raise ValueError("positions must be 1 or more, in increasing order")
            if not re.fullmatch(HEX64, digest):
                raise ValueError(f"the hash at position {position} is not 64 lowercase hex digits")
            last = position
        return value

    @model_validator(mode="after")
    def _consistent(self) -> DigestFile:
        if self.position == 0 and self.hash != GENESIS_HASH:
            raise ValueError("position 0 must carry the genesis hash")
        if (self.command_seq is None) != (self.command_hash is None):
            raise ValueError("command_seq and command_hash: give both or neither")
        if (self.signature is None) != (self.public_key is None):
            raise ValueError("signature and public_key: give both or neither")
        return self


#: A digest keeps at most this many checkpoints (a log this long or shorter: one per event).
MAX_CHECKPOINTS = 1024


def take_digest(store: EventStore, *, verify: bool = True, progress: bool = False) -> Digest:
    """The store's head now. With ``verify`` (the default) the chain is checked first and the
    digest names the verified head, with checkpoints and the command chain's head;
    :class:`ChainBroken` is raised if it does not verify."""
    if verify:
        head = store.max_position()
        stride = max(1, -(-head // MAX_CHECKPOINTS))
        walker = ChainWalker()
        checkpoints: list[tuple[int, str]] = []
        def verified_leaves() -> Iterator[bytes]:
            for event in store.read_all(limit=head):
                if not walker.feed(event):
                    return
                if event.position % stride == 0 or event.position == head:
                    checkpoints.append((event.position, event.hash))
                yield leaf_of(event.hash)

        with _progress(progress, "verifying", head) as advance:
            root = tree_head(verified_leaves())
            advance(walker.checked)
        report = walker.report()
        if not report.ok:
            raise ChainBroken(report)
        last_command = None
        for last_command in store.read_commands():  # noqa: B007 - the last one is kept
            pass
        return Digest(
            report.head_position, report.head_hash, current_time(), tuple(checkpoints),
            last_command.seq if last_command else 0, last_command.hash if last_command else GENESIS_HASH,
            root.hex(),
        )  # fmt: skip
    position = store.max_position()
    last = next(iter(store.read_all(after=position - 1, limit=1)), None) if position else None
    return Digest(position, last.hash if last else GENESIS_HASH, current_time())


def verify_against_digest(store: EventStore, digest: Digest, *, progress: bool = False) -> VerifyReport:
    """Verify the chain up to the head, and that the event at ``digest.position`` still
    has ``digest.hash`` (so nothing up to there was rewritten, and the log was not cut short)."""
    return _against_digest(store.read_all(), digest, progress=progress, total=store.max_position())


def verify_export_against_digest(path: str | os.PathLike[str], digest: Digest, *, progress: bool = False) -> VerifyReport:
    """:func:`verify_against_digest` for an export, offline."""
    return _against_digest(read_export(path), digest, progress=progress, total=None)


def walk_log(
    events: Iterable[RecordedEvent], digest: Digest | None = None, *, progress: bool = False, total: int | None = None
) -> VerifyReport:
    """Walk ``events`` from position 1 (and, with ``digest``, check they still hold it); an
    :class:`UnreadableEvent` raised by ``events`` breaks the chain at its position."""
    return _against_digest(events, digest, progress=progress, total=total)


def _against_digest(
    events: Iterable[RecordedEvent], digest: Digest | None, *, progress: bool, total: int | None
) -> VerifyReport:
    if digest is not None and digest.position == 0 and digest.hash != GENESIS_HASH:
        raise ValueError("malformed digest: position 0 must carry the genesis hash")
    walker = ChainWalker()
    expected = dict(digest.checkpoints) if digest is not None else {}
    if digest is not None:
        expected[digest.position] = digest.hash
    agreed = 0  # the last checkpoint found as the digest recorded it
    with _progress(progress, "verifying", total) as advance:
        pending = 0
        try:
            for event in events:
                problem = walker.problem(event)
                if problem is None and digest is not None and event.position in expected:
                    if event.hash == expected[event.position]:
                        agreed = event.position
                    else:
                        where = (
                            f"the ledger and the digest part ways at position {event.position}"
                            if agreed == event.position - 1
                            else f"the ledger and the digest part ways after position {agreed}, "
                            f"at or before position {event.position}"
                        )
                        problem = event.position, (
                            f"{where}: the event there no longer has the hash of the digest taken at "
                            f"{digest.taken_at.isoformat()}: the log up to there was rewritten"
                        )
                if problem is not None:
                    walker.fail(problem[0], event.ref, problem[1])
                    break
                walker.accept(event)
                pending += 1
                if pending == 1000:
                    advance(pending)
                    pending = 0
        except ExportFormatError as exc:
            walker.fail(walker.head_position + 1, None, f"line {exc.line} is not a valid event: {exc.problem}")
        except UnreadableEvent as exc:
            walker.fail(exc.position, None, exc.problem)
        advance(pending)
    if digest is not None and not walker.broken and walker.head_position < digest.position:
        walker.fail(
            walker.head_position + 1,
            None,
            f"the log ends at position {walker.head_position}, but the digest taken at "
            f"{digest.taken_at.isoformat()} recorded position {digest.position}: events were removed",
        )
    return walker.report()
