"""Inputs that could silently drop a command or wedge a ledger, on SQLite and PostgreSQL."""
from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence

import pytest

from ledger.aggregates import Provider
from ledger.application import BatchError, Ledger
from ledger.bootstrap import bootstrap
from ledger.clock import ManualClock
from ledger.commands import models as m
from ledger.commands.handlers import HANDLERS
from ledger.projections import read_models
from ledger.settings import Settings
from ledger.store import CommandBatch, CommandIdReused, ConcurrencyConflict, EventStore, open_store
from tests.integration.conftest import START
from tests.integration.scenario import credit_code_for
from tests.integration.store_helpers import batch, event


def apply(provider_id: str, command_id: str = "apply-1", name: str = "天津某科技有限公司") -> m.SubmitApplication:
    return m.SubmitApplication(
        command_id=command_id, provider_id=provider_id, jurisdiction="tianjin", name=name, kind="云服务商",
        credit_code=credit_code_for(unicodedata.normalize("NFKC", provider_id)),
    )


# -- reused command ids ------------------------------------------------------------------------


def test_a_retry_is_recorded_once(ledger: Ledger) -> None:
    first = ledger.execute(apply("TJ-1"))
    again = ledger.execute(apply("TJ-1"))
    assert again.duplicate and again.positions == first.positions


def test_a_reused_command_id_with_another_payload_is_refused(ledger: Ledger) -> None:
    ledger.execute(apply("TJ-1"))
    head = ledger.store.max_position()
    with pytest.raises(CommandIdReused, match=r"'apply-1' was already used for a different command \(SubmitApplication recorded at"):
        ledger.execute(apply("TJ-2"))
    with pytest.raises(CommandIdReused):
        ledger.execute(apply("TJ-1", name="另一个名字"))
    assert ledger.store.max_position() == head
    assert ledger.find(Provider, "TJ-2") is None


def test_the_store_refuses_a_reused_id_even_past_the_service(store: EventStore) -> None:
    """Two writers that both checked before either wrote: the store is the last line."""
    from uuid import uuid4

    a = uuid4()
    store.append(batch("cmd", [event(a, 1)]))
    other = CommandBatch("cmd", "TestCommand", "tester", json.dumps({"command_id": "cmd", "x": 1}), [event(uuid4(), 1)])
    with pytest.raises(CommandIdReused):
        store.append(other)
    with pytest.raises(CommandIdReused):
        store.append_many([batch("fresh", [event(uuid4(), 1)]), other])
    assert store.max_position() == 1 and store.command_result("fresh") is None  # nothing of the group written
    same = store.append(batch("cmd", [event(uuid4(), 1)]))  # same payload: an idempotent retry
    assert same.duplicate and same.positions == (1,)


def test_an_import_reusing_an_id_names_both_commands(ledger: Ledger) -> None:
    ledger.execute(apply("TJ-1"))
    with pytest.raises(BatchError) as raised:
        ledger.execute_all([apply("TJ-3", "apply-3"), apply("TJ-2")])
    assert raised.value.index == 1 and isinstance(raised.value.error, CommandIdReused)
    with pytest.raises(BatchError) as raised:
        ledger.execute_all([
            apply("TJ-4", "x"),
            m.RecordProfileChange(command_id="y", provider_id="TJ-1", field="address", new_value="某地",
                                  changed_on=START, reported_on=START, major=False),
            apply("TJ-5", "x"),
        ])  # fmt: skip
    assert (raised.value.index, raised.value.earlier_index) == (2, 0)
    assert ledger.find(Provider, "TJ-3") is None and ledger.find(Provider, "TJ-4") is None


def test_an_import_repeating_a_command_records_it_once(ledger: Ledger) -> None:
    results = ledger.execute_all([apply("TJ-1"), apply("TJ-1")])
    assert [r.duplicate for r in results] == [False, True]


# -- look-alike ids ----------------------------------------------------------------------------


