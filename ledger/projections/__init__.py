"""Read models folded from the event log: registry, grades, counters, lists and timelines.

Embedded use (what ``ledger.bootstrap`` does)::

    attached = attach_in_process(ledger)     # catches up after each commit
    attached.models.registry("tangshan")     # rows; entrypoints read through ledger.views.Views

A projection is a pure fold (``providers.ProviderViewsProjection``,
``timeline.TimelineProjection``); ``runner.ProjectionRunner`` drives it from any
source of ``RecordedEvent`` (the store's log in process, a Kafka consumer later)
with exactly-once tracking. See also ``replay``, ``history``, ``explain`` and ``whatif``.
"""
from __future__ import annotations

from ledger.projections.db import ReadModelDB
from ledger.projections.queries import ReadModels
from ledger.projections.runner import (
    GapError,
    InProcessProjections,
    ProjectionRunner,
    attach_in_process,
    default_projections,
    store_source,
)

__all__ = [
    "GapError",
    "InProcessProjections",
    "ProjectionRunner",
    "ReadModelDB",
    "ReadModels",
    "attach_in_process",
    "default_projections",
    "store_source",
]
