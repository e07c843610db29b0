"""Commands are recorded once, whole, or not at all — also when two threads race."""
from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, timedelta
from typing import cast

import pytest

from ledger.aggregates import Appeal, DomainError, Entity, Project, Provider, entity_key
from ledger.application import MAX_ATTEMPTS, BatchError, CommandConflict, Ledger
from ledger.commands import models as m
from ledger.commands.handlers import HANDLERS
from ledger.rules.base import COMPLAINT_VERIFIED
from ledger.store import ConcurrencyConflict, EventStore
from tests.integration.scenario import credit_code_for

WAIT = 10  # seconds a thread waits for the other before the test fails


class InterceptedStore:
    """The real store, with a hook that runs before every append (in the appending thread)."""

    def __init__(self, store, before_append: Callable[[], None]) -> None:
        self._store = store
        self._before_append = before_append
        self.conflicts: list[str] = []  # names of the threads whose append conflicted

    def append(self, batch):
        self._before_append()
        try:
            return self._store.append(batch)
        except ConcurrencyConflict:
            self.conflicts.append(threading.current_thread().name)
            raise

    def __getattr__(self, name):
        return getattr(self._store, name)


def race(ledger: Ledger, commands: dict[str, m.Command]) -> tuple[dict[str, object], list[str]]:
    """Run each command in its own thread, named by its key. Both threads decide on the same
    state; then their first appends go in the order of ``commands``, one after the other.
    Returns each thread's result (or the exception it raised) and the threads that conflicted."""
    order = list(commands)
    decided = threading.Barrier(len(order))
    turn = {name: threading.Event() for name in order}
    turn[order[0]].set()
    local = threading.local()

    def before_append() -> None:
        if getattr(local, "appended", False):
            return  # a retry goes straight on
        local.appended = True
        decided.wait(WAIT)
        assert turn[threading.current_thread().name].wait(WAIT)

    store = InterceptedStore(ledger.store, before_append)
    racing = Ledger(cast(EventStore, store), clock=ledger.clock, handlers=HANDLERS)
    outcomes: dict[str, object] = {}

    def run(name: str) -> None:
        try:
            outcomes[name] = racing.execute(commands[name])
        except Exception as error:
            outcomes[name] = error
        finally:
            following = order.index(name) + 1
            if following < len(order):
                turn[order[following]].set()

    threads = [threading.Thread(target=run, args=(name,), name=name) for name in order]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT * 3)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes, store.conflicts


def versions(ledger: Ledger, cls, business_id: str) -> list[int]:
    return [e.originator_version for e in ledger.store.read_aggregate(cls.create_id(business_id))]


# --- idempotency -----------------------------------------------------------------------


def test_the_same_command_twice_is_recorded_once(scenario):
    scenario.admit("TJ-1", "tianjin")
    complaints = [scenario.complaint("TJ-1") for _ in range(3)]
    for complaint_id in complaints[:2]:
        scenario.verify(complaint_id)
    third = scenario.command(m.VerifyComplaint, complaint_id=complaints[2], verdict="true")

    first = scenario.ledger.execute(third)
    recorded = scenario.ledger.store.max_position()
    again = scenario.ledger.execute(third)

    assert first.events == ["complaint.verified.v1", "provider.fact-noted.v1", "provider.sanction-imposed.v1"]
    assert (first.duplicate, again.duplicate) == (False, True)
    assert again.positions == first.positions
    assert again.events == []
    assert scenario.ledger.store.max_position() == recorded
    assert len(scenario.provider("TJ-1").live_facts(COMPLAINT_VERIFIED)) == 3
    assert len(scenario.sanctions("TJ-1")) == 1


def test_a_retried_command_is_not_judged_again(scenario):
    """A retry of an application is the same application, not a second one ("already applied")."""
    apply = scenario.command(m.SubmitApplication, provider_id="TJ-1", jurisdiction="tianjin", name="TJ-1 Ltd", credit_code=credit_code_for("TJ-1"), kind="云服务商")
    scenario.ledger.execute(apply)
    assert scenario.ledger.execute(apply).duplicate
    assert versions(scenario.ledger, Provider, "TJ-1") == [1]


