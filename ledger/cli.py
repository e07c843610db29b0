"""The ``ledger`` command line: parse the arguments, call the App and its Views, render.

Every command that prints data takes ``--json`` (the same models the HTTP API
returns). Errors are one line on stderr and a non-zero exit, never a traceback;
no command deletes or overwrites a ledger without an explicit flag, and a read
never creates a database. Tables fold long values onto more lines instead of
cutting them, so ids, dates, articles and refs stay whole at 80 columns and
when piped.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console

from ledger.redaction import describe_failure, redact

# The rest is imported where it is used, so that `ledger --help` and a simple read start fast
# (the domain, pydantic models, eventsourcing and the database drivers take most of a second).
if TYPE_CHECKING:
    from rich.progress import Progress

    from ledger.application import CommandResult
    from ledger.audit.verify import Digest
    from ledger.bootstrap import App
    from ledger.clock import ManualClock
    from ledger.commands.models import Command
    from ledger.settings import Settings
    from ledger.views import History, Page, ProviderStanding, RegistryAsOf

app = typer.Typer(
    help="Event-sourced compliance ledger for pools of digital-transformation service providers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: typer's rich help imports pygments and markdown (~0.3 s)
)
console = Console()
err = Console(stderr=True, soft_wrap=True)  # an error is one line, however long

DEMO_DATABASE = "sqlite:///var/demo.db"
#: the range of ``ledger demo --providers``: ledger.demo.plan's MIN_PROVIDERS and MAX_PROVIDERS (the invented
#: names run out above it), kept here so that the CLI starts without importing the demo (a test checks them)
DEMO_PROVIDERS = (5, 1200)
#: for help texts (ledger.rules.PACKS, without importing the rule packs)
JURISDICTIONS = "tianjin, xinxiang, province, tangshan, liuzhou"

DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database-url", "-d", envvar="LEDGER_DATABASE_URL", show_envvar=True,
        help="the ledger: sqlite:///FILE (relative) or sqlite:////ABSOLUTE/FILE, or postgresql://USER@HOST/DB (default: sqlite:///ledger.db)",
    ),
]  # fmt: skip
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON (the models the HTTP API returns) instead of tables")]
LimitOption = Annotated[int, typer.Option(min=1, max=1000, help="at most this many entries")]
CursorOption = Annotated[str | None, typer.Option(help="continue after the page that printed this cursor")]
def day_or_instant(value: str) -> datetime | date:
    """A point on the recorded axis as given: ``2025-03-01`` is that day (the read service takes it as
    the start or the end of the day, Asia/Shanghai), ``2025-03-01T00:00:00`` the instant at midnight —
    as the HTTP API reads them."""
    from ledger.clock import day_or_instant as parse

    try:
        return parse(value)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


KnownAtOption = Annotated[
    datetime | None,
    typer.Option(
        "--known-at", parser=day_or_instant,
        help="as recorded by then: YYYY-MM-DD means the end of that day in Asia/Shanghai, or an ISO instant",
    ),
]  # fmt: skip
EffectiveAtOption = Annotated[
    datetime | None, typer.Option("--effective-at", formats=["%Y-%m-%d"], help="as in effect on that date (YYYY-MM-DD, Asia/Shanghai)")
]


# -- plumbing -------------------------------------------------------------------------------------


def fail(message: str, code: int = 1) -> NoReturn:
    from rich.text import Text

    err.print(Text.assemble(("error:", "bold red"), f" {message}"), highlight=False)
    raise typer.Exit(code)


def settings_for(database_url: str | None) -> Settings:
    """The settings (environment, ``.env``), with ``-d URL`` if given; a value they refuse fails in one
    line naming its variable (``LEDGER_GROUP_COMMIT: Input should be a valid boolean…``)."""
    from pydantic import ValidationError

    from ledger.settings import Settings, refused_setting

    try:
        return Settings(database_url=database_url) if database_url else Settings()
    except ValidationError as error:
        fail(refused_setting(error, Settings))


@contextmanager
def opened(database_url: str | None, *, create: bool = False, projections: bool = True, clock: ManualClock | None = None) -> Iterator[App]:
    """The App on the ledger. Without ``create`` (every command but ``demo`` and ``import``) the ledger
    must be there: a missing SQLite file, or a file or schema without the ledger's tables, is an
    error, and nothing is created or upgraded in it."""
    from ledger.bootstrap import bootstrap
    from ledger.store import NoLedger, ReadOnlyLedger
    from ledger.store.sqlite import database_path

    settings = settings_for(database_url)
    url = settings.database_url
    if not create and url.startswith("sqlite:"):
        try:
            path = database_path(url)
        except ValueError as error:
            fail(str(error))
        if not path.exists():
            fail(f"there is no ledger at {url} ({path} does not exist); give -d URL of an existing ledger, or run `ledger demo`")
    try:
        opened_app = bootstrap(settings, clock=clock, projections=projections, create=create)
    except (NoLedger, ReadOnlyLedger) as error:  # a read on a database without the ledger, a write on one it may only read: nothing was written
        fail(str(error))
    except Exception as error:  # connection refused, bad URL, not a ledger, …
        fail(f"cannot open the ledger at {redact(url)}: {describe_failure(error, url)}")
    try:
        problems = opened_app.store.protection_problems()
    except Exception as error:
        opened_app.close()
        fail(f"cannot open the ledger at {redact(url)}: {describe_failure(error, url)}")
    for problem in problems:  # reported, never repaired behind the auditor's back
        err.print(f"warning: {problem} (not repaired; run `ledger verify`)", highlight=False)
    if opened_app.store.read_only and opened_app.projections is not None:
        try:
            behind = opened_app.projections.behind()
        except Exception as error:
            opened_app.close()
            fail(f"cannot read the read models of the read-only ledger at {redact(url)}: {describe_failure(error, url)}")
        if behind:  # a read-only file cannot be caught up: say what the answers leave out
            err.print(
                f"warning: {redact(url)} is read-only and its read models are {behind} events behind its log:"
                " answers leave them out (`ledger verify` reads the log itself; `ledger replay` on a writable copy catches up)",
                highlight=False,
            )
    with opened_app:
        yield opened_app


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


def emit_json(data: Any) -> None:
    from pydantic import BaseModel

    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def say(text: str) -> None:
    """A line of prose, wrapped at spaces to the console (values contain none, so none is split)."""
    console.print(text, highlight=False, markup=False)


#: columns whose long values may wrap onto several lines; every other value is printed whole on one line
WRAPPING = frozenset({"name", "summary", "sanctions"})


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A table if it fits the console (only names and summaries wrap), else one block per row:
    ids, dates, articles and refs are never cut or split, at 80 columns and when piped."""
    from rich.cells import cell_len
    from rich.table import Table

    cells = [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max([cell_len(column), *(cell_len(r[i]) for r in cells)]) for i, column in enumerate(columns)]
    fixed = sum(w for w, c in zip(widths, columns) if c not in WRAPPING)
    flexible = sum(min(w, 16) for w, c in zip(widths, columns) if c in WRAPPING)
    if fixed + flexible + 3 * len(columns) + 1 <= console.width:
        out = Table(title=title, title_justify="left")
        for column, width in zip(columns, widths):
            if column in WRAPPING:
                out.add_column(column, overflow="fold")
            else:
                out.add_column(column, no_wrap=True, min_width=width)
        for row in cells:
            out.add_row(*row)
        console.print(out)
        return
    if title:
        say(title)
    for row in cells:
        record = Table.grid(padding=(0, 2))
        record.add_column(no_wrap=True)
        record.add_column(overflow="fold")
        for column, value in zip(columns, row):
            if value:
                record.add_row(f"  {column}", value)
        say("")
        console.print(record)


