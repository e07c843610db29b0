"""The figures of issue 10, each against a baseline measured in the same run, written to BENCHMARKS.md.

    python -m bench.figures long-history --database-url "$LEDGER_TEST_POSTGRES_URL"
    python -m bench.figures replay       --database-url "$LEDGER_TEST_POSTGRES_URL" --events 1000000
    python -m bench.figures reads        --database-url "$LEDGER_TEST_POSTGRES_URL"
    python -m bench.figures startup
    python -m bench.figures all          --database-url "$LEDGER_TEST_POSTGRES_URL"

Each figure replaces its own section of BENCHMARKS.md (between ``<!-- figure:NAME -->`` markers)
with a table, the command that produced it, the machine and the load average when it ran
(``--no-write`` only prints). Commands vs pgbench stay in ``bench.throughput``. Never run by tests.

- **long-history**: one command (``RecordProfileChange``) on a provider with 10,000 events vs on a
  provider admitted just before, median of ``--commands`` each, in one process with the
  background projection worker (what ``ledger.bootstrap`` builds); and the first command of a
  fresh App (cold cache) on the long provider vs on a provider with a short history, with
  snapshots (the snapshot and the log after it) and without (the whole history folded).
- **replay**: ``--events`` synthetic but valid events (providers, their projects, profile changes,
  scores, facts) written straight into the log with COPY, then ``ledger replay`` (set-based build)
  vs the baseline: a bare psycopg scan of the same rows decoding each event's JSON; events/s of
  each, and replay's peak memory (``ru_maxrss`` of a child process running only the replay).
  ``--rounds`` back-to-back pairs (scan, then replay) after a scan not counted; the pair of the
  median ratio is the figure, every pair is listed.
- **reads**: ``provider_standing`` (what ``ledger provider X`` shows) from the read models on the
  10,000-event provider, in process, p50/p99 of ``--reads`` calls, vs folding the aggregate.
- **startup**: ``ledger --help`` vs ``python -c pass``, median of 7 process starts each.
- **import** (not in ``all``): ``bench.import_scale`` — ``ledger import`` of files of ``--sizes``
  commands, each into a fresh ledger (``--database-url ""``: SQLite files); the time per command at
  each size against the smallest size's (1.0: it does not grow with the file), CPU and peak memory.
- **api** (not in ``all``): ``bench.api_latency`` — registry and timeline page p50/p99 at
  ``--connections`` over ``--providers`` providers, each next to the same server's bare ``/health``;
  the section is ``api-<backend>-<providers>``. ``--database-url ""`` builds on a fresh SQLite file.
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "BENCHMARKS.md"


# --- reporting ---------------------------------------------------------------------------------------


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def write_section(name: str, body: str) -> None:
    """Replace (or append) the section of BENCHMARKS.md between this figure's markers."""
    start, end = f"<!-- figure:{name} -->", f"<!-- /figure:{name} -->"
    text = BENCHMARKS.read_text(encoding="utf-8") if BENCHMARKS.exists() else "# Benchmarks\n"
    block = f"{start}\n{body.rstrip()}\n{end}"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    BENCHMARKS.write_text(text, encoding="utf-8")


def report(name: str, title: str, rows: Sequence[tuple[str, ...]], header: tuple[str, ...], notes: list[str], args: argparse.Namespace) -> None:
    from bench.throughput import machine
    from ledger.redaction import redact

    m = machine()
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    shown = " ".join((a if "://" not in a else redact(a)) if a else '""' for a in sys.argv[1:])
    lines += [
        "",
        f"Command: `python -m bench.figures {shown}`, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
        f"{m['cpu']} × {m['nproc']}, {m['memory']}, Python {m['python']}; {load()} when it ended.",
    ]
    lines += ["", *notes] if notes else []
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        write_section(name, body)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


# --- long history ------------------------------------------------------------------------------------

LONG = "PV-LONG"


def _change(command_id: str, provider_id: str, i: int):
    from bench.throughput import TODAY
    from ledger.commands import models as m

    return m.RecordProfileChange(
        command_id=command_id, provider_id=provider_id, field="address", new_value=f"No. {i}",
        changed_on=TODAY - timedelta(days=1), reported_on=TODAY - timedelta(days=1),  # on time: not in standing()
    )  # fmt: skip


