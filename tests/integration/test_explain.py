"""Explain a sanction: article, parameters, evidence and the chain of causation down to the original facts."""
from __future__ import annotations

from datetime import timedelta

import pytest

from ledger.aggregates import Project
from ledger.commands import models as m
from ledger.projections.explain import ExplainError, explain, explain_removal
from tests.integration.projection_support import tianjin_removed_by_three_complaints


def _events(explanation, name):
    return [n for n in explanation.root.walk() if n.event_name == name and n.kind == "event"]


def test_a_tianjin_removal_is_explained_by_the_three_verified_complaints(scenario):
    noted = tianjin_removed_by_three_complaints(scenario)
    [removal] = scenario.sanctions("TJ-1")
    explanation = explain_removal(scenario.ledger, "TJ-1")
    root = explanation.root

    assert root.ref == removal["ref"] and root.kind == "sanction"
    assert root.details["article"] == "天津 第十二条（四）"
    assert root.details["text"] == "被企业或其他服务商投诉3次或以上并核实确认属实的"
    assert root.details["pack_version"] == "tianjin-2023.1"
    assert root.details["params"] == {"verified_complaints": 3}
    assert root.details["derived"] is True and root.details["removes"] is True
    assert root.event_name == "provider.sanction-imposed.v1" and root.recorded_by == "system"
    assert [c.ref for c in root.children] == [n.fact for n in noted]
    assert all(c.kind == "fact" and c.details["kind"] == "complaint_verified" for c in root.children)
    assert [n.ref for n in _events(explanation, "complaint.verified.v1")] == [n.source for n in noted]
    assert len(_events(explanation, "complaint.filed.v2")) == 3  # the complaints as filed, behind each verification
    assert explanation.tainted == []

    text = explanation.render()
    assert "天津 第十二条（四）" in text and "verified_complaints=3" in text
    assert text.count("complaint.verified.v1: verified as true") == 3
    assert explanation.to_dict()["root"]["ref"] == removal["ref"]


def test_a_cascade_shows_what_an_upheld_appeal_voided_and_rescinded(scenario):
    """新乡: disqualification (第十六条（一）) <- two warnings (第十五条（四）) <- two 不满意 ratings."""
    scenario.admit("XX-1", "xinxiang")
    ratings = [scenario.unsatisfied("XX-1", f"E-{i}") for i in (1, 2)]
    first, second, disqualification = scenario.sanctions("XX-1")
    scenario.appeal("XX-1", "第十七条（二）", ratings[0].source)

    explanation = explain(scenario.ledger, disqualification["ref"])
    root = explanation.root
    assert root.details["article"] == "新乡 第十六条（一）"
    assert root.details["params"] == {"warnings_for_disqualification": 2}
    assert [c.ref for c in root.children] == [first["ref"], second["ref"]]
    warning = root.children[0]
    assert warning.kind == "sanction" and warning.details["article"] == "新乡 第十五条（四）"
    [fact] = warning.children
    assert fact.ref == ratings[0].fact
    [rated] = fact.children
    assert (rated.ref, rated.event_name) == (ratings[0].source, "project.satisfaction-rated.v1")

    assert fact.voided["appeal_id"].startswith("A-") and fact.voided["ground"] == "第十七条（二）"
    assert fact.voided["upheld"] is True
    assert warning.rescinded["appeal_id"] == fact.voided["appeal_id"]
    assert root.rescinded["appeal_ref"] == fact.voided["appeal_ref"]
    assert root.details["state"] == "rescinded"
    assert root.children[1].rescinded is None and root.children[1].voided is None
    assert {n.ref for n in explanation.tainted} == {disqualification["ref"], first["ref"], ratings[0].fact}
    text = explanation.render()
    assert "VOIDED by appeal" in text and "RESCINDED on" in text


