"""``python -m consumers projections|dashboard …``: run a subscriber until SIGTERM/SIGINT.

Like the ``ledger`` command, every failure (a bad or unreachable database, Kafka down, a wrong
argument) is one line on stderr and exit 1, without a traceback or a password (``LEDGER_DEBUG=1``
re-raises); Ctrl-C before the subscriber runs exits 130.
"""
from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from typing import Annotated, NoReturn, get_args

import typer

from ledger.redaction import describe_failure, redact
from ledger.settings import Settings

app = typer.Typer(help="Subscribers of the ledger's Kafka topic.", no_args_is_help=True)

BootstrapOption = Annotated[str | None, typer.Option("--bootstrap", envvar="LEDGER_KAFKA_BOOTSTRAP", help="Kafka brokers host:port")]
PrefixOption = Annotated[str | None, typer.Option(help="prefix of the topic name")]

#: the database URL the running command uses: its password is taken out of any error shown
_url_in_use: str | None = None


class Failure(Exception):
    """A failure already worded for the one error line."""


def _fail(message: str) -> NoReturn:
    raise Failure(message)


def _settings(database_url: str | None = None) -> Settings:
    """The settings (environment, ``.env``, ``-d``); a value they refuse is one line naming its variable."""
    from pydantic import ValidationError

    from ledger.settings import refused_setting

    try:
        return Settings(database_url=database_url) if database_url else Settings()
    except ValidationError as error:
        _fail(refused_setting(error, Settings))


def _use(url: str) -> str:
    global _url_in_use
    _url_in_use = url
    return url


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
    logging.getLogger("kafka").setLevel(logging.ERROR)  # its retries while a broker is down are not the error
    settings = _settings()
    url = _use(read_models or settings.database_url)
    try:
        consumer = ProjectionConsumer(
            bootstrap or settings.kafka_bootstrap,
            topic_name(settings.kafka_topic_prefix if topic_prefix is None else topic_prefix),
            url,
            group_id=group,
            name=name,
            max_records=max_records,
            instance_id=instance_id,
        )
    except Exception as error:
        if type(error).__module__.split(".")[0] == "kafka" or os.environ.get("LEDGER_DEBUG"):  # said in main()
            raise
        _fail(f"cannot open the read models at {redact(url)}: {describe_failure(error, url)}")
    stop = _stop_on_signals()  # from here Ctrl-C stops the member cleanly; before, it exits 130
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
    from ledger.store import NoLedger

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.ERROR)  # its retries while a broker is down are not the error
    settings = _settings(database_url)
    url = _use(settings.database_url)
    try:  # the sweep records into an existing ledger: a missing file or a foreign database is refused, nothing made in it
        ledger_app = open_app(settings, projections=False, create=False)
    except NoLedger as error:
        _fail(str(error))
    except Exception as error:  # connection refused, bad URL, not a ledger, …
        _fail(f"cannot open the ledger at {redact(url)}: {describe_failure(error, url)}")
    with ledger_app:
        consumer = DeadlineConsumer(bootstrap or settings.kafka_bootstrap, topic_name(settings.kafka_topic_prefix if topic_prefix is None else topic_prefix))
        stop = _stop_on_signals()  # from here Ctrl-C stops the sweep cleanly; before, it exits 130
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
    from ledger.commands.models import Jurisdiction
    from ledger.relay import topic_name

    known = get_args(Jurisdiction)
    if jurisdiction not in known:
        _fail(f"unknown jurisdiction {jurisdiction!r}: give one of {', '.join(known)}")
    settings = _settings()
    console = Console()

    def show(counts: JurisdictionCounts) -> None:
        console.print(f"{counts.jurisdiction}: status {counts.by_status}; sanctions by article {counts.sanctions_by_article}")

    follow(bootstrap or settings.kafka_bootstrap, topic_name(settings.kafka_topic_prefix if topic_prefix is None else topic_prefix), jurisdiction, _stop_on_signals(), on_change=show)


def _kafka_unavailable(error: BaseException) -> bool:
    return any(
        cls.__module__.split(".")[0] == "kafka" and cls.__name__ in ("NoBrokersAvailable", "KafkaTimeoutError", "KafkaConnectionError")
        for cls in type(error).__mro__
    )


_interrupted = threading.Event()


def _interrupt(*_: object) -> None:
    """Ctrl-C before a subscriber runs: remembered, since kafka-python swallows the KeyboardInterrupt
    of its bootstrap (and then fails with a timeout that is not the cause)."""
    _interrupted.set()
    raise KeyboardInterrupt


def main() -> None:
    """``python -m consumers``: every failure is one line on stderr and exit 1, never a traceback
    (``LEDGER_DEBUG=1`` re-raises); Ctrl-C exits 130."""
    if not os.environ.get("LEDGER_DEBUG"):  # the command's own error line says what happened
        logging.getLogger("psycopg.pool").setLevel(logging.CRITICAL)
    signal.signal(signal.SIGINT, _interrupt)  # a running subscriber installs its own (a clean stop)
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as error:
        if _interrupted.is_set():
            sys.exit(130)
        if isinstance(error, Failure):
            message = redact(error, _url_in_use)
        elif os.environ.get("LEDGER_DEBUG"):
            raise
        elif _kafka_unavailable(error):
            message = f"Kafka is not available: {describe_failure(error, _url_in_use)}"
        else:
            message = describe_failure(error, _url_in_use)
        from rich.console import Console
        from rich.text import Text

        Console(stderr=True, soft_wrap=True).print(Text.assemble(("error:", "bold red"), f" {message}"), highlight=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