def _admit(app, provider_id: str) -> None:
    import zlib

    from bench.throughput import setup_commands
    from ledger.rules import credit_code

    # PV-0, a Tangshan provider, renamed, with a credit code of its own (an entity applies once)
    code = credit_code.complete(f"91130200{zlib.crc32(provider_id.encode()):09d}"[:17])
    for c in setup_commands(1):
        if hasattr(c, "provider_id"):
            update = {"command_id": f"{c.command_id}-{provider_id}", "provider_id": provider_id}
            if hasattr(c, "credit_code"):
                update["credit_code"] = code
            app.ledger.execute(c.model_copy(update=update))


def _build_long_history(url: str, events: int) -> None:
    """Admit a few providers and give PV-LONG ``events`` events (1,000 commands per transaction)."""
    from rich.progress import Progress

    from bench.throughput import make_app, set_up
    from ledger.aggregates import Provider

    app = make_app(url, clients=1, group_commit=False, projections=False, max_batch=1, max_wait_ms=0)
    try:
        set_up(app.ledger, 5)
        _admit(app, LONG)
        have = app.ledger.load(Provider, LONG).version
        with Progress() as progress:
            task = progress.add_task(f"{events:,}-event provider", total=events)
            while have < events:
                n = min(1000, events - have)
                app.ledger.execute_all([_change(f"long-{have + k}", LONG, have + k) for k in range(n)])
                have += n
                progress.update(task, completed=have)
    finally:
        app.close()


