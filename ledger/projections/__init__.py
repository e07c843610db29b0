"""Read models folded from the event log: registry, grades, counters, lists and timelines.

Embedded use (what ``ledger.bootstrap`` does)::

    attached = attach_in_process(ledger)     # also ledger.projections
    registry(ledger, "tangshan")             # or attached.models.registry("tangshan")

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
    "counters",
    "default_projections",
    "grades",
    "lists",
    "provider_standing",
    "read_models",
    "registry",
    "store_source",
    "timeline",
]


def read_models(source: Any) -> ReadModels:
    """The read models of a ledger with projections attached (or a ReadModels, returned as is).

    Given a ledger, they are read once they hold everything that ledger recorded (its own writes).
    """
    if isinstance(source, ReadModels):
        return source
    attached = source if isinstance(source, InProcessProjections) else getattr(source, "projections", None)
    if isinstance(attached, InProcessProjections):
        attached.wait_for()  # what the ledger recorded is in them (its own writes)
        return attached.models
    raise ValueError("no read models: bootstrap the ledger with projections=True or call attach_in_process(ledger)")


def registry(source: Any, jurisdiction: str | None = None) -> list[dict[str, Any]]:
    return read_models(source).registry(jurisdiction)


def provider_standing(source: Any, provider_id: str) -> dict[str, Any] | None:
    return read_models(source).provider_standing(provider_id)


def lists(source: Any, kind: str | None = None, jurisdiction: str | None = None) -> list[dict[str, Any]]:
    return read_models(source).lists(kind, jurisdiction)


def timeline(source: Any, provider_id: str) -> list[dict[str, Any]]:
    return read_models(source).timeline(provider_id)


def grades(source: Any, provider_id: str) -> list[dict[str, Any]]:
    return read_models(source).grades(provider_id)


def counters(source: Any, provider_id: str) -> dict[str, dict[str, Any]]:
    return read_models(source).counters(provider_id)
