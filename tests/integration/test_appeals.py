"""Appeals (申诉): an upheld appeal voids evidence; what no longer holds is rescinded by new events."""
from __future__ import annotations

from datetime import timedelta

import pytest

from ledger.aggregates import DomainError
from ledger.commands import models as m
from ledger.rules.base import FINDING
from ledger.standing import standing
from ledger.wire import decode_state, event_type


def _blacklisted_by_two_ratings(scenario):
    scenario.admit("TS-1", "tangshan")
    ratings = [scenario.unsatisfied("TS-1", f"E-{i}") for i in (1, 2)]
    [blacklisting] = scenario.sanctions("TS-1")
    assert scenario.provider("TS-1").status == "blacklisted"
    return ratings, blacklisting


@pytest.mark.parametrize("name", ["source", "fact"])
def test_an_upheld_appeal_against_a_rating_rescinds_the_blacklisting(scenario, name):
    """唐山 第十六条（二）服务商对企业满意度评价结果为“不满意”，提出异议的 — naming the project's
    SatisfactionRated event or the fact it put on the provider's record."""
    ratings, blacklisting = _blacklisted_by_two_ratings(scenario)
    result = scenario.appeal("TS-1", "第十六条（二）", getattr(ratings[0], name))

    assert result.events == ["appeal.decided.v1", "provider.evidence-voided.v1", "provider.sanction-rescinded.v1", "provider.reinstated.v1"]
    provider = scenario.provider("TS-1")
    assert (provider.status, provider.status_since) == ("reinstated", scenario.today)
    assert provider.sanctions[blacklisting["ref"]]["rescinded_on"] == scenario.today
    assert scenario.sanctions("TS-1") == []
    appeal_ref = next(iter(provider.voided.values()))
    assert provider.voided == {ratings[0].fact: appeal_ref}
    assert standing(provider)["counters"]["unsatisfied_ratings"]["occurrences"] == 1

    rescinded, reinstated = _provider_events(scenario, result)[-2:]
    assert (rescinded["sanction_ref"], rescinded["appeal_ref"]) == (blacklisting["ref"], appeal_ref)
    assert reinstated["rescinded"] == [blacklisting["ref"]]


def test_a_dismissed_appeal_changes_nothing(scenario):
    ratings, blacklisting = _blacklisted_by_two_ratings(scenario)
    result = scenario.appeal("TS-1", "第十六条（二）", ratings[0].source, upheld=False)

    assert result.events == ["appeal.decided.v1"]
    assert scenario.provider("TS-1").status == "blacklisted"
    assert scenario.provider("TS-1").voided == {}
    assert scenario.sanctions("TS-1") == [blacklisting]


def test_voiding_a_rating_cascades_through_the_warning_to_the_disqualification(scenario):
    """新乡 第十七条（二）: the 不满意 goes, so does the 第十五条（四） warning derived from it, and
    the 第十六条（一） disqualification that counted that warning."""
    scenario.admit("XX-1", "xinxiang")
    ratings = [scenario.unsatisfied("XX-1", f"E-{i}") for i in (1, 2)]
    first_warning, second_warning, disqualification = scenario.sanctions("XX-1")
    assert disqualification["evidence"] == [first_warning["ref"], second_warning["ref"]]
    assert scenario.provider("XX-1").status == "disqualified"

    result = scenario.appeal("XX-1", "第十七条（二）", ratings[0].source)

    assert result.events == [
        "appeal.decided.v1",
        "provider.evidence-voided.v1",
        "provider.sanction-rescinded.v1",
        "provider.sanction-rescinded.v1",
        "provider.reinstated.v1",
    ]
    assert [e["sanction_ref"] for e in _provider_events(scenario, result)[1:3]] == [first_warning["ref"], disqualification["ref"]]
    assert scenario.sanctions("XX-1") == [second_warning]
    assert standing(scenario.provider("XX-1"))["standing"] == "warned"
    assert scenario.provider("XX-1").status == "reinstated"


def test_voiding_a_rectification_order_voids_its_refusal_and_the_blacklisting(scenario):
    """唐山 第十六条（一）试点企业恶意拖延: the order goes, and with it the refusal that blacklisted."""
    scenario.admit("TS-1", "tangshan")
    order = scenario.finding("TS-1", "第十二条（二）", deadline_days=10)
    scenario.passed_deadlines(scenario.today + timedelta(days=11))
    assert scenario.provider("TS-1").status == "in_pool"  # overdue, not refused
    scenario.run(m.RecordRectificationRefusal, provider_id="TS-1", sanction_ref=order)
    assert scenario.provider("TS-1").status == "blacklisted"

    scenario.appeal("TS-1", "第十六条（一）", order)
    assert scenario.sanctions("TS-1") == []
    assert scenario.provider("TS-1").status == "reinstated"