def test_look_alike_ids_name_one_provider(ledger: Ledger) -> None:
    ledger.execute(apply(unicodedata.normalize("NFD", "TJ-É")))
    with pytest.raises(Exception, match="already applied"):
        ledger.execute(apply(unicodedata.normalize("NFC", "TJ-É"), "apply-2"))
    with pytest.raises(Exception, match="already applied"):
        ledger.execute(apply("ＴＪ－É", "apply-3"))
    assert ledger.find(Provider, "TJ-É") is not None


# -- an event holding NUL, recorded past the command layer ----------------------------------


def test_an_event_holding_nul_never_stops_the_ledger_from_opening(database_url: str) -> None:
    settings = Settings(database_url=database_url)
    app = bootstrap(settings, clock=ManualClock(START))
    ledger = app.ledger
    try:
        ledger.execute(apply("TJ-1"))
        with pytest.raises(ValueError, match="U\\+0000"):
            apply("TJ-2", "apply-2", name="坏\x00名")
        # what an older version, or a client past the command models, could record
        forged = m.SubmitApplication.model_construct(
            command_id="apply-2", provider_id="TJ-2", jurisdiction="tianjin", name="坏\x00名", kind="云服务商",
            credit_code=credit_code_for("TJ-2"),
            profile={"address": "\x00"}, eligibility={}, type="SubmitApplication", recorded_by=None, effective_on=None,
        )  # fmt: skip
        ledger.execute(forged)
    finally:
        app.close()
    for _ in range(2):  # opening (which brings the read models up to date) works, again and again
        reopened = bootstrap(settings, clock=ManualClock(START))
        try:
            assert reopened.store.max_position() == 4  # each application and its entity's reservation
            rows = {row.provider_id: row for row in reopened.views.registry().items}
            assert set(rows) == {"TJ-1", "TJ-2"}
            assert rows["TJ-2"].name in ("坏\x00名", "坏\ufffd名")  # SQLite keeps it; PostgreSQL shows U+FFFD
            assert read_models(reopened).timeline("TJ-2")
            assert reopened.ledger.load(Provider, "TJ-2").name == "坏\x00名"  # the log keeps the event exactly
        finally:
            reopened.close()


def test_a_provider_holding_nul_is_written_again_by_a_later_catch_up(database_url: str) -> None:
    """The projection worker keeps a provider it folded in memory between catch-ups: a later command
    on a provider whose events hold NUL (its events are NUL-free) rewrites its rows from that memory,
    so they are still checked for NUL, and the read models keep up (PostgreSQL shows U+FFFD)."""
    settings = Settings(database_url=database_url)
    app = bootstrap(settings, clock=ManualClock(START))
    try:
        forged = m.SubmitApplication.model_construct(
            command_id="apply-nul", provider_id="TJ-2", jurisdiction="tianjin", name="坏\x00名", kind="云服务商",
            credit_code=credit_code_for("TJ-2"), profile={}, eligibility={}, type="SubmitApplication", recorded_by=None,
            effective_on=None,
        )  # fmt: skip
        app.ledger.execute(forged)
        read_models(app)  # caught up: the provider is in the worker's memory
        result = app.ledger.execute(m.OpenPublicNotice(command_id="notice-2", provider_id="TJ-2"))
        assert result.positions
        read_models(app)  # a later catch-up, of NUL-free events only
        [row] = [row for row in app.views.registry().items if row.provider_id == "TJ-2"]
        assert row.name in ("坏\x00名", "坏\ufffd名")  # SQLite keeps it; PostgreSQL shows U+FFFD
        assert app.projections is not None and app.projections.worker.last_error is None
    finally:
        app.close()


# -- overlapping imports ----------------------------------------------------------------------


