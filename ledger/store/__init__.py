"""The append-only, hash-chained event log (SQLite embedded default, PostgreSQL)."""
from ledger.store.base import (
    GENESIS_HASH,
    AppendResult,
    CommandBatch,
    CommandIdReused,
    ConcurrencyConflict,
    EventStore,
    NewEvent,
    PersonalKeyConflict,
    PersonalRecord,
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
    "PersonalKeyConflict",
    "PersonalRecord",
    "RecordedCommand",
    "RecordedEvent",
    "chain_hash",
    "open_store",
]


def open_store(database_url: str, **options) -> EventStore:
    """The one place that picks a backend from a database URL."""
    if database_url.startswith("sqlite:"):
        from ledger.store.sqlite import SQLiteEventStore

        return SQLiteEventStore(database_url, **options)
    if database_url.startswith(("postgresql:", "postgres:")):
        from ledger.store.postgres import PostgresEventStore

        return PostgresEventStore(database_url, **options)
    from ledger.redaction import redact

    raise ValueError(f"unsupported database URL {redact(database_url)!r}: use sqlite:///FILE or postgresql://…")
