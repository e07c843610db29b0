"""What-if for an appeal: the standing if named evidence were voided, computed in memory, nothing written."""
from __future__ import annotations

import pytest

from ledger.aggregates import DomainError
from ledger.projections.whatif import what_if
from ledger.standing import standing
from tests.integration.projection_support import (
    tangshan_blacklisted_by_two_ratings,
    tianjin_removed_by_three_complaints,
)


def test_voiding_one_verified_complaint_would_rescind_the_tianjin_removal_and_writes_nothing(scenario, projected, models):
    noted = tianjin_removed_by_three_complaints(scenario)
    [removal] = scenario.sanctions("TJ-1")
    store = scenario.ledger.store
    top, read_models, before = store.max_position(), models.dump(), standing(scenario.provider("TJ-1"))

    result = what_if(scenario.ledger, "TJ-1", [noted[1].source])  # the complaint's Verified event
    assert result.voided == [noted[1].fact]
    assert (result.status_before, result.status_after) == ("removed", "reinstated")
    assert (result.standing_before, result.standing_after) == ("removed", "reinstated")
    assert [(s["ref"], s["article"]) for s in result.would_rescind] == [(removal["ref"], "天津 第十二条（四）")]
    assert result.would_impose == [] and result.would_reinstate is True
    assert result.counters_changed == {"verified_complaints": (3, 2)}
    assert result.events == ["provider.evidence-voided.v1", "provider.sanction-rescinded.v1", "provider.reinstated.v1"]
    assert "would rescind" in result.render() and "nothing was recorded" in result.render()

    assert store.max_position() == top  # nothing written
    assert standing(scenario.provider("TJ-1")) == before
    assert models.dump() == read_models


def test_the_what_if_foretells_what_the_upheld_appeal_then_does(scenario):
    ratings = tangshan_blacklisted_by_two_ratings(scenario)
    result = what_if(scenario.ledger, "TS-1", [ratings[0].fact])
    assert (result.standing_before, result.standing_after) == ("blacklisted", "reinstated")
    assert [s["article"] for s in result.would_rescind] == ["唐山 第十三条（二）"]
    assert result.counters_changed == {"unsatisfied_occurrences": (2, 1), "unsatisfied_enterprises": (2, 1)}

    appeal = scenario.appeal("TS-1", "第十六条（二）", ratings[0].fact)
    assert appeal.events[1:] == result.events
    after = standing(scenario.provider("TS-1"))
    assert {k: v for k, v in after.items() if k not in ("voided", "version")} == {
        k: v for k, v in result.after.items() if k not in ("voided", "version")
    }


def test_a_sanction_that_other_evidence_still_supports_is_rederived(scenario):
    """唐山: three 不满意 (the third after the blacklisting); voiding the first rescinds the
    blacklisting citing ratings 1-2 and derives it again from ratings 2-3: still blacklisted."""
    scenario.admit("TS-1", "tangshan")
    projects = [scenario.project("TS-1", f"E-{i}") for i in (1, 2, 3)]
    ratings = [scenario.rate(project_id, "TS-1") for project_id in projects]
    [blacklisting] = scenario.sanctions("TS-1")
    assert blacklisting["evidence"] == [ratings[0].fact, ratings[1].fact]

    result = what_if(scenario.ledger, "TS-1", [ratings[0].source])
    assert (result.standing_before, result.standing_after) == ("blacklisted", "blacklisted")
    assert [s["ref"] for s in result.would_rescind] == [blacklisting["ref"]]
    [again] = result.would_impose
    assert (again["article"], again["evidence"]) == ("唐山 第十三条（二）", [ratings[1].fact, ratings[2].fact])
    assert result.counters_changed == {"unsatisfied_occurrences": (3, 2), "unsatisfied_enterprises": (3, 2)}
    assert scenario.sanctions("TS-1") == [blacklisting]  # nothing happened


def test_what_if_names_must_be_evidence_of_the_provider(scenario):
    noted = tianjin_removed_by_three_complaints(scenario)
    scenario.admit("TJ-2", "tianjin")
    with pytest.raises(DomainError, match="is not evidence or a sanction"):
        what_if(scenario.ledger, "TJ-2", [noted[0].fact])
    result = what_if(scenario.ledger, "TJ-1", [])
    assert result.standing_before == result.standing_after == "removed"
    assert result.would_rescind == [] and result.counters_changed == {}
