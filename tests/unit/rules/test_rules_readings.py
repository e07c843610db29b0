"""Readings a regulator would dispute: the entity behind a provider id (统一社会信用代码), and kinds
introduced as examples ("主要包括…等", "主要包含")."""
from __future__ import annotations

from datetime import timedelta

import pytest

from ledger.aggregates import DomainError, Entity, Rulebook, entity_key
from ledger.application import Ledger
from ledger.commands import models as m
from ledger.commands.handlers import HANDLERS
from tests.integration.scenario import credit_code_for

CODE = "9144030071526726XG"


def _apply(scenario, provider_id: str, jurisdiction: str = "tangshan", code: str = CODE, kind: str = "数字化服务商"):
    return scenario.command(m.SubmitApplication, provider_id=provider_id, jurisdiction=jurisdiction, name=f"{provider_id} Ltd", credit_code=code, kind=kind)


@pytest.mark.parametrize(
    "how, article",
    [
        ("blacklisted", "第十三条（二）"),
        ("finding", "第十三条（四）"),
    ],
)
def test_a_blacklisted_entity_may_apply_again_and_the_regulator_decides(scenario, how, article):
    """唐山 第十三条 "取消服务商资格，并列入我市数字化服务商黑名单" names no bar on applying again, nor its
    length: the application is recorded, the blacklisting stands on TS-1's record, and admitting the
    entity again or not is the regulator's decision (here: refused, citing it)."""
    scenario.admit("TS-1", "tangshan", credit_code=CODE)
    if how == "blacklisted":
        for enterprise in ("E-1", "E-2"):
            scenario.unsatisfied("TS-1", enterprise)
    else:
        scenario.finding("TS-1", "第十三条（四）")
    [entry] = scenario.sanctions("TS-1")
    assert article in entry["citation"]["article"]
    scenario.ledger.execute(_apply(scenario, "TS-2"))
    assert (scenario.provider("TS-2").status, scenario.provider("TS-2").credit_code) == ("applied", CODE)
    assert scenario.provider("TS-1").status == "blacklisted"
    scenario.run(m.RefuseAdmission, provider_id="TS-2", reason=f"主体已列入黑名单（{entry['ref']}）")
    assert scenario.provider("TS-2").status == "refused"


def test_a_gray_listed_entity_may_apply_again_in_its_city_and_elsewhere(scenario):
    """柳州 第十四条 "纳入市工业和信息化局灰名单进行管理" names no bar on applying again: the regulator
    admits or refuses; in its city the entity is admitted again here."""
    scenario.admit("LZ-1", "liuzhou", credit_code=CODE)
    scenario.finding("LZ-1", "第十四条（三）")
    scenario.ledger.execute(_apply(scenario, "LZ-2", "liuzhou", kind="集成服务商"))
    scenario.run(m.AdmitProvider, provider_id="LZ-2")
    assert (scenario.provider("LZ-1").status, scenario.provider("LZ-2").status) == ("gray_listed", "in_pool")
    scenario.ledger.execute(_apply(scenario, "TS-9"))
    assert scenario.provider("TS-9").credit_code == CODE


def test_an_entity_that_left_voluntarily_may_apply_again(scenario):
    """天津 第十二条（八）主动退出资源池的: leaving is no sanction; a new application takes a new id."""
    scenario.admit("TJ-1", "tianjin", credit_code=CODE)
    with pytest.raises(DomainError, match=rf"^天津 第九条: entity {CODE} has already applied for the direction 云服务商 as provider TJ-1 \(in_pool\); another direction takes an application of its own$"):
        scenario.ledger.execute(_apply(scenario, "TJ-2", "tianjin", kind="云服务商"))
    scenario.run(m.WithdrawFromPool, provider_id="TJ-1", reason="业务调整")
    with pytest.raises(DomainError, match=r"^provider TJ-1 has already applied \(exited since 2025-03-01\); a new application takes a new provider id$"):
        scenario.ledger.execute(_apply(scenario, "TJ-1", "tianjin", kind="云服务商"))
    scenario.ledger.execute(_apply(scenario, "TJ-2", "tianjin", kind="云服务商"))
    assert (scenario.provider("TJ-2").status, scenario.provider("TJ-2").credit_code) == ("applied", CODE)


