"""``python -m consumers projections|dashboard …``: run a subscriber until SIGTERM/SIGINT."""
from __future__ import annotations

import logging
import signal
import threading
from typing import Annotated

import typer

from ledger.settings import Settings

app = typer.Typer(help="Subscribers of the ledger's Kafka topic.", no_args_is_help=True)

BootstrapOption = Annotated[str | None, typer.Option("--bootstrap", envvar="LEDGER_KAFKA_BOOTSTRAP", help="Kafka brokers host:port")]
PrefixOption = Annotated[str | None, typer.Option(help="prefix of the topic name")]


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


@app.command()
def projections(
    read_models: Annotated[str | None, typer.Option("--read-models", "-d", envvar="LEDGER_READ_MODELS_URL", help="PostgreSQL (or SQLite) URL of the read models")] = None,
    bootstrap: BootstrapOption = None,
    topic_prefix: PrefixOption = None,
    group: Annotated[str, typer.Option(help="consumer group")] = "ledger-read-models",
    name: Annotated[str, typer.Option(help="this member's name (client id)")] = "consumer",
    max_records: Annotated[int, typer.Option(min=1, help="messages per poll (each partition's share is one transaction)")] = 500,
    instance_id: Annotated[str | None, typer.Option(help="static membership: a restart under the same id keeps the partitions")] = None,
) -> None:
    """Build the read models from the topic (a member of the consumer group)."""
    from consumers.projections import ProjectionConsumer
    from ledger.relay import topic_name

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    settings = Settings()
    stop = _stop_on_signals()
    consumer = ProjectionConsumer(
        bootstrap or settings.kafka_bootstrap,
        topic_name(settings.kafka_topic_prefix if topic_prefix is None else topic_prefix),
        read_models or settings.database_url,
        group_id=group,
        name=name,
        max_records=max_records,
        instance_id=instance_id,
    )
    try:
        consumer.run(stop)
    finally:
        consumer.close()


@app.command()
def deadlines(
    database_url: Annotated[str | None, typer.Option("--database-url", "-d", envvar="LEDGER_DATABASE_URL", help="the ledger the commands go to")] = None,
    bootstrap: BootstrapOption = None,
    topic_prefix: PrefixOption = None,
    interval: Annotated[float, typer.Option(min=1, help="seconds between sweeps")] = 3600.0,
) -> None:
    """The deadline sweep: follows the topic, and every INTERVAL records each provider's passed deadlines (one command each)."""
    from consumers.deadlines import DeadlineConsumer
    from ledger.bootstrap import bootstrap as open_app
    from ledger.relay import topic_name

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    settings = Settings(database_url=database_url) if database_url else Settings()
    stop = _stop_on_signals()
    with open_app(settings, projections=False) as ledger_app:
        consumer = DeadlineConsumer(bootstrap or settings.kafka_bootstrap, topic_name(settings.kafka_topic_prefix if topic_prefix is None else topic_prefix))
        try:
            consumer.run(ledger_app.ledger, stop, interval=interval)
        finally:
            consumer.close()


@app.command()
def dashboard(
    jurisdiction: Annotated[str, typer.Argument(help="tianjin, xinxiang, province, tangshan or liuzhou")],
    bootstrap: BootstrapOption = None,
    topic_prefix: PrefixOption = None,
) -> None:
    """The example subscriber: live counts of provider status and sanctions by article for one jurisdiction."""
    from rich.console import Console

    from consumers.dashboard import JurisdictionCounts, follow
    from ledger.relay import topic_name

    settings = Settings()
    console = Console()

    def show(counts: JurisdictionCounts) -> None:
        console.print(f"{counts.jurisdiction}: status {counts.by_status}; sanctions by article {counts.sanctions_by_article}")

    follow(bootstrap or settings.kafka_bootstrap, topic_name(settings.kafka_topic_prefix if topic_prefix is None else topic_prefix), jurisdiction, _stop_on_signals(), on_change=show)


if __name__ == "__main__":
    app()