def paged_hint(page: Page[Any], what: str) -> None:
    shown = len(page.items)
    if page.next_cursor:
        err.print(f"{shown} of {page.total} {what}; next page: --cursor {page.next_cursor}", highlight=False, soft_wrap=True)


# -- demo and import ------------------------------------------------------------------------------


@app.command()
def demo(
    database_url: DatabaseOption = None,
    seed: Annotated[int, typer.Option(help="random seed of the data set")] = 2024,
    providers: Annotated[int, typer.Option(min=DEMO_PROVIDERS[0], max=DEMO_PROVIDERS[1], help="number of providers")] = 220,
    replace: Annotated[bool, typer.Option("--replace", help="delete the ledger already at -d first (never done without it)")] = False,
    as_json: JsonOption = False,
    then_serve: Annotated[bool, typer.Option("--serve", help="then serve the API and the dashboard over it (ledger serve)")] = False,
    host: Annotated[str, typer.Option(help="with --serve: address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="with --serve: port to listen on")] = 8000,
) -> None:
    """Record a realistic two-year data set through the command layer (default: var/demo.db), then summarise it."""
    from ledger.clock import ManualClock
    from ledger.demo import demo_plan, registry_summary, run_demo
    from ledger.store.erase import count_events, erase, foreign_tables

    url = database_url or DEMO_DATABASE
    try:
        existing = count_events(url)
        foreign = foreign_tables(url)
    except Exception as error:
        fail(f"cannot open the ledger at {redact(url)}: {describe_failure(error, url)}")
    if foreign:  # another application's database: a ledger goes into one of its own
        named = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        if existing and replace:
            fail(f"{redact(url)} holds tables that are not the ledger's ({named}) beside its ledger of {existing} events:"
                 " --replace deletes a ledger only from a database of its own; nothing was deleted")  # fmt: skip
        fail(f"{redact(url)} holds tables that are not the ledger's ({named}): a ledger goes into a database of its own;"
             " give -d a new file or an empty schema; nothing was written")  # fmt: skip
    if existing and not replace:
        fail(
            f"{redact(url)} already holds a ledger of {existing} events; the demo never overwrites one. "
            "Give --replace to delete it and record the demo, or -d another database"
        )
    if existing:
        erase(url)
        err.print(f"deleted the ledger of {existing} events at {redact(url)} (--replace)", highlight=False)
    plan = demo_plan(seed=seed, providers=providers)
    with opened(url, create=True, clock=ManualClock(plan[0][0])) as ledger_app:
        with progress_bar() as bar:
            task = bar.add_task("recording the demo ledger", total=len(plan))
            summary = run_demo(
                ledger_app.ledger, plan, progress=lambda done, total: bar.update(task, completed=done), due=due_from_read_models(ledger_app)
            )
        if as_json:
            emit_json({"database_url": redact(url), "events": ledger_app.store.max_position(), "commands": summary.commands,
                       "registry": registry_summary(ledger_app.ledger)})  # fmt: skip
            return
        print_summary(registry_summary(ledger_app.ledger))
        print_hints(ledger_app, url)
    if then_serve:
        serve(url, host=host, port=port)


def print_hints(ledger_app: App, url: str) -> None:
    shown = redact(url)
    say(f"\n{ledger_app.store.max_position()} events in {shown}. Try:")
    if shown != url:  # never print the password: hints name the setting instead
        say("  (with LEDGER_DATABASE_URL set to that database's URL)")
        shown = '"$LEDGER_DATABASE_URL"'
    hints = [f"ledger lists -d {shown}", f"ledger registry tangshan -d {shown}"]
    listed = ledger_app.views.lists(limit=1).items
    if listed:
        hints += [f"ledger provider {listed[0].provider_id} -d {shown}", f"ledger explain {listed[0].provider_id} -d {shown}"]
    reinstated = ledger_app.views.registry(standing="reinstated", limit=1).items
    if reinstated:
        hints.append(f"ledger timeline {reinstated[0].provider_id} -d {shown}")
    hints += [f"ledger verify -d {shown}", f"ledger replay -d {shown}"]
    for hint in hints:
        say(f"  {hint}")


def print_summary(summary: list[dict[str, Any]]) -> None:
    from ledger.rules.base import article_order

    statuses = sorted({status for row in summary for status in row["by_status"]})
    table("registry by jurisdiction", ["jurisdiction", *statuses], [[row["jurisdiction"], *(row["by_status"].get(s, "") for s in statuses)] for row in summary])
    rows = []
    for row in summary:
        for label, count in sorted(row.get("sanctions_by_article", {}).items(), key=lambda item: article_order(item[0])):
            article, _, sanction = label.partition(" ")
            rows.append([row["jurisdiction"], article, sanction, count])
    table("sanctions in force by article", ["jurisdiction", "article", "sanction", "count"], rows)


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="JSON Lines: one command per line, each naming its type")],
    database_url: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record a file of commands: the whole file, or none of it. Commands already recorded are not recorded again."""
    from ledger.commands.importing import EventExport, read_import

    try:
        parsed = read_import(file)
    except EventExport as error:
        fail(str(error))
    except KeyboardInterrupt:
        err.print(f"interrupted while reading {file}: nothing was recorded", highlight=False, markup=False)
        raise typer.Exit(130) from None
    commands, problems = parsed.commands, parsed.problems
    if problems:
        for problem in problems[:MAX_PROBLEMS_SHOWN]:
            err.print(problem, highlight=False, markup=False, soft_wrap=True)
        if len(problems) > MAX_PROBLEMS_SHOWN:
            err.print(f"… {len(problems) - MAX_PROBLEMS_SHOWN} more", highlight=False, markup=False)
        fail(f"{len(problems)} problem(s) in {file}; nothing was recorded")
    if not commands:
        fail(f"{file} holds no commands")
    try:  # Ctrl-C: say what the ledger holds of the file, whichever point was reached
        results = record_import(file, commands, database_url)
        already = [r.command_id for r in results if r.duplicate]
        recorded = len(results) - len(already)
        events = sum(len(r.positions) for r in results if not r.duplicate)
        if as_json:
            emit_json({"recorded": recorded, "events": events, "already_recorded": already})
        elif recorded == 0:
            say(f"recorded 0 command(s): all {len(already)} already recorded before (same command ids); nothing new")
        else:
            say(f"recorded {recorded} command(s) ({events} events); {len(already)} already recorded before" + (f": {', '.join(already)}" if already else ""))
    except KeyboardInterrupt:
        err.print(interrupted_import(database_url, [c.command_id for _, c in commands]), highlight=False, markup=False)
        raise typer.Exit(130) from None


#: problem lines an import prints before "… N more" (the count of all of them ends the output)
MAX_PROBLEMS_SHOWN = 20


def interrupted_import(database_url: str | None, command_ids: list[str]) -> str:
    """What an interrupted import left, read from the ledger: how many of the file's commands it holds
    (recorded by this import, which is one transaction, or before it)."""
    from ledger.store import open_store

    total = len(command_ids)
    try:
        store = open_store(settings_for(database_url).database_url, create=False)
    except Exception:  # no ledger was made: nothing of the file was recorded
        return f"interrupted: 0 of {total} commands recorded; run the same import again to record the rest (recorded ones are skipped)"
    try:
        recorded = len(store.command_results(command_ids))
    except Exception as error:
        return f"interrupted; could not count the commands recorded ({describe_failure(error)}); run the same import again (recorded ones are skipped)"
    finally:
        store.close()
    if recorded == total:
        return f"interrupted: {recorded} of {total} commands recorded; nothing left to record (running the same import again records nothing)"
    return f"interrupted: {recorded} of {total} commands recorded; run the same import again to record the rest (recorded ones are skipped)"


def record_import(file: Path, commands: list[tuple[int, Command]], database_url: str | None) -> list[CommandResult]:
    """Record the commands of ``file`` (each with its line number) in one transaction; their results."""
    from ledger.application import BatchError

    with opened(database_url, create=True) as ledger_app:
        try:
            with progress_bar() as bar:
                task = bar.add_task(f"checking {file.name}", total=len(commands))
                return ledger_app.ledger.execute_all([c for _, c in commands], on_progress=lambda done: bar.update(task, completed=done))
        except BatchError as error:
            number = commands[error.index][0]
            problem = (
                f"reuses the command id of line {commands[error.earlier_index][0]} for a different command"
                if error.earlier_index is not None
                else str(error.error)
            )
            fail(f"line {number}: {type(error.command).__name__} {error.command.command_id}: {problem}; nothing was recorded")
        except Exception as error:  # the database failed or restarted under the import (one transaction)
            if type(error).__module__.split(".")[0] not in ("psycopg", "psycopg_pool", "sqlite3"):
                raise
            fail(
                f"{describe_failure(error)}; the import of {file} was interrupted: it is recorded whole or not at all,"
                " so run it again (commands already recorded are not recorded twice)"
            )


@app.command()
def schema() -> None:
    """Print the JSON Schema of every command (what `ledger import` and the API accept)."""
    from ledger.commands.models import command_schemas

    emit_json(command_schemas())


# -- live reads -----------------------------------------------------------------------------------


@app.command()
def registry(
    jurisdiction: Annotated[str | None, typer.Argument(help=f"only this jurisdiction: {JURISDICTIONS}")] = None,
    database_url: DatabaseOption = None,
    known_at: KnownAtOption = None,
    effective_at: EffectiveAtOption = None,
    standing: Annotated[str | None, typer.Option(help="only this standing, e.g. in_pool, warned, rectifying, blacklisted")] = None,
    kind: Annotated[str | None, typer.Option(help="only this provider kind of the rulebook, e.g. 云服务商")] = None,
    grade: Annotated[str | None, typer.Option(help="only providers whose latest grade is this (A, B, 3, qualified, …); the live registry only")] = None,
    limit: LimitOption = 1000,
    cursor: CursorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every provider with its standing and since when; or as of a past date on either time axis."""
    from ledger.aggregates.provider import STANDINGS

    if standing is not None and standing not in STANDINGS:  # as the read service refuses it, in both branches
        fail(f"standing {standing!r} is not one of {', '.join(STANDINGS)}")
    as_of_window = known_at is not None or effective_at is not None
    if as_of_window and grade is not None:
        fail("--grade filters on the latest grade today; the registry as of --known-at/--effective-at has no grades: leave out one or the other")
    with opened(database_url) as ledger_app:
        if as_of_window:
            as_of = ledger_app.views.registry_as_of(jurisdiction, known_at, effective_at.date() if effective_at else None)
            render_registry_as_of(as_of, standing, kind, limit, cursor, as_json)
            return
        page = ledger_app.views.registry(jurisdiction, standing, kind, grade, limit=limit, cursor=cursor)
    if as_json:
        emit_json(page)
        return
    table(f"registry ({page.total} providers)", ["jurisdiction", "provider_id", "name", "standing", "since"],
          [[e.jurisdiction, e.provider_id, e.name, e.standing, e.standing_since] for e in page.items])  # fmt: skip
    paged_hint(page, "providers")


