"""The ``ledger`` command-line tool."""
from __future__ import annotations

import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.console import Console

from ledger.redaction import describe_failure, redact

# Everything else is imported where it is used, so that `ledger --help` and a simple read start
# fast (the domain, pydantic models, eventsourcing and the drivers take most of a second).
if TYPE_CHECKING:
    from rich.progress import Progress

    from ledger.bootstrap import App
    from ledger.settings import Settings

app = typer.Typer(
    help="Event-sourced compliance ledger for pools of digital-transformation service providers.",
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help: typer's rich help imports pygments and markdown (~0.3 s)
)
console = Console()
err = Console(stderr=True, soft_wrap=True)  # an error is one line, however long

DatabaseOption = Annotated[
    Optional[str],
    typer.Option("--database-url", "-d", envvar="LEDGER_DATABASE_URL", help="sqlite:///FILE or postgresql://… (default: sqlite:///ledger.db)"),
]
DEMO_DATABASE = "sqlite:///var/demo.db"


def fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def settings_for(database_url: str | None) -> Settings:
    from ledger.settings import Settings

    return Settings(database_url=database_url) if database_url else Settings()


def open_app(database_url: str | None, clock=None, projections: bool = True) -> App:
    from ledger.bootstrap import bootstrap

    settings = settings_for(database_url)
    try:
        app = bootstrap(settings, clock=clock, projections=projections)
        problems = app.store.protection_problems()
    except Exception as error:  # connection refused, bad URL, …
        fail(f"cannot open the ledger at {redact(settings.database_url)}: {describe_failure(error)}")
        raise
    for problem in problems:  # reported, never repaired behind the auditor's back
        err.print(f"warning: {problem} (not repaired; run `ledger verify`)", highlight=False)
    return app


def progress_bar() -> Progress:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )


@app.command()
def demo(
    database_url: DatabaseOption = None,
    seed: Annotated[int, typer.Option(help="random seed of the data set")] = 2024,
    providers: Annotated[int, typer.Option(min=5, help="number of providers")] = 220,
    then_serve: Annotated[bool, typer.Option("--serve", help="then serve the API and the dashboard over it (ledger serve)")] = False,
    host: Annotated[str, typer.Option(help="with --serve: address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="with --serve: port to listen on")] = 8000,
) -> None:
    """Load a realistic two-year data set through the command layer, then print a registry summary."""
    from ledger.clock import ManualClock
    from ledger.demo import demo_plan, registry_summary, run_demo

    url = database_url or DEMO_DATABASE
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    plan = demo_plan(seed=seed, providers=providers)
    first = plan[0][0]
    app = open_app(url, clock=ManualClock(first))
    with app:
        if app.store.max_position() > 0:
            fail(f"{redact(url)} already holds events; the demo needs an empty database")
        with progress_bar() as bar:
            task = bar.add_task("recording the demo ledger", total=len(plan))
            run_demo(app.ledger, plan, progress=lambda done, total: bar.update(task, completed=done))
        print_summary(registry_summary(app.ledger))
        print_hints(app, url)
    if then_serve:
        serve(url, host=host, port=port)


def print_hints(app: App, url: str) -> None:
    from ledger.projections import read_models

    models = read_models(app)  # waits until the demo's commands are in the read models
    shown = redact(url)
    console.print(f"\n{app.store.max_position()} events in {shown}. Try:", highlight=False)
    if shown != url:  # never print the password: hints name the setting instead
        console.print("  (with LEDGER_DATABASE_URL set to that database's URL)", highlight=False)
        url = '"$LEDGER_DATABASE_URL"'
    hints = [f"ledger lists -d {url}", f"ledger registry tangshan -d {url}"]
    listed = models.lists()
    if listed:
        hints += [f"ledger provider {listed[0]['provider_id']} -d {url}", f"ledger explain {listed[0]['provider_id']} -d {url}"]
    reinstated = [r for r in models.registry() if r.get("standing") == "reinstated"]
    if reinstated:
        hints.append(f"ledger timeline {reinstated[0]['provider_id']} -d {url}")
    hints += [f"ledger verify -d {url}", f"ledger replay -d {url}"]
    for hint in hints:
        console.print(f"  {hint}", highlight=False)


def print_summary(summary: list[dict[str, Any]]) -> None:
    from rich.table import Table

    from ledger.rules.base import article_order
    statuses = sorted({status for row in summary for status in row["by_status"]})
    table = Table(title="registry by jurisdiction", title_justify="left")
    table.add_column("jurisdiction")
    for status in statuses:
        table.add_column(status, justify="right")
    for row in summary:
        table.add_row(row["jurisdiction"], *(str(row["by_status"].get(s, "")) for s in statuses))
    console.print(table)
    articles = Table(title="sanctions in force by article", title_justify="left")
    for column in ("jurisdiction", "article", "sanction", "count"):
        articles.add_column(column, justify="right" if column == "count" else "left")
    for row in summary:
        for label, count in sorted(row.get("sanctions_by_article", {}).items(), key=lambda item: article_order(item[0])):
            article, _, sanction = label.partition(" ")
            articles.add_row(row["jurisdiction"], article, sanction, str(count))
    console.print(articles)


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="JSON Lines: one command per line, each naming its type")],
    database_url: DatabaseOption = None,
) -> None:
    """Apply a file of commands: the whole file is recorded, or none of it."""
    from ledger.application import BatchError
    from ledger.commands.importing import read_import

    commands, problems = (parsed := read_import(file)).commands, parsed.problems
    if problems:
        for problem in problems:
            err.print(problem, highlight=False)
        fail(f"{len(problems)} problem(s) in {file}; nothing was recorded")
    if not commands:
        fail(f"{file} holds no commands")
    with open_app(database_url) as app:
        try:
            with progress_bar() as bar:
                task = bar.add_task(f"checking {file.name}", total=len(commands))
                results = app.ledger.execute_all([c for _, c in commands], on_progress=lambda done: bar.update(task, completed=done))
        except BatchError as error:
            number = commands[error.index][0]
            problem = (
                f"reuses the command id of line {commands[error.earlier_index][0]} for a different command"
                if error.earlier_index is not None
                else str(error.error)
            )
            fail(f"line {number}: {type(error.command).__name__} {error.command.command_id}: {problem}; nothing was recorded")
    recorded = sum(1 for r in results if not r.duplicate)
    events = sum(len(r.positions) for r in results)
    console.print(f"recorded {recorded} command(s) ({events} events); {len(results) - recorded} already recorded before")


