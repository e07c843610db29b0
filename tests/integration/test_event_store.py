"""The event store contract (ledger/store/base.py), on a real SQLite file and a real PostgreSQL."""
from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from uuid import UUID, uuid4

import psycopg
import pytest

from ledger.audit import verify_store
from ledger.store import GENESIS_HASH, AppendResult, ConcurrencyConflict, EventStore, chain_hash, open_store
from ledger.store.base import command_hash, event_ref
from ledger.store.postgres import PostgresEventStore
from tests.conftest import postgres_base_url, postgres_schema
from tests.integration.store_helpers import (
    append_with_retry,
    batch,
    current_version,
    event,
    write_from_process,
)
from tests.support.memory_store import MemoryEventStore


def positions(store: EventStore) -> list[int]:
    return [e.position for e in store.read_all()]


class EventStoreContract:
    """What every event store guarantees (ledger/store/base.py). A backend's test class
    subclasses this and provides the ``store`` fixture (as eventsourcing's tests do)."""

    def test_appended_events_read_back_exactly(self, store: EventStore) -> None:
        a, b = uuid4(), uuid4()
        shanghai = timezone(timedelta(hours=8))
        new = [
            event(a, 1, recorded_at=datetime(2025, 3, 1, 9, 30, 0, 123456, tzinfo=shanghai), effective_on=date(2025, 3, 1)),
            event(b, 1, state='{"名称":"天津某科技有限公司","n":1}', effective_on=None),
            event(a, 2, recorded_at=datetime(2025, 3, 1, 1, 30, tzinfo=timezone.utc)),
        ]
        result = store.append(batch("cmd-1", new, {a: 0, b: 0}, recorded_by="张三"))
        assert result == AppendResult("cmd-1", (1, 2, 3), duplicate=False)

        recorded = list(store.read_all())
        assert [e.position for e in recorded] == [1, 2, 3]
        for got, sent in zip(recorded, new, strict=True):
            assert got.originator_id == sent.originator_id and isinstance(got.originator_id, UUID)
            assert got.originator_version == sent.originator_version
            assert got.topic == sent.topic
            assert got.state == sent.state
            assert got.recorded_at == sent.recorded_at
            assert got.recorded_at.tzinfo is timezone.utc
            assert got.effective_on == sent.effective_on
            assert got.recorded_by == "张三"
            assert got.command_id == "cmd-1"
            assert got.ref == event_ref(sent.originator_id, sent.originator_version)
        assert recorded[0].recorded_at.isoformat() == "2025-03-01T01:30:00.123456+00:00"
        assert recorded[1].effective_on is None

        # the chain: each hash recomputes from the row as read back
        prev = GENESIS_HASH
        for e in recorded:
            assert e.prev_hash == prev
            assert e.hash == chain_hash(
                e.prev_hash, e.position, e.originator_id, e.originator_version, e.topic, e.state,
                e.recorded_at, e.effective_on, e.recorded_by, e.command_id,
            )
            prev = e.hash

        assert store.read_aggregate(a) == [recorded[0], recorded[2]]
        assert store.read_aggregate(b) == [recorded[1]]
        assert store.read_aggregate(uuid4()) == []
        assert store.max_position() == 3

    def test_both_chains_hash_any_text_exactly_as_chain_hash_and_command_hash(self, store: EventStore) -> None:
        # PostgreSQL completes the hashes on the server around renderings sent by the client: quotes,
        # backslashes, control characters, non-BMP characters and JSON-looking text must hash alike
        awkward = ['"', "\\", "\n\t\r\b\f", "\x01\x1f\x7f", "唐山 第十三条（二）", "😀\u2028\u2029", "</script>", '{"a":[1,"b"]}', ""]
        a = uuid4()
        for i, text in enumerate(awkward):
            when = datetime(2025, 3, 1, 9, 0, i, i * 1000 if i % 2 else 0, tzinfo=timezone(timedelta(hours=8)))
            new = [event(a, i + 1, topic=f"tests.{text}:T", state=text, recorded_at=when, effective_on=None if i % 3 else date(2024, 2, 29))]
            store.append(batch(f"cmd {text} {i}", new, recorded_by=f"by {text}"))
        store.append(batch("noop \u00e9", []))
        prev = GENESIS_HASH
        for e in store.read_all():
            assert (e.prev_hash, e.hash) == (prev, chain_hash(
                prev, e.position, e.originator_id, e.originator_version, e.topic, e.state,
                e.recorded_at, e.effective_on, e.recorded_by, e.command_id,
            ))  # fmt: skip
            prev = e.hash
        prev = GENESIS_HASH
        commands = list(store.read_commands())
        assert [c.seq for c in commands] == list(range(1, len(awkward) + 2))
        for c in commands:
            assert (c.prev_hash, c.hash) == (prev, command_hash(
                prev, c.seq, c.command_id, c.command_type, c.recorded_by, c.recorded_at, c.payload_digest,
                c.first_position, c.last_position,
            ))  # fmt: skip
            prev = c.hash
        assert commands[-1].first_position is None and commands[-1].last_position is None
        assert verify_store(store).ok

    def test_a_batch_without_effective_dates(self, store: EventStore) -> None:
        a = uuid4()
        store.append(batch("c1", [event(a, 1, effective_on=None), event(a, 2, effective_on=None)]))
        assert [e.effective_on for e in store.read_all()] == [None, None]
        assert verify_store(store).ok

    def test_read_all_pages_through_a_long_log(self, store: EventStore) -> None:
        ids = [uuid4() for _ in range(12)]
        store.append_many([batch(f"c{i}", [event(ids[i], v) for v in range(1, 101)]) for i in range(12)])
        assert positions(store) == list(range(1, 1201))
        assert [e.position for e in store.read_all(after=100, limit=650)] == list(range(101, 751))
        assert [e.position for e in store.read_all(after=1190)] == list(range(1191, 1201))
        assert list(store.read_all(after=1200)) == []
        assert list(store.read_all(limit=0)) == []
        assert store.max_position() == 1200

    def test_empty_store(self, store: EventStore) -> None:
        assert store.max_position() == 0
        assert list(store.read_all()) == []
        assert store.originator_ids("") == []
        assert store.read_refs([]) == {}
        assert store.command_result("nope") is None

    def test_positions_are_gapless_across_commands_and_aggregates(self, store: EventStore) -> None:
        a, b, c = uuid4(), uuid4(), uuid4()
        assert store.append(batch("c1", [event(a, 1)])).positions == (1,)
        assert store.append(batch("c2", [event(b, 1), event(a, 2), event(b, 2)])).positions == (2, 3, 4)
        assert store.append(batch("c3", [], {c: 0})).positions == ()  # a no-op command takes no position
        with pytest.raises(ConcurrencyConflict):
            store.append(batch("c4", [event(a, 2)], {a: 1}))  # a failed command takes none either
        assert store.append(batch("c5", [event(c, 1)])).positions == (5,)
        assert positions(store) == [1, 2, 3, 4, 5]

    def test_stale_expected_version_conflicts_and_writes_nothing(self, store: EventStore) -> None:
        a, b = uuid4(), uuid4()
        store.append(batch("c1", [event(a, 1), event(b, 1)]))
        store.append(batch("c2", [event(a, 2)], {a: 1}))

        stale = batch("c3", [event(b, 2), event(a, 2)], {b: 1, a: 1})
        with pytest.raises(ConcurrencyConflict) as raised:
            store.append(stale)
        assert (raised.value.originator_id, raised.value.expected, raised.value.actual) == (a, 1, 2)

        assert store.max_position() == 3
        assert len(store.read_aggregate(b)) == 1  # b's event of the failed command was not written
        assert store.command_result("c3") is None  # and the command id is free for a retry
        assert store.append(batch("c3", [event(b, 2), event(a, 3)], {b: 1, a: 2})).positions == (4, 5)

    def test_expected_version_of_an_aggregate_only_read_is_checked(self, store: EventStore) -> None:
        rulebook, provider = uuid4(), uuid4()
        store.append(batch("c1", [event(rulebook, 1)]))
        store.append(batch("c2", [event(rulebook, 2)]))
        with pytest.raises(ConcurrencyConflict) as raised:
            store.append(batch("c3", [event(provider, 1)], {provider: 0, rulebook: 1}))
        assert raised.value.originator_id == rulebook
        assert store.read_aggregate(provider) == []

    def test_creating_an_existing_aggregate_conflicts(self, store: EventStore) -> None:
        a = uuid4()
        store.append(batch("c1", [event(a, 1)]))
        with pytest.raises(ConcurrencyConflict) as raised:
            store.append(batch("c2", [event(a, 1)], {}))  # version 1 implies "expected 0"
        assert (raised.value.expected, raised.value.actual) == (0, 1)

    def test_malformed_batches_are_refused_before_writing(self, store: EventStore) -> None:
        a = uuid4()
        with pytest.raises(ValueError):
            store.append(batch("c1", [event(a, 1), event(a, 3)]))  # version gap within the batch
        with pytest.raises(ValueError):
            store.append(batch("c2", [event(a, 2)], {a: 0}))  # does not follow the expected version
        with pytest.raises(ValueError):
            store.append(batch("c3", [event(a, 1, recorded_at=datetime(2025, 3, 1, 12, 0))]))  # naive time
        assert store.max_position() == 0
        assert store.command_result("c1") is None

    def test_a_command_id_is_recorded_once(self, store: EventStore) -> None:
        a = uuid4()
        first = store.append(batch("cmd-x", [event(a, 1), event(a, 2)]))
        assert first == AppendResult("cmd-x", (1, 2), duplicate=False)

        again = store.append(batch("cmd-x", [event(a, 3)], {a: 2}))  # different content, same id
        assert again == AppendResult("cmd-x", (1, 2), duplicate=True)
        stale = store.append(batch("cmd-x", [event(a, 1)], {a: 0}))  # a retry with stale versions is no conflict
        assert stale == AppendResult("cmd-x", (1, 2), duplicate=True)
        assert store.max_position() == 2
        assert store.command_result("cmd-x") == AppendResult("cmd-x", (1, 2), duplicate=True)

    def test_a_command_without_events_is_recorded(self, store: EventStore) -> None:
        assert store.append(batch("noop", [])) == AppendResult("noop", (), duplicate=False)
        assert store.command_result("noop") == AppendResult("noop", (), duplicate=True)
        assert store.append(batch("noop", [])).duplicate is True
        assert store.max_position() == 0

    def test_append_many_records_the_others_when_one_batch_conflicts(self, store: EventStore) -> None:
        a, b, c = uuid4(), uuid4(), uuid4()
        store.append(batch("c0", [event(a, 1)]))
        results = store.append_many(
            [
                batch("c1", [event(b, 1), event(b, 2)]),
                batch("c2", [event(a, 1), event(c, 1)], {a: 0, c: 0}),  # a is at 1: conflicts
                batch("c3", [event(c, 1), event(a, 2)], {c: 0, a: 1}),
                batch("c4", [event(b, 3)], {b: 2}),  # sees c1's events in the same transaction
            ]
        )
        assert results[0] == AppendResult("c1", (2, 3))
        assert isinstance(results[1], ConcurrencyConflict)
        assert (results[1].originator_id, results[1].expected, results[1].actual) == (a, 0, 1)
        assert results[2] == AppendResult("c3", (4, 5))
        assert results[3] == AppendResult("c4", (6,))

        assert positions(store) == [1, 2, 3, 4, 5, 6]
        assert store.command_result("c2") is None
        assert [e.command_id for e in store.read_aggregate(c)] == ["c3"]
        assert verify_store(store).ok

    def test_batches_prepared_ahead_are_appended_as_the_batches_themselves(self, store: EventStore) -> None:
        """``prepare`` (group commit calls it in the submitting thread) checks a batch and does what needs
        no transaction; ``append_many`` takes its result in place of the batch, mixed with plain ones,
        and records, conflicts and chains exactly as for the batches themselves."""
        a, b, c = uuid4(), uuid4(), uuid4()
        store.append(batch("c0", [event(a, 1)]))
        with pytest.raises(ValueError):
            store.prepare(batch("gap", [event(b, 1), event(b, 3)]))
        results = store.append_many(
            [
                store.prepare(batch("c1", [event(b, 1), event(b, 2, effective_on=None)])),
                store.prepare(batch("c2", [event(a, 1)], {a: 0})),  # a is at 1: conflicts
                batch("c3", [event(c, 1)], {a: 1}),
                store.prepare(batch("c1", [event(b, 1)])),  # c1 again, earlier in the call: a duplicate
                store.prepare(batch("c4", [event(b, 3)], {b: 2})),
            ]
        )
        assert results[0] == AppendResult("c1", (2, 3))
        assert isinstance(results[1], ConcurrencyConflict) and (results[1].expected, results[1].actual) == (0, 1)
        assert results[2] == AppendResult("c3", (4,))
        assert results[3] == AppendResult("c1", (2, 3), duplicate=True)
        assert results[4] == AppendResult("c4", (5,))
        assert positions(store) == [1, 2, 3, 4, 5]
        assert [e.command_id for e in store.read_aggregate(b)] == ["c1", "c1", "c4"]
        assert verify_store(store).ok

    def test_append_many_duplicate_command_ids(self, store: EventStore) -> None:
        a, b = uuid4(), uuid4()
        store.append(batch("old", [event(a, 1)]))
        results = store.append_many(
            [
                batch("old", [event(a, 2)], {a: 1}),
                batch("new", [event(b, 1)]),
                batch("new", [event(b, 1)]),  # the same id twice in one call
            ]
        )
        assert results == [
            AppendResult("old", (1,), duplicate=True),
            AppendResult("new", (2,), duplicate=False),
            AppendResult("new", (2,), duplicate=True),
        ]
        assert store.max_position() == 2

    def test_atomic_append_many_records_all_or_nothing(self, store: EventStore) -> None:
        a, b = uuid4(), uuid4()
        store.append(batch("c0", [event(a, 1)]))
        with pytest.raises(ConcurrencyConflict):
            store.append_many([batch("c1", [event(b, 1)]), batch("c2", [event(a, 1)], {a: 0})], atomic=True)
        assert store.max_position() == 1
        assert store.command_result("c1") is None
        results = store.append_many([batch("c1", [event(b, 1)]), batch("c2", [event(a, 2)], {a: 1})], atomic=True)
        assert [r.positions for r in results if isinstance(r, AppendResult)] == [(2,), (3,)]
        assert store.append_many([]) == []

    def test_read_refs(self, store: EventStore) -> None:
        a, b = uuid4(), uuid4()
        store.append(batch("c1", [event(a, 1), event(a, 2), event(b, 1)]))
        wanted = [f"{a}/2", f"{b}/1", f"{b}/7", f"{uuid4()}/1", "not-a-ref", f"{a}/x"]
        found = store.read_refs(wanted)
        assert set(found) == {f"{a}/2", f"{b}/1"}
        assert found[f"{a}/2"].position == 2 and found[f"{b}/1"].position == 3
        assert all(found[ref].ref == ref for ref in found)

    def test_originator_ids_by_topic_prefix_in_order_of_creation(self, store: EventStore) -> None:
        p1, p2, q1 = uuid4(), uuid4(), uuid4()
        store.append(batch("c1", [event(p1, 1, topic="ledger.aggregates.provider:Provider.Registered")]))
        store.append(batch("c2", [event(q1, 1, topic="ledger.aggregates.project:Project.Registered")]))
        store.append(batch("c3", [event(p2, 1, topic="ledger.aggregates.provider:Provider.Registered")]))
        # a later event of q1 whose topic matches does not make q1 a provider
        store.append(batch("c4", [event(q1, 2, topic="ledger.aggregates.provider:Provider.Changed")]))
        assert store.originator_ids("ledger.aggregates.provider:") == [p1, p2]
        assert store.originator_ids("ledger.aggregates.") == [p1, q1, p2]
        assert store.originator_ids("LEDGER.") == []  # case-sensitive
        assert store.originator_ids("ledger.aggregates.provider_%") == []  # no wildcards

    def test_concurrent_writers_lose_nothing_and_leave_a_sound_chain(self, store: EventStore) -> None:
        threads, per_thread = 8, 25
        shared = uuid4()

        def writer(t: int) -> tuple[UUID, int]:
            own = uuid4()
            retries = 0
            for i in range(per_thread):
                targets = [shared] if i % 3 == 0 else [own] if i % 3 == 1 else [own, shared]
                retries += append_with_retry(store, f"t{t}-{i}", targets)
            return own, retries

        with ThreadPoolExecutor(threads) as pool:
            outcomes = list(pool.map(writer, range(threads)))

        events_per_thread = sum(1 if i % 3 in (0, 1) else 2 for i in range(per_thread))
        total = threads * events_per_thread
        assert positions(store) == list(range(1, total + 1))
        report = verify_store(store)
        assert report.ok, report.summary()
        assert report.checked == total
        for t in range(threads):
            for i in range(per_thread):
                assert store.command_result(f"t{t}-{i}") is not None
        shared_versions = [e.originator_version for e in store.read_aggregate(shared)]
        assert shared_versions == list(range(1, len(shared_versions) + 1))
        assert len(shared_versions) == threads * sum(1 for i in range(per_thread) if i % 3 != 1)
        for own, _ in outcomes:
            assert current_version(store, own) == sum(1 for i in range(per_thread) if i % 3 != 0)