def test_a_batch_skips_the_commands_already_recorded(scenario):
    apply = scenario.command(m.SubmitApplication, provider_id="TJ-1", jurisdiction="tianjin", name="TJ-1 Ltd", credit_code=credit_code_for("TJ-1"), kind="云服务商")
    scenario.ledger.execute(apply)
    notice = scenario.command(m.OpenPublicNotice, provider_id="TJ-1")
    results = scenario.ledger.execute_all([apply, notice, notice])
    assert [r.duplicate for r in results] == [True, False, True]
    assert versions(scenario.ledger, Provider, "TJ-1") == [1, 2]


def test_the_same_command_from_two_threads_is_recorded_once(scenario):
    scenario.admit("TJ-1", "tianjin")
    complaint_id = scenario.complaint("TJ-1")
    verify = scenario.command(m.VerifyComplaint, complaint_id=complaint_id, verdict="true")

    outcomes, _ = race(scenario.ledger, {"A": verify, "B": verify})

    assert (outcomes["A"].duplicate, outcomes["B"].duplicate) == (False, True)
    assert outcomes["B"].positions == outcomes["A"].positions
    assert len(scenario.provider("TJ-1").live_facts(COMPLAINT_VERIFIED)) == 1


# --- concurrency -------------------------------------------------------------------------


def test_two_threads_on_one_provider_are_both_recorded(scenario):
    """B decided on the provider as A found it; its append conflicts, and it is decided again
    on A's result: the third verified complaint removes (天津 第十二条（四）)."""
    scenario.admit("TJ-1", "tianjin")
    first = scenario.verified_complaint("TJ-1")
    complaints = [scenario.complaint("TJ-1") for _ in range(2)]
    verify = {name: scenario.command(m.VerifyComplaint, complaint_id=c, verdict="true") for name, c in zip("AB", complaints)}

    outcomes, conflicts = race(scenario.ledger, verify)

    assert conflicts == ["B"]
    assert outcomes["A"].events == ["complaint.verified.v1", "provider.fact-noted.v1"]
    assert outcomes["B"].events == ["complaint.verified.v1", "provider.fact-noted.v1", "provider.sanction-imposed.v1"]
    provider = scenario.provider("TJ-1")
    facts = [i.ref for i in provider.live_facts(COMPLAINT_VERIFIED)]
    assert len(facts) == 3 and facts[0] == first.fact
    [removal] = scenario.sanctions("TJ-1")
    assert removal["evidence"] == facts
    assert provider.status == "removed"
    assert versions(scenario.ledger, Provider, "TJ-1") == list(range(1, provider.version + 1))


def test_two_applications_with_one_credit_code_under_different_ids_record_one(scenario):
    """Both decide that the entity has not applied; both expect its reservation absent, so B's
    append conflicts, and decided again B finds A's application and is refused citing it."""
    code = credit_code_for("one entity")
    apply = {
        name: scenario.command(m.SubmitApplication, provider_id=provider_id, jurisdiction="tianjin", name="One Entity Ltd", credit_code=code, kind="云服务商")
        for name, provider_id in (("A", "TJ-1"), ("B", "TJ-2"))
    }  # fmt: skip

    outcomes, conflicts = race(scenario.ledger, apply)

    assert conflicts == ["B"]
    assert outcomes["A"].events == ["provider.applied.v1", "entity.credit-code-reserved.v1"]
    assert isinstance(outcomes["B"], DomainError)
    assert str(outcomes["B"]) == f"天津 第九条: entity {code} has already applied for the direction 云服务商 as provider TJ-1 (applied); another direction takes an application of its own"
    assert scenario.ledger.find(Provider, "TJ-2") is None
    assert scenario.ledger.store.command_result(apply["B"].command_id) is None
    assert scenario.ledger.load(Entity, entity_key("tianjin", code)).provider_ids == ["TJ-1"]


def test_two_applications_with_different_credit_codes_are_both_recorded(scenario):
    apply = {
        name: scenario.command(m.SubmitApplication, provider_id=provider_id, jurisdiction="tianjin", name=f"{provider_id} Ltd", credit_code=credit_code_for(provider_id), kind="云服务商")
        for name, provider_id in (("A", "TJ-1"), ("B", "TJ-2"))
    }  # fmt: skip

    outcomes, conflicts = race(scenario.ledger, apply)

    assert conflicts == []
    assert [outcomes[n].events for n in "AB"] == [["provider.applied.v1", "entity.credit-code-reserved.v1"]] * 2


