"""Standing and registry as of any instant: as recorded by T, as effective at D, and both at once."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from ledger.aggregates import DomainError
from ledger.commands import models as m
from ledger.projections.history import (
    fold_as_of,
    provider_events,
    registry_as_of,
    standing_as_of,
)


def _tianjin_backdated(scenario):
    """TJ-1 admitted 2025-02-28; a 2024 score on 03-05; on 04-01 three complaints are verified
    back-dated to 03-01..03-03, which derives the removal (effective 03-03, recorded 04-01)."""
    scenario.admit("TJ-1", "tianjin")
    scenario.on(date(2025, 3, 5))
    scenario.run(m.RecordScore, provider_id="TJ-1", year=2024, score=85)
    scenario.on(date(2025, 4, 1))
    noted = [scenario.verified_complaint("TJ-1", on=date(2025, 3, day)) for day in (1, 2, 3)]
    [removal] = scenario.sanctions("TJ-1")
    assert (removal["effective_on"], scenario.provider("TJ-1").status) == (date(2025, 3, 3), "removed")
    return noted


def _status(s):
    return (s["status"], s["standing"])


def test_as_recorded_before_the_removal_the_provider_was_in_the_pool(scenario):
    _tianjin_backdated(scenario)
    before = standing_as_of(scenario.ledger, "TJ-1", known_at=date(2025, 3, 31))
    assert _status(before) == ("in_pool", "in_pool")
    assert before["counters"]["verified_complaints"]["count"] == 0
    assert [g["grade"] for g in before["grades"]["scores"]] == ["A"]

    after = standing_as_of(scenario.ledger, "TJ-1", known_at=date(2025, 4, 1))  # the whole day
    assert _status(after) == ("removed", "removed")
    assert after["status_since"] == "2025-03-03"
    # an instant: just before the day began in Asia/Shanghai nothing of it was known
    assert _status(standing_as_of(scenario.ledger, "TJ-1", known_at=datetime(2025, 3, 31, 15, 59, tzinfo=timezone.utc))) == ("in_pool", "in_pool")
    assert _status(standing_as_of(scenario.ledger, "TJ-1", known_at=datetime(2025, 3, 31, 16, 0, tzinfo=timezone.utc))) == ("removed", "removed")


def test_as_effective_the_removal_dates_from_the_third_complaint(scenario):
    _tianjin_backdated(scenario)
    on_2 = standing_as_of(scenario.ledger, "TJ-1", effective_at=date(2025, 3, 2))
    assert _status(on_2) == ("in_pool", "in_pool")
    assert on_2["counters"]["verified_complaints"]["count"] == 2
    on_3 = standing_as_of(scenario.ledger, "TJ-1", effective_at=date(2025, 3, 3))
    assert _status(on_3) == ("removed", "removed")


def test_skipped_events_leave_holes_in_the_versions(scenario):
    """Effective on 03-04: the score (effective 03-05, version 5) is left out, the later facts are applied."""
    _tianjin_backdated(scenario)
    folded = fold_as_of(provider_events(scenario.ledger, "TJ-1"), effective_at=date(2025, 3, 4))
    provider = folded.provider
    assert provider.status == "removed"
    assert [ref.rsplit("/", 1)[1] for ref in folded.excluded] == ["5"]
    assert folded.skipped == []
    assert provider.version == scenario.provider("TJ-1").version
    assert sorted(provider.facts) == sorted(f for f in scenario.provider("TJ-1").facts if not f.endswith("/5"))
    s = standing_as_of(scenario.ledger, "TJ-1", effective_at=date(2025, 3, 4))
    assert s["grades"]["scores"] == []
    # the refs computed while folding are the events' real refs
    [removal] = s["sanctions"]
    assert removal["ref"] == scenario.sanctions("TJ-1")[0]["ref"]
    assert removal["evidence"] == scenario.sanctions("TJ-1")[0]["evidence"]


def test_both_axes_what_we_knew_on_one_day_about_another(scenario):
    _tianjin_backdated(scenario)
    ledger = scenario.ledger
    assert _status(standing_as_of(ledger, "TJ-1", known_at=date(2025, 6, 1), effective_at=date(2025, 3, 2))) == ("in_pool", "in_pool")
    assert _status(standing_as_of(ledger, "TJ-1", known_at=date(2025, 6, 1), effective_at=date(2025, 3, 20))) == ("removed", "removed")
    assert _status(standing_as_of(ledger, "TJ-1", known_at=date(2025, 3, 31), effective_at=date(2025, 3, 20))) == ("in_pool", "in_pool")
    known = standing_as_of(ledger, "TJ-1", known_at=date(2025, 3, 31), effective_at=date(2025, 3, 4))
    assert known["grades"]["scores"] == []  # the score took effect on 03-05
    assert known["as_of"] == {"known_at": "2025-03-31T15:59:59.999999+00:00", "effective_at": "2025-03-04"}


def test_before_the_application_there_is_no_provider(scenario):
    _tianjin_backdated(scenario)
    assert standing_as_of(scenario.ledger, "TJ-1", effective_at=date(2025, 2, 20)) is None
    assert standing_as_of(scenario.ledger, "TJ-1", known_at=date(2025, 2, 27)) is None
    assert standing_as_of(scenario.ledger, "nobody") is None


def test_the_registry_on_both_axes_through_an_appeal(scenario):
    """唐山: blacklisted on 03-10, reinstated by an upheld appeal on 03-20; a Tianjin removal besides."""
    _tianjin_backdated(scenario)  # the clock is now 04-01
    scenario.admit("TS-1", "tangshan")
    scenario.on(date(2025, 4, 10))
    ratings = [scenario.unsatisfied("TS-1", f"E-{i}") for i in (1, 2)]
    scenario.on(date(2025, 4, 20))
    scenario.appeal("TS-1", "第十六条（二）", ratings[0].source)

    def registry(**window):
        return {r["provider_id"]: r["standing"] for r in registry_as_of(scenario.ledger, **window)}

    assert registry(known_at=date(2025, 3, 31)) == {"TJ-1": "in_pool"}
    assert registry(known_at=date(2025, 4, 15)) == {"TJ-1": "removed", "TS-1": "blacklisted"}
    assert registry(effective_at=date(2025, 4, 15)) == {"TJ-1": "removed", "TS-1": "blacklisted"}
    assert registry() == registry(effective_at=date(2025, 4, 20)) == {"TJ-1": "removed", "TS-1": "reinstated"}
    assert registry(known_at=date(2025, 4, 20), effective_at=date(2025, 3, 2)) == {"TJ-1": "in_pool"}
    assert [r["provider_id"] for r in registry_as_of(scenario.ledger, jurisdiction="tangshan")] == ["TS-1"]
    reinstated = standing_as_of(scenario.ledger, "TS-1", effective_at=date(2025, 4, 20))
    assert reinstated["counters"]["unsatisfied_ratings"]["occurrences"] == 1


def test_a_completion_before_its_order_is_refused(scenario):
    scenario.admit("TS-1", "tangshan")
    scenario.on(date(2025, 3, 10))
    order = scenario.finding("TS-1", "第十二条（一）")
    with pytest.raises(DomainError, match=rf"^effective_on 2025-03-05 is before {order} took effect \(2025-03-10\)$"):
        scenario.run(m.CompleteRectification, provider_id="TS-1", sanction_ref=order, effective_on=date(2025, 3, 5))


def test_an_event_that_depends_on_one_outside_the_window_is_skipped(scenario, monkeypatch):
    """A completion back-dated before its order took effect (as a ledger recorded before effective
    dates were bounded may hold): at a date between them, the order is not in effect, so the
    completion has nothing to complete and is reported as skipped."""
    from ledger.commands import handlers

    monkeypatch.setattr(handlers, "_order_day", lambda ctx, c, provider: c.effective_on)
    scenario.admit("TS-1", "tangshan")
    scenario.on(date(2025, 3, 10))
    order = scenario.finding("TS-1", "第十二条（一）")
    scenario.run(m.CompleteRectification, provider_id="TS-1", sanction_ref=order, effective_on=date(2025, 3, 5))
    folded = fold_as_of(provider_events(scenario.ledger, "TS-1"), effective_at=date(2025, 3, 7))
    assert folded.provider.status == "in_pool"
    assert folded.provider.sanctions == {}
    assert [s["ref"] for s in folded.skipped] == [f"{order.rsplit('/', 1)[0]}/{int(order.rsplit('/', 1)[1]) + 1}"]
    later = standing_as_of(scenario.ledger, "TS-1", effective_at=date(2025, 3, 10))
    assert [s["state"] for s in later["sanctions"]] == ["completed"]
    assert later["skipped"] == []
    assert standing_as_of(scenario.ledger, "TS-1", effective_at=date(2025, 3, 10) - timedelta(days=3))["skipped"]


@pytest.mark.parametrize("day, since", [(date(2025, 3, 11), None), (date(2025, 3, 12), "2025-03-12"), (date(2025, 3, 25), "2025-03-12"), (date(2025, 4, 30), "2025-03-12"), (date(2025, 5, 1), "2025-03-20")])
def test_a_replacement_removal_does_not_move_the_day_the_provider_left_the_pool(scenario, day, since):
    """唐山 第十三条（二）: 不满意 on 3-10 and 3-12 blacklist from 3-12, a third on 3-20; an appeal upheld on
    5-01 voids the first, and the ratings of 3-12 and 3-20 blacklist in its place, from 3-20. As in
    effect on any day from 3-12 to 4-30 the provider was blacklisted since 3-12 (the first blacklisting
    still stood); from 5-01, since 3-20."""
    scenario.admit("TS-1", "tangshan")
    scenario.on(date(2025, 3, 20))
    projects = [scenario.project("TS-1", f"E-{i}", on=date(2025, 3, 5)) for i in (1, 2, 3)]
    ratings = [scenario.rate(p, "TS-1", on=date(2025, 3, d)) for p, d in zip(projects, (10, 12, 20), strict=True)]
    scenario.on(date(2025, 5, 10))
    scenario.appeal("TS-1", "第十六条（二）", ratings[0].source, on=date(2025, 5, 1))
    standing = standing_as_of(scenario.ledger, "TS-1", effective_at=day)
    assert (standing["status"], standing["status_since"]) == (("in_pool", "2025-03-01") if since is None else ("blacklisted", since))
