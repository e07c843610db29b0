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

from typing import Any

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
    "read_models",
    "store_source",
]


def read_models(source: InProcessProjections | ReadModels | Any) -> ReadModels:
    """Read models that hold what the ledger recorded (its own writes): attached projections are
    waited for; a ReadModels is returned as it is. Entrypoints read through ``ledger.views.Views``."""
    if isinstance(source, ReadModels):
        return source
    attached = source if isinstance(source, InProcessProjections) else getattr(source, "projections", None)
    if isinstance(attached, InProcessProjections):
        attached.wait_for()
        return attached.models
    raise ValueError("no read models: bootstrap with projections=True, or attach_in_process(ledger)")