def test_a_retry_that_breaks_a_rule_is_reported_not_merged(scenario):
    """Both threads rate the same provider on the same project: one rating stands."""
    scenario.admit("TS-1", "tangshan")
    project_id = scenario.project("TS-1", "E-1")
    rate = {
        name: scenario.command(m.RateSatisfaction, project_id=project_id, provider_id="TS-1", rating=rating)
        for name, rating in (("A", "不满意"), ("B", "满意"))
    }

    outcomes, conflicts = race(scenario.ledger, rate)

    assert conflicts == ["B"]
    assert not outcomes["A"].duplicate
    assert isinstance(outcomes["B"], DomainError)
    assert "has already rated TS-1" in str(outcomes["B"])
    assert scenario.ledger.load(Project, project_id).ratings["TS-1"]["rating"] == "不满意"
    assert scenario.ledger.store.command_result(rate["B"].command_id) is None


def test_a_command_is_checked_against_what_it_read(scenario):
    """B registers a project for a provider A is blacklisting (唐山 第十三条（一）, third order):
    B only writes the project, but it read the provider, so A's change sends it back."""
    scenario.admit("TS-1", "tangshan")
    for article in ("第十二条（一）", "第十二条（二）"):
        scenario.finding("TS-1", article)
    commands = {
        "A": scenario.command(m.RecordFinding, provider_id="TS-1", article="第十二条（三）", summary="third order", deadline_days=30),
        "B": scenario.command(
            m.RegisterProject,
            project_id="P-1",
            jurisdiction="tangshan",
            enterprise_id="E-1",
            enterprise_name="E-1 Co",
            integrated_provider_id="TS-1",
        ),
    }

    outcomes, conflicts = race(scenario.ledger, commands)

    assert "provider.sanction-imposed.v1" in outcomes["A"].events
    assert scenario.provider("TS-1").status == "blacklisted"
    assert conflicts == ["B"]
    assert isinstance(outcomes["B"], DomainError)
    assert "provider TS-1 was out of the pool that day (blacklisting" in str(outcomes["B"])
    assert scenario.ledger.find(Project, "P-1") is None


def test_a_command_that_keeps_conflicting_is_reported_and_not_recorded(scenario, monkeypatch):
    """Between attempts the command waits a random time (here: its bound), longer after each
    conflict and never after the last; then it is refused, nothing recorded."""
    import ledger.application as application

    waits: list[float] = []
    monkeypatch.setattr(application.random, "uniform", lambda low, high: high)
    monkeypatch.setattr(application.time, "sleep", waits.append)
    scenario.admit("TS-1", "tangshan")
    competitor = scenario.ledger

    def someone_else_writes_first() -> None:
        competitor.execute(
            scenario.command(
                m.RecordProfileChange, provider_id="TS-1", field="address", new_value=f"No. {scenario.ledger.store.max_position()}",
                changed_on=date(2025, 3, 1), reported_on=date(2025, 3, 1),
            )
        )  # fmt: skip

    store = InterceptedStore(scenario.ledger.store, someone_else_writes_first)
    finding = scenario.command(m.RecordFinding, provider_id="TS-1", article="第十二条（一）", summary="late report", deadline_days=30)
    recorded = versions(scenario.ledger, Provider, "TS-1")

    with pytest.raises(CommandConflict, match=f"conflicted with concurrent writers {MAX_ATTEMPTS} times; not recorded"):
        Ledger(store, clock=scenario.clock, handlers=HANDLERS).execute(finding)

    assert len(store.conflicts) == MAX_ATTEMPTS
    assert waits == [min(application.CONFLICT_WAIT_CAP, application.CONFLICT_WAIT * 2**n) for n in range(MAX_ATTEMPTS - 1)] == [0.005, 0.01, 0.02, 0.04]
    assert scenario.ledger.store.command_result(finding.command_id) is None
    assert versions(scenario.ledger, Provider, "TS-1") == list(range(1, len(recorded) + MAX_ATTEMPTS + 1))
    assert scenario.sanctions("TS-1") == []


# --- errors write nothing -------------------------------------------------------------------