class DatabaseEventStoreContract(EventStoreContract):
    """What a store on a real database also guarantees: durability, several processes,
    and a database that refuses to change the log. Subclasses provide ``database_url``."""

    def test_data_survives_reopening(self, database_url: str) -> None:
        a = uuid4()
        first = open_store(database_url)
        first.append(batch("c1", [event(a, 1), event(a, 2)]))
        before = list(first.read_all())
        first.close()
        second = open_store(database_url)  # creating the schema again is a no-op
        try:
            assert list(second.read_all()) == before
            second.append(batch("c2", [event(a, 3)]))
            assert positions(second) == [1, 2, 3]
        finally:
            second.close()

    def test_a_tailing_reader_never_sees_a_gap(self, database_url: str, store: EventStore) -> None:
        writers, per_writer = 4, 40
        done = threading.Event()
        reader = open_store(database_url)  # its own connection(s), as a relay process would have

        def write(w: int) -> None:
            own = uuid4()
            version = 0
            for i in range(per_writer):
                size = 1 + (i + w) % 3
                events = [event(own, version + k) for k in range(1, size + 1)]
                if i % 4 == 3:
                    store.append_many([batch(f"w{w}-{i}", events, {own: version})])
                else:
                    store.append(batch(f"w{w}-{i}", events, {own: version}))
                version += size

        def tail() -> tuple[int, int]:
            last, polls = 0, 0
            while True:
                finished = done.is_set()  # read before polling, so one full poll follows the last commit
                for e in reader.read_all(after=last):
                    assert e.position == last + 1, f"gap: saw {e.position} right after {last}"
                    last = e.position
                polls += 1
                if finished:
                    return last, polls

        try:
            with ThreadPoolExecutor(writers + 1) as pool:
                tailing = pool.submit(tail)
                written = [pool.submit(write, w) for w in range(writers)]
                for future in written:
                    future.result()
                done.set()
                last, polls = tailing.result()
        finally:
            done.set()
            reader.close()
        assert last == store.max_position() == sum(1 + (i + w) % 3 for w in range(writers) for i in range(per_writer))
        assert polls > 1

    def test_writers_in_separate_processes(self, database_url: str, store: EventStore) -> None:
        shared = uuid4()
        workers, per_worker = 3, 20
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(write_from_process, database_url, w, per_worker, str(shared)) for w in range(workers)]
            for future in futures:
                future.result()
        assert positions(store) == list(range(1, workers * per_worker + 1))
        assert [e.originator_version for e in store.read_aggregate(shared)] == list(range(1, workers * per_worker // 2 + 1))
        assert verify_store(store).ok

    def test_stores_opened_concurrently_on_a_new_database(self, database_url: str) -> None:
        with ThreadPoolExecutor(4) as pool:
            stores = list(pool.map(lambda _: open_store(database_url), range(4)))
        try:
            a = uuid4()
            for i, s in enumerate(stores):
                s.append(batch(f"c{i}", [event(a, i + 1)]))
            assert positions(stores[0]) == [1, 2, 3, 4]
        finally:
            for s in stores:
                s.close()

    def test_the_database_refuses_update_and_delete(self, store: EventStore, raw_db) -> None:
        a = uuid4()
        store.append(batch("c1", [event(a, 1), event(a, 2)]))
        p = raw_db.placeholder
        statements = [
            ("UPDATE ledger_events SET state = '{}' WHERE position = 1", ()),
            (f"UPDATE ledger_events SET hash = {p}", ("0" * 64,)),
            ("DELETE FROM ledger_events WHERE position = 2", ()),
            ("DELETE FROM ledger_events", ()),
            ("UPDATE ledger_commands SET payload = '{}'", ()),
            ("DELETE FROM ledger_commands", ()),
        ]
        for sql, params in statements:
            with pytest.raises(Exception, match="append-only"):
                raw_db.execute(sql, params)
        assert list(store.read_all()) == list(store.read_all())
        assert positions(store) == [1, 2]
        assert store.command_result("c1") is not None
        assert verify_store(store).ok

    def test_the_database_refuses_truncate(self, store: EventStore, raw_db, backend: str) -> None:
        store.append(batch("c1", [event(uuid4(), 1)]))
        if backend == "sqlite":
            # SQLite has no TRUNCATE; its truncate optimisation (DELETE without WHERE) is off when triggers exist
            statements = ["DELETE FROM ledger_events", "DELETE FROM ledger_commands"]
        else:
            statements = ["TRUNCATE ledger_events", "TRUNCATE ledger_commands", "TRUNCATE ledger_events, ledger_commands"]
        for sql in statements:
            with pytest.raises(Exception, match="append-only"):
                raw_db.execute(sql)
        assert store.max_position() == 1
        assert store.command_result("c1") is not None


class TestSQLiteEventStore(DatabaseEventStoreContract):
    @pytest.fixture
    def database_url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.mark.postgres
class TestPostgresEventStore(DatabaseEventStoreContract):
    @pytest.fixture
    def database_url(self) -> Iterator[str]:
        with postgres_schema(postgres_base_url()) as url:
            yield url

    # append_many sends ledger_append through libpq itself (ledger.store.postgres._call_append): what a
    # cursor would have handled for it is tested here, on a pool of one connection

    def test_an_append_prepares_its_statement_again_on_a_connection_that_lost_it(self, database_url: str) -> None:
        store = PostgresEventStore(database_url, pool_size=1)
        try:
            a = uuid4()
            assert store.append(batch("c1", [event(a, 1)], {a: 0})).positions == (1,)
            with store._pool.connection() as conn:  # as psycopg does after a rollback on a connection it prepared on
                conn.execute("DEALLOCATE ALL")
                assert conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone() == (0,)
            assert store.append(batch("c2", [event(a, 2)], {a: 1})).positions == (2,)
            with store._pool.connection() as conn:
                assert conn.execute("SELECT name FROM pg_prepared_statements").fetchall() == [("ledger_append_call",)]
            [conflict] = store.append_many([batch("c3", [event(a, 2)], {a: 1})])  # its rows, typed as a cursor typed them
            assert isinstance(conflict, ConcurrencyConflict)
            assert (conflict.originator_id, conflict.expected, conflict.actual) == (a, 1, 2)
            assert verify_store(store).ok
        finally:
            store.close()

    def test_ctrl_c_stops_an_append_waiting_for_the_log_and_cancels_it_on_the_server(self, database_url: str, store: EventStore) -> None:
        # another session holds the log's write lock (a long import, say): an append waits for it, and
        # Ctrl-C must stop that wait at once, as it stops any psycopg query (the statement is cancelled)
        import os
        import subprocess
        import sys
        import time

        from ledger.store.postgres import WRITE_LOCK

        script = (
            "import os, signal, threading, time, uuid\n"
            "from ledger.store import open_store\n"
            "from tests.integration.store_helpers import batch, event\n"
            "store = open_store(os.environ['LEDGER_DATABASE_URL'])\n"
            "a = uuid.uuid4()\n"
            "threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT)).start()\n"
            "started = time.monotonic()\n"
            "try:\n"
            "    store.append(batch('waits', [event(a, 1)], {a: 0}))\n"
            "    print('appended', flush=True)\n"
            "except KeyboardInterrupt:\n"
            "    print(f'interrupted {time.monotonic() - started:.1f}', flush=True)\n"
            "store.close()\n"
        )
        with psycopg.connect(database_url) as holder:  # a transaction holding the lock until it ends
            holder.execute(f"SELECT {WRITE_LOCK}")
            started = time.monotonic()
            done = subprocess.run(
                [sys.executable, "-c", script], env={**os.environ, "LEDGER_DATABASE_URL": database_url},
                capture_output=True, text=True, timeout=20,
            )  # fmt: skip
            waited = time.monotonic() - started
            holder.rollback()
        assert done.stdout.startswith("interrupted"), done.stdout + done.stderr
        assert waited < 15, f"the append waited {waited:.1f} s for the lock after Ctrl-C"
        assert store.command_result("waits") is None and store.max_position() == 0  # cancelled: nothing written

    def test_an_append_on_a_connection_the_server_closed_fails_and_the_next_one_reconnects(self, database_url: str, raw_db) -> None:
        store = PostgresEventStore(database_url, pool_size=1)
        try:
            a = uuid4()
            store.append(batch("c1", [event(a, 1)], {a: 0}))
            with store._pool.connection() as conn:
                pid = conn.info.backend_pid
            raw_db.execute(f"SELECT pg_terminate_backend({pid})")
            with pytest.raises(psycopg.OperationalError):
                store.append(batch("c2", [event(a, 2)], {a: 1}))
            assert store.append(batch("c2", [event(a, 2)], {a: 1})).positions == (2,)  # on a new connection
            assert positions(store) == [1, 2]
        finally:
            store.close()


class TestMemoryEventStore(EventStoreContract):
    """The in-memory double the fast rule tests run on keeps the same contract."""

    @pytest.fixture
    def store(self) -> EventStore:
        return MemoryEventStore()