def render_registry_as_of(as_of: RegistryAsOf, standing: str | None, kind: str | None, limit: int, cursor: str | None, as_json: bool) -> None:
    """The registry as of the window, filtered by ``standing`` and ``kind`` and paged as the live
    registry is (by jurisdiction and provider id; the cursor names the last provider shown)."""
    from ledger.views import Page, RegistryEntry
    from ledger.views.service import _cursor, _uncursor

    rows = [e for e in as_of.items if (standing is None or e.standing == standing) and (kind is None or e.kind == kind)]
    start = 0
    if cursor:
        after = _uncursor(cursor)
        if not (isinstance(after, list) and len(after) == 2 and all(isinstance(k, str) for k in after)):
            fail(f"cursor {cursor!r} is not a registry cursor")
        start = next((i for i, e in enumerate(rows) if (e.jurisdiction, e.provider_id) > tuple(after)), len(rows))
    items = rows[start : start + limit]
    more = start + limit < len(rows)
    page = Page[RegistryEntry](
        items=items, total=len(rows), limit=limit, offset=start,
        next_cursor=_cursor([items[-1].jurisdiction, items[-1].provider_id]) if more and items else None,
    )  # fmt: skip
    if as_json:
        emit_json({**as_of.model_dump(mode="json", exclude={"items"}), **page.model_dump(mode="json")})
        return
    say(f"registry {as_of.view}")
    table(None, ["jurisdiction", "provider_id", "name", "standing", "since"],
          [[e.jurisdiction, e.provider_id, e.name, e.standing, e.standing_since] for e in page.items])  # fmt: skip
    paged_hint(page, "providers")


