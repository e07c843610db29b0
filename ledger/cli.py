"""The ``ledger`` command-line tool."""
from __future__ import annotations

import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Optional
from uuid import uuid4

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from ledger.aggregates import DomainError, Provider
from ledger.application import BatchError, CommandConflict, Ledger
from ledger.clock import ManualClock
from ledger.commands.models import RecordPassedDeadlines, command_schemas, parse_command
from ledger.settings import Settings

app = typer.Typer(help="Event-sourced compliance ledger for pools of digital-transformation service providers.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)

DatabaseOption = Annotated[
    Optional[str],
    typer.Option("--database-url", "-d", envvar="LEDGER_DATABASE_URL", help="sqlite:///FILE or postgresql://… (default: sqlite:///ledger.db)"),
]
DEMO_DATABASE = "sqlite:///var/demo.db"


def fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def open_ledger(database_url: str | None, clock=None, projections: bool = True) -> Ledger:
    from ledger.bootstrap import bootstrap

    settings = Settings(database_url=database_url) if database_url else Settings()
    try:
        return bootstrap(settings, clock=clock, projections=projections)
    except Exception as error:  # connection refused, bad URL, …
        fail(f"cannot open the ledger at {settings.database_url}: {error}")
        raise


def progress_bar() -> Progress:
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
) -> None:
    """Load a realistic two-year data set through the command layer, then print a registry summary."""
    from ledger.demo import demo_plan, registry_summary, run_demo

    url = database_url or DEMO_DATABASE
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    plan = demo_plan(seed=seed, providers=providers)
    first = plan[0][0]
    ledger = open_ledger(url, clock=ManualClock(first))
    if ledger.store.max_position() > 0:
        fail(f"{url} already holds events; the demo needs an empty database")
    try:
        with progress_bar() as bar:
            task = bar.add_task("recording the demo ledger", total=len(plan))
            run_demo(ledger, plan, progress=lambda done, total: bar.update(task, completed=done))
        print_summary(registry_summary(ledger))
        console.print(f"\n{ledger.store.max_position()} events in {url}. Try: [bold]ledger -h[/] or [bold]ledger provider ID -d {url}[/]")
    finally:
        ledger.close()


def print_summary(summary: list[dict[str, Any]]) -> None:
    for row in summary:
        table = Table(title=f"{row['jurisdiction']} — {row.get('document', '')}", title_justify="left")
        table.add_column("status")
        table.add_column("providers", justify="right")
        for status, count in sorted(row["by_status"].items()):
            table.add_row(status, str(count))
        console.print(table)
        if row.get("sanctions_by_article"):
            articles = Table(show_header=True)
            articles.add_column("article")
            articles.add_column("sanctions", justify="right")
            for article, count in sorted(row["sanctions_by_article"].items()):
                articles.add_row(article, str(count))
            console.print(articles)


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="JSON Lines: one command per line, each naming its type")],
    database_url: DatabaseOption = None,
) -> None:
    """Apply a file of commands: the whole file is recorded, or none of it."""
    commands = []
    problems = []
    with file.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                commands.append((number, parse_command(line)))
            except ValidationError as error:
                for e in error.errors():
                    field = ".".join(str(p) for p in e["loc"]) or "(line)"
                    problems.append(f"line {number}: {field}: {e['msg']}")
    if problems:
        for problem in problems:
            err.print(problem, highlight=False)
        fail(f"{len(problems)} problem(s) in {file}; nothing was recorded")
    if not commands:
        fail(f"{file} holds no commands")
    ledger = open_ledger(database_url)
    try:
        with progress_bar() as bar:
            task = bar.add_task(f"checking {file.name}", total=len(commands))
            results = ledger.execute_all([c for _, c in commands], on_progress=lambda done: bar.update(task, completed=done))
    except BatchError as error:
        number = commands[error.index][0]
        fail(f"line {number}: {type(error.command).__name__} {error.command.command_id}: {error.error}; nothing was recorded")
    finally:
        ledger.close()
    recorded = sum(1 for r in results if not r.duplicate)
    events = sum(len(r.positions) for r in results)
    console.print(f"recorded {recorded} command(s) ({events} events); {len(results) - recorded} already recorded before")


@app.command()
def schema() -> None:
    """Print the JSON Schema of every command."""
    console.print_json(json.dumps(command_schemas(), ensure_ascii=False))


@app.command()
def provider(
    provider_id: Annotated[str, typer.Argument(help="the bureau's provider id")],
    database_url: DatabaseOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """A provider's current standing: pool status, grades, counters, sanctions with their citations."""
    from ledger.standing import standing

    ledger = open_ledger(database_url, projections=False)
    try:
        found = ledger.find(Provider, provider_id)
    finally:
        ledger.close()
    if found is None:
        fail(f"no provider {provider_id!r} in the ledger")
    data = standing(found)
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return
    print_standing(data)


def print_standing(data: dict[str, Any]) -> None:
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
    as_of: date = now.date()
    ledger = open_ledger(database_url)
    try:
        result = ledger.execute(RecordPassedDeadlines(command_id=f"deadlines:{as_of}:{uuid4()}", as_of=as_of))
    finally:
        ledger.close()
    overdue = [name for name in result.events if name.endswith(("RectificationOverdue", "AnswerOverdue"))]
    sanctions = [name for name in result.events if name.endswith("SanctionImposed")]
    console.print(f"{len(overdue)} deadline(s) recorded as passed by {as_of}; {len(sanctions)} sanction(s) derived")


def main() -> None:  # pragma: no cover
    try:
        app()
    except (DomainError, CommandConflict) as error:
        fail(str(error))