def test_an_overdue_rectification_leads_back_to_the_order_and_the_finding(scenario):
    """柳州 第十四条（四）: gray-listed for not rectifying on time <- overdue fact <- order <- finding."""
    scenario.admit("LZ-1", "liuzhou")
    order = scenario.finding("LZ-1", "第十二条（二）", deadline_days=5)
    scenario.passed_deadlines(scenario.today + timedelta(days=6))
    explanation = explain_removal(scenario.ledger, "LZ-1")
    root = explanation.root
    assert root.details["article"] == "柳州 第十四条（四）" and root.details["rule_id"] == "liuzhou.14.4.refused_or_late"
    [overdue] = root.children
    assert overdue.details["kind"] == "rectification_overdue"
    [order_node] = overdue.children
    assert order_node.ref == order and order_node.details["derived"] is False
    [finding] = order_node.children
    assert finding.details["kind"] == "finding" and finding.details["data"]["article"] == "第十二条（二）"


def test_a_finding_lists_the_events_it_relied_on(scenario):
    scenario.admit("LZ-1", "liuzhou")
    project_id = scenario.project("LZ-1", "E-1")
    contract = f"{scenario.ledger.load(Project, project_id).id}/1"
    scenario.run(m.RecordFinding, provider_id="LZ-1", article="第十四条（三）", summary="forged results", evidence=[contract])
    explanation = explain_removal(scenario.ledger, "LZ-1")
    assert explanation.root.details["article"] == "柳州 第十四条（三）"
    [finding] = explanation.root.children
    [relied_on] = finding.children
    assert (relied_on.ref, relied_on.event_name) == (contract, "project.registered.v1")


def test_explaining_a_rescission_explains_the_sanction_it_undid(scenario):
    scenario.admit("TS-1", "tangshan")
    ratings = [scenario.unsatisfied("TS-1", f"E-{i}") for i in (1, 2)]
    [blacklisting] = scenario.sanctions("TS-1")
    result = scenario.appeal("TS-1", "第十六条（二）", ratings[1].source)
    provider = scenario.provider("TS-1")
    rescission = f"{provider.id}/{provider.version - 1}"
    assert explain(scenario.ledger, rescission).root.ref == blacklisting["ref"]
    reinstated = explain(scenario.ledger, f"{provider.id}/{provider.version}")
    assert reinstated.root.event_name == "provider.reinstated.v1"
    assert [c.ref for c in reinstated.root.children] == [blacklisting["ref"]]
    assert result.events[-1] == "provider.reinstated.v1"


def test_what_cannot_be_explained(scenario):
    noted = tianjin_removed_by_three_complaints(scenario)
    with pytest.raises(ExplainError, match="not an event reference"):
        explain(scenario.ledger, "nonsense")
    with pytest.raises(ExplainError, match="is not a sanction"):
        explain(scenario.ledger, noted[0].fact)
    with pytest.raises(ExplainError, match="not an event of a provider"):
        explain(scenario.ledger, noted[0].source)
    scenario.admit("TJ-2", "tianjin")
    with pytest.raises(ExplainError, match="never been removed"):
        explain_removal(scenario.ledger, "TJ-2")


@pytest.mark.parametrize("jurisdiction, explained", [("tianjin", True), ("tangshan", False)])
def test_a_voluntary_exit_the_text_lists_with_the_removals_is_explained(scenario, jurisdiction, explained):
    """天津 第十二条（八） 主动退出资源池的 lists the exit with the removals (and the lists announce it), so
    `explain` answers with the exit and its article; 唐山 names no exit: nothing was removed."""
    provider_id = {"tianjin": "TJ-2", "tangshan": "TS-2"}[jurisdiction]
    scenario.admit(provider_id, jurisdiction)
    scenario.run(m.WithdrawFromPool, provider_id=provider_id, reason="moving on")
    if not explained:
        with pytest.raises(ExplainError, match="never been removed"):
            explain_removal(scenario.ledger, provider_id)
        return
    root = explain_removal(scenario.ledger, provider_id).root
    assert (root.kind, root.event_name, root.details["article"]) == ("event", "provider.exited.v1", "天津 第十二条（八）")
    assert "主动退出资源池的" in root.details["text"] and "天津 第十二条（八）" in root.title
    assert explain(scenario.ledger, root.ref).root.ref == root.ref