def test_a_reinstated_entity_is_in_the_pool_and_a_rescinded_removal_bars_nothing(scenario):
    scenario.admit("TS-1", "tangshan", credit_code=CODE)
    ratings = [scenario.unsatisfied("TS-1", f"E-{i}") for i in (1, 2)]
    scenario.appeal("TS-1", "第十六条（二）", ratings[0].source)
    with pytest.raises(DomainError, match=r"has already applied as provider TS-1 \(reinstated\)$"):
        scenario.ledger.execute(_apply(scenario, "TS-2"))


@pytest.mark.parametrize("code", ["9144030071526726XH", "9144030071526726X", "914403007152672IXG"])
def test_an_application_carries_a_valid_credit_code(scenario, code):
    with pytest.raises(ValueError, match="credit_code"):
        _apply(scenario, "TS-1", code=code)


@pytest.mark.parametrize(
    "jurisdiction, kind, accepted",
    [
        ("tianjin", "云服务商", True),  # 第四条's own example
        ("tianjin", "数据安全服务商", True),  # 主要包括…等: others are accepted as given
        ("province", "人工智能服务商", True),  # 一（一） 主要包含以下类别
        ("tangshan", "云服务商", False),  # 唐山 names one kind: 数字化服务商
        ("liuzhou", "数据安全服务商", False),  # 柳州 第二条: 集成服务商和产品服务商
    ],
)
def test_kinds_introduced_as_examples_are_an_open_list(scenario, jurisdiction, kind, accepted):
    apply = _apply(scenario, "P-1", jurisdiction, code=credit_code_for("P-1"), kind=kind)
    if accepted:
        scenario.ledger.execute(apply)
        assert scenario.provider("P-1").kind == kind
    else:
        with pytest.raises(DomainError, match=rf"kind '{kind}' is not one of"):
            scenario.ledger.execute(apply)


# --- the entity's reservation of its credit code ------------------------------------------------


def test_each_application_of_an_entity_is_recorded_on_its_reservation(scenario):
    """The reservation lists every provider id the entity applied under in the jurisdiction; the
    standing comes from those providers, so exiting needs no event on the reservation."""
    scenario.admit("TJ-1", "tianjin", credit_code=CODE)
    entity = scenario.ledger.load(Entity, entity_key("tianjin", CODE))
    assert (entity.provider_ids, entity.version) == (["TJ-1"], 1)
    scenario.run(m.WithdrawFromPool, provider_id="TJ-1", reason="业务调整")
    assert scenario.ledger.load(Entity, entity_key("tianjin", CODE)).version == 1
    again = scenario.ledger.execute(_apply(scenario, "TJ-2", "tianjin", kind="云服务商"))
    assert again.events == ["provider.applied.v1", "entity.credit-code-reserved-again.v1"]
    assert scenario.ledger.load(Entity, entity_key("tianjin", CODE)).provider_ids == ["TJ-1", "TJ-2"]
    with pytest.raises(DomainError, match=rf"^天津 第九条: entity {CODE} has already applied for the direction 云服务商 as provider TJ-2 \(applied\)"):
        scenario.ledger.execute(_apply(scenario, "TJ-3", "tianjin", kind="云服务商"))
    assert scenario.ledger.load(Entity, entity_key("tianjin", CODE)).provider_ids == ["TJ-1", "TJ-2"]
    # another jurisdiction is another reservation
    scenario.ledger.execute(_apply(scenario, "TS-1"))
    assert scenario.ledger.load(Entity, entity_key("tangshan", CODE)).provider_ids == ["TS-1"]


def test_a_refused_application_reserves_nothing(scenario):
    with pytest.raises(DomainError, match="kind '云服务商' is not one of"):
        scenario.ledger.execute(_apply(scenario, "TS-1", kind="云服务商"))
    assert scenario.ledger.find(Entity, entity_key("tangshan", CODE)) is None
    scenario.ledger.execute(_apply(scenario, "TS-2"))
    assert scenario.ledger.load(Entity, entity_key("tangshan", CODE)).provider_ids == ["TS-2"]