def test_a_refused_command_writes_nothing(scenario):
    scenario.admit("TS-1", "tangshan")
    recorded = scenario.ledger.store.max_position()
    too_long = scenario.command(m.RecordFinding, provider_id="TS-1", article="第十二条（一）", summary="late report", deadline_days=45)

    with pytest.raises(DomainError, match="整改期限一般不超过30日"):
        scenario.ledger.execute(too_long)

    assert scenario.ledger.store.max_position() == recorded
    assert scenario.ledger.store.command_result(too_long.command_id) is None


def test_a_command_refused_halfway_writes_nothing(scenario):
    """Deciding the second appeal first records Appeal.Decided, then finds its evidence already voided."""
    scenario.admit("TS-1", "tangshan")
    ratings = [scenario.unsatisfied("TS-1", f"E-{i}") for i in (1, 2)]
    for appeal_id in ("A-1", "A-2"):
        scenario.run(
            m.FileAppeal, appeal_id=appeal_id, provider_id="TS-1", ground="第十六条（二）", evidence_refs=[ratings[0].source],
            matter="不满意", reasons="wrong provider", purpose="void the rating",
        )  # fmt: skip
    scenario.run(m.DecideAppeal, appeal_id="A-1", upheld=True)
    recorded = scenario.ledger.store.max_position()

    with pytest.raises(DomainError, match="was already voided by appeal"):
        scenario.run(m.DecideAppeal, appeal_id="A-2", upheld=True)

    assert scenario.ledger.store.max_position() == recorded
    assert scenario.ledger.load(Appeal, "A-2").status == "filed"


def test_a_batch_with_a_refused_command_writes_nothing(scenario):
    apply = scenario.command(m.SubmitApplication, provider_id="TJ-1", jurisdiction="tianjin", name="TJ-1 Ltd", credit_code=credit_code_for("TJ-1"), kind="云服务商")
    admit = scenario.command(m.AdmitProvider, provider_id="TJ-1")  # 天津 第十条: admission follows the notice

    with pytest.raises(BatchError, match=r"command #2 \(AdmitProvider .*\): 天津 第十条: admission follows the public notice"):
        scenario.ledger.execute_all([apply, admit])

    assert scenario.ledger.find(Provider, "TJ-1") is None
    assert scenario.ledger.store.command_result(apply.command_id) is None


def test_fees_withheld_may_cite_a_counted_rule_and_unknown_articles_are_refused(scenario):
    """新乡 第十六条 视情况不予支付或扣除部分服务费用 follows a derived disqualification (第十六条（一）)."""
    scenario.admit("XX-1", "xinxiang")
    for warning in ("第十五条（一）", "第十五条（三）"):
        scenario.finding("XX-1", warning)
    assert scenario.provider("XX-1").status == "disqualified"
    scenario.run(m.WithholdFees, provider_id="XX-1", amount="12000", reason="disqualified", article="第十六条（一）")
    [withheld] = scenario.provider("XX-1").fees_withheld
    assert (withheld["amount"], withheld["citation"]["article"]) == ("12000", "第十六条（一）")
    recorded = scenario.ledger.store.max_position()
    with pytest.raises(DomainError, match="fees are withheld under 新乡 第十六条 .*not under '第九十九条'"):
        scenario.run(m.WithholdFees, provider_id="XX-1", amount="1", reason="x", article="第九十九条")
    with pytest.raises(DomainError, match="新乡 has no article '第十六条（九）'"):
        scenario.run(m.WithholdFees, provider_id="XX-1", amount="1", reason="x", article="第十六条（九）")
    assert scenario.ledger.store.max_position() == recorded


def test_the_scheduler_leaves_the_orders_of_a_removed_provider_alone(scenario):
    """An order on a provider out of the pool is moot: no overdue fact, nothing derived from it."""
    scenario.admit("TS-1", "tangshan")
    scenario.finding("TS-1", "第十二条（二）")
    scenario.finding("TS-1", "第十三条（四）")  # blacklisted by a finding
    assert scenario.provider("TS-1").status == "blacklisted"
    result = scenario.passed_deadlines(scenario.today + timedelta(days=40))
    assert result.results == {}
    [order] = [s for s in scenario.sanctions("TS-1") if s["sanction"] == "rectification_order"]
    assert order["overdue_on"] is None
