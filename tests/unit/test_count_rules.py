"""The counting words of the rulebooks, on the rule primitives alone (no store)."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from ledger.rules.base import Citation, ConsecutiveYearsRule, CountRule, Item, PackParameters


class Params(PackParameters):
    n: int = 2


class FakeView:
    def __init__(self, items):
        self.items = items

    def facts(self, kind):
        return [i for i in self.items if i.kind == kind]

    def sanctions(self, kind):
        return []


def items(enterprises):
    start = date(2024, 1, 1)
    return [Item(f"r/{k}", "x", start + timedelta(days=k), e) for k, e in enumerate(enterprises, start=1)]


def rule(**kw):
    return CountRule(id="t", citation=Citation("测", "第一条", "文"), sanction="removal", select=lambda v: v.facts("x"), param="n", **kw)


@pytest.mark.parametrize(("count", "fires"), [(1, False), (2, True), (3, True)])
def test_inclusive_occurrences_达到(count, fires):
    decisions = rule().decisions(FakeView(items(["E1"] * count)), Params())
    assert bool(decisions) is fires
    if fires:
        assert decisions[0].evidence == ("r/1", "r/2")
        assert decisions[0].condition_on == date(2024, 1, 3)
        assert decisions[0].params == {"n": 2}


@pytest.mark.parametrize(("count", "fires"), [(2, False), (3, True), (4, True)])
def test_strict_超过(count, fires):
    assert bool(rule(strict=True).decisions(FakeView(items([f"E{k}" for k in range(count)])), Params())) is fires


def test_distinct_enterprises_家_not_occurrences():
    strict_distinct = rule(strict=True, distinct_by="enterprise_id")
    # three ratings from two enterprises: 2 distinct, not more than 2
    assert strict_distinct.decisions(FakeView(items(["E1", "E1", "E2"])), Params()) == []
    fired = strict_distinct.decisions(FakeView(items(["E1", "E1", "E2", "E3"])), Params())
    assert fired and fired[0].evidence == ("r/1", "r/2", "r/3", "r/4")


def test_still_holds_only_on_live_cited_evidence():
    r = rule()
    view = FakeView(items(["E1", "E2", "E3"]))
    assert r.still_holds(view, Params(), ["r/1", "r/2"])
    view_without_first = FakeView(items(["E1", "E2", "E3"])[1:])
    assert not r.still_holds(view_without_first, Params(), ["r/1", "r/2"])


def test_excused_evidence_is_not_counted_again():
    r = rule()
    view = FakeView(items(["E1", "E2", "E3"]))
    decisions = r.decisions(view, Params(), excused=["r/1", "r/2"])
    assert decisions == []


def year_items(years):
    return [Item(f"y/{y}", "x", date(y, 12, 31), None, {"year": y}) for y in years]


@pytest.mark.parametrize(("years", "fires"), [([2024], False), ([2023, 2025], False), ([2024, 2025], True)])
def test_consecutive_years_连续两年(years, fires):
    r = ConsecutiveYearsRule(id="c", citation=Citation("测", "四（三）", "文"), sanction="clearance", select=lambda v: v.facts("x"), param="n")
    assert bool(r.decisions(FakeView(year_items(years)), Params())) is fires
