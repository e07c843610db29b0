"""A ledger written before event names were registered, or before credit codes were reserved, keeps
reading, projecting, verifying and deciding as before."""
from __future__ import annotations

import pytest

from ledger import wire
from ledger.aggregates import DomainError, Entity, entity_key
from ledger.application import Ledger
from ledger.audit import verify_store
from ledger.commands import models as m
from ledger.commands.handlers import HANDLERS
from tests.integration.scenario import Scenario, credit_code_for


def test_old_module_path_topics_and_new_names_mix_in_one_ledger(scenario, projected, models, monkeypatch) -> None:
    registered_name = wire.name_of
    legacy_topic = {wire.EVENT_TYPES[name]: topic for topic, name in wire.LEGACY_TOPICS.items()}
    with monkeypatch.context() as old_writer:
        # what the ledger stored before the registry: the class's module path (events added since,
        # such as the entity's credit-code reservation, have none: they keep their registered name)
        old_writer.setattr(wire, "name_of", lambda cls: legacy_topic.get(cls) or registered_name(cls))
        scenario.run(
            m.SubmitApplication, provider_id="TJ-1", jurisdiction="tianjin", name="TJ-1 Ltd", credit_code=credit_code_for("TJ-1"), kind="云服务商",
            eligibility={}, effective_on=scenario.today,
        )  # fmt: skip
    assert wire.name_of is registered_name
    scenario.run(m.OpenPublicNotice, provider_id="TJ-1", effective_on=scenario.today)

    store = scenario.ledger.store
    topics = [e.topic for e in store.read_all()]
    assert "ledger.aggregates.provider:Provider.Applied" in topics
    assert topics[-1] == "provider.public-notice-opened.v1"
    provider_topics = [t for t in topics if wire.aggregate_of(t) == "provider"]  # not the entity's reservation
    assert [wire.event_type(t) for t in provider_topics][-2:] == ["provider.applied.v1", "provider.public-notice-opened.v1"]

    provider = scenario.provider("TJ-1")
    assert (provider.provider_id, provider.version) == ("TJ-1", 2)
    assert wire.aggregate_ids(store, "provider") == [provider.id]
    assert [r["provider_id"] for r in models.registry()] == ["TJ-1"]
    assert [e["event_name"] for e in models.timeline("TJ-1")][:2] == ["provider.applied.v1", "provider.public-notice-opened.v1"]
    report = verify_store(store)
    assert report.ok and report.checked == len(topics)


class WriterBeforeReservations(Ledger):
    """What the ledger recorded before credit codes were reserved: the same events, without the entity's."""

    def _batch(self, command, events, versions):
        return super()._batch(command, [e for e in events if not isinstance(e, Entity.Event)], versions)


def test_applications_recorded_before_reservations_still_count_for_their_entity(scenario) -> None:
    """A ledger from before 2026-12 has applications no reservation lists: the first application of
    such an entity finds them (one scan of those applications per process) and its reservation
    lists them, so the rules read as before and later applications read the reservation alone."""
    listed, exited = credit_code_for("LZ-1", "450200"), credit_code_for("TJ-1")
    old = Scenario(WriterBeforeReservations(scenario.ledger.store, clock=scenario.clock, handlers=HANDLERS), scenario.clock)
    old.admit("LZ-1", "liuzhou", credit_code=listed)
    old.admit("TJ-1", "tianjin", credit_code=exited)
    old.run(m.WithdrawFromPool, provider_id="TJ-1", reason="业务调整")
    old.admit("TJ-9", "tianjin")
    store = scenario.ledger.store
    assert wire.aggregate_ids(store, "entity") == []

    new = Scenario(Ledger(store, clock=scenario.clock, handlers=HANDLERS), scenario.clock)  # a process of this version
    new._ids = old._ids  # one series of command ids
    with pytest.raises(DomainError, match=rf"^entity {listed} has already applied as provider LZ-1 \(in_pool\)$"):
        new.run(m.SubmitApplication, provider_id="LZ-2", jurisdiction="liuzhou", name="LZ Ltd", credit_code=listed, kind="集成服务商")
    assert new.ledger.unreserved.scanned == 3  # LZ-1, TJ-1, TJ-9: once
    result = new.run(m.SubmitApplication, provider_id="TJ-2", jurisdiction="tianjin", name="TJ Ltd", credit_code=exited, kind="云服务商")
    assert result.events == ["provider.applied.v1", "entity.credit-code-reserved.v1"]
    reservation = new.ledger.load(Entity, entity_key("tianjin", exited))
    assert reservation.provider_ids == ["TJ-1", "TJ-2"]
    with pytest.raises(DomainError, match=rf"^天津 第九条: entity {exited} has already applied for the direction 云服务商 as provider TJ-2 \(applied\)"):
        new.run(m.SubmitApplication, provider_id="TJ-3", jurisdiction="tianjin", name="TJ Ltd", credit_code=exited, kind="云服务商")
    assert new.ledger.unreserved.scanned == 3

    # another process: the applications before the first reservation are the same three
    later = Ledger(store, clock=scenario.clock, handlers=HANDLERS)
    later.execute(new.command(m.SubmitApplication, provider_id="TS-1", jurisdiction="tangshan", name="TS Ltd", credit_code=credit_code_for("TS-1"), kind="数字化服务商"))
    assert later.unreserved.scanned == 3
    with pytest.raises(DomainError, match=rf"^天津 第九条: entity {exited} has already applied for the direction 云服务商 as provider TJ-2 \(applied\)"):
        later.execute(new.command(m.SubmitApplication, provider_id="TJ-4", jurisdiction="tianjin", name="TJ Ltd", credit_code=exited, kind="云服务商"))
    assert verify_store(store).ok