def test_an_appeal_against_the_blacklisting_itself_is_not_rederived_from_the_same_evidence(scenario):
    """唐山 第十六条（三）被清退、纳入黑名单认定理由存在异议的."""
    scenario.admit("TS-1", "tangshan")
    projects = [scenario.project("TS-1", f"E-{i}") for i in range(1, 5)]
    first, second = (scenario.rate(p, "TS-1") for p in projects[:2])
    [blacklisting] = scenario.sanctions("TS-1")

    result = scenario.appeal("TS-1", "第十六条（三）", blacklisting["ref"])
    assert result.events == ["appeal.decided.v1", "provider.evidence-voided.v1", "provider.sanction-rescinded.v1", "provider.reinstated.v1"]
    assert scenario.provider("TS-1").status == "reinstated"
    assert scenario.sanctions("TS-1") == []

    # the two ratings stay on record, but may not blacklist again: a third alone is not two
    third = scenario.rate(projects[2], "TS-1")
    assert scenario.sanctions("TS-1") == []
    assert standing(scenario.provider("TS-1"))["counters"]["unsatisfied_ratings"]["occurrences"] == 3
    fourth = scenario.rate(projects[3], "TS-1")
    [again] = scenario.sanctions("TS-1")
    assert (again["citation"]["article"], again["evidence"]) == ("第十三条（二）", [third.fact, fourth.fact])
    assert {first.fact, second.fact}.isdisjoint(again["evidence"])


def test_a_sanction_is_rederived_from_the_evidence_that_remains(scenario):
    """Voiding one of three ratings: the other two still reach 第十三条（二）'s two."""
    scenario.admit("TS-1", "tangshan")
    projects = [scenario.project("TS-1", f"E-{i}") for i in (1, 2, 3)]
    ratings = [scenario.rate(p, "TS-1") for p in projects]
    [blacklisting] = scenario.sanctions("TS-1")
    assert blacklisting["evidence"] == [ratings[0].fact, ratings[1].fact]

    result = scenario.appeal("TS-1", "第十六条（二）", ratings[0].source)
    # the remaining evidence still blacklists: no reinstatement that never took effect
    assert "provider.reinstated.v1" not in result.events
    assert result.events[-2:] == ["provider.sanction-rescinded.v1", "provider.sanction-imposed.v1"]

    provider = scenario.provider("TS-1")
    assert provider.sanctions[blacklisting["ref"]]["rescinded_on"] == scenario.today
    [again] = scenario.sanctions("TS-1")
    assert (again["citation"]["article"], again["evidence"]) == ("第十三条（二）", [ratings[1].fact, ratings[2].fact])
    assert again["params"] == {"unsatisfied_ratings": 2}
    assert provider.status == "blacklisted"


def test_tianjin_provides_no_grounds_of_appeal(scenario):
    scenario.admit("TJ-1", "tianjin")
    complaints = [scenario.verified_complaint("TJ-1") for _ in range(3)]
    recorded = scenario.ledger.store.max_position()
    with pytest.raises(DomainError, match=r"^天津: the rulebook \(天津市制造业数字化转型服务商管理规范（试行）\) provides no grounds of appeal$"):
        scenario.appeal("TJ-1", "第十二条（四）", complaints[0].source)
    assert scenario.ledger.store.max_position() == recorded
    assert scenario.provider("TJ-1").status == "removed"


@pytest.mark.parametrize(
    "ground, target, error",
    [
        ("第十六条（二）", "order", r"is a rectification_order; this ground of appeal concerns unsatisfied_rating$"),
        ("第十六条（三）", "rating", r"is a unsatisfied_rating; this ground of appeal concerns blacklisting$"),
        ("第十六条（一）", "rating", r"this ground of appeal concerns rectification_order, rectification_overdue, rectification_refused$"),
        ("第十七条（二）", "rating", r"^唐山 allows appeals on 第十六条（一）, 第十六条（二）, 第十六条（三）, 第十六条（四）, not '第十七条（二）'$"),
        ("第十六条（二）", "elsewhere", r"is not evidence or a sanction in provider TS-1's record$"),
    ],
)
def test_the_ground_must_fit_what_the_appeal_names(scenario, ground, target, error):
    scenario.admit("TS-1", "tangshan")
    scenario.admit("TS-2", "tangshan")
    refs = {
        "order": scenario.finding("TS-1", "第十二条（二）"),
        "rating": scenario.unsatisfied("TS-1", "E-1").source,
        "elsewhere": scenario.unsatisfied("TS-2", "E-2").source,
    }
    recorded = scenario.ledger.store.max_position()
    with pytest.raises(DomainError, match=error):
        scenario.appeal("TS-1", ground, refs[target])
    assert scenario.ledger.store.max_position() == recorded


