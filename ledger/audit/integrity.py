"""What the event chain alone does not show: the command chain, the protections, and the read models.

``verify`` walks the event chain (:mod:`ledger.audit.verify`); this module adds
the checks around it, each problem one line naming what is wrong:

- the command chain (``ledger_commands``): every row in ``seq`` order links to
  the one before, its hash covers its content, and its ``payload_digest`` is the
  digest of the payload stored with it — a forged payload breaks it;
- the store's append-only protections (missing, disabled or redefined triggers
  and trigger function; a table dropped and recreated), as the store reports them;
- the read models: if they have folded events beyond the end of the log, events
  were removed from it (or the log was dropped and recreated empty).
"""
from __future__ import annotations

from ledger.audit.verify import Digest
from ledger.store.base import GENESIS_HASH, EventStore, command_hash, payload_digest


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
        if db.dialect == "sqlite":
            exists = tx.fetchone("SELECT 1 FROM sqlite_master WHERE name = 'projection_tracking'")
        else:
            exists = tx.fetchone("SELECT to_regclass('projection_tracking')")
            exists = exists if exists and exists[0] is not None else None
        if not exists:
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