class CountingReads:
    """How much of the log a command reads: aggregates and events from the store, ids listed."""

    def __init__(self, store, monkeypatch) -> None:
        self.aggregates = self.events = self.ids = 0
        read_aggregate, read_refs, originator_ids = store.read_aggregate, store.read_refs, store.originator_ids

        def counted_aggregate(originator_id):
            found = read_aggregate(originator_id)
            self.aggregates += 1
            self.events += len(found)
            return found

        def counted_refs(refs):
            found = read_refs(refs)
            self.events += len(found)
            return found

        def counted_ids(prefix):
            found = originator_ids(prefix)
            self.ids += len(found)
            return found

        monkeypatch.setattr(store, "read_aggregate", counted_aggregate)
        monkeypatch.setattr(store, "read_refs", counted_refs)
        monkeypatch.setattr(store, "originator_ids", counted_ids)

    def of(self, run) -> tuple[int, int, int]:
        self.aggregates = self.events = self.ids = 0
        run()
        return self.aggregates, self.events, self.ids


@pytest.mark.parametrize("pool", [1, 30])
def test_an_application_reads_as_much_whatever_the_size_of_the_pool(scenario, monkeypatch, pool):
    """Before the reservation an application read the first event of every provider; now it reads
    its own id, the rulebook (cached) and the entity's reservation: the same for a pool of 1 or 30."""
    for i in range(pool):
        scenario.ledger.execute(_apply(scenario, f"TS-{i}", code=credit_code_for(f"TS-{i}")))
    reads = CountingReads(scenario.ledger.store, monkeypatch)
    scenario.ledger.aggregates.clear()  # as a process that has cached nothing
    new_entity = reads.of(lambda: scenario.ledger.execute(_apply(scenario, "TS-new")))

    def refused() -> None:
        with pytest.raises(DomainError, match="has already applied as provider TS-new"):
            scenario.ledger.execute(_apply(scenario, "TS-again"))

    scenario.ledger.aggregates.clear()
    same_entity = reads.of(refused)
    rulebook = _rulebook_events(scenario)
    # (aggregates, events, ids): TS-new, the rulebook and the reservation (none yet); then
    # TS-again, the rulebook, the reservation and the provider it names, TS-new
    assert new_entity == (3, rulebook, 0)
    assert same_entity == (4, rulebook + 2, 0)


def _rulebook_events(scenario) -> int:
    return len(scenario.ledger.store.read_aggregate(Rulebook.create_id("tangshan")))


def test_a_ledger_begun_with_reservations_scans_no_application(scenario):
    """A new process looks for applications recorded before reservations once: on a ledger that
    has had them from its first application, that is two id lookups and no event decoded."""
    for i in range(5):
        scenario.ledger.execute(_apply(scenario, f"TS-{i}", code=credit_code_for(f"TS-{i}")))
    fresh = Ledger(scenario.ledger.store, clock=scenario.clock, handlers=HANDLERS)
    fresh.execute(_apply(scenario, "TS-new"))
    fresh.execute(_apply(scenario, "TS-other", code=credit_code_for("TS-other")))
    assert fresh.unreserved.scanned == 0


@pytest.mark.parametrize(
    "jurisdiction, article, period",
    [
        ("tangshan", "第十二条（一）", True),  # 责令其限期整改，整改期限一般不超过30日: a cap, not a period
        ("liuzhou", "第十二条（二）", True),
        ("xinxiang", "第十五条（三）", True),  # 予以警告并限期整改
        ("province", "四（一）整改", True),  # 给予限期整改
        ("tangshan", "第十三条（四）", False),  # a blacklisting: no period
    ],
)
def test_the_period_to_rectify_is_the_regulators_to_set(scenario, jurisdiction, article, period):
    """限期整改: the texts leave the period to the bureau; a finding that orders rectification or warns
    must give it (``deadline_days``), the ledger supplies none."""
    scenario.admit("P-1", jurisdiction)
    recorded = scenario.ledger.store.max_position()
    if period:
        with pytest.raises(DomainError, match=r"^deadline_days: .* orders rectification within a period \(限期整改\) that the regulator sets; the finding must give it$"):
            scenario.finding("P-1", article, deadline_days=None)
        assert scenario.ledger.store.max_position() == recorded
        scenario.finding("P-1", article, deadline_days=1)
        [order] = scenario.sanctions("P-1")
        assert order["params"]["deadline_days"] == 1
    else:
        scenario.finding("P-1", article, deadline_days=None)
        [blacklisting] = scenario.sanctions("P-1")
        assert blacklisting["deadline"] is None


