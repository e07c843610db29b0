"""The append-only, hash-chained event log (SQLite embedded default, PostgreSQL)."""
from ledger.store.base import (
    GENESIS_HASH,
    AppendResult,
    CommandBatch,
    CommandIdReused,
    ConcurrencyConflict,
    EventStore,
    NewEvent,
    NoLedger,
    PersonalKeyConflict,
    PersonalRecord,
    ReadOnlyLedger,
    RecordedCommand,
    RecordedEvent,
    chain_hash,
)

__all__ = [
    "AppendResult",
    "CommandBatch",
    "CommandIdReused",
    "ConcurrencyConflict",
    "EventStore",
    "GENESIS_HASH",
    "NewEvent",
    "NoLedger",
    "ReadOnlyLedger",
    "PersonalKeyConflict",
    "PersonalRecord",
    "RecordedCommand",
    "RecordedEvent",
    "chain_hash",
    "open_store",
]


def open_store(database_url: str, *, create: bool = True, **options) -> EventStore:
    """The one place that picks a backend from a database URL.

    ``create``: make the log if the database has none, or upgrade one an older version made (the
    writers: ``demo``, ``import``, ``migrate``, the API, the tests). Without it (every read) the log
    must be there and current: a database without one, or with an older one, is refused
    (:class:`NoLedger`) before anything is written to it (no file, table or trigger is made)."""
    if database_url.startswith("sqlite:"):
        from ledger.store.sqlite import SQLiteEventStore

        return SQLiteEventStore(database_url, create=create, **options)
    if database_url.startswith(("postgresql:", "postgres:")):
        from ledger.store.postgres import PostgresEventStore

        return PostgresEventStore(database_url, create=create, **options)
    from ledger.redaction import redact

    raise ValueError(f"unsupported database URL {redact(database_url)!r}: use sqlite:///FILE or postgresql://…")
