"""The composition root: the one place that wires settings, store, handlers and read models.

Every entrypoint (the CLI, the HTTP API, the Kafka relay, the tests) calls
:func:`bootstrap` and talks to the :class:`App` it returns, so none of them
repeats the orchestration. The command handlers are passed into the service
layer here (as cosmicpython's ``bootstrap.py`` does): ``ledger.application``
never imports ``ledger.commands.handlers``.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType

from ledger.application import Handler, Ledger
from ledger.clock import Clock
from ledger.commands.handlers import HANDLERS
from ledger.commands.models import Command
from ledger.group_commit import GroupCommitOptions
from ledger.personal import PersonalDataVault
from ledger.projections import InProcessProjections, attach_in_process
from ledger.settings import Settings
from ledger.snapshots import SnapshotStore
from ledger.store import EventStore, open_store
from ledger.views import Views


@dataclass
class App:
    """One running ledger: the service layer (``ledger``), its read models and the read service over them (``views``)."""

    settings: Settings
    #: the service layer: ``execute`` / ``execute_all`` commands
    ledger: Ledger
    #: the read models kept up to date after each commit (None when bootstrapped without them)
    projections: InProcessProjections | None
    #: the typed read service: the one way to read the ledger
    views: Views

    @property
    def store(self) -> EventStore:
        return self.ledger.store

    def close(self) -> None:
        try:
            if self.projections is not None:
                self.projections.close()
        finally:
            self.ledger.close()

    def __enter__(self) -> App:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def bootstrap(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    projections: bool = True,
    store: EventStore | None = None,
    handlers: Mapping[type[Command], Handler] | None = None,
    create: bool = True,
) -> App:
    """An App on the configured store (or ``store``), with read models that follow its log in a
    background thread (``LEDGER_PROJECTION_WORKER=false``: caught up after each commit or group).
    ``create=False`` (the CLI's reads): the database must already hold the ledger; one that does not
    is refused (:class:`~ledger.store.NoLedger`) before anything is made in it."""
    settings = settings or Settings()
    if store is None:
        options = (
            {"pool_size": settings.pool_size}
            if settings.database_url.startswith("postgres")
            else {"busy_timeout": settings.busy_timeout}
        )
        store = open_store(settings.database_url, create=create, **options)
    group_commit = (
        GroupCommitOptions(max_batch=settings.group_commit_max_batch, max_wait_ms=settings.group_commit_max_wait_ms)
        if settings.group_commit
        else False
    )
    ledger = Ledger(
        store,
        clock=clock,
        operator=settings.operator,
        handlers=HANDLERS if handlers is None else handlers,
        group_commit=group_commit,
    )
    try:  # whatever fails after the store opened closes what was opened (no pool left to the collector)
        ledger.personal = PersonalDataVault(settings.database_url)
        if settings.snapshot_every != 0:  # a negative interval is refused (ValueError), not taken as off
            ledger.snapshots = SnapshotStore(settings.database_url, settings.snapshot_every)
        attached = attach_in_process(ledger, background=settings.projection_worker) if projections else None
    except BaseException:
        ledger.close()
        raise
    return App(settings=settings, ledger=ledger, projections=attached, views=Views(ledger, attached))