def test_a_tianjin_entity_may_apply_for_several_directions_one_application_each(scenario):
    """天津 第九条 "可根据自身能力和条件申报资源池的多个方向": an entity in the pool as a cloud provider may
    apply as an industrial-internet provider too, not twice for one direction; elsewhere (唐山) it
    applies once at a time, whatever the kind; a removal still bars every direction."""
    scenario.admit("TJ-1", "tianjin", credit_code=CODE)
    scenario.ledger.execute(_apply(scenario, "TJ-2", "tianjin", kind="工业互联网服务商"))
    with pytest.raises(DomainError, match=r"^天津 第九条: .* already applied for the direction 工业互联网服务商 as provider TJ-2 \(applied\)"):
        scenario.ledger.execute(_apply(scenario, "TJ-3", "tianjin", kind="工业互联网服务商"))
    assert [scenario.provider(p).kind for p in ("TJ-1", "TJ-2")] == ["云服务商", "工业互联网服务商"]

    other = credit_code_for("TS-other")
    scenario.admit("TS-1", "tangshan", credit_code=other)
    with pytest.raises(DomainError, match=rf"^entity {other} has already applied as provider TS-1 \(in_pool\)$"):
        scenario.ledger.execute(_apply(scenario, "TS-2", "tangshan", code=other))

    scenario.finding("TJ-1", "第十二条（五）")  # 弄虚作假: TJ-1 is removed; the entity may still apply
    scenario.ledger.execute(_apply(scenario, "TJ-4", "tianjin", kind="两化融合贯标咨询服务商"))
    scenario.ledger.execute(_apply(scenario, "TJ-5", "tianjin", kind="云服务商"))  # TJ-1's direction, now out of the pool
    assert [scenario.provider(p).status for p in ("TJ-1", "TJ-4", "TJ-5")] == ["removed", "applied", "applied"]


def test_a_direction_still_pending_when_its_entity_is_removed_is_the_regulators_to_admit(scenario):
    """天津 第九条 / 第十二条: TJ-2 applied for a second direction; TJ-1 is then removed (弄虚作假). No text
    makes the removal of one direction refuse another: the regulator refuses TJ-2 (before its notice
    closes), or the notice closes without objection into an admission (天津 第十条 "公示期满无异议的纳入")."""
    scenario.admit("TJ-1", "tianjin", credit_code=CODE)
    scenario.ledger.execute(_apply(scenario, "TJ-2", "tianjin", kind="工业互联网服务商"))
    scenario.ledger.execute(_apply(scenario, "TJ-3", "tianjin", kind="两化融合贯标咨询服务商"))
    for provider_id in ("TJ-2", "TJ-3"):
        scenario.run(m.OpenPublicNotice, provider_id=provider_id)
    scenario.finding("TJ-1", "第十二条（五）")
    scenario.run(m.RefuseAdmission, provider_id="TJ-2", reason="主体已被移出资源池")
    scenario.on(scenario.today + timedelta(days=8))
    scenario.run(m.ClosePublicNotice, provider_id="TJ-3", last_day=scenario.today - timedelta(days=1))
    assert [scenario.provider(p).status for p in ("TJ-1", "TJ-2", "TJ-3")] == ["removed", "refused", "in_pool"]


def test_an_admission_dated_before_the_entitys_removal_stands(scenario):
    """Dates come from the facts: TJ-2's notice ended 03-08 and TJ-1 was removed from 03-15, entered
    before the notice was closed: TJ-2 was admitted on 03-09, before the removal."""
    from datetime import date

    scenario.admit("TJ-1", "tianjin", credit_code=CODE)  # 2025-03-01
    scenario.on(date(2025, 3, 17))
    scenario.run(m.SubmitApplication, provider_id="TJ-2", jurisdiction="tianjin", name="TJ-2 Ltd", credit_code=CODE, kind="工业互联网服务商", effective_on=date(2025, 3, 1))
    scenario.run(m.OpenPublicNotice, provider_id="TJ-2", effective_on=date(2025, 3, 2))
    scenario.finding("TJ-1", "第十二条（五）", on=date(2025, 3, 15))
    scenario.run(m.ClosePublicNotice, provider_id="TJ-2", last_day=date(2025, 3, 8))
    assert (scenario.provider("TJ-2").status, scenario.provider("TJ-2").admitted_on) == ("in_pool", date(2025, 3, 9))