@app.command()
def schema() -> None:
    """Print the JSON Schema of every command."""
    from ledger.commands.models import command_schemas

    console.print_json(json.dumps(command_schemas(), ensure_ascii=False))


@app.command()
def provider(
    provider_id: Annotated[str, typer.Argument(help="the bureau's provider id")],
    database_url: DatabaseOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """A provider's current standing: pool status, grades, counters, sanctions with their citations."""
    from ledger.projections import read_models

    with open_app(database_url) as app:  # the read model: no fold of the provider's history
        data = read_models(app).provider_standing(provider_id)
    if data is None:
        fail(f"no provider {provider_id!r} in the ledger")
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return
    print_standing(data)


def print_standing(data: dict[str, Any]) -> None:
    from rich.table import Table
    console.print(f"[bold]{data['provider_id']}[/] {data['name']} — {data['jurisdiction']} ({data['kind']})", highlight=False)
    console.print(f"standing: [bold]{data['standing']}[/] since {data['status_since']}; admitted {data['admitted_on'] or '—'}", highlight=False)
    grades = data["grades"]
    for label, rows, key in (("scores", grades["scores"], "grade"), ("evaluations", grades["evaluations"], "qualified"), ("stars", grades["stars"], "stars")):
        if rows:
            console.print(f"{label}: " + ", ".join(f"{r.get('year', r.get('rating_round'))}: {r[key]}" for r in rows), highlight=False)
    counters = data["counters"]
    console.print(
        f"warnings {counters['warnings']['count']}, rectification orders {counters['rectification_orders']['count']} "
        f"(open {counters['rectification_orders']['open']}, overdue {counters['rectification_orders']['overdue']}), "
        f"verified complaints {counters['verified_complaints']['count']}, "
        f"不满意 {counters['unsatisfied_ratings']['occurrences']} ({counters['unsatisfied_ratings']['distinct_enterprises']} enterprises)",
        highlight=False,
    )
    if data["sanctions"]:
        table = Table(title="sanctions")
        for column in ("effective", "sanction", "article", "state", "deadline", "derived", "ref"):
            table.add_column(column)
        for s in data["sanctions"]:
            table.add_row(s["effective_on"], s["sanction"], s["article"], s["state"], s["deadline"] or "", "yes" if s["derived"] else "finding", s["ref"])
        console.print(table)


@app.command()
def deadlines(
    now: Annotated[datetime, typer.Option("--now", formats=["%Y-%m-%d"], help="record every deadline passed by this date")],
    database_url: DatabaseOption = None,
) -> None:
    """Record every rectification and answer deadline that has passed by --now."""
    from ledger.deadlines import sweep

    as_of: date = now.date()
    with open_app(database_url) as app:
        assert app.projections is not None
        app.projections.wait_for(app.store.max_position())  # the read models hold the whole log so far
        # what is due comes from the read models (not from every aggregate); each command checks again
        models = app.projections.models
        filled = not {"rectification_deadlines", "answer_deadlines"} & set(models.incomplete())
        result = sweep(app.ledger, as_of, todo=models.deadlines_due(as_of) if filled else None)  # else: every aggregate
    console.print(
        f"{result.deadlines} deadline(s) recorded as passed by {as_of} for {len(result.results)} provider(s); "
        f"{result.sanctions} sanction(s) derived"
    )


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def rows_table(title: str, rows: list[dict[str, Any]], columns: list[str]) -> None:
    from rich.table import Table
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    console.print(table)


DateOption = Annotated[Optional[datetime], typer.Option(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S"])]


@app.command()
def registry(
    jurisdiction: Annotated[Optional[str], typer.Argument(help="tianjin, xinxiang, province, tangshan or liuzhou")] = None,
    database_url: DatabaseOption = None,
    known_at: Annotated[Optional[datetime], typer.Option("--known-at", formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S%z"], help="as recorded by then (a date: the end of that day)")] = None,
    effective_at: Annotated[Optional[datetime], typer.Option("--effective-at", formats=["%Y-%m-%d"], help="as in effect on that date")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The registry: every provider with its standing and since when; optionally as of a past date on either axis."""
    from ledger.projections.history import registry_as_of

    with open_app(database_url) as app:
        if known_at or effective_at:
            known = known_at.date() if known_at and known_at.tzinfo is None and known_at.time() == datetime.min.time() else known_at
            rows = registry_as_of(app.ledger, known_at=known, effective_at=effective_at.date() if effective_at else None, jurisdiction=jurisdiction)
        else:
            assert app.projections is not None
            rows = app.projections.models.registry(jurisdiction)
    if as_json:
        emit_json(rows)
        return
    rows_table("registry", rows, ["jurisdiction", "provider_id", "name", "standing", "status_since"])


@app.command("lists")
def lists_(
    kind: Annotated[Optional[str], typer.Argument(help="blacklist, gray_list, disqualified or removed")] = None,
    jurisdiction: Annotated[Optional[str], typer.Option(help="only this jurisdiction")] = None,
    database_url: DatabaseOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """What a bureau publishes: the blacklist, gray list, disqualified and removed, each with its article."""
    with open_app(database_url) as app:
        assert app.projections is not None
        rows = app.projections.models.lists(kind, jurisdiction)
    if as_json:
        emit_json(rows)
        return
    columns = [c for c in ("list_kind", "jurisdiction", "provider_id", "provider_name", "article", "effective_on", "sanction_ref") if rows and c in rows[0]]
    rows_table("lists", rows, columns or ["provider_id"])


@app.command()
def timeline(
    provider_id: str,
    database_url: DatabaseOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Every event of a provider, its projects, complaints and appeals, in order."""
    with open_app(database_url) as app:
        assert app.projections is not None
        rows = app.projections.models.timeline(provider_id)
    if not rows:
        fail(f"no events for provider {provider_id!r}")
    if as_json:
        emit_json(rows)
        return
    columns = [c for c in ("position", "effective_on", "recorded_at", "recorded_by", "subject_id", "event_name", "summary") if c in rows[0]]
    rows_table(f"timeline of {provider_id}", rows, columns)


@app.command()
def history(
    provider_id: str,
    database_url: DatabaseOption = None,
    known_at: DateOption = None,
    effective_at: Annotated[Optional[datetime], typer.Option(formats=["%Y-%m-%d"])] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A provider's standing as recorded by --known-at and/or as in effect on --effective-at."""
    from ledger.projections.history import standing_as_of

    if known_at is None and effective_at is None:
        fail("give --known-at and/or --effective-at")
    with open_app(database_url, projections=False) as app:
        known = known_at.date() if known_at and known_at.tzinfo is None and known_at.time() == datetime.min.time() else known_at
        data = standing_as_of(app.ledger, provider_id, known_at=known, effective_at=effective_at.date() if effective_at else None)
    if data is None:
        fail(f"provider {provider_id!r} had not applied in that window")
    if as_json:
        emit_json(data)
        return
    console.print(f"as of {data['as_of']}", highlight=False)
    print_standing(data)


@app.command()
def explain(
    ref: Annotated[str, typer.Argument(help="a sanction's event ref (aggregate-uuid/version), or a provider id for its removal")],
    database_url: DatabaseOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Why a sanction or removal: the article, pack version, parameters, evidence and the chain of causation."""
    from ledger.projections.explain import ExplainError, explain_removal
    from ledger.projections.explain import explain as explain_ref

    with open_app(database_url, projections=False) as app:
        try:
            explanation = explain_ref(app.ledger, ref) if "/" in ref else explain_removal(app.ledger, ref)
        except ExplainError as error:
            fail(str(error))
            raise
    if as_json:
        emit_json(explanation.to_dict())
    else:
        console.print(explanation.render(), highlight=False)


@app.command()
def whatif(
    provider_id: str,
    void: Annotated[list[str], typer.Option("--void", help="an evidence ref to void (repeat)")],
    database_url: DatabaseOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The standing the provider would have if the named evidence were voided by an appeal. Writes nothing."""
    from ledger.projections.whatif import what_if

    with open_app(database_url, projections=False) as app:
        result = what_if(app.ledger, provider_id, void)
    if as_json:
        emit_json({k: v for k, v in vars(result).items() if k not in ("before", "after")})
    else:
        console.print(result.render(), highlight=False)


@app.command()
def replay(database_url: DatabaseOption = None) -> None:
    """Rebuild every read model from the first event into fresh tables and switch to them atomically."""
    from ledger.projections.replay import replay as rebuild

    with open_app(database_url) as app:
        result = rebuild(app, console=err)
    console.print(
        f"rebuilt generation {result.generation} (was {result.previous_generation}) from {result.events} events "
        f"(+{result.caught_up_at_switch} at the switch) in {result.seconds:.1f}s; tracking at {result.position}"
    )


@app.command()
def verify(
    database_url: DatabaseOption = None,
    export_file: Annotated[Optional[Path], typer.Option("--export", exists=True, dir_okay=False, help="verify an export file instead, without the running system")] = None,
    digest_file: Annotated[Optional[Path], typer.Option("--digest", exists=True, dir_okay=False, help="also check the log still holds an auditor's digest")] = None,
    public_key: Annotated[Optional[str], typer.Option("--public-key", envvar="LEDGER_VERIFY_KEY", help="the digest must be signed by this key (base64)")] = None,
) -> None:
    """Check the hash chain of the whole log; exit 1 naming the first event that does not match."""
    from ledger.audit.verify import (
        Digest,
        verify_against_digest,
        verify_export,
        verify_store,
    )

    from ledger.audit.integrity import command_head_problems, integrity_problems
    from ledger.audit.signing import signature_problem
    from ledger.audit.verify import verify_export_against_digest

    problems: list[str] = []
    if digest_file is not None:
        refused = signature_problem(Digest.load(digest_file), public_key)
        if refused:
            fail(f"{digest_file}: {refused}")
    if export_file is not None:
        if digest_file is not None:
            report = verify_export_against_digest(export_file, Digest.load(digest_file), progress=True)
        else:
            report = verify_export(export_file, progress=True)
    else:
        with open_app(database_url, projections=False) as app:
            if digest_file is not None:
                report = verify_against_digest(app.store, Digest.load(digest_file), progress=True)
            else:
                report = verify_store(app.store, progress=True)
            problems = integrity_problems(app.store)
            if digest_file is not None:
                problems += command_head_problems(app.store, Digest.load(digest_file))
    for problem in problems:
        err.print(f"problem: {problem}", highlight=False)
    if not report.ok:
        fail(report.summary())
    if problems:
        fail(f"{len(problems)} integrity problem(s); the event chain itself: {report.summary()}")
    console.print(report.summary(), highlight=False)


@app.command()
def export(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="JSON Lines file to write")],
    database_url: DatabaseOption = None,
) -> None:
    """Export every event with its hashes (JSON Lines), verifiable offline with `ledger verify --export`."""
    from ledger.audit.verify import export_events

    with open_app(database_url, projections=False) as app:
        summary = export_events(app.store, file, progress=True)
    console.print(f"exported {summary.count} events to {summary.path}; head {summary.head_position} {summary.head_hash}", highlight=False)


@app.command()
def digest(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="where to save the digest (keep it outside the system)")],
    database_url: DatabaseOption = None,
) -> None:
    """Take a digest of the whole log (head, checkpoints, command chain head) for an auditor to keep;
    signed with LEDGER_SIGNING_KEY_FILE when it is set."""
    from ledger.audit.signing import load_key, sign
    from ledger.audit.verify import take_digest

    settings = settings_for(database_url)
    key = load_key(settings.signing_key_file) if settings.signing_key_file else None
    with open_app(database_url, projections=False) as app:
        taken = take_digest(app.store, progress=True)
    if key is not None:
        taken = sign(taken, key)
    taken.save(file)
    signed = f"; signed by {taken.public_key}" if taken.signature else "; unsigned (set LEDGER_SIGNING_KEY_FILE)"
    console.print(f"digest at position {taken.position}: {taken.hash}{signed} → {file}", highlight=False)


@app.command()
def keygen(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="where to write the new private key (PEM, mode 0600)")],
) -> None:
    """Make an Ed25519 key for signing digests; prints the public key an auditor pins."""
    from ledger.audit.signing import generate_key

    if file.exists():
        fail(f"{file} exists; a key is never overwritten")
    public = generate_key(file)
    console.print(f"private key → {file} (set LEDGER_SIGNING_KEY_FILE={file})\npublic key: {public}", highlight=False)


KafkaOption = Annotated[
    Optional[str], typer.Option("--bootstrap", envvar="LEDGER_KAFKA_BOOTSTRAP", help="Kafka brokers host:port (default 127.0.0.1:9092)")
]


@app.command()
def relay(
    database_url: DatabaseOption = None,
    bootstrap: KafkaOption = None,
    topic_prefix: Annotated[Optional[str], typer.Option(help="prefix of the topic name")] = None,
    once: Annotated[bool, typer.Option("--once", help="stop when the whole log is published")] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="events per acknowledged batch")] = 1000,
) -> None:
    """Publish every stored event to Kafka in log order (CloudEvents), resuming where the broker last acknowledged."""
    import signal
    import threading

    from ledger.relay import Relay, require_ledger, topic_name
    from ledger.store import open_store

    settings = settings_for(database_url)
    try:
        require_ledger(settings.database_url)
        store = open_store(settings.database_url)
    except Exception as error:
        fail(f"cannot open the ledger at {redact(settings.database_url)}: {describe_failure(error)}")
        raise
    topic = topic_name(settings.kafka_topic_prefix if topic_prefix is None else topic_prefix)
    publisher = Relay(store, bootstrap or settings.kafka_bootstrap, topic, batch_size=batch_size)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    err.print(f"relay: {publisher.lag().events} events to publish to {topic} on {publisher.bootstrap_servers}", highlight=False)
    try:
        with progress_bar() as bar:
            task = bar.add_task("publishing", total=None)
            publisher.run(stop, until_caught_up=once, progress=lambda n: bar.advance(task, n))
        err.print(f"relay: published {publisher.published}; lag {publisher.lag().events} events", highlight=False)
    except Exception as error:  # broker and database failures are retried inside: this is anything else
        fail(f"relay stopped after {publisher.published} events: {describe_failure(error)}")
    finally:
        publisher.close()
        store.close()


@app.command()
def status(
    database_url: DatabaseOption = None,
    topic_prefix: Annotated[Optional[str], typer.Option(help="prefix of the topic name")] = None,
    json_: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """The log's head and how far the Kafka relay is behind it (events and seconds)."""
    from ledger.relay import relay_status, topic_name

    settings = settings_for(database_url)
    try:
        lag = relay_status(settings.database_url, topic_name(settings.kafka_topic_prefix if topic_prefix is None else topic_prefix))
    except Exception as error:
        fail(f"cannot read the ledger at {redact(settings.database_url)}: {describe_failure(error)}")
        raise
    data = {"relay": lag.to_dict() if lag else None}
    if json_:
        emit_json(data)
    elif lag is None:
        console.print("relay: never ran on this ledger")
    else:
        console.print(f"relay → {lag.topic}: acknowledged {lag.acknowledged} of {lag.head}; lag {lag.events} events, {lag.seconds:.1f} s")


@app.command()
def contract(
    write: Annotated[bool, typer.Option("--write", help="regenerate contracts/asyncapi.yaml")] = False,
    check: Annotated[bool, typer.Option("--check", help="exit 1 if contracts/asyncapi.yaml differs from the code")] = False,
) -> None:
    """The published contract (AsyncAPI 3, JSON Schema of every event type), generated from the code."""
    from ledger import asyncapi

    if write:
        err.print(f"wrote {asyncapi.write()}", highlight=False)
    elif check:
        current = asyncapi.DOCUMENT.read_text(encoding="utf-8") if asyncapi.DOCUMENT.exists() else ""
        if current != asyncapi.render():
            fail(f"{asyncapi.DOCUMENT} differs from the code: run `ledger contract --write`")
    else:
        sys.stdout.write(asyncapi.render())
@app.command()
def serve(
    database_url: DatabaseOption = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="port to listen on")] = 8000,
) -> None:
    """Serve the HTTP API and the dashboard over the ledger (OpenAPI at /docs)."""
    from api.serve import serve as run

    run(settings_for(database_url).database_url, host=host, port=port, fail=fail)


