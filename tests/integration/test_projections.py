"""Read models folded from the log: registry, grades, counters, lists, timelines; exactly-once tracking."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from ledger.commands import models as m
from ledger.projections import (
    GapError,
    ProjectionRunner,
    ReadModelDB,
    ReadModels,
    store_source,
)
from ledger.projections import schema as schema_module
from ledger.projections.db import Tx
from ledger.projections.providers import ProviderViewsProjection
from ledger.projections.timeline import TimelineProjection
from ledger.store.base import RecordedEvent
from tests.integration.projection_support import (
    assert_caught_up,
    assert_registry_matches_store,
    mixed_scenario,
    tangshan_blacklisted_by_two_ratings,
    tianjin_removed_by_three_complaints,
)


def _row(models, provider_id):
    [row] = [r for r in models.registry() if r["provider_id"] == provider_id]
    return row


def test_registry_blacklisted_at_the_second_unsatisfied_rating_and_reinstated_after_an_upheld_appeal(scenario, projected, models):
    scenario.admit("TS-1", "tangshan")
    admitted_on = scenario.today
    scenario.unsatisfied("TS-1", "E-1")
    assert (_row(models, "TS-1")["standing"], _row(models, "TS-1")["status_since"]) == ("in_pool", admitted_on.isoformat())
    assert models.lists("blacklist") == []

    scenario.on(date(2025, 3, 10))
    second = scenario.unsatisfied("TS-1", "E-2")
    row = _row(models, "TS-1")
    assert (row["status"], row["standing"], row["standing_since"]) == ("blacklisted", "blacklisted", "2025-03-10")
    [entry] = models.lists("blacklist", "tangshan")
    assert entry["article"] == "唐山 第十三条（二）"
    assert entry["sanction_ref"] == scenario.sanctions("TS-1")[0]["ref"]
    assert entry["effective_on"] == "2025-03-10"
    assert entry["recorded_at"].startswith("2025-03-09T16:00")  # midnight in Asia/Shanghai
    assert entry["consequences"] == ["disqualified", "blacklisted", "announced_on_bureau_website", "no_subsidies"]
    assert entry["derived"] is True and entry["params"] == {"unsatisfied_ratings": 2}
    assert models.counters("TS-1")["unsatisfied_occurrences"]["value"] == 2

    scenario.on(date(2025, 3, 20))
    scenario.appeal("TS-1", "第十六条（二）", second.source)
    row = _row(models, "TS-1")
    assert (row["status"], row["standing"], row["status_since"]) == ("reinstated", "reinstated", "2025-03-20")
    assert models.lists() == []  # the rescinded entry left the list
    counters = models.counters("TS-1")
    assert counters["unsatisfied_occurrences"]["value"] == 1
    assert second.fact not in counters["unsatisfied_occurrences"]["refs"]
    assert counters["unsatisfied_occurrences"]["source_refs"] != [second.source]
    assert_caught_up(projected)
    assert_registry_matches_store(scenario.ledger, models)


def test_counters_exclude_evidence_voided_by_an_appeal_and_cascade(scenario, models):
    """新乡: two 不满意 after acceptance -> two warnings -> disqualification; voiding one rating undoes both."""
    scenario.admit("XX-1", "xinxiang")
    ratings = [scenario.unsatisfied("XX-1", f"E-{i}") for i in (1, 2)]
    counters = models.counters("XX-1")
    assert counters["unsatisfied_occurrences"]["value"] == 2
    assert counters["unsatisfied_enterprises"]["value"] == 2
    assert counters["unsatisfied_enterprises"]["detail"] == {"enterprises": ["E-1", "E-2"]}
    assert counters["warnings"]["value"] == 2
    assert _row(models, "XX-1")["standing"] == "disqualified"
    [entry] = models.lists("disqualified")
    assert entry["article"] == "新乡 第十六条（一）"

    scenario.appeal("XX-1", "第十七条（二）", ratings[0].source)
    counters = models.counters("XX-1")
    assert counters["unsatisfied_occurrences"]["refs"] == [ratings[1].fact]
    assert counters["unsatisfied_occurrences"]["source_refs"] == [ratings[1].source]
    assert counters["unsatisfied_enterprises"]["value"] == 1
    [warning] = scenario.sanctions("XX-1")
    assert counters["warnings"]["refs"] == [warning["ref"]]
    assert ratings[0].fact not in str(counters)
    assert _row(models, "XX-1")["standing"] == "warned"  # reinstated, with the second warning still open
    assert models.lists() == []
    assert_registry_matches_store(scenario.ledger, models)


def test_rectification_counters_by_state(scenario, models):
    """唐山: one order completed, one overdue (blacklisted under 第十三条（一） only once refused), one open."""
    scenario.admit("TS-1", "tangshan")
    completed = scenario.finding("TS-1", "第十二条（一）", deadline_days=10)
    scenario.run(m.CompleteRectification, provider_id="TS-1", sanction_ref=completed)
    assert _row(models, "TS-1")["standing"] == "in_pool"
    scenario.on(scenario.today + timedelta(days=1))
    overdue = scenario.finding("TS-1", "第十二条（二）", deadline_days=5)
    row = _row(models, "TS-1")
    assert (row["standing"], row["standing_since"]) == ("rectifying", scenario.today.isoformat())
    counters = models.counters("TS-1")
    assert (counters["rectification_open"]["value"], counters["rectification_completed"]["value"]) == (1, 1)
    assert counters["rectification_open"]["refs"] == [overdue]
    assert counters["rectification_orders"]["refs"] == [completed, overdue]

    scenario.passed_deadlines(scenario.today + timedelta(days=6))
    counters = models.counters("TS-1")
    assert counters["rectification_overdue"]["refs"] == [overdue]
    assert counters["rectification_completed"]["refs"] == [completed]
    assert counters["rectification_open"]["value"] == 0
    assert models.lists("blacklist") == []
    scenario.run(m.RecordRectificationRefusal, provider_id="TS-1", sanction_ref=overdue)
    [entry] = models.lists("blacklist")
    assert entry["article"] == "唐山 第十三条（一）"
    assert _row(models, "TS-1")["standing"] == "blacklisted"


def test_grades_by_scheme(scenario, models):
    scenario.admit("TJ-1", "tianjin", on=date(2023, 6, 1))
    scenario.run(m.RecordScore, provider_id="TJ-1", year=2023, score=80, effective_on=date(2024, 1, 15))
    scenario.run(m.RecordScore, provider_id="TJ-1", year=2024, score=79.5, effective_on=date(2025, 1, 15))
    scenario.admit("XX-1", "xinxiang")
    scenario.run(m.RecordStarRating, provider_id="XX-1", rating_round="2025-R1", stars=3, basis={"enterprises": 9})
    scenario.admit("PR-1", "province")
    scenario.run(m.RecordEvaluation, provider_id="PR-1", year=2024, qualified=True)
    scenario.run(m.RecordEvaluation, provider_id="PR-1", year=2025, qualified=False)

    assert [(g["scheme"], g["period"], g["grade"], g["score"]) for g in models.grades("TJ-1")] == [
        ("letter", "2023", "A", 80.0),
        ("letter", "2024", "B", 79.5),
    ]
    [stars] = models.grades("XX-1")
    assert (stars["scheme"], stars["period"], stars["grade"], stars["detail"]) == ("stars", "2025-R1", "3", {"basis": {"enterprises": 9}})
    assert [(g["period"], g["grade"]) for g in models.grades("PR-1")] == [("2024", "qualified"), ("2025", "unqualified")]
    assert models.grades("nobody") == []


def test_a_grade_c_removes_and_the_list_carries_the_article(scenario, models):
    scenario.admit("TJ-1", "tianjin")
    scenario.run(m.RecordScore, provider_id="TJ-1", year=2024, score=69.9)
    assert models.grades("TJ-1")[0]["grade"] == "C"
    [entry] = models.lists("removed", "tianjin")
    assert entry["article"] == "天津 第十二条（2）"
    assert entry["citation_text"] == "评级结果为C级与D级的"
    assert entry["pack_version"] == "tianjin-2023.1"
    assert entry["evidence"] == [models.grades("TJ-1")[0]["ref"]]


def test_lists_by_kind_and_jurisdiction(scenario, models):
    mixed_scenario(scenario)
    everything = models.lists()
    assert {(e["list_kind"], e["provider_id"], e["article"]) for e in everything} == {
        ("removed", "TJ-1", "天津 第十二条（四）"),
        ("gray_list", "LZ-1", "柳州 第十四条（三）"),
    }
    assert [e["provider_id"] for e in models.lists("gray_list")] == ["LZ-1"]
    assert models.lists(jurisdiction="tianjin") == models.lists("removed")
    assert models.lists("blacklist") == []  # TS-1's blacklisting was rescinded
    with pytest.raises(ValueError, match="unknown list"):
        models.lists("red_list")

    registry = {r["provider_id"]: r["standing"] for r in models.registry()}
    assert registry == {
        "TJ-1": "removed",
        "TJ-2": "in_pool",
        "TS-1": "reinstated",
        "XX-1": "warned",
        "LZ-1": "gray_listed",
        "PR-1": "in_pool",
        "PR-2": "exited",
    }
    assert [r["provider_id"] for r in models.registry("province")] == ["PR-1", "PR-2"]
    assert models.counters("TJ-2")["verified_complaints"]["value"] == 1


def test_timeline_has_the_providers_projects_complaints_and_appeals_in_order(scenario, models):
    ratings = tangshan_blacklisted_by_two_ratings(scenario)
    scenario.admit("TS-2", "tangshan")
    scenario.verified_complaint("TS-1")
    scenario.appeal("TS-1", "第十六条（二）", ratings[0].source)

    timeline = models.timeline("TS-1")
    positions = [e["position"] for e in timeline]
    assert positions == sorted(positions)
    kinds = {e["aggregate"] for e in timeline}
    assert kinds == {"provider", "project", "complaint", "appeal"}
    names = [e["event_name"] for e in timeline]
    for name in ("provider.applied.v1", "project.registered.v1", "project.satisfaction-rated.v1", "provider.sanction-imposed.v1",
                 "complaint.filed.v2", "complaint.verified.v1", "appeal.filed.v1", "appeal.decided.v1", "provider.reinstated.v1"):  # fmt: skip
        assert name in names
    imposed = next(e for e in timeline if e["event_name"] == "provider.sanction-imposed.v1")
    assert "blacklisting under 唐山 第十三条（二）" in imposed["summary"]
    rated = next(e for e in timeline if e["event_name"] == "project.satisfaction-rated.v1")
    assert rated["summary"] == "TS-1 rated 不满意"
    assert all(e["recorded_by"] == "system" and e["recorded_at"] and e["command_id"] for e in timeline)
    assert all(e["provider_id"] == "TS-1" for e in timeline)
    assert not any(e["ref"] in {x["ref"] for x in models.timeline("TS-2")} for e in timeline)
    # every event of the provider's own stream is there
    own = [e for e in timeline if e["aggregate"] == "provider"]
    assert [int(e["ref"].rsplit("/", 1)[1]) for e in own] == list(range(1, scenario.provider("TS-1").version + 1))


def test_a_project_appears_on_the_timeline_of_each_of_its_providers(scenario, models):
    scenario.admit("LZ-1", "liuzhou")
    scenario.admit("LZ-2", "liuzhou", kind="产品服务商")
    scenario.run(m.RegisterProject, project_id="P-shared", jurisdiction="liuzhou", enterprise_id="E-1",
                 enterprise_name="E-1 Co", integrated_provider_id="LZ-1", product_provider_ids=["LZ-2"])  # fmt: skip
    for provider_id in ("LZ-1", "LZ-2"):
        [registered] = [e for e in models.timeline(provider_id) if e["aggregate"] == "project"]
        assert registered["subject_id"] == "P-shared"
        assert "providers LZ-1, LZ-2" in registered["summary"]


def test_provider_standing_is_the_standing_of_the_aggregate(scenario, models):
    mixed_scenario(scenario)
    assert_registry_matches_store(scenario.ledger, models)
    assert models.provider_standing("nobody") is None
    assert models.provider_standing("XX-1")["standing_since"] == scenario.sanctions("XX-1")[0]["effective_on"].isoformat()


def test_a_provider_folded_on_has_only_its_changed_rows_written_again(scenario, projected, models, monkeypatch):
    """The projection remembers the rows it wrote for a provider: the next batch deletes and writes only
    the rows that changed. After a replay's switch it writes all of them once (its rows are the replay's)."""
    from ledger.projections.replay import replay

    scenario.admit("TJ-1", "tianjin", on=date(2020, 6, 1))
    for year in (2020, 2021, 2022):
        scenario.run(m.RecordScore, provider_id="TJ-1", year=year, score=85, effective_on=date(year + 1, 1, 15))
    written: list[tuple[str, int]] = []
    deleted: list[tuple[str, int]] = []
    insert_rows, delete_keys, delete_pairs = Tx.insert_rows, Tx.delete_keys, Tx.delete_pairs

    def spy_insert(self, name, columns, rows):
        written.append((name, len(rows)))
        return insert_rows(self, name, columns, rows)

    def spy_keys(self, table, column, keys):
        deleted.append((table.rsplit("_g", 1)[0].removeprefix("rm_"), len(keys)))
        return delete_keys(self, table, column, keys)

    def spy_pairs(self, table, columns, pairs):
        deleted.append((table.rsplit("_g", 1)[0].removeprefix("rm_"), len(pairs)))
        return delete_pairs(self, table, columns, pairs)

    monkeypatch.setattr(Tx, "insert_rows", spy_insert)
    monkeypatch.setattr(Tx, "delete_keys", spy_keys)
    monkeypatch.setattr(Tx, "delete_pairs", spy_pairs)

    def rows(of: list[tuple[str, int]], table: str) -> int:
        return sum(n for name, n in of if name == table)

    scenario.run(m.RecordScore, provider_id="TJ-1", year=2023, score=79, effective_on=date(2024, 1, 15))
    assert (rows(written, "grades"), rows(deleted, "grades")) == (1, 0)  # the new grade only, of four
    assert rows(written, "counters") == rows(deleted, "counters") < 9  # the counters that changed, if any
    assert (rows(written, "registry"), rows(written, "provider_state")) == (1, 1)
    assert [g["period"] for g in models.grades("TJ-1")] == ["2020", "2021", "2022", "2023"]

    replay(scenario.ledger, show_progress=False)
    written.clear()
    deleted.clear()
    scenario.run(m.RecordScore, provider_id="TJ-1", year=2024, score=95, effective_on=date(2025, 1, 15))
    assert (rows(written, "grades"), rows(written, "counters")) == (5, 9)  # the first batch after the switch: all of them
    assert [g["period"] for g in models.grades("TJ-1")] == ["2020", "2021", "2022", "2023", "2024"]
    assert_registry_matches_store(scenario.ledger, models)


def test_the_stored_versions_of_a_batchs_providers_are_read_in_one_statement(scenario, projected, models, monkeypatch):
    """A catch-up checks the version rm_provider_state holds for every provider of its batch (the one
    it keeps in memory may be stale: another process may have written it) with one statement, not one
    per provider."""
    providers = [f"TJ-{i}" for i in range(1, 6)]
    for provider_id in providers:
        scenario.admit(provider_id, "tianjin", on=date(2020, 6, 1))
    selects: list[tuple[str, int]] = []
    one_by_one: list[str] = []
    select_keys, fetchone = Tx.select_keys, Tx.fetchone

    def spy_select(self, table, columns, column, keys):
        selects.append((table.rsplit("_g", 1)[0].removeprefix("rm_"), len(keys)))
        return select_keys(self, table, columns, column, keys)

    def spy_fetchone(self, sql, params=()):
        if "provider_state" in sql:
            one_by_one.append(sql)
        return fetchone(self, sql, params)

    monkeypatch.setattr(Tx, "select_keys", spy_select)
    monkeypatch.setattr(Tx, "fetchone", spy_fetchone)
    scenario.ledger.execute_all(
        [scenario.command(m.RecordScore, provider_id=p, year=2021, score=90, effective_on=date(2022, 1, 15)) for p in providers]
    )
    assert_caught_up(projected)
    assert selects == [("provider_state", len(providers))]
    assert one_by_one == []  # each provider was in memory at the version stored
    assert_registry_matches_store(scenario.ledger, models)


def test_the_hook_is_cheap_when_nothing_is_new(scenario, projected, monkeypatch):
    scenario.admit("TJ-1", "tianjin")
    calls = []
    catch_up = projected.catch_up
    monkeypatch.setattr(projected, "catch_up", lambda: calls.append(1) or catch_up())
    projected.after_commit()
    assert calls == []  # one max_position() query, no transaction
    command = scenario.command(m.RecordScore, provider_id="TJ-1", year=2024, score=90)
    scenario.ledger.execute(command)
    assert calls == [1]
    scenario.ledger.execute(command)  # a duplicate records nothing
    assert calls == [1]


def test_a_failing_projection_does_not_fail_the_command(scenario, projected, monkeypatch):
    scenario.admit("TJ-1", "tianjin")

    def broken(*_args, **_kwargs):
        raise RuntimeError("read-model database unavailable")

    monkeypatch.setattr(projected.runner, "catch_up", broken)
    scenario.run(m.RecordScore, provider_id="TJ-1", year=2024, score=90)  # recorded regardless
    assert isinstance(projected.last_error, RuntimeError)
    monkeypatch.undo()
    scenario.run(m.RecordScore, provider_id="TJ-1", year=2025, score=91)
    assert projected.last_error is None
    assert [g["period"] for g in projected.models.grades("TJ-1")] == ["2024", "2025"]


# --- exactly once, across crashes ---------------------------------------------------------------

APPLY_LOG = "position BIGINT NOT NULL, ref TEXT NOT NULL"


class CountingProjection:
    """Logs every application (no key: applying twice would show as two rows); fails on request."""

    name = "counting"
    tables = ("apply_log",)

    def __init__(self) -> None:
        self.fail_at: int | None = None

    def apply(self, event: RecordedEvent, tx: Tx) -> None:
        if event.position == self.fail_at:
            raise RuntimeError(f"crash at {event.position}")
        tx.execute(f"INSERT INTO {tx.table('apply_log')} (position, ref) VALUES (?, ?)", (event.position, event.ref))

    def flush(self, tx: Tx) -> None:
        pass


@pytest.fixture
def counting_runner(ledger, database_url, monkeypatch):
    monkeypatch.setitem(schema_module.TABLES, "apply_log", APPLY_LOG)
    db = ReadModelDB(database_url)
    counting = CountingProjection()
    runner = ProjectionRunner(db, store_source(ledger.store), [ProviderViewsProjection(), TimelineProjection(), counting], batch_size=10)
    yield runner, counting
    db.close()


def _applied(runner) -> list[int]:
    with runner.db.transaction(write=False) as tx:
        return [r[0] for r in tx.fetchall("SELECT position FROM rm_apply_log_g1 ORDER BY position")]


def test_a_crash_midway_through_a_batch_leaves_tracking_and_views_unchanged(scenario, counting_runner):
    runner, counting = counting_runner
    mixed_scenario(scenario)
    top = scenario.ledger.store.max_position()
    assert top > 40
    models = ReadModels(runner.db)

    counting.fail_at = 25  # in the third batch (21..30)
    with pytest.raises(RuntimeError, match="crash at 25"):
        runner.catch_up()
    assert runner.positions() == {"providers": 20, "timeline": 20, "counting": 20}
    assert _applied(runner) == list(range(1, 21))
    before = models.dump()
    assert max(e["position"] for e in before["rm_timeline"]) <= 20
    assert max(r["last_position"] for r in before["rm_registry"]) <= 20

    with pytest.raises(RuntimeError, match="crash at 25"):
        runner.catch_up()  # fails again, in the same place: nothing moved
    assert runner.positions() == {"providers": 20, "timeline": 20, "counting": 20}
    assert models.dump() == before

    counting.fail_at = None
    assert runner.catch_up() == top - 20
    assert runner.positions() == {"providers": top, "timeline": top, "counting": top}
    assert _applied(runner) == list(range(1, top + 1))  # each event applied exactly once
    assert_registry_matches_store(scenario.ledger, models)
    assert runner.catch_up() == 0


def test_pushed_events_are_applied_once_and_a_gap_is_refused(scenario, counting_runner):
    """The shape a Kafka consumer uses: redelivered events are skipped, a gap raises."""
    runner, _ = counting_runner
    tianjin_removed_by_three_complaints(scenario)
    events = list(scenario.ledger.store.read_all())
    top = len(events)
    assert runner.feed(events[:7]) == 7
    assert runner.feed(events[3:12]) == 5  # 4..7 again: skipped
    with pytest.raises(GapError):
        runner.feed(events[14:])
    assert runner.positions()["counting"] == 12
    assert runner.feed(events[12:]) == top - 12
    assert _applied(runner) == list(range(1, top + 1))
    assert_registry_matches_store(scenario.ledger, ReadModels(runner.db))


def test_concurrent_runners_apply_each_event_once(scenario, counting_runner, database_url):
    """Two runners (as two processes would) catching up at once: the tracking rows' locks serialise them."""
    import threading

    runner, _ = counting_runner
    mixed_scenario(scenario)
    top = scenario.ledger.store.max_position()
    other_db = ReadModelDB(database_url)
    try:
        other = ProjectionRunner(other_db, store_source(scenario.ledger.store),
                                 [ProviderViewsProjection(), TimelineProjection(), CountingProjection()], batch_size=3)  # fmt: skip
        errors: list[BaseException] = []

        def run(r):
            try:
                r.catch_up()
            except BaseException as error:  # pragma: no cover - reported below
                errors.append(error)

        threads = [threading.Thread(target=run, args=(r,)) for r in (runner, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        assert _applied(runner) == list(range(1, top + 1))
        assert other.positions() == {"providers": top, "timeline": top, "counting": top}
        assert_registry_matches_store(scenario.ledger, ReadModels(other_db))
    finally:
        other_db.close()


def test_bootstrap_keeps_the_read_models_up_to_date(database_url, clock):
    from ledger.bootstrap import bootstrap
    from ledger.projections import read_models
    from ledger.settings import Settings
    from tests.integration.scenario import Scenario

    with bootstrap(Settings(database_url=database_url), clock=clock) as app:
        assert app.projections is not None
        scenario = Scenario(app.ledger, clock)
        scenario.admit("TJ-1", "tianjin")
        assert [(r["provider_id"], r["standing"]) for r in read_models(app).registry("tianjin")] == [("TJ-1", "in_pool")]  # waits
    with pytest.raises(RuntimeError, match="closed"):
        app.projections.models.registry()
    assert app.ledger.after_commit == []


def test_a_voluntary_exit_is_listed_and_announced_where_the_text_says_so(scenario, models):
    """天津 第十二条 "不再列入资源池，并向社会公示" heads （八） "主动退出资源池的": a Tianjin provider's own
    exit is on the published list with the removals, to be announced; Liuzhou names no such thing."""
    from api.reports import announcement

    scenario.admit("TJ-1", "tianjin")
    scenario.admit("LZ-1", "liuzhou")
    scenario.on(scenario.today + timedelta(days=5))
    for provider_id in ("TJ-1", "LZ-1"):
        scenario.run(m.WithdrawFromPool, provider_id=provider_id, reason="业务调整", effective_on=scenario.today - timedelta(days=2))
    [entry] = models.lists()
    assert (entry["list_kind"], entry["provider_id"], entry["sanction"], entry["article"]) == ("removed", "TJ-1", "voluntary_exit", "天津 第十二条（八）")
    assert (entry["citation_text"], str(entry["effective_on"])) == ("主动退出资源池的", str(scenario.today - timedelta(days=2)))
    text = announcement({**entry, "effective_on": str(entry["effective_on"]), "signed_on": str(scenario.today)}).text
    assert "第十二条（八）“主动退出资源池的”的规定" in text and "主动退出，不再列入数字化转型服务商资源池" in text
    assert text.rstrip().endswith(f"{scenario.today.year}年{scenario.today.month}月{scenario.today.day}日")  # signed the day it was recorded
