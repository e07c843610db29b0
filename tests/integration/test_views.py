"""The typed read service: filters, paging, typed answers and clear errors, on each backend."""
from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from ledger.clock import BUREAU_TZ
from ledger.views import InvalidQuery, NotFound, Views
from tests.integration.projection_support import mixed_scenario


@pytest.fixture
def views(scenario, projected) -> Views:
    mixed_scenario(scenario)
    return Views(scenario.ledger, projected.models)


def test_registry_filters_and_pages_through_every_provider_once(views):
    everyone = views.registry(limit=1000)
    assert everyone.total == len(everyone.items) == 7 and everyone.next_cursor is None
    seen, cursor = [], None
    while True:
        page = views.registry(limit=2, cursor=cursor)
        assert page.total == 7 and len(page.items) <= 2
        seen += [e.provider_id for e in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [e.provider_id for e in everyone.items]
    assert [e.provider_id for e in views.registry(offset=5, limit=10).items] == seen[5:]
    assert [e.provider_id for e in views.registry("tianjin").items] == ["TJ-1", "TJ-2"]
    assert [e.provider_id for e in views.registry(standing="exited").items] == ["PR-2"]
    with pytest.raises(InvalidQuery, match="standing 'exit' is not one of") as misspelt:  # not an empty page
        views.registry(standing="exit")
    assert misspelt.value.field == "standing"
    assert [e.provider_id for e in views.registry(grade="unqualified").items] == ["PR-1"]
    assert views.registry(kind="云服务商").total == 2
    assert isinstance(views.registry("tianjin").items[0].status_since, date)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda v: v.registry("atlantis"), InvalidQuery, "unknown jurisdiction 'atlantis'; jurisdictions are tianjin"),
        (lambda v: v.registry(limit=0), InvalidQuery, "limit must be between 1 and 1000"),
        (lambda v: v.registry(cursor="not-a-cursor"), InvalidQuery, "cursor 'not-a-cursor'"),
        (lambda v: v.lists("pinklist"), InvalidQuery, "unknown list 'pinklist'; lists are blacklist, gray_list"),
        (lambda v: v.lists(jurisdiction="atlantis"), InvalidQuery, "unknown jurisdiction"),
        (lambda v: v.provider("NOPE-1"), NotFound, "no provider 'NOPE-1' in the ledger"),
        (lambda v: v.grades("NOPE-1"), NotFound, "no provider 'NOPE-1'"),
        (lambda v: v.timeline("NOPE-1"), NotFound, "no provider 'NOPE-1'"),
        (lambda v: v.timeline("TJ-1", event_type="provider.teleported.v1"), InvalidQuery, "unknown event type"),
        (lambda v: v.history("TJ-1"), InvalidQuery, "give known_at and/or effective_at"),
        (lambda v: v.history("TJ-1", effective_at=date(2099, 1, 1)), InvalidQuery, "is in the future"),
        (lambda v: v.history("TJ-1", known_at=date(2024, 1, 1)), NotFound, "had not applied as known at 2024-01-01 23:59:59"),
        (lambda v: v.whatif("TS-1", ["nonsense"]), InvalidQuery, "nonsense"),
        (lambda v: v.explain("TJ-2"), NotFound, "provider TJ-2 has never been removed"),
        (lambda v: v.explain("bogus/ref"), InvalidQuery, "is not an event reference"),
        (lambda v: v.explain("NOPE-1"), NotFound, "no provider"),
    ],
)
def test_unknown_names_and_bad_queries_are_errors_not_empty_answers(views, call, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        call(views)


def test_a_provider_standing_is_typed_with_its_citations_and_evidence(views, scenario):
    standing = views.provider("TJ-1")
    [removal] = standing.sanctions
    assert (removal.sanction, removal.article, removal.state, removal.removes) == ("removal", "天津 第十二条（四）", "in_force", True)
    assert removal.text.startswith("被企业或其他服务商投诉3次") and len(removal.evidence) == 3
    counters = {c.name: c for c in standing.counters}
    assert counters["verified_complaints"].value == 3 and len(counters["verified_complaints"].source_refs) == 3
    [grade] = views.grades("TJ-2")
    assert (grade.scheme, grade.period, grade.score) == ("letter", "2024", 81.5)
    json.dumps(standing.model_dump(mode="json"), ensure_ascii=False)  # what the API returns


def test_lists_and_timeline_filters(views, scenario):
    [entry] = views.lists("removed", "tianjin").items
    assert (entry.provider_id, entry.article, entry.derived) == ("TJ-1", "天津 第十二条（四）", True)
    assert views.lists("blacklist").total == 0  # TS-1's blacklisting was rescinded
    whole = views.timeline("TS-1", limit=1000)
    assert whole.total == len(whole.items) > 3
    first_two = views.timeline("TS-1", limit=2)
    rest = views.timeline("TS-1", limit=1000, cursor=first_two.next_cursor)
    assert [e.position for e in first_two.items + rest.items] == [e.position for e in whole.items]
    imposed = views.timeline("TS-1", event_type="provider.sanction-imposed.v1")
    assert [e.event_type for e in imposed.items] == ["provider.sanction-imposed.v1"]
    projects = views.timeline("TS-1", event_type="project")
    assert projects.total >= 2 and all(e.aggregate == "project" for e in projects.items)
    assert views.timeline("TS-1", actor="nobody").total == 0
    later = views.timeline("TS-1", effective_from=date(2025, 3, 2))
    assert all(e.effective_on and e.effective_on >= date(2025, 3, 2) for e in later.items)


def test_history_says_which_view_it_shows(views, scenario):
    history = views.history("TS-1", effective_at=date(2025, 3, 1))
    assert history.view == "as in effect on 2025-03-01 (Asia/Shanghai): only what had taken effect by that day"
    assert history.standing.provider_id == "TS-1" and history.as_of.effective_at == date(2025, 3, 1)
    known = views.registry_as_of("tangshan", known_at=date(2025, 3, 1))
    assert known.view.startswith("as known at 2025-03-01 23:59:59 (Asia/Shanghai)")
    assert [e.provider_id for e in known.items] == ["TS-1"]


def test_explain_whatif_and_verify_are_typed(views, scenario):
    explanation = views.explain("TJ-1")
    assert explanation.root.kind == "sanction" and "天津 第十二条（四）" in explanation.text
    assert explanation.root.event_type == "provider.sanction-imposed.v1"
    evidence = views.provider("TJ-1").sanctions[0].evidence[0]
    result = views.whatif("TJ-1", [evidence])
    assert (result.standing_before, result.standing_after) == ("removed", "reinstated")
    assert "provider.reinstated.v1" in result.events
    verified = views.verify()
    assert verified.ok and not verified.empty and verified.checked == scenario.ledger.store.max_position()


def test_verify_says_an_empty_ledger_is_empty(bare_ledger):
    result = Views(bare_ledger, None).verify()
    assert (result.ok, result.empty, result.summary) == (True, True, "the ledger is empty: there is no event to verify")


def test_the_timeline_filters_on_the_recorded_axis_just_before_at_and_just_after_each_bound(scenario, projected):
    """``recorded_from``/``recorded_to`` bound when the ledger recorded an event (both included);
    a date is the start (from) or the end (to) of that day in Asia/Shanghai; a naive time is
    Asia/Shanghai. The effective axis is not involved: every event here takes effect on 3-01."""
    scenario.admit("TS-1", "tangshan")  # recorded at the start of 2025-03-01 (Asia/Shanghai)
    admitted = scenario.clock.now()
    warned = datetime(2025, 3, 1, 9, 30, 0, 250000, tzinfo=BUREAU_TZ)
    scenario.clock.set(warned)
    scenario.finding("TS-1", "第十二条（一）", on=date(2025, 3, 1))
    next_day = datetime(2025, 3, 2, tzinfo=BUREAU_TZ)  # the first instant after 2025-03-01 ends
    scenario.clock.set(next_day)
    scenario.finding("TS-1", "第十二条（二）", on=date(2025, 3, 1))
    views = Views(scenario.ledger, projected.models)
    µs = timedelta(microseconds=1)

    def recorded(**bounds) -> list[datetime]:
        page = views.timeline("TS-1", limit=1000, **bounds)
        assert page.total == len(page.items)
        return sorted({e.recorded_at for e in page.items})

    assert recorded() == [admitted, warned, next_day]
    assert recorded(recorded_from=warned - µs) == [warned, next_day]
    assert recorded(recorded_from=warned) == [warned, next_day]
    assert recorded(recorded_from=warned + µs) == [next_day]
    assert recorded(recorded_to=warned - µs) == [admitted]
    assert recorded(recorded_to=warned) == [admitted, warned]
    assert recorded(recorded_to=warned + µs) == [admitted, warned]
    assert recorded(recorded_from=warned, recorded_to=warned) == [warned]
    assert recorded(recorded_from=warned.replace(tzinfo=None)) == [warned, next_day]  # naive: Asia/Shanghai
    assert recorded(recorded_from=warned.astimezone(UTC)) == [warned, next_day]
    # days: 2025-03-01 ends just before next_day
    assert recorded(recorded_to=date(2025, 3, 1)) == [admitted, warned]
    assert recorded(recorded_from=date(2025, 3, 2)) == [next_day]
    assert recorded(recorded_from=date(2025, 3, 1), recorded_to=date(2025, 3, 1)) == [admitted, warned]
    assert recorded(recorded_to=date(2025, 2, 28)) == []
    assert recorded(recorded_from=next_day, effective_to=date(2025, 2, 28)) == []  # both axes at once
    with pytest.raises(InvalidQuery, match=r"recorded_to 2025-03-01 09:30:00.249999\+08:00 is before recorded_from") as refused:
        views.timeline("TS-1", recorded_from=warned, recorded_to=warned - µs)
    assert refused.value.field == "recorded_to"
    with pytest.raises(InvalidQuery, match="effective_to 2025-02-28 is before effective_from 2025-03-01") as refused:
        views.timeline("TS-1", effective_from=date(2025, 3, 1), effective_to=date(2025, 2, 28))
    assert refused.value.field == "effective_to"


def test_a_jurisdictions_providers_read_together_are_each_providers_standing(views):
    for jurisdiction in ("tianjin", "tangshan", "xinxiang", "province", "liuzhou"):
        ids = [e.provider_id for e in views.registry(jurisdiction, limit=1000).items]
        assert views.providers(jurisdiction) == [views.provider(pid) for pid in ids]
    assert [len(views.providers(j)) for j in ("tianjin", "tangshan")] == [2, 1]
    assert any(p.grades for p in views.providers("tianjin")) and all(p.counters for p in views.providers("tianjin"))
    with pytest.raises(InvalidQuery):
        views.providers("atlantis")