def test_the_other_ground_may_name_anything_but_not_twice(scenario):
    """唐山 第十六条（四）其他情况."""
    ratings, _ = _blacklisted_by_two_ratings(scenario)
    scenario.appeal("TS-1", "第十六条（四）", ratings[1].fact)
    assert scenario.provider("TS-1").status == "reinstated"
    with pytest.raises(DomainError, match="was already voided by appeal"):
        scenario.appeal("TS-1", "第十六条（二）", ratings[1].source)


def test_voiding_a_finding_rescinds_the_sanction_it_applied(scenario):
    """唐山 第十六条（四）其他情况 may name the regulator's finding itself (here 第十三条（四） leaked secrets)."""
    scenario.admit("TS-1", "tangshan")
    blacklisting = scenario.finding("TS-1", "第十三条（四）")
    [finding] = scenario.provider("TS-1").live_facts(FINDING)
    assert scenario.provider("TS-1").status == "blacklisted"

    result = scenario.appeal("TS-1", "第十六条（四）", finding.ref)

    assert result.events == ["appeal.decided.v1", "provider.evidence-voided.v1", "provider.sanction-rescinded.v1", "provider.reinstated.v1"]
    assert _provider_events(scenario, result)[1]["sanction_ref"] == blacklisting
    assert scenario.sanctions("TS-1") == []
    assert scenario.provider("TS-1").status == "reinstated"


def test_an_appeal_is_decided_once(scenario):
    ratings, _ = _blacklisted_by_two_ratings(scenario)
    scenario.run(
        m.FileAppeal, appeal_id="A-1", provider_id="TS-1", ground="第十六条（二）", evidence_refs=[ratings[0].source],
        matter="不满意", reasons="the enterprise rated another provider", purpose="void the rating",
    )  # fmt: skip
    scenario.run(m.DecideAppeal, appeal_id="A-1", upheld=False)
    with pytest.raises(DomainError, match="appeal A-1 was already dismissed"):
        scenario.run(m.DecideAppeal, appeal_id="A-1", upheld=True)
    assert scenario.provider("TS-1").status == "blacklisted"


def _provider_events(scenario, result) -> list[dict]:
    """The provider events a command recorded, decoded, with their names."""
    events = list(scenario.ledger.store.read_all(after=min(result.positions) - 1, limit=len(result.positions)))
    return [dict(decode_state(e), event=event_type(e)) for e in events if event_type(e).startswith("provider.")]


@pytest.mark.parametrize(
    "blank, missing",
    [
        ((), None),
        (("matter",), "matter"),
        (("reasons", "purpose"), "reasons, purpose"),
        (("supporting_evidence",), "supporting_evidence"),
    ],
)
def test_a_xinxiang_appeal_states_its_matter_reasons_and_purpose_with_evidence(scenario, blank, missing):
    """新乡 第十七条 "申诉材料应写明申诉的事项、理由和目的，并提供必要的、真实的佐证材料"."""
    scenario.admit("XX-1", "xinxiang")
    rating = scenario.unsatisfied("XX-1", "E-1")
    fields = {"matter": "对“不满意”评价提出异议", "reasons": "评价表由非项目负责人填写", "purpose": "撤销该评价", "supporting_evidence": ["企业书面说明"]}
    fields.update({name: [" "] if name == "supporting_evidence" else "  " for name in blank})
    appeal = scenario.command(m.FileAppeal, appeal_id="A-1", provider_id="XX-1", ground="第十七条（二）", evidence_refs=[rating.source], **fields)
    if missing is None:
        scenario.ledger.execute(appeal)
    else:
        with pytest.raises(DomainError, match=rf"^新乡 第十七条: 申诉材料应写明申诉的事项、理由和目的，并提供必要的、真实的佐证材料 — missing {missing}$"):
            scenario.ledger.execute(appeal)


def test_a_tangshan_appeal_needs_no_such_statement(scenario):
    """唐山 第十六条 names the grounds only."""
    ratings, _ = _blacklisted_by_two_ratings(scenario)
    scenario.run(m.FileAppeal, appeal_id="A-1", provider_id="TS-1", ground="第十六条（二）", evidence_refs=[ratings[0].source], matter="", reasons="", purpose="")
