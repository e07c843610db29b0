"""The composition root: builds a Ledger from settings (SQLite or PostgreSQL)."""
from __future__ import annotations

from ledger.application import Ledger
from ledger.clock import Clock
from ledger.group_commit import GroupCommitOptions
from ledger.settings import Settings
from ledger.store import open_store


def bootstrap(settings: Settings | None = None, clock: Clock | None = None, *, projections: bool = True) -> Ledger:
    """A ledger on the configured store, with in-process projections kept up to date after each commit
    (after each group of commands with ``LEDGER_GROUP_COMMIT=true``)."""
    settings = settings or Settings()
    options = {"pool_size": settings.pool_size} if settings.database_url.startswith("postgres") else {}
    group_commit = (
        GroupCommitOptions(max_batch=settings.group_commit_max_batch, max_wait_ms=settings.group_commit_max_wait_ms)
        if settings.group_commit
        else False
    )
    ledger = Ledger(
        open_store(settings.database_url, **options),
        clock=clock,
        operator=settings.operator,
        group_commit=group_commit,
    )
    if projections:
        from ledger.projections import attach_in_process

        attach_in_process(ledger)
    return ledger