@app.command()
def provider(
    provider_id: Annotated[str, typer.Argument(help="the bureau's provider id, e.g. TS-2024-014")],
    database_url: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """A provider's standing: pool status, grades, counters, sanctions with their citations."""
    with opened(database_url) as ledger_app:
        standing = ledger_app.views.provider(provider_id)
    if as_json:
        emit_json(standing)
        return
    print_standing(standing)


def print_standing(s: ProviderStanding) -> None:
    say(f"{s.provider_id} {s.name} — {s.jurisdiction} ({s.kind})")
    say(f"standing: {s.standing} since {s.standing_since or s.status_since}; status {s.status} since {s.status_since}; "
        f"applied {s.applied_on}; admitted {s.admitted_on or '—'}")  # fmt: skip
    if s.grades:
        say("grades: " + ", ".join(f"{g.period} {g.grade}" + (f" ({g.score})" if g.score is not None else "") for g in s.grades))
    counted = [f"{c.name} {c.value}" for c in s.counters if c.value]
    say("counters: " + (", ".join(counted) if counted else "all zero"))
    if s.sanctions:
        table("sanctions", ["effective", "sanction", "article", "state", "deadline", "derived", "ref"],
              [[x.effective_on, x.sanction, x.article, x.state, x.deadline, "yes" if x.derived else "finding", x.ref] for x in s.sanctions])  # fmt: skip


@app.command("lists")
def lists_(
    kind: Annotated[str | None, typer.Argument(help="blacklist, gray_list, disqualified or removed (default: all)")] = None,
    jurisdiction: Annotated[str | None, typer.Option(help=f"only this jurisdiction: {JURISDICTIONS}")] = None,
    database_url: DatabaseOption = None,
    limit: LimitOption = 1000,
    cursor: CursorOption = None,
    as_json: JsonOption = False,
) -> None:
    """What the bureaus publish: blacklist, gray list, disqualified and removed, each entry with its article."""
    with opened(database_url) as ledger_app:
        page = ledger_app.views.lists(kind, jurisdiction, limit=limit, cursor=cursor)
    if as_json:
        emit_json(page)
        return
    table(f"lists ({page.total} entries)", ["list", "jurisdiction", "provider_id", "name", "article", "effective", "sanction_ref"],
          [[e.list_kind, e.jurisdiction, e.provider_id, e.provider_name, e.article, e.effective_on, e.sanction_ref] for e in page.items])  # fmt: skip
    paged_hint(page, "entries")


@app.command()
def timeline(
    provider_id: Annotated[str, typer.Argument(help="the bureau's provider id")],
    database_url: DatabaseOption = None,
    effective_from: Annotated[datetime | None, typer.Option("--effective-from", "--since", formats=["%Y-%m-%d"], help="only events effective on or after this date (effective axis)")] = None,
    effective_to: Annotated[datetime | None, typer.Option("--effective-to", "--until", formats=["%Y-%m-%d"], help="only events effective on or before this date (effective axis)")] = None,
    recorded_from: Annotated[datetime | None, typer.Option(parser=day_or_instant, help="only events recorded at or after this instant (recorded axis; a date is the start of that day, Asia/Shanghai)")] = None,
    recorded_to: Annotated[datetime | None, typer.Option(parser=day_or_instant, help="only events recorded at or before this instant (recorded axis; a date is the end of that day, Asia/Shanghai)")] = None,
    event_type: Annotated[str | None, typer.Option("--type", help="only this event type (provider.sanction-imposed.v1) or aggregate (project)")] = None,
    actor: Annotated[str | None, typer.Option(help="only events recorded by this actor")] = None,
    limit: LimitOption = 1000,
    cursor: CursorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every event of a provider, its projects, complaints and appeals, in the order recorded."""
    with opened(database_url) as ledger_app:
        page = ledger_app.views.timeline(
            provider_id, effective_from.date() if effective_from else None, effective_to.date() if effective_to else None, event_type, actor,
            recorded_from=recorded_from, recorded_to=recorded_to, cursor=cursor, limit=limit,
        )  # fmt: skip
    if as_json:
        emit_json(page)
        return
    table(f"timeline of {provider_id} ({page.total} events)", ["position", "effective", "recorded by", "event", "subject", "summary", "ref"],
          [[e.position, e.effective_on, e.recorded_by, e.event_type, e.subject_id, e.summary, e.ref] for e in page.items])  # fmt: skip
    paged_hint(page, "events")


# -- the past, explanations, what-if --------------------------------------------------------------


@app.command()
def history(
    provider_id: Annotated[str, typer.Argument(help="the bureau's provider id")],
    database_url: DatabaseOption = None,
    known_at: KnownAtOption = None,
    effective_at: EffectiveAtOption = None,
    as_json: JsonOption = False,
) -> None:
    """A provider's standing as recorded by --known-at and/or as in effect on --effective-at."""
    if known_at is None and effective_at is None:
        fail("give --known-at and/or --effective-at")
    with opened(database_url) as ledger_app:
        found: History = ledger_app.views.history(provider_id, known_at, effective_at.date() if effective_at else None)
    if as_json:
        emit_json(found)
        return
    say(f"{provider_id} {found.view}")
    print_standing(found.standing)
    if found.skipped:
        say(f"left out (they depend on events outside the window): {', '.join(found.skipped)}")


@app.command()
def explain(
    ref: Annotated[str, typer.Argument(help="a sanction's event ref (aggregate-uuid/version), or a provider id for its removal")],
    database_url: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Why a sanction or removal: the article, pack version, parameters, evidence and the chain of causation."""
    with opened(database_url) as ledger_app:
        explanation = ledger_app.views.explain(ref)
    if as_json:
        emit_json(explanation)
        return
    say(explanation.text)


@app.command()
def whatif(
    provider_id: Annotated[str, typer.Argument(help="the bureau's provider id")],
    void: Annotated[list[str], typer.Option("--void", help="an evidence ref (aggregate-uuid/version) an appeal would void; repeat for several")],
    database_url: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """The standing the provider would have if an upheld appeal voided the named evidence. Writes nothing."""
    with opened(database_url) as ledger_app:
        result = ledger_app.views.whatif(provider_id, void)
    if as_json:
        emit_json(result)
        return
    say(result.text)


# -- writes on a schedule, maintenance --------------------------------------------------------------


def due_from_read_models(ledger_app: App) -> Callable[[date], dict[str, list[str]]] | None:
    """What a deadline sweep finds due on a day, from the read models once they hold the whole log
    so far (not from every aggregate; each command checks again); None if they lack the deadlines
    (read models added to a ledger that had events, until a replay)."""
    projections = ledger_app.projections
    assert projections is not None
    models = projections.models
    if {"rectification_deadlines", "answer_deadlines"} & set(models.incomplete()):
        return None

    def due(as_of: date) -> dict[str, list[str]]:
        projections.wait_for(ledger_app.store.max_position())
        return models.deadlines_due(as_of)

    return due


@app.command()
def deadlines(
    now: Annotated[datetime, typer.Option("--now", formats=["%Y-%m-%d"], help="record every deadline passed by this date (not after today)")],
    database_url: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record every rectification and answer deadline passed by --now: one command per provider with one due."""
    from ledger.deadlines import sweep

    as_of: date = now.date()
    with opened(database_url) as ledger_app:
        due = due_from_read_models(ledger_app)
        result = sweep(ledger_app.ledger, as_of, todo=due(as_of) if due is not None else None)  # else: every aggregate
    if as_json:
        emit_json({"as_of": as_of.isoformat(), "deadlines": result.deadlines, "sanctions": result.sanctions,
                   "providers": {p: r.events for p, r in result.results.items()}})  # fmt: skip
        return
    say(f"{result.deadlines} deadline(s) recorded as passed by {as_of} for {len(result.results)} provider(s); {result.sanctions} sanction(s) derived")


@app.command()
def migrate(
    database_url: DatabaseOption = None,
    app_role: Annotated[str | None, typer.Option("--app-role", help="PostgreSQL: grant this role what the application needs (INSERT and SELECT on the log, its own read models) and nothing more")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create or upgrade the ledger's tables as the role that owns them (-d OWNER_URL); with --app-role,
    grant the application's role its rights. Safe to run again."""
    from ledger.store.migrate import MigrationError
    from ledger.store.migrate import migrate as run_migration

    url = settings_for(database_url).database_url
    try:
        report = run_migration(url, app_role)
    except MigrationError as error:
        fail(str(error))
    except Exception as error:  # connection refused, bad URL, …
        fail(f"cannot migrate the ledger at {redact(url)}: {describe_failure(error, url)}")
    for problem in report.problems:  # reported, never repaired behind the auditor's back
        err.print(f"warning: {problem} (not repaired; run `ledger verify`)", highlight=False)
    if as_json:
        emit_json({"schema": report.schema, "version": report.version, "app_role": report.app_role,
                   "handed_over": list(report.handed_over), "problems": report.problems})  # fmt: skip
        return
    line = f"ledger at {redact(url)}: schema {report.schema} (version {report.version})"
    if report.app_role:
        line += f"; role {report.app_role} may read and append to the log and create its read models"
        if report.handed_over:
            line += f" (now owns {len(report.handed_over)} of them)"
    say(line)


@app.command()
def replay(database_url: DatabaseOption = None, as_json: JsonOption = False) -> None:
    """Rebuild every read model from the first event into fresh tables and switch to them atomically."""
    from ledger.projections.replay import replay as rebuild

    url = settings_for(database_url).database_url
    live: int | None = None
    try:  # Ctrl-C: say which generation serves, whichever point was reached
        with opened(database_url) as ledger_app:
            live = live_generation(url)
            result = rebuild(ledger_app, console=err)
    except KeyboardInterrupt:
        err.print(interrupted_replay(url, live), highlight=False, markup=False)
        raise typer.Exit(130) from None
    if as_json:
        emit_json({"generation": result.generation, "previous_generation": result.previous_generation, "events": result.events,
                   "caught_up_at_switch": result.caught_up_at_switch, "position": result.position, "seconds": result.seconds})  # fmt: skip
        return
    say(
        f"rebuilt generation {result.generation} (was {result.previous_generation}) from {result.events} events "
        f"(+{result.caught_up_at_switch} at the switch) in {result.seconds:.1f}s; tracking at {result.position}"
    )


def live_generation(url: str) -> int:
    """The generation of read models that serves (``projection_generation.live``), read on a connection of its own."""
    from ledger.projections.db import ReadModelDB
    from ledger.projections.schema import live_generation as live_of

    db = ReadModelDB(url, pool_size=1)
    try:
        with db.transaction(write=False) as tx:
            live = live_of(tx)
    finally:
        db.close()
    if live is None:
        raise LookupError("the read models have no live generation")
    return live


def interrupted_replay(url: str, before: int | None) -> str:
    """What an interrupted replay left: the generation it started from still serving, or the new one switched in."""
    try:
        now = live_generation(url)
    except Exception as error:
        return f"interrupted; could not read which generation of read models serves ({describe_failure(error, url)}); run `ledger replay` again"
    if before is None:
        return f"interrupted before the replay began: generation {now} still serves, unchanged"
    if now == before:
        return (
            f"interrupted before the switch: generation {before} still serves, unchanged;"
            " the next `ledger replay` drops what this one had built and starts again"
        )
    return (
        f"interrupted after the switch: generation {now} serves, rebuilt from the whole log (was {before});"
        f" if generation {before}'s tables are left, the next `ledger replay` drops them"
    )


# -- tamper evidence -------------------------------------------------------------------------------


def load_digest(path: Path) -> Digest:
    from ledger.audit.verify import Digest

    try:
        return Digest.load(path)
    except (OSError, ValueError, TypeError, AttributeError) as error:
        fail(f"{path} is not a digest written by `ledger digest`: {error}")


@app.command()
def verify(
    database_url: DatabaseOption = None,
    export_file: Annotated[Path | None, typer.Option("--export", exists=True, dir_okay=False, help="verify this export file instead, without the running system")] = None,
    digest_file: Annotated[Path | None, typer.Option("--digest", exists=True, dir_okay=False, help="also check that the log (or the export) still holds this auditor's digest")] = None,
    public_key: Annotated[str | None, typer.Option("--public-key", envvar="LEDGER_VERIFY_KEY", help="the digest must be signed by this key (base64)")] = None,
    against: Annotated[Path | None, typer.Option("--against", exists=True, dir_okay=False, help="offline: check that this later digest, or consistency proof (`ledger proof --consistency`), extends the --digest")] = None,
    read_models: Annotated[bool, typer.Option("--read-models", help="also rebuild the read models from the log (in a temporary file) and compare them table by table with the live ones")] = False,
    as_json: JsonOption = False,
) -> None:
    """Verify the ledger; exit 1 naming each problem. Checks the event chain, the command chain and that it
    records each event's command over exactly its positions, the append-only protections, the read models'
    position, and the personal-data vault (a record or a recorded erasure for every personal marker; each
    kept record decrypts and matches its MAC). Not checked without --read-models: the read models' content.
    Not checked without --digest (only a digest taken earlier and kept outside the system catches them): the
    newest events removed with their commands and tracking rows, or the whole log re-hashed consistently.
    Nor can any check tell personal data re-encrypted under the person's own key with its MAC recomputed.
    A digest signed by a key is accepted whoever signed it unless --public-key pins the auditor's key
    (the OK line says whose key signed it). With --export only the export's event chain is checked.
    With --digest OLD --against LATER, check offline that a later digest or consistency proof extends OLD."""
    from ledger.audit.signing import signature_problem
    from ledger.audit.verify import verify_export, verify_export_against_digest
    from ledger.views import verify_result

    digest = load_digest(digest_file) if digest_file is not None else None
    if against is not None:
        if digest is None or export_file is not None:
            fail("--against LATER goes with --digest OLD (and without --export): it compares the two files offline")
        extends_digest(digest, against, public_key, as_json)
        return
    if digest is not None:
        refused = signature_problem(digest, public_key)
        if refused:
            fail(f"{digest_file}: {refused}")
    if export_file is not None:
        if read_models:
            fail("--read-models verifies a ledger's read models: an export has none")
        if digest is not None:
            report = verify_export_against_digest(export_file, digest, progress=not as_json)
        else:
            report = verify_export(export_file, progress=not as_json)
        result = verify_result(
            report, digest=digest, public_key=public_key, checks=["the event chain of the export"],
            unchecked=["the command chain, the protections, the read models and the personal-data vault: an export holds only the events"],
        )  # fmt: skip
    else:
        with opened(database_url, projections=False) as ledger_app:
            result = ledger_app.views.verify(digest, progress=not as_json, read_models=read_models, public_key=public_key)
    if as_json:
        emit_json(result.model_dump(mode="json"))
    for problem in result.problems:
        err.print(f"problem: {problem}", highlight=False)
    if result.empty and not result.problems:
        fail(f"{'the export' if export_file else 'the ledger'} is empty: there is no event to verify")
    if not result.chain_ok:
        fail(result.summary)
    if result.problems:
        fail(f"{len(result.problems)} problem(s) found; the event chain itself: {verify_result_chain_line(result.summary)}")
    if not as_json:
        say(result.summary)
        say("checked: " + "; ".join(result.checks))
        say("not checked: " + "; ".join(result.unchecked))


def verify_result_chain_line(summary: str) -> str:
    """The event chain's part of a failed verification's summary."""
    return summary.split("; the event chain itself: ", 1)[-1]


def extends_digest(old: Digest, later_file: Path, public_key: str | None, as_json: bool) -> None:
    from ledger.audit.receipts import ProofError, check_extends

    try:
        later = json.loads(later_file.read_text(encoding="utf-8"))
        if not isinstance(later, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as error:
        fail(f"{later_file} is not a digest or a consistency proof: {error}")
    try:
        extension = check_extends(old, later, public_key)
    except ProofError as error:
        fail(f"{later_file} does not extend the earlier digest: {error}")
    if as_json:
        emit_json({"ok": True, "old_position": extension.old.position, "position": extension.later.position, "by": extension.by})
        return
    say(extension.summary())


def regular_target(file: Path) -> Path:
    """The path to write for ``file`` (export, digest, proof -o): ``file`` itself, or through a symbolic
    link the regular file it points to (written there, the link kept). Refused in one line: a target that
    exists and is not a regular file (a device, a FIFO, a directory: a rename would replace it, a write
    would block on a FIFO or go to the device), a link to nothing, and a directory that does not exist
    (never made)."""
    import os
    import stat

    try:
        mode = file.stat().st_mode  # through a symbolic link
    except FileNotFoundError:
        if file.is_symlink():
            fail(f"{file} is a symbolic link to {os.readlink(file)}, which does not exist; give the path of a file to write")
        if not file.parent.is_dir():
            fail(f"cannot write {file}: the directory {file.parent} does not exist (it is not made; create it first)")
        return file
    except OSError as error:  # a path through a file, a directory not searchable, …
        fail(f"cannot write {file}: {error.strerror or error}")
    if not stat.S_ISREG(mode):
        kind = "directory" if stat.S_ISDIR(mode) else "FIFO" if stat.S_ISFIFO(mode) else "device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "socket"
        fail(f"{file} is a {kind}, not a regular file: it is never written nor replaced, not even with --force")
    return file.resolve() if file.is_symlink() else file


@contextmanager
def refusing_overwrite(file: Path) -> Iterator[Path]:
    """Writing ``file`` (export, digest, proof -o): a target that is not a regular file
    (:func:`regular_target`, the path to write is yielded), one that exists, without --force, or one
    of the ledger's own files, even with it, is refused in one line."""
    from ledger.audit.verify import LedgerFileTarget, TargetExists

    target = regular_target(file)
    try:
        yield target
    except LedgerFileTarget as error:
        fail(f"{error}, not even with --force")
    except TargetExists:
        fail(f"{file} exists; give --force to overwrite it")


@app.command()
def export(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="JSON Lines file to write (renamed into place when complete)")],
    force: Annotated[bool, typer.Option("--force", help="overwrite FILE if it exists")] = False,
    database_url: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write every event with its hashes (JSON Lines), verifiable offline with `ledger verify --export FILE`."""
    from ledger.audit.verify import export_events

    with opened(database_url, projections=False) as ledger_app:
        try:
            with refusing_overwrite(file) as target:  # through a symbolic link: the file it points to, renamed into place
                summary = export_events(ledger_app.store, target, progress=not as_json, overwrite=force)
        except OSError as error:
            fail(f"cannot write {file}: {error.strerror or error}")
    data = {"path": str(file), "events": summary.count, "head_position": summary.head_position, "head_hash": summary.head_hash}
    if as_json:
        emit_json(data)
        return
    say(f"exported {summary.count} events to {file}; head {summary.head_position} {summary.head_hash}")


@app.command()
def digest(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="where to write the digest (keep it outside the system)")],
    force: Annotated[bool, typer.Option("--force", help="overwrite FILE if it exists")] = False,
    database_url: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Take a digest of the whole log (head, checkpoints, command chain head) for an auditor to keep; the ledger
    is verified first as `ledger verify` does (nothing is written if it fails); signed with LEDGER_SIGNING_KEY_FILE
    when it is set."""
    from ledger.audit.integrity import LedgerUnsound, verified_digest
    from ledger.audit.signing import load_key, sign
    from ledger.audit.verify import ChainBroken, ledger_files, refuse_target

    settings = settings_for(database_url)
    key = load_key(settings.signing_key_file) if settings.signing_key_file else None
    with opened(database_url, projections=False) as ledger_app:
        with refusing_overwrite(file):  # before the work; writing checks again
            refuse_target(file, overwrite=force, protected=ledger_files(ledger_app.store))
        try:  # the full verification of `ledger verify` first: nothing is signed over a ledger that fails it
            taken = verified_digest(ledger_app.store, progress=not as_json)
        except (LedgerUnsound, ChainBroken) as error:
            fail(f"{error}; no digest written")
    if key is not None:
        taken = sign(taken, key)
    try:
        with refusing_overwrite(file):
            taken.save(file, overwrite=force)
    except OSError as error:
        fail(f"cannot write {file}: {error.strerror or error}")
    if as_json:
        emit_json({"path": str(file), **taken.to_json()})
        return
    signed = f"; signed by {taken.public_key}" if taken.signature else "; unsigned (set LEDGER_SIGNING_KEY_FILE)"
    say(f"digest at position {taken.position}: {taken.hash}{signed} → {file}")


@app.command()
def proof(
    event_ref: Annotated[str | None, typer.Argument(help="the event: its log position, or its ref (aggregate-uuid/version)")] = None,
    consistency: Annotated[str | None, typer.Option("--consistency", help="instead, prove the log extends an earlier digest file or tree size")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", dir_okay=False, metavar="FILE", help="write the receipt to FILE (default: print it)")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="overwrite FILE if it exists")] = False,
    database_url: DatabaseOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the receipt as JSON even with -o (it is printed without -o)")] = False,
) -> None:
    """A receipt proving one event is in the log (Merkle inclusion proof against a tree head, signed with
    LEDGER_SIGNING_KEY_FILE when it is set), or with --consistency that the log extends an earlier digest
    (refused if the log no longer holds that digest's tree); the ledger is verified first as `ledger verify`
    does, and nothing is written if it fails. Check a receipt offline with `python tools/verify_receipt.py RECEIPT`."""
    from ledger.audit.receipts import ProofError, consistency_receipt, inclusion_receipt
    from ledger.audit.signing import load_key
    from ledger.audit.verify import ChainBroken, Digest, ledger_files, refuse_target, write_file

    if (event_ref is None) == (consistency is None):
        fail("give either an EVENT_REF or --consistency OLD_DIGEST_OR_SIZE")
    old: Digest | int = 0
    if consistency is not None:
        if consistency.isdigit():
            old = int(consistency)
        elif Path(consistency).is_file():
            try:
                old = Digest.load(consistency)
            except ValueError as error:
                fail(f"{consistency}: not a digest: {error}")
        else:
            fail(f"--consistency: {consistency!r} is neither a tree size nor a digest file")
    settings = settings_for(database_url)
    key = load_key(settings.signing_key_file) if settings.signing_key_file else None
    with opened(database_url, projections=False) as ledger_app:
        if output is not None:
            with refusing_overwrite(output):  # before the work; writing checks again
                refuse_target(output, overwrite=force, protected=ledger_files(ledger_app.store))
        try:
            if event_ref is not None:
                receipt = inclusion_receipt(ledger_app.store, event_ref, key)
            else:
                receipt = consistency_receipt(ledger_app.store, old, key)
        except ChainBroken as broken:
            fail(f"the log does not verify, no receipt given: {broken.report.summary()}")
        except ProofError as error:
            fail(str(error))
    if output is None or as_json:
        emit_json(receipt)
    if output is not None:
        try:
            with refusing_overwrite(output):
                write_file(output, json.dumps(receipt, ensure_ascii=False, indent=2) + "\n", overwrite=force)
        except OSError as error:
            fail(f"cannot write {output}: {error.strerror or error}")
        if not as_json:
            signed = "signed" if receipt["tree_head"].get("signature") else "unsigned (set LEDGER_SIGNING_KEY_FILE)"
            say(f"receipt for a tree of {receipt['tree_size']} events, root {receipt['root']}, {signed} → {output}")


@app.command()
def keygen(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="where to write the new private key (PEM, mode 0600)")],
) -> None:
    """Make an Ed25519 key for signing digests; prints the public key an auditor pins."""
    from ledger.audit.signing import generate_key

    if file.exists():
        fail(f"{file} exists; a key is never overwritten")
    public = generate_key(file)
    say(f"private key → {file} (set LEDGER_SIGNING_KEY_FILE={file})")
    say(f"public key: {public}")


KafkaOption = Annotated[
    str | None, typer.Option("--bootstrap", envvar="LEDGER_KAFKA_BOOTSTRAP", help="Kafka brokers host:port (default 127.0.0.1:9092)")
]


@app.command()
def relay(
    database_url: DatabaseOption = None,
    bootstrap: KafkaOption = None,
    topic_prefix: Annotated[str | None, typer.Option(help="prefix of the topic name")] = None,
    once: Annotated[bool, typer.Option("--once", help="stop when the whole log is published")] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="events per acknowledged batch")] = 1000,
) -> None:
    """Publish every stored event to Kafka in log order (CloudEvents), resuming where the broker last acknowledged."""
    import signal
    import threading

    from ledger.relay import Relay, topic_name
    from ledger.store import NoLedger, open_store

    settings = settings_for(database_url)
    try:  # the relay reads the log: a database without the ledger is refused, nothing made in it
        store = open_store(settings.database_url, create=False)
    except NoLedger as error:
        fail(str(error))
        raise
    except Exception as error:
        fail(f"cannot open the ledger at {redact(settings.database_url)}: {describe_failure(error, settings.database_url)}")
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
        fail(f"relay stopped after {publisher.published} events: {describe_failure(error, settings.database_url)}")
    finally:
        publisher.close()
        store.close()


@app.command()
def status(
    database_url: DatabaseOption = None,
    topic_prefix: Annotated[str | None, typer.Option(help="prefix of the topic name")] = None,
    json_: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """The log's head and how far the Kafka relay is behind it (events and seconds)."""
    from ledger.relay import relay_status, topic_name
    from ledger.store import NoLedger

    settings = settings_for(database_url)
    try:
        lag = relay_status(settings.database_url, topic_name(settings.kafka_topic_prefix if topic_prefix is None else topic_prefix))
    except NoLedger as error:
        fail(str(error))
    except Exception as error:
        fail(f"cannot read the ledger at {redact(settings.database_url)}: {describe_failure(error, settings.database_url)}")
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
    workers: Annotated[
        int, typer.Option(min=1, max=64, envvar="LEDGER_API_WORKERS", help="worker processes (PostgreSQL only): each decides and writes commands on its own core")
    ] = 1,
) -> None:
    """Serve the HTTP API and the dashboard over the ledger (OpenAPI at /docs)."""
    from api.serve import serve as run

    run(settings_for(database_url).database_url, host=host, port=port, fail=fail, workers=workers)


@app.command()
def token(
    role: Annotated[str, typer.Argument(help="regulator, auditor, provider or enterprise")],
    subject: Annotated[str, typer.Option("--sub", help="who the token names (recorded as the author of its commands)")],
    jurisdiction: Annotated[str | None, typer.Option(help="the regulator's jurisdiction")] = None,
    provider_id: Annotated[str | None, typer.Option("--provider", help="the provider's own id")] = None,
    enterprise_id: Annotated[str | None, typer.Option("--enterprise", help="the enterprise's own id")] = None,
    minutes: Annotated[int | None, typer.Option(min=1, max=60 * 24 * 31, help="lifetime (default LEDGER_API_TOKEN_MINUTES)")] = None,
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


def main() -> None:
    """The console script: every failure is one line on stderr and exit 1 (a usage error: exit 2), never
    a traceback (``LEDGER_DEBUG=1`` re-raises)."""
    import logging
    import os

    # click's exceptions, or those of the copy of click that newer typer releases vendor (typer._click)
    click_error: Any = next(k for k in typer.BadParameter.__mro__ if k.__name__ == "ClickException")
    usage_error: Any = next(k for k in typer.BadParameter.__mro__ if k.__name__ == "UsageError")

    # the connection pool logs each connection it drops or fails to make (a restarting PostgreSQL):
    # the command's own error line says what happened
    if not os.environ.get("LEDGER_DEBUG"):
        logging.getLogger("psycopg.pool").setLevel(logging.CRITICAL)
    try:
        # not standalone: click raises a usage error instead of printing it in four lines, and returns
        # the exit code of a typer.Exit (--help, a `fail`, Ctrl-C: 130) instead of exiting
        code = typer.main.get_command(app).main(standalone_mode=False)
    except click_error as error:
        if type(error).__name__ == "NoArgsIsHelpError":  # `ledger` alone: the help, on stderr, exit 2 (click >= 8.2)
            error.show()
            sys.exit(error.exit_code)
        # a bad argument, option or command (exit 2), or a file click could not open: one line, as every error
        context = error.ctx if isinstance(error, usage_error) else None
        hint = f" (see `{context.command_path} --help`)" if context is not None else ""
        try:
            fail(f"{error.format_message().rstrip('.')}{hint}", error.exit_code)
        except typer.Exit as exit_:
            sys.exit(exit_.exit_code)
    except typer.Abort as abort:  # Ctrl-C (older typer) or the end of input
        sys.exit(130 if isinstance(abort.__cause__, KeyboardInterrupt) else 1)
    except BrokenPipeError:  # piped into head & co.
        sys.exit(0)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as error:  # a refusal, a database or file failure, or a bug: one line
        from ledger.aggregates import DomainError
        from ledger.application import CommandConflict
        from ledger.store import CommandIdReused
        from ledger.views import ViewError

        if isinstance(error, (ViewError, DomainError, CommandConflict, CommandIdReused)):
            message = redact(error)
        elif os.environ.get("LEDGER_DEBUG"):
            raise
        else:
            message = describe_failure(error)
        try:
            fail(message)
        except typer.Exit as exit_:
            sys.exit(exit_.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
