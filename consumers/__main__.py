"""``python -m consumers projections|dashboard …``: run a subscriber until SIGTERM/SIGINT."""
from __future__ import annotations

import logging
import signal
import threading
from typing import Annotated, Optional

import typer

from ledger.settings import Settings

app = typer.Typer(help="Subscribers of the ledger's Kafka topic.", no_args_is_help=True)

BootstrapOption = Annotated[Optional[str], typer.Option("--bootstrap", envvar="LEDGER_KAFKA_BOOTSTRAP", help="Kafka brokers host:port")]
PrefixOption = Annotated[Optional[str], typer.Option(help="prefix of the topic name")]


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


@app.command()
def projections(
    read_models: Annotated[Optional[str], typer.Option("--read-models", "-d", envvar="LEDGER_READ_MODELS_URL", help="PostgreSQL (or SQLite) URL of the read models")] = None,
    bootstrap: BootstrapOption = None,
    topic_prefix: PrefixOption = None,
    group: Annotated[str, typer.Option(help="consumer group")] = "ledger-read-models",
    name: Annotated[str, typer.Option(help="this member's name (client id)")] = "consumer",
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
    )
    try:
        consumer.run(stop)
    finally:
        consumer.close()


if __name__ == "__main__":
    app()
