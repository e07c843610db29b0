"""A ledger written before event names were registered keeps reading, projecting and verifying."""
from __future__ import annotations

from ledger import wire
from ledger.audit import verify_store
from ledger.commands import models as m
from tests.integration.scenario import credit_code_for


def test_old_module_path_topics_and_new_names_mix_in_one_ledger(scenario, projected, models, monkeypatch) -> None:
    registered_name = wire.name_of
    legacy_topic = {wire.EVENT_TYPES[name]: topic for topic, name in wire.LEGACY_TOPICS.items()}
    with monkeypatch.context() as old_writer:
        # what the ledger stored before the registry: the class's module path
        old_writer.setattr(wire, "name_of", lambda cls: legacy_topic[cls])
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
    assert [wire.event_type(t) for t in topics][-2:] == ["provider.applied.v1", "provider.public-notice-opened.v1"]

    provider = scenario.provider("TJ-1")
    assert (provider.provider_id, provider.version) == ("TJ-1", 2)
    assert wire.aggregate_ids(store, "provider") == [provider.id]
    assert [r["provider_id"] for r in models.registry()] == ["TJ-1"]
    assert [e["event_name"] for e in models.timeline("TJ-1")][:2] == ["provider.applied.v1", "provider.public-notice-opened.v1"]
    report = verify_store(store)
    assert report.ok and report.checked == len(topics)