class InterferingStore:
    """Wraps a store: before each of the first ``times`` append_many calls, another writer
    records a command on the same provider (what an overlapping import does)."""

    def __init__(self, store: EventStore, other: Ledger, times: int) -> None:
        self._store = store
        self._other = other
        self._times = times
        self.calls = 0

    def append_many(self, batches: Sequence[CommandBatch], atomic: bool = False):
        self.calls += 1
        if self.calls <= self._times:
            self._other.execute(
                m.RecordProfileChange(
                    command_id=f"other-{self.calls}", provider_id="TJ-1", field="address", new_value=f"地址{self.calls}",
                    changed_on=START, reported_on=START, major=False,
                )
            )  # fmt: skip
        return self._store.append_many(batches, atomic)

    def __getattr__(self, name: str):
        return getattr(self._store, name)


def _overlapping(database_url: str, times: int) -> tuple[Ledger, InterferingStore]:
    clock = ManualClock(START)
    other = Ledger(open_store(database_url), clock=clock, handlers=HANDLERS)
    other.execute(apply("TJ-1"))
    store = InterferingStore(open_store(database_url), other, times)
    return Ledger(store, clock=clock, handlers=HANDLERS), store  # type: ignore[arg-type]


def test_overlapping_imports_retry_like_commands(database_url: str) -> None:
    ledger, store = _overlapping(database_url, times=2)
    try:
        results = ledger.execute_all([
            m.RecordProfileChange(command_id="mine", provider_id="TJ-1", field="name", new_value="新名字",
                                  changed_on=START, reported_on=START, major=False),
        ])  # fmt: skip
        assert store.calls == 3 and not results[0].duplicate
        assert ledger.load(Provider, "TJ-1").name == "新名字"
    finally:
        ledger.close()
        store._other.close()


def test_an_import_that_keeps_colliding_names_the_command(database_url: str) -> None:
    ledger, store = _overlapping(database_url, times=99)
    try:
        with pytest.raises(BatchError) as raised:
            ledger.execute_all([
                apply("TJ-9", "first"),
                m.RecordProfileChange(command_id="mine", provider_id="TJ-1", field="name", new_value="新名字",
                                      changed_on=START, reported_on=START, major=False),
            ])  # fmt: skip
        assert raised.value.index == 1
        assert isinstance(raised.value.__cause__, ConcurrencyConflict)
        assert ledger.find(Provider, "TJ-9") is None  # all or nothing
    finally:
        ledger.close()
        store._other.close()


# -- a database of another encoding ------------------------------------------------------------


@pytest.mark.postgres
def test_a_ledger_in_a_database_encoded_in_euc_cn_keeps_chinese_text_whole() -> None:
    """A bureau's database may be in a Chinese encoding, not UTF-8: the ledger's connections speak
    UTF-8 (the server converts), its appends included, which go through libpq itself."""
    import uuid
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    from ledger.audit import verify_store
    from tests.conftest import postgres_base_url

    base = postgres_base_url()
    name = f"ledger_euc_cn_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name} ENCODING 'EUC_CN' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'")
    url = urlunsplit(urlsplit(base)._replace(path=f"/{name}"))
    try:
        app = bootstrap(Settings(database_url=url, operator="测试员"), clock=ManualClock(START))
        try:
            app.ledger.execute(apply("TJ-1", name="天津某科技有限公司"))
            app.ledger.execute(m.RecordProfileChange(
                command_id="rename", provider_id="TJ-1", field="name", new_value="天津新名字科技有限公司",
                changed_on=START, reported_on=START, major=False,
            ))  # fmt: skip
            assert app.ledger.load(Provider, "TJ-1").name == "天津新名字科技有限公司"
            assert verify_store(app.ledger.store).ok
            recorded = list(app.ledger.store.read_all())
            assert {e.recorded_by for e in recorded} == {"测试员"} and any("天津某科技有限公司" in e.state for e in recorded)
            assert read_models(app.projections).registry("tianjin")[0]["name"] == "天津新名字科技有限公司"
        finally:
            app.close()
    finally:
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
