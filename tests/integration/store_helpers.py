"""Building command batches for event store tests, and a writer that runs in another process."""
from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone
from uuid import UUID

from ledger.store import CommandBatch, ConcurrencyConflict, EventStore, NewEvent, open_store

T0 = datetime(2025, 3, 1, 1, 2, 3, 456789, tzinfo=timezone.utc)
_tick = itertools.count()


def event(
    originator_id: UUID,
    version: int,
    *,
    topic: str | None = None,
    state: dict | str | None = None,
    recorded_at: datetime | None = None,
    effective_on: date | None = date(2025, 3, 1),
) -> NewEvent:
    if topic is None:
        topic = "tests.things:Thing.Created" if version == 1 else "tests.things:Thing.Changed"
    if state is None:
        state = {"n": version, "note": "天津 第六条"}
    return NewEvent(
        originator_id=originator_id,
        originator_version=version,
        topic=topic,
        state=state if isinstance(state, str) else json.dumps(state, ensure_ascii=False, sort_keys=True),
        recorded_at=recorded_at or T0 + timedelta(microseconds=next(_tick)),
        effective_on=effective_on,
    )


def batch(
    command_id: str,
    events: Sequence[NewEvent],
    expected: dict[UUID, int] | None = None,
    *,
    recorded_by: str = "tester",
) -> CommandBatch:
    """A batch; ``expected`` defaults to the version before each aggregate's first event."""
    if expected is None:
        expected = {}
        for e in events:
            expected.setdefault(e.originator_id, e.originator_version - 1)
    return CommandBatch(
        command_id=command_id,
        command_type="TestCommand",
        recorded_by=recorded_by,
        payload=json.dumps({"command_id": command_id}),
        events=list(events),
        expected_versions=expected,
    )


def current_version(store: EventStore, originator_id: UUID) -> int:
    events = store.read_aggregate(originator_id)
    return events[-1].originator_version if events else 0


def append_with_retry(store: EventStore, command_id: str, targets: Sequence[UUID]) -> int:
    """Append one event to each target at its current version, retrying on conflict; returns retries."""
    retries = 0
    while True:
        versions = {target: current_version(store, target) for target in targets}
        events = [event(target, versions[target] + 1) for target in targets]
        try:
            store.append(batch(command_id, events, versions))
            return retries
        except ConcurrencyConflict:
            retries += 1


def write_from_process(database_url: str, worker: int, count: int, shared: str) -> int:
    """Run in a separate process: ``count`` commands alternating between a shared and an own aggregate."""
    from uuid import uuid4

    store = open_store(database_url)
    own = uuid4()
    retries = 0
    try:
        for i in range(count):
            target = UUID(shared) if i % 2 == 0 else own
            retries += append_with_retry(store, f"p{worker}-{i}", [target])
    finally:
        store.close()
    return retries