@app.command()
def token(
    role: Annotated[str, typer.Argument(help="regulator, auditor, provider or enterprise")],
    subject: Annotated[str, typer.Option("--sub", help="who the token names (recorded as the author of its commands)")],
    jurisdiction: Annotated[Optional[str], typer.Option(help="the regulator's jurisdiction")] = None,
    provider_id: Annotated[Optional[str], typer.Option("--provider", help="the provider's own id")] = None,
    enterprise_id: Annotated[Optional[str], typer.Option("--enterprise", help="the enterprise's own id")] = None,
    minutes: Annotated[Optional[int], typer.Option(min=1, max=60 * 24 * 31, help="lifetime (default LEDGER_API_TOKEN_MINUTES)")] = None,
) -> None:
    """Sign a bearer token for the API with LEDGER_API_JWT_SECRET."""
    from pydantic import ValidationError

    from api.auth import Principal, TokenError, mint_token
    from api.settings import ApiSettings

    try:
        principal = Principal(sub=subject, role=role, jurisdiction=jurisdiction, provider_id=provider_id, enterprise_id=enterprise_id)
        sys.stdout.write(mint_token(principal, ApiSettings(), minutes=minutes) + "\n")
    except ValidationError as error:
        problem = error.errors()[0]
        fail(f"{'.'.join(map(str, problem['loc'])) or 'token'}: {problem['msg']}")
    except TokenError as error:
        fail(str(error))


def main() -> None:  # pragma: no cover
    """Run the CLI: every failure is one line on stderr and exit 1 (``LEDGER_DEBUG=1`` re-raises)."""
    import os

    try:
        app()
    except Exception as error:  # a refusal, a database or file failure, or a bug: one line, never a traceback
        from ledger.aggregates import DomainError
        from ledger.application import CommandConflict
        from ledger.store import CommandIdReused

        if isinstance(error, (DomainError, CommandConflict, CommandIdReused)):
            message = redact(error)
        elif os.environ.get("LEDGER_DEBUG"):
            raise
        else:
            message = describe_failure(error)
        err.print(f"[bold red]error:[/] {message}", highlight=False)
        sys.exit(1)
