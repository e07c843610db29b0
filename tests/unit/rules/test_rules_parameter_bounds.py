"""A regulator's parameters may not contradict the rulebook (SetRulebookParameters, from the API,
the CLI or an import alike: the parameter models refuse them, naming ``params.<field>``).

Counted thresholds are at least 1; periods in days at least 1; 天津's score bands lie within
0..100 and are strictly ordered (A > B > C); a floor or a cap the text states is never crossed:
天津 第十条 "公示期不少于7天", 唐山 第十二条 / 柳州 第十二条 "整改期限一般不超过30日",
省指南 二（一）4 "至少在省内三家及以上企业得到应用"."""
from __future__ import annotations

from datetime import date

import pytest

from ledger.aggregates import DomainError
from ledger.commands import models as m


def _set(scenario, jurisdiction, **params):
    scenario.on(date(2025, 6, 20))
    scenario.run(m.SetRulebookParameters, jurisdiction=jurisdiction, params=params, reference="the bureau's notice")


def _refused(scenario, jurisdiction, field, **params):
    with pytest.raises(DomainError) as refused:
        _set(scenario, jurisdiction, **params)
    assert refused.value.field == f"params.{field}", str(refused.value)
    assert str(refused.value).startswith(f"params.{field}: ")
    assert "\n" not in str(refused.value)
    return str(refused.value)


@pytest.mark.parametrize("days, refused", [(-1, True), (0, True), (6, True), (7, False), (8, False)])
def test_tianjin_notice_period_never_below_the_articles_seven_days(scenario, days, refused):
    """天津 第十条 公示期不少于7天: 7 or longer; 6 days is refused."""
    if refused:
        message = _refused(scenario, "tianjin", "min_notice_days", min_notice_days=days)
        assert "第十条" in message
    else:
        _set(scenario, "tianjin", min_notice_days=days)
        assert scenario.ledger.pack("tianjin").params.min_notice_days == days


@pytest.mark.parametrize(
    "jurisdiction, field",
    [
        ("tianjin", "verified_complaints"),
        ("xinxiang", "warnings_for_disqualification"),
        ("province", "consecutive_unqualified_years"),
        ("tangshan", "rectification_orders"),
        ("tangshan", "unsatisfied_ratings"),
        ("liuzhou", "unsatisfied_enterprises_for_rectification"),
        ("liuzhou", "unsatisfied_enterprises_for_gray_list"),
        ("liuzhou", "rectification_orders"),
    ],
)
@pytest.mark.parametrize("value, refused", [(-1, True), (0, True), (1, False), (2, False)])
def test_counted_thresholds_are_at_least_one(scenario, jurisdiction, field, value, refused):
    if refused:
        _refused(scenario, jurisdiction, field, **{field: value})
    else:
        _set(scenario, jurisdiction, **{field: value})
        assert getattr(scenario.ledger.pack(jurisdiction).params, field) == value


@pytest.mark.parametrize("jurisdiction", ["tangshan", "liuzhou"])
@pytest.mark.parametrize("days, refused", [(0, True), (1, False), (29, False), (30, False), (31, True)])
def test_the_rectification_cap_stays_within_the_articles_thirty_days(scenario, jurisdiction, days, refused):
    """唐山/柳州 第十二条 整改期限一般不超过30日: the bureau may shorten the cap, not lengthen it."""
    if refused:
        _refused(scenario, jurisdiction, "max_rectification_days", max_rectification_days=days)
    else:
        _set(scenario, jurisdiction, max_rectification_days=days)
        assert scenario.ledger.pack(jurisdiction).params.max_rectification_days == days


@pytest.mark.parametrize("days, refused", [(0, True), (1, False), (30, False), (31, True)])
def test_liuzhous_standing_period_is_named_when_over_the_cap(scenario, days, refused):
    if refused:
        _refused(scenario, "liuzhou", "rectification_days", rectification_days=days)
    else:
        _set(scenario, "liuzhou", rectification_days=days)


@pytest.mark.parametrize("days, refused", [(0, True), (1, False), (365, False), (366, True)])
def test_xinxiangs_warning_period_is_at_least_a_day(scenario, days, refused):
    if refused:
        _refused(scenario, "xinxiang", "warning_rectification_days", warning_rectification_days=days)
    else:
        _set(scenario, "xinxiang", warning_rectification_days=days)


@pytest.mark.parametrize("enterprises, refused", [(2, True), (3, False), (4, False)])
def test_province_smart_equipment_floor_of_three_enterprises(scenario, enterprises, refused):
    """省指南 二（一）4 至少在省内三家及以上企业得到应用: at least three."""
    if refused:
        _refused(scenario, "province", "smart_equipment_min_enterprises", smart_equipment_min_enterprises=enterprises)
    else:
        _set(scenario, "province", smart_equipment_min_enterprises=enterprises)


@pytest.mark.parametrize("jurisdiction", ["tangshan", "liuzhou"])
@pytest.mark.parametrize("level, refused", [(0, True), (1, False), (4, False), (5, True)])
def test_target_level_is_one_of_the_four_levels(scenario, jurisdiction, level, refused):
    if refused:
        _refused(scenario, jurisdiction, "target_level", target_level=level)
    else:
        _set(scenario, jurisdiction, target_level=level)


@pytest.mark.parametrize(
    "params, field",
    [
        ({"grade_a_min": 10, "grade_b_min": 90, "grade_c_min": 200}, "grade_b_min"),  # inverted, out of range
        ({"grade_c_min": 200}, "grade_c_min"),
        ({"grade_c_min": -1}, "grade_c_min"),
        ({"grade_a_min": 101}, "grade_a_min"),
        ({"grade_b_min": 80}, "grade_b_min"),  # a = b
        ({"grade_c_min": 70}, "grade_c_min"),  # b = c
        ({"grade_b_min": 85}, "grade_b_min"),  # b above a
        ({"grade_a_min": 70}, "grade_b_min"),  # a lowered onto b: b is no longer below it
    ],
)
def test_tianjin_grade_bands_within_0_100_and_strictly_ordered(scenario, params, field):
    _refused(scenario, "tianjin", field, **params)
    assert scenario.ledger.pack("tianjin").params.grade_a_min == 80


@pytest.mark.parametrize("params", [{"grade_b_min": 79}, {"grade_a_min": 81}, {"grade_c_min": 69}, {"grade_a_min": 100, "grade_b_min": 1, "grade_c_min": 0}])
def test_tianjin_grade_bands_just_inside_are_accepted(scenario, params):
    _set(scenario, "tianjin", **params)
    for name, value in params.items():
        assert getattr(scenario.ledger.pack("tianjin").params, name) == value