class _CountingReads:
    """A store whose ``read_aggregate`` counts the events it returns (the cold figure's cost)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.events = 0

    def read_aggregate(self, originator_id: Any, from_version: int = 1) -> Any:
        events = self.store.read_aggregate(originator_id, from_version)
        self.events += len(events)
        return events

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def _cold_command(url: str, command_id: str, provider_id: str, n: int, *, snapshots: bool) -> tuple[float, int, int]:
    """The first command on ``provider_id`` in a fresh App, after one on another provider (the App's
    own first-use costs: the pool's first connection, the rulebooks, the snapshot index): its
    seconds, the events it read, and the App's snapshot interval (with ``snapshots=False`` the
    App takes none and reads none)."""
    from bench.throughput import make_app

    app = make_app(url, clients=2, group_commit=False, projections=False, max_batch=1, max_wait_ms=0)
    try:
        assert app.ledger.snapshots is not None
        every = app.ledger.snapshots.every
        if not snapshots:
            app.ledger.snapshots = None
        app.ledger.execute(_change(f"{command_id}-first", WARM_UP, n))
        counting = _CountingReads(app.ledger.store)
        app.ledger.store = counting  # type: ignore[assignment]
        started = time.perf_counter()
        app.ledger.execute(_change(command_id, provider_id, n))
        return time.perf_counter() - started, counting.events, every
    finally:
        app.close()


#: providers of the benchmark's set-up (a few events): the cold baseline, and the one a fresh App's
#: first command goes to
SHORT, WARM_UP = "PV-1", "PV-2"


def long_history(args: argparse.Namespace) -> dict[str, Any]:
    from bench.throughput import fresh_schema, make_app
    from ledger.aggregates import Provider

    with fresh_schema(args.database_url) as (_, url):
        _build_long_history(url, args.history)
        # the first command of fresh Apps, in turn: on a provider with a short history (the cold
        # baseline), on the long one with snapshots (the default), and without them (before)
        cold_short: list[float] = []
        cold_long: list[float] = []
        cold_fold: list[float] = []
        for run in range(args.cold_runs):
            seconds, read_short, _ = _cold_command(url, f"cold-short-{run}", SHORT, -1 - run, snapshots=True)
            cold_short.append(seconds)
            seconds, read_cold, every = _cold_command(url, f"cold-{run}", LONG, -1 - run, snapshots=True)
            cold_long.append(seconds)
            seconds, read_fold, _ = _cold_command(url, f"cold-unsnapshotted-{run}", LONG, -1001 - run, snapshots=False)
            cold_fold.append(seconds)
        app = make_app(url, clients=2, group_commit=False, projections=True, max_batch=1, max_wait_ms=0)
        ledger = app.ledger
        try:
            assert ledger.load(Provider, LONG).version > args.history
            long_times, new_times = [], []
            for i in range(args.commands):
                pid = f"PV-NEW-{i}"
                _admit(app, pid)
                started = time.perf_counter()
                ledger.execute(_change(f"new-{i}", pid, i))
                new_times.append(time.perf_counter() - started)
                started = time.perf_counter()
                ledger.execute(_change(f"long-more-{i}", LONG, i))
                long_times.append(time.perf_counter() - started)
            assert app.projections is not None
            app.projections.wait_for(timeout=600)
        finally:
            app.close()
    long_ms, new_ms = statistics.median(long_times), statistics.median(new_times)
    short_ms, cold_ms, fold_ms = (statistics.median(times) for times in (cold_short, cold_long, cold_fold))
    ratio, cold_ratio = long_ms / new_ms, cold_ms / short_ms

    def target(value: float) -> str:
        return "≤ 2× " + ("met" if value <= 2 else f"missed by {value / 2:.2f}×")

    rows = [
        ("command on a new provider (baseline)", ms(new_ms), "1", ""),
        (f"command on the provider with {args.history:,} events", ms(long_ms), f"{ratio:.2f}×", target(ratio)),
        (f"first command on a provider with a short history in a fresh App ({read_short} events read): cold baseline",
         ms(short_ms), "1", ""),
        (f"first command on the {args.history:,}-event provider in a fresh App, snapshots every {every}: "
         f"{read_cold:,} events read", ms(cold_ms), f"{cold_ratio:.2f}×", target(cold_ratio)),
        (f"the same without snapshots: {read_fold:,} events read and folded", ms(fold_ms), f"{fold_ms / short_ms:.0f}×", ""),
    ]  # fmt: skip
    notes = [
        f"Warm: medians of {args.commands} `RecordProfileChange` commands each, alternating, one thread, "
        "PostgreSQL, projections in the background worker (not on the command path); the aggregate cache "
        "holds the provider, so a command reads nothing of its history.",
        f"Cold: medians of {args.cold_runs} fresh Apps each, in turn, on the same database (empty aggregate "
        "cache, read models off), each timing its first command on the provider after one command on another "
        "provider (which pays the App's own first-use costs: the pool's first connection, the rulebooks, the "
        "snapshot index); the cold baseline is the same on a provider of the set-up. The events read are what "
        "`read_aggregate` returned for it. With snapshots a load reads the provider's snapshot "
        f"(`aggregate_snapshots`, taken every {every} events) and the log from the snapshot's version on — "
        f"the tail is short here because the history was just built; it is never more than {every} events. "
        "The Provider keeps only its late profile reports: the 10,000 on-time ones are not in its state or "
        "its snapshot (they are rows of `rm_profile_changes`).",
    ]
    report("long-history", "One command on a long history vs on a new provider", rows, ("", "median", "ratio", "target"), notes, args)
    return {"long_ms": long_ms, "new_ms": new_ms, "cold_short_ms": short_ms, "cold_ms": cold_ms, "cold_fold_ms": fold_ms, "ratio": ratio, "cold_ratio": cold_ratio}


# --- reads ---------------------------------------------------------------------------------------------


def reads(args: argparse.Namespace) -> dict[str, Any]:
    from bench.throughput import fresh_schema, make_app
    from ledger.aggregates import Provider
    from ledger.application import UnitOfWork
    from ledger.projections import read_models
    from ledger.standing import standing

    with fresh_schema(args.database_url) as (_, url):
        _build_long_history(url, args.history)
        app = make_app(url, clients=2, group_commit=False, projections=True, max_batch=1, max_wait_ms=0)
        ledger = app.ledger
        try:
            models = read_models(app)

            def timed(call: Callable[[], Any], n: int) -> list[float]:
                out = []
                for _ in range(n):
                    started = time.perf_counter()
                    call()
                    out.append(time.perf_counter() - started)
                return sorted(out)

            found = models.provider_standing(LONG)
            assert found is not None and found["provider_id"] == LONG
            read = timed(lambda: models.provider_standing(LONG), args.reads)
            registry = timed(lambda: models.registry("tangshan"), args.reads)
            # the whole history read and folded (what `ledger provider` did before issue 10), and the
            # aggregate from its snapshot and the log after it (what a command's cold load does now)
            fold = timed(lambda: standing(UnitOfWork(ledger.store).get(Provider, LONG)), 5)
            snapshot = timed(lambda: standing(ledger.load(Provider, LONG)), 50)
        finally:
            app.close()

    def pct(values: list[float], p: float) -> float:
        return values[min(len(values) - 1, int(len(values) * p))]

    rows = [
        (f"`provider_standing` of the {args.history:,}-event provider (read model)", ms(pct(read, 0.5)), ms(pct(read, 0.99)), "< 5 ms " + ("met" if pct(read, 0.5) < 0.005 else "missed")),
        ("`registry('tangshan')` (read model)", ms(pct(registry, 0.5)), ms(pct(registry, 0.99)), ""),
        ("the same standing by folding the aggregate's whole history (before)", ms(pct(fold, 0.5)), ms(fold[-1]), "baseline"),
        ("the same standing from the aggregate's snapshot and the events after it", ms(pct(snapshot, 0.5)), ms(pct(snapshot, 0.99)), ""),
    ]
    notes = [
        f"In process, PostgreSQL, {args.reads} calls each (the fold: 5, the snapshot: 50), after a warm-up call. The provider's "
        "10,000 events are profile changes reported on time; `standing()` lists every *late* report, so a "
        "provider with thousands of late reports has a standing (and a read) that large.",
    ]
    report("reads", "Read latency in process", rows, ("read", "p50", "p99", "target"), notes, args)
    return {"read_p50": pct(read, 0.5), "read_p99": pct(read, 0.99), "fold_p50": pct(fold, 0.5)}


# --- start-up -----------------------------------------------------------------------------------------


def startup(args: argparse.Namespace) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))

    def median_start(command: list[str], n: int = 7) -> tuple[float, float]:
        """Median wall-clock and median CPU time (user + system) of ``n`` process starts."""
        walls, cpus = [], []
        for _ in range(n):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            subprocess.run(command, env=env, capture_output=True, check=True)
            walls.append(time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        return statistics.median(walls), statistics.median(cpus)

    bare, bare_cpu = median_start([sys.executable, "-c", "pass"])
    helped, helped_cpu = median_start([sys.executable, "-m", "ledger", "--help"])
    rows = [
        ("`python -c pass` (baseline)", ms(bare), ms(bare_cpu), ""),
        ("`python -m ledger --help`", ms(helped), ms(helped_cpu),
         "≤ 300 ms " + ("met" if helped <= 0.3 else f"missed by {ms(helped - 0.3)} (wall-clock)")),
    ]  # fmt: skip
    notes = ["CPU time is the figure to compare on a loaded machine: wall-clock includes waiting for a core."]
    report("startup", "Start-up", rows, ("process", "wall-clock, median of 7", "CPU, median of 7", "target"), notes, args)
    return {"bare": bare, "help": helped, "bare_cpu": bare_cpu, "help_cpu": helped_cpu}


def replay_figure(args: argparse.Namespace) -> dict[str, Any]:
    from bench.replay_data import replay_figure as run

    return run(args)


def api_figure(args: argparse.Namespace) -> dict[str, Any]:
    """Registry and timeline pages at ``--connections`` over ``--providers`` providers, vs /health."""
    import tempfile

    from bench.api_latency import run

    with tempfile.TemporaryDirectory() as workdir:
        result = run(args, workdir)
    backend, providers = result["backend"], result["providers"]
    rows = [
        (label, f"{result[key]['requests']}", f"{result[key]['p50_ms']:.1f}", f"{result[key]['p99_ms']:.1f}",
         f"{result[key]['p50_ms'] / result['health']['p50_ms']:.2f}", f"{result[key]['p99_ms'] / result['health']['p99_ms']:.2f}")
        for key, label in (
            ("health", "`/health` (baseline)"),
            ("registry_page", "`/v1/registry?jurisdiction=…&limit=50&offset=…`"),
            ("timeline_page", f"`/v1/providers/{{id}}/timeline?limit=50` ({result['timeline_entries']} entries)"),
        )
    ]
    built = result["build"]
    retried = ", ".join(f"{key} {result[key]['retried']}" for key in ("health", "registry_page", "timeline_page"))
    notes = [
        f"`ledger serve` (one uvicorn process) over {providers:,} providers on {backend}, auditor token; the load generator is one asyncio "
        f"process (httpx) with {result['connections']} connections, in the same machine; the endpoints are driven one after the other, "
        "each after a warm-up. The ratio to `/health` is the figure (both measured in the same run); the milliseconds depend on the load. "
        f"Requests sent again after the server had closed their kept-alive connection (timed from the first try): {retried}."
    ]
    if built.get("reused"):
        notes.append("The ledger was built by an earlier run of the same command (`--reuse`).")
    else:
        notes.append(
            f"Build: {built['commands']:,} commands ({built['events']:,} events: each provider applies, is admitted, and takes one project "
            f"through acceptance, rating and payment) recorded in {built['record_seconds']} s by {built['workers']} processes "
            f"(`execute_all`, {CHUNK_NOTE}), read models built in {built['projection_seconds']} s; {built['build_seconds']} s in all."
        )
    title = f"HTTP API latency, {providers:,} providers, {backend}, {result['connections']} connections"
    report(f"api-{backend}-{providers}", title, rows, ("endpoint", "requests", "p50 ms", "p99 ms", "p50 ÷ `/health` p50", "p99 ÷ `/health` p99"), notes, args)
    return result


CHUNK_NOTE = "250 providers per transaction"


def import_figure(args: argparse.Namespace) -> dict[str, Any]:
    from bench.import_scale import run

    result = run(args)
    runs = result["results"]
    base = runs[0]["seconds"] / runs[0]["commands"]
    rows = [
        (f"{r['commands']:,}" + (" (baseline)" if i == 0 else ""), f"{r['seconds']:.1f} s", f"{r['commands'] / r['seconds']:,.0f}",
         f"{r['seconds'] / r['commands'] * 1e6:,.0f} µs", f"{r['cpu'] / r['commands'] * 1e6:,.0f} µs", f"{r['peak_mib']:,.0f} MiB",
         f"{r['seconds'] / r['commands'] / base:.2f}")
        for i, r in enumerate(runs)
    ]  # fmt: skip
    notes = [
        f"`python -m ledger import FILE --json` in a process of its own, each file into a fresh ledger on {result['backend']}"
        f" ({'a new schema each' if result['backend'] == 'postgresql' else 'a new file each'}): start-up, reading and checking the file,"
        " deciding every command, the one transaction that records them (an import is whole or nothing), the personal data kept and"
        f" the wait for the read models. The files: {result['providers']} providers admitted, then the mix of `bench.throughput`"
        " kept valid to the end (see `bench/import_scale.py`). The last column is the figure: the time per command at each size"
        " divided by the smallest size's, measured in the same run (1.00: the time per command does not grow with the file)."
    ]
    title = f"`ledger import` of growing files, {result['backend']}"
    header = ("commands in the file", "wall-clock", "commands/s", "per command", "CPU per command", "peak memory", "per command ÷ baseline")
    report(f"import-{result['backend']}", title, rows, header, notes, args)
    return result


def registry_as_of_figure(args: argparse.Namespace) -> dict[str, Any]:
    from bench.replay_data import registry_as_of_figure as run

    return run(args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.figures", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("figure", choices=["long-history", "replay", "registry-as-of", "reads", "startup", "api", "import", "all"])
    parser.add_argument("--database-url", default=os.environ.get("LEDGER_TEST_POSTGRES_URL", ""))
    parser.add_argument("--history", type=int, default=10_000, help="events of the long provider")
    parser.add_argument("--commands", type=int, default=200, help="commands timed on each provider")
    parser.add_argument("--cold-runs", type=int, default=7, help="fresh Apps timed on each provider (the cold figures)")
    parser.add_argument("--reads", type=int, default=1000, help="reads timed")
    parser.add_argument("--events", type=int, default=1_000_000, help="events replayed")
    parser.add_argument("--rounds", type=int, default=3, help="replay: back-to-back pairs of a bare scan and a replay (the median counts)")
    parser.add_argument("--data-schema", default="", help="replay: keep the generated log in this schema and reuse it next time")
    parser.add_argument("--as-of-calls", type=int, default=20, help="registry-as-of: calls timed per window")
    parser.add_argument("--sizes", default="5000,20000,60000", help="import: commands per file, one import each")
    parser.add_argument("--import-providers", type=int, default=200, help="import: providers admitted at the start of each file")
    parser.add_argument("--no-write", action="store_true", help="print, do not update BENCHMARKS.md")
    from bench.api_latency import arguments as api_arguments

    api_arguments(parser)
    args = parser.parse_args(argv)
    if args.figure not in ("startup", "api", "import") and not args.database_url:
        parser.error("--database-url (or LEDGER_TEST_POSTGRES_URL) is required")
    if args.figure == "api":
        api_figure(args)
        return 0
    if args.figure == "import":
        import_figure(args)
        return 0
    figures = {"long-history": long_history, "replay": replay_figure, "registry-as-of": registry_as_of_figure, "reads": reads, "startup": startup}
    for name, run in figures.items():
        if args.figure in (name, "all"):
            run(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
