"""Command throughput of the ledger, against pgbench's single-row inserts on the same server.

    python -m bench.throughput --database-url postgresql://ledger:ledger@127.0.0.1:5432/ledger_test \\
        --clients 8 --seconds 20

One run measures, with the same number of client connections:

1. ``pgbench``: ``INSERT INTO bench_rows(v) VALUES (:v)``, one row per transaction
   (``-n -f script -c CLIENTS -j 2 -T SECONDS``): the baseline;
2. the ledger on PostgreSQL, one variant after another (``--variants``):
   ``single`` (the default path: one transaction per command) and ``group``
   (``LEDGER_GROUP_COMMIT``: concurrent commands share transactions); a ``-raw``
   suffix (``single-raw``, ``group-raw``) runs without the in-process projections;
3. with ``--reference``, not the ledger: the same client threads doing only the bare minimum in
   Python, one event-sized row inserted through psycopg per "command" (``bare-single``: a
   transaction each; ``bare-group``: the threads' rows share transactions), to show how far a
   Python client of this shape gets against pgbench on the same machine;
4. the ledger on SQLite, the embedded default (``--sqlite-variants``), in a
   temporary directory.

Every ledger variant starts from a fresh PostgreSQL schema (or SQLite file): the
five rulebooks' validity is declared and ``--providers`` providers are admitted
(not timed). Then ``--clients`` threads, sharing one :class:`~ledger.application.Ledger`
built by ``ledger.bootstrap`` (PostgreSQL pool of ``clients + 2`` connections,
projections attached unless ``-raw``), run a realistic mix for ``--seconds``
after a short warm-up: each client walks projects of its own through their life
(RegisterProject, RecordDiagnosis, SubmitFiling, DecideFiling, StartImplementation,
RecordAcceptance, RateSatisfaction) and files, verifies and reports facts about
providers picked at random (FileComplaint, VerifyComplaint, RecordProfileChange,
now and then RecordFinding): about ten commands per cycle, spread over many
providers so that conflicts are rare. Throughput counts commands recorded;
commands refused by a rule (DomainError: now and then a provider has been removed
or blacklisted by the facts recorded, and its new projects are refused) and
commands given up after conflicts are reported apart.

The schemas are dropped and the SQLite files deleted at the end. Nothing here
runs in the test suite. ``--profile N`` instead runs N commands of the same mix in
one thread under cProfile and prints where the time goes.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from ledger.aggregates import DomainError
from ledger.application import CommandConflict, Ledger
from ledger.bootstrap import App, bootstrap
from ledger.clock import FixedClock, to_utc
from ledger.commands import models as m
from ledger.rules import PACKS, credit_code
from ledger.settings import Settings
from ledger.store import open_store

#: the business day every command is recorded on: inside every declared validity window
TODAY = date(2025, 3, 1)
DECLARED_FROM = date(2025, 1, 1)
#: jurisdictions of the providers the benchmark admits, in turn
JURISDICTIONS = ("tangshan", "tianjin", "xinxiang", "province", "liuzhou")
KINDS = {"tianjin": "云服务商", "xinxiang": "数字化服务商", "province": "系统解决方案服务商", "tangshan": "数字化服务商", "liuzhou": "集成服务商"}
#: findings that impose a warning or a rectification order (not a removal), by jurisdiction
MILD_FINDING = {"tangshan": "第十二条（一）", "liuzhou": "第十二条（一）", "xinxiang": "第十五条（一）"}

VARIANTS = {
    "single": {"group_commit": False, "projections": True},
    "group": {"group_commit": True, "projections": True},
    "single-raw": {"group_commit": False, "projections": False},
    "group-raw": {"group_commit": True, "projections": False},
}


# --- the workload -----------------------------------------------------------------------------------


def setup_commands(providers: int) -> list[m.Command]:
    """Declare every rulebook in force and admit ``providers`` providers (``PV-0`` …)."""
    commands: list[m.Command] = [
        m.DeclareRulebookValidity(
            command_id=f"setup-validity-{j}", jurisdiction=j, valid_from=DECLARED_FROM, reference="benchmark"
        )
        for j in JURISDICTIONS
        if PACKS[j].valid_from is None
    ]
    for i in range(providers):
        pid, j = provider(i, providers)
        apply = m.SubmitApplication(
            command_id=f"setup-apply-{pid}", provider_id=pid, jurisdiction=j, name=f"{pid} Ltd", kind=KINDS[j],
            credit_code=credit_code.complete(f"91120116{i:09d}"),
            effective_on=TODAY - timedelta(days=8),
        )  # fmt: skip
        commands.append(apply)
        if PACKS[j].requires_notice:
            commands.append(m.OpenPublicNotice(command_id=f"setup-notice-{pid}", provider_id=pid, effective_on=TODAY - timedelta(days=7)))
            commands.append(m.ClosePublicNotice(command_id=f"setup-close-{pid}", provider_id=pid, last_day=TODAY - timedelta(days=1)))
        else:
            commands.append(m.AdmitProvider(command_id=f"setup-admit-{pid}", provider_id=pid))
    return commands


def provider(i: int, providers: int) -> tuple[str, str]:
    return f"PV-{i}", JURISDICTIONS[i % len(JURISDICTIONS)]


def workload(client: int, providers: int, seed: int, share: int = 0, shares: int = 1) -> Iterator[m.Command]:
    """An endless, deterministic stream of commands for one client, on the providers of one
    ``share`` of ``shares`` (provider index modulo ``shares``; all of them by default)."""
    rng = random.Random(seed * 1000 + client)

    def pick() -> int:
        return rng.randrange(share, providers, shares)  # randrange(providers) when shares == 1
    cycle = 0
    while True:
        cycle += 1
        tag = f"{client}-{cycle}"
        pid, j = provider(pick(), providers)
        project = f"PJ-{tag}"

        def cid(kind: str, tag: str = tag) -> str:
            return f"{kind}-{tag}"

        yield m.RegisterProject(
            command_id=cid("register"), project_id=project, jurisdiction=j, enterprise_id=f"E-{tag}",
            enterprise_name=f"E-{tag} Co", integrated_provider_id=pid,
        )  # fmt: skip
        yield m.RecordDiagnosis(command_id=cid("diagnose"), project_id=project, level_before=1)
        yield m.SubmitFiling(command_id=cid("file"), project_id=project, content="plan", cost="100000")
        yield m.DecideFiling(command_id=cid("approve"), project_id=project, approved=True)
        yield m.StartImplementation(command_id=cid("start"), project_id=project)
        yield m.RecordAcceptance(command_id=cid("accept"), project_id=project, passed=True)
        rating = rng.choices(["满意", "基本满意", "不满意"], weights=[7, 2, 1])[0]
        yield m.RateSatisfaction(command_id=cid("rate"), project_id=project, provider_id=pid, rating=rating)

        other, _ = provider(pick(), providers)
        complaint = f"C-{tag}"
        yield m.FileComplaint(
            command_id=cid("complain"), complaint_id=complaint, provider_id=other, complainant_kind="enterprise",
            complainant_name="bench complainant", contact="13800000000", evidence=["photos"],
            subject="service not delivered", enterprise_id=f"E-{tag}",
        )  # fmt: skip
        verdict = "true" if rng.random() < 0.1 else "unfounded"
        yield m.VerifyComplaint(command_id=cid("verify"), complaint_id=complaint, verdict=verdict)

        third, _ = provider(pick(), providers)
        yield m.RecordProfileChange(
            command_id=cid("profile"), provider_id=third, field="address", new_value=f"No. {tag}",
            changed_on=TODAY, reported_on=TODAY, major=False,
        )  # fmt: skip
        if cycle % 10 == 0:
            fourth, j4 = provider(pick(), providers)
            if j4 in MILD_FINDING:
                yield m.RecordFinding(
                    command_id=cid("finding"), provider_id=fourth, article=MILD_FINDING[j4], summary="late report (benchmark)", deadline_days=30,
                )  # fmt: skip


# --- running ----------------------------------------------------------------------------------------


@dataclass
class Counts:
    recorded: int = 0
    refused: int = 0
    gave_up: int = 0


def cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat (0, 0 where there is none)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process of this machine so far; 0.0 if it is not here."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu() -> dict[int, float]:
    """CPU seconds (user + system) of every PostgreSQL process this machine shows, by pid (the
    benchmark's server is local; empty where there is no /proc)."""
    found: dict[int, float] = {}
    for entry in Path("/proc").glob("[0-9]*/comm"):
        try:
            name = entry.read_text()
        except OSError:
            continue
        if name.startswith("postgres"):
            found[int(entry.parent.name)] = process_cpu(int(entry.parent.name))
    return found


def server_cpu_since(start: dict[int, float]) -> float:
    """The PostgreSQL processes' CPU seconds since ``start`` (a process begun since counts whole;
    one ended since is missed: the pool's connections live through a run)."""
    return sum(cpu - start.get(pid, 0.0) for pid, cpu in server_cpu().items())


@dataclass
class LedgerRun:
    backend: str
    variant: str
    clients: int
    seconds: float
    recorded: int
    refused: int
    gave_up: int
    events: int
    #: CPU time of this Python process (all threads) per recorded command
    cpu_ms_per_command: float = 0.0
    #: how busy the machine's CPUs were during the run (all processes, the database included)
    machine_busy: float = 0.0
    #: CPU time of the PostgreSQL processes per recorded command (0 for SQLite)
    server_ms_per_command: float = 0.0
    refusals: dict = field(default_factory=dict)
    committer: dict = field(default_factory=dict)
    #: the in-process projection worker's CPU time per event it read (0: no worker in this run)
    worker_us_per_event: float = 0.0

    @property
    def per_second(self) -> float:
        return self.recorded / self.seconds

    def line(self) -> str:
        extra = ""
        if self.committer and self.backend == "reference":
            extra = f"\n{'':23}{self.committer['groups']} transactions, {self.committer['mean_group']:.1f} rows each"
        elif self.committer:
            c = self.committer
            extra = (
                f"\n{'':23}groups {c['groups']}, {c['mean_group']:.1f} batches/group (largest {c['largest_group']}),"
                f" {c['conflicts']} conflicts, after_commit runs {c['notifications']}"
            )
        if self.worker_us_per_event:
            extra += f"\n{'':23}projection worker: {self.worker_us_per_event:.1f} µs of its thread's CPU an event"
        if self.refusals:
            extra += f"\n{'':23}refused: " + "; ".join(f"{n}× {why}" for why, n in self.refusals.items())
        return (
            f"{self.backend:<10} {self.variant:<11} {self.per_second:8.1f} commands/s"
            f"  ({self.recorded} recorded, {self.refused} refused, {self.gave_up} gave up, {self.events} events;"
            f" {self.cpu_ms_per_command:.2f} ms Python CPU/command"
            + (f" + {self.server_ms_per_command:.2f} ms server" if self.server_ms_per_command else "")
            + f", machine CPU {self.machine_busy:.0%} busy){extra}"
        )


def make_app(database_url: str, clients: int, group_commit: bool, projections: bool, max_batch: int, max_wait_ms: float) -> App:
    settings = Settings(
        database_url=database_url,
        operator="bench",
        pool_size=clients + 2,
        group_commit=group_commit,
        group_commit_max_batch=max_batch,
        group_commit_max_wait_ms=max_wait_ms,
    )
    return bootstrap(settings, clock=FixedClock(to_utc(TODAY) + timedelta(hours=10)), projections=projections)


def set_up(ledger: Ledger, providers: int) -> None:
    commands = setup_commands(providers)
    for start in range(0, len(commands), 200):
        ledger.execute_all(commands[start:start + 200])


def drive(
    ledger: Ledger, i: int, providers: int, seed: int, mine: Counts, refusals: Counter[str],
    stop: threading.Event, errors: list[BaseException], profiles: list[cProfile.Profile] | None = None,
    partition: tuple[int, int] = (0, 1),
) -> None:  # fmt: skip
    """One client: executes client ``i``'s workload (on the providers of ``partition``: share,
    shares) until ``stop`` is set, counting into ``mine``."""
    abandoned: set[str] = set()  # projects whose registration was refused: a client gives up on them
    if profiles is not None:  # this thread's CPU time: not the time it waits for the database or the GIL
        profiler = cProfile.Profile(time.thread_time)
        profiles.append(profiler)
        profiler.enable()
    try:
        for command in workload(i, providers, seed, *partition):
            if stop.is_set():
                return
            if getattr(command, "project_id", None) in abandoned:
                continue
            try:
                ledger.execute(command)
                mine.recorded += 1
            except DomainError as error:
                if isinstance(command, m.RegisterProject):
                    abandoned.add(command.project_id)
                mine.refused += 1
                refusals[f"{type(command).__name__}: {re.sub(r'[A-Z]+-[0-9-]+', '…', str(error))[:70]}"] += 1
            except CommandConflict:
                mine.gave_up += 1
    except BaseException as error:
        errors.append(error)
        stop.set()
    finally:
        if profiles is not None:
            profiler.disable()


def run_ledger(
    backend: str, database_url: str, variant: str, *, clients: int, seconds: float, warmup: float,
    providers: int, seed: int, max_batch: int, max_wait_ms: float, cpu_profile: bool = False,
) -> LedgerRun:  # fmt: skip
    options = VARIANTS[variant]
    app = make_app(database_url, clients, options["group_commit"], options["projections"], max_batch, max_wait_ms)
    ledger = app.ledger
    try:
        set_up(ledger, providers)
        counts = [Counts() for _ in range(clients)]
        refusals: Counter[str] = Counter()
        stop = threading.Event()
        errors: list[BaseException] = []

        profiles: list[cProfile.Profile] = []

        def client(i: int) -> None:
            drive(ledger, i, providers, seed, counts[i], refusals, stop, errors, profiles if cpu_profile else None)

        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
        for thread in threads:
            thread.start()
        time.sleep(warmup)
        start_counts = [Counts(**asdict(c)) for c in counts]
        start_stats = ledger.committer.stats() if ledger.committer else {}
        worker = app.projections.worker if app.projections is not None else None
        start_worker = (worker.cpu_seconds, worker.events_read) if worker is not None else (0.0, 0)
        start_position = ledger.store.max_position()
        start_cpu, start_ticks, start_server = time.process_time(), cpu_ticks(), server_cpu()
        started = time.perf_counter()
        time.sleep(seconds)
        end_counts = [Counts(**asdict(c)) for c in counts]
        end_stats = ledger.committer.stats() if ledger.committer else {}
        end_worker = (worker.cpu_seconds, worker.events_read) if worker is not None else (0.0, 0)
        elapsed = time.perf_counter() - started
        end_cpu, end_ticks, server = time.process_time(), cpu_ticks(), server_cpu_since(start_server)
        end_position = ledger.store.max_position()
        stop.set()
        for thread in threads:
            thread.join(60)
        if errors:
            raise errors[0]

        def delta(name: str) -> int:
            return sum(getattr(e, name) - getattr(s, name) for s, e in zip(start_counts, end_counts))

        stats: dict = {}
        if end_stats:
            stats = {k: end_stats[k] - start_stats[k] for k in ("groups", "batches", "conflicts", "fallbacks", "notifications")}
            stats["mean_group"] = stats["batches"] / stats["groups"] if stats["groups"] else 0.0
            stats["largest_group"] = end_stats["largest_group"]
        recorded = delta("recorded")
        if profiles:
            profile_stats = pstats.Stats(*profiles)
            executed = sum(c.recorded + c.refused + c.gave_up for c in counts)
            cpu = profile_stats.total_tt  # type: ignore[attr-defined]
            print(
                f"{backend} {variant}: client threads' CPU time under cProfile (inflated by the profiler):"
                f" {cpu / executed * 1000:.2f} ms per command\n" + breakdown(profile_stats, backend, cpu, executed),
                flush=True,
            )
        busy = (end_ticks[0] - start_ticks[0]) / max(1, end_ticks[1] - start_ticks[1])
        return LedgerRun(
            backend, variant, clients, elapsed, recorded, delta("refused"), delta("gave_up"), end_position - start_position,
            cpu_ms_per_command=(end_cpu - start_cpu) * 1000 / max(1, recorded), machine_busy=busy,
            server_ms_per_command=server * 1000 / max(1, recorded) if backend == "postgres" else 0.0,
            refusals=dict(refusals.most_common(3)), committer=stats,
            worker_us_per_event=(end_worker[0] - start_worker[0]) * 1e6 / max(1, end_worker[1] - start_worker[1]),
        )  # fmt: skip
    finally:
        app.close()



# --- writers in several processes --------------------------------------------------------------------


def _writer_process(
    database_url: str, variant: str, clients: list[int], providers: int, seed: int, max_batch: int, max_wait_ms: float,
    projections: bool, warmup: float, seconds: float, barrier: Any, results: Any, partition: tuple[int, int],
) -> None:  # fmt: skip
    """One writer process: its own App (pool, aggregate cache, group committer) driving ``clients``
    on the providers of ``partition``."""
    options = VARIANTS[variant]
    app = make_app(database_url, len(clients), options["group_commit"], projections, max_batch, max_wait_ms)
    ledger = app.ledger
    counts = [Counts() for _ in clients]
    refusals: Counter[str] = Counter()
    stop = threading.Event()
    errors: list[BaseException] = []
    threads = [
        threading.Thread(target=drive, args=(ledger, i, providers, seed, mine, refusals, stop, errors), kwargs={"partition": partition}, daemon=True)
        for i, mine in zip(clients, counts)
    ]
    try:
        barrier.wait()
        for thread in threads:
            thread.start()
        time.sleep(warmup)
        start = [Counts(**asdict(c)) for c in counts]
        start_stats = ledger.committer.stats() if ledger.committer else {}
        start_cpu = time.process_time()
        time.sleep(seconds)
        end = [Counts(**asdict(c)) for c in counts]
        end_stats = ledger.committer.stats() if ledger.committer else {}
        cpu = time.process_time() - start_cpu
        stop.set()
        for thread in threads:
            thread.join(60)
        totals = {name: sum(getattr(e, name) - getattr(b, name) for b, e in zip(start, end)) for name in ("recorded", "refused", "gave_up")}
        stats = {k: end_stats[k] - start_stats[k] for k in ("groups", "batches", "conflicts", "fallbacks", "notifications")} if end_stats else {}
        if end_stats:
            stats["largest_group"] = end_stats["largest_group"]
        results.put({"totals": totals, "cpu": cpu, "committer": stats, "refusals": dict(refusals), "error": repr(errors[0]) if errors else None})
    except BaseException as error:  # the parent reports it
        results.put({"error": repr(error)})
    finally:
        app.close()


def run_ledger_processes(
    database_url: str, variant: str, *, processes: int, clients: int, seconds: float, warmup: float,
    providers: int, seed: int, max_batch: int, max_wait_ms: float, cpu_profile: bool = False, partitioned: bool = False,
) -> LedgerRun:  # fmt: skip
    """``clients`` clients spread over ``processes`` writer processes, each with its own App
    (group commit per process). The log's lock orders their transactions; the read models, when
    the variant has them, are followed by the first process's worker only (the others record).
    ``partitioned``: process k's clients write only the providers whose index is k modulo
    ``processes`` (as a router keyed by provider would send them), so each process's cache stays
    warm and no two processes write one provider."""
    import multiprocessing

    if cpu_profile:
        raise SystemExit("--cpu-profile profiles one process: use it without --processes")
    options = VARIANTS[variant]
    app = make_app(database_url, 1, False, False, max_batch, max_wait_ms)
    try:
        set_up(app.ledger, providers)
    finally:
        app.close()
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes + 1)
    results = context.Queue()
    workers = [
        context.Process(
            target=_writer_process,
            args=(database_url, variant, [i for i in range(clients) if i % processes == k], providers, seed, max_batch,
                  max_wait_ms, options["projections"] and k == 0, warmup, seconds, barrier, results,
                  (k, processes) if partitioned else (0, 1)),
            daemon=True,
        )  # fmt: skip
        for k in range(processes)
    ]
    for worker in workers:
        worker.start()
    store = open_store(database_url)
    try:
        barrier.wait(timeout=300)
        time.sleep(warmup)
        start_position, start_ticks, start_server = store.max_position(), cpu_ticks(), server_cpu()
        started = time.perf_counter()
        time.sleep(seconds)
        elapsed = time.perf_counter() - started
        end_position, end_ticks, server = store.max_position(), cpu_ticks(), server_cpu_since(start_server)
        reports = [results.get(timeout=300) for _ in workers]
    finally:
        store.close()
        for worker in workers:
            worker.join(60)
    failed = [r["error"] for r in reports if r.get("error")]
    if failed:
        raise SystemExit(f"a writer process failed: {failed[0]}")
    totals = {name: sum(r["totals"][name] for r in reports) for name in ("recorded", "refused", "gave_up")}
    refusals: Counter[str] = Counter()
    committer: dict = {}
    for r in reports:
        refusals.update(r["refusals"])
        for key, value in r["committer"].items():
            committer[key] = max(committer.get(key, 0), value) if key == "largest_group" else committer.get(key, 0) + value
    if committer:
        committer["mean_group"] = committer["batches"] / committer["groups"] if committer["groups"] else 0.0
    busy = (end_ticks[0] - start_ticks[0]) / max(1, end_ticks[1] - start_ticks[1])
    return LedgerRun(
        "postgres", f"{variant}×{processes}{'p' if partitioned else ''}", clients, elapsed, totals["recorded"], totals["refused"], totals["gave_up"],
        end_position - start_position, cpu_ms_per_command=sum(r["cpu"] for r in reports) * 1000 / max(1, totals["recorded"]),
        machine_busy=busy, server_ms_per_command=server * 1000 / max(1, totals["recorded"]),
        refusals=dict(refusals.most_common(3)), committer=committer,
    )  # fmt: skip


# --- the reference: the bare minimum in Python, not the ledger ---------------------------------------

#: reference variants (``--reference``): the same client threads, each "command" one event-sized row
#: inserted through psycopg and nothing else (no deciding, encoding, chaining, hashing, checks)
REFERENCE_VARIANTS = ("bare-single", "bare-group")

#: an event-sized row: the columns of ``ledger_events``; a state of BARE_STATE_CHARS (the mix's average 250)
BARE_TABLE = """CREATE TABLE bare_events (
    position BIGSERIAL PRIMARY KEY, originator_id UUID NOT NULL, originator_version INTEGER NOT NULL,
    topic TEXT NOT NULL, state TEXT NOT NULL, recorded_at TIMESTAMPTZ NOT NULL, command_id TEXT NOT NULL
)"""
BARE_INSERT = (
    "INSERT INTO bare_events (originator_id, originator_version, topic, state, recorded_at, command_id)"
    " VALUES (%s, %s, %s, %s, %s, %s)"
)
BARE_STATE_CHARS = 300


class _BareGroups:
    """Leader and followers, as :class:`~ledger.group_commit.GroupCommitter` without its options: a
    thread queues its row; whoever finds no group being written writes every queued row with one
    multi-row INSERT (one statement, one transaction) and wakes their threads."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: list[tuple[tuple, list[bool]]] = []
        self._leading = False
        self.groups = 0

    def insert(self, conn: Any, row: tuple) -> None:
        done = [False]
        with self._cond:
            self._queue.append((row, done))
            while not done[0] and self._leading:
                self._cond.wait()
            if done[0]:
                return
            self._leading = True
            group, self._queue = self._queue, []
        try:  # one multi-row INSERT, autocommit: one statement, one transaction, one round trip
            conn.execute(BARE_INSERT + ", (%s, %s, %s, %s, %s, %s)" * (len(group) - 1), [v for r, _ in group for v in r])
        finally:
            with self._cond:
                self._leading = False
                self.groups += 1
                for _, flag in group:
                    flag[0] = True
                self._cond.notify_all()


def run_reference(database_url: str, variant: str, *, clients: int, seconds: float, warmup: float) -> LedgerRun:
    """``clients`` threads, each with its own connection, inserting one event-sized row per
    "command" (``bare-single``: a transaction each, autocommit; ``bare-group``: rows queued by
    the threads share transactions). A reference for what a Python client of this shape can do."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(BARE_TABLE)
    groups = _BareGroups() if variant == "bare-group" else None
    counts = [Counts() for _ in range(clients)]
    stop = threading.Event()
    errors: list[BaseException] = []
    state = "x" * BARE_STATE_CHARS
    recorded_at = to_utc(TODAY)

    def client(i: int) -> None:
        try:
            with psycopg.connect(database_url, autocommit=True) as conn:
                n = 0
                while not stop.is_set():
                    n += 1
                    row = (uuid.uuid4(), 1, "ledger.aggregates.project:Project.Registered", state, recorded_at, f"bare-{i}-{n}")
                    if groups is None:
                        conn.execute(BARE_INSERT, row)
                    else:
                        groups.insert(conn, row)
                    counts[i].recorded += 1
        except BaseException as error:
            errors.append(error)
            stop.set()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(warmup)
    start, start_groups = sum(c.recorded for c in counts), groups.groups if groups else 0
    start_cpu, start_ticks = time.process_time(), cpu_ticks()
    started = time.perf_counter()
    time.sleep(seconds)
    recorded = sum(c.recorded for c in counts) - start
    elapsed = time.perf_counter() - started
    end_cpu, end_ticks = time.process_time(), cpu_ticks()
    written_groups = (groups.groups if groups else 0) - start_groups
    stop.set()
    for thread in threads:
        thread.join(60)
    if errors:
        raise errors[0]
    committer = {"groups": written_groups, "mean_group": recorded / written_groups} if groups and written_groups else {}
    return LedgerRun(
        "reference", variant, clients, elapsed, recorded, 0, 0, recorded,
        cpu_ms_per_command=(end_cpu - start_cpu) * 1000 / max(1, recorded),
        machine_busy=(end_ticks[0] - start_ticks[0]) / max(1, end_ticks[1] - start_ticks[1]), committer=committer,
    )  # fmt: skip


# --- PostgreSQL: schemas and pgbench ----------------------------------------------------------------


def with_search_path(url: str, schema: str) -> str:
    from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    options = " ".join(value for key, value in query if key == "options")
    query = [(k, v) for k, v in query if k != "options"] + [("options", f"{options} -csearch_path={schema}".strip())]
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


@contextmanager
def fresh_schema(base_url: str) -> Iterator[tuple[str, str]]:
    """A new schema; yields (its name, a URL whose search_path is that schema); dropped afterwards."""
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base_url, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield schema, with_search_path(base_url, schema)
    finally:
        with psycopg.connect(base_url, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def find_pgbench() -> str | None:
    found = shutil.which("pgbench")
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"))
    return str(candidates[-1]) if candidates else None


def run_pgbench(base_url: str, clients: int, seconds: float, jobs: int) -> dict:
    """Single-row inserts, one per transaction, from ``clients`` connections; returns tps and the command."""
    import psycopg

    pgbench = find_pgbench()
    if pgbench is None:
        raise SystemExit("pgbench not found (Debian: apt-get install postgresql-client or postgresql-contrib)")
    with fresh_schema(base_url) as (schema, _), tempfile.TemporaryDirectory() as tmp:
        with psycopg.connect(base_url, autocommit=True) as admin:
            admin.execute(f'CREATE TABLE "{schema}".bench_rows (id BIGSERIAL PRIMARY KEY, v INTEGER NOT NULL)')
        script = Path(tmp) / "insert.sql"
        script.write_text(f"\\set v random(1, 1000000)\nINSERT INTO \"{schema}\".bench_rows (v) VALUES (:v);\n")
        command = [pgbench, "-n", "-f", str(script), "-c", str(clients), "-j", str(jobs), "-T", str(int(seconds)), base_url]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"pgbench failed ({done.returncode}):\n{done.stderr}")
        match = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", done.stdout) or re.search(
            r"tps = ([0-9.]+)", done.stdout
        )
        if not match:
            raise SystemExit(f"no tps in pgbench's output:\n{done.stdout}")
        with psycopg.connect(base_url, autocommit=True) as admin:
            (rows,) = admin.execute(f'SELECT count(*) FROM "{schema}".bench_rows').fetchone() or (0,)
    shown = " ".join(command[:-1] + ["<database-url>"])
    return {"tps": float(match.group(1)), "rows": rows, "command": shown.replace(str(script), "insert.sql")}


def server_settings(base_url: str) -> dict:
    import psycopg

    names = ("server_version", "fsync", "synchronous_commit", "wal_sync_method", "shared_buffers", "commit_delay")
    with psycopg.connect(base_url, autocommit=True) as conn:
        return {n: (conn.execute(f"SHOW {n}").fetchone() or ("?",))[0] for n in names}


def machine() -> dict:
    memory = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    cpu = ""
    try:
        cpu = next(
            (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), ""
        )
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "memory": memory, "cpu": cpu, "python": platform.python_version(), "platform": platform.platform()}


# --- profiling --------------------------------------------------------------------------------------

#: (label, file suffix, function name) of the calls whose cumulative time the profile breaks down
BREAKDOWN = [
    ("Ledger.execute (all)", "ledger/application.py", "execute"),
    ("  store.command_result (duplicate check)", "ledger/store/{backend}.py", "command_result"),
    ("  Ledger._decide", "ledger/application.py", "_decide"),
    ("    UnitOfWork.find (load aggregates)", "ledger/application.py", "find"),
    ("      store.read_aggregate (SQL)", "ledger/store/{backend}.py", "read_aggregate"),
    ("      fold (rebuild aggregates)", "ledger/application.py", "fold"),
    ("    Context.pack (rulebook load)", "ledger/application.py", "pack"),
    ("    rules engine reconcile", "ledger/rules/engine.py", "reconcile"),
    ("    wire.encode (serialise events)", "ledger/wire.py", "encode"),
    ("  store.append (one command's transaction)", "ledger/store/{backend}.py", "append"),
    ("  GroupCommitter.submit (group commit)", "ledger/group_commit.py", "submit"),
    ("    store.append_many (the group's transaction)", "ledger/store/{backend}.py", "append_many"),
    ("    after_commit, once per group", "ledger/group_commit.py", "_after_commit"),
    ("  after_commit listeners (Ledger._notify)", "ledger/application.py", "_notify"),
    ("    projections catch_up", "ledger/projections/runner.py", "catch_up"),
]


def breakdown(stats: pstats.Stats, backend: str, total: float, commands: int) -> str:
    """Each BREAKDOWN part's cumulative time: ms per command and share of ``total``."""
    lines = []
    for label, suffix, name in BREAKDOWN:
        suffix = suffix.format(backend=backend)
        # the largest match: same-named functions of one file nest (catch_up calls catch_up) or are not on the path
        spent = max(
            (
                entry[3] for (filename, _, function), entry in stats.stats.items()  # type: ignore[attr-defined]
                if function == name and filename.endswith(suffix)
            ),
            default=0.0,
        )
        if spent:
            lines.append(f"  {label:<48} {spent / commands * 1000:7.3f} ms {spent / total * 100:6.1f}%")
    return "\n".join(lines) + "\n"


def profile(
    database_url: str, backend: str, commands: int, providers: int, seed: int, projections: bool, top: int, clock: str,
) -> str:  # fmt: skip
    """Run ``commands`` of the mix in this thread, first plainly (wall-clock and CPU time per
    command), then as many again under cProfile timing wall-clock time (where a command waits,
    mostly for the database) or this process's CPU time (what bounds many client threads, which
    share one interpreter lock)."""

    def run(stream: Iterator[m.Command], n: int) -> None:
        for _ in range(n):
            try:
                ledger.execute(next(stream))
            except DomainError:
                pass

    app = make_app(database_url, 1, False, projections, 64, 0)
    ledger = app.ledger
    try:
        set_up(ledger, providers)
        stream = workload(0, providers, seed)
        run(stream, 200)  # warm-up
        wall, cpu = time.perf_counter(), time.process_time()
        run(stream, commands)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        profiler = cProfile.Profile(time.process_time) if clock == "cpu" else cProfile.Profile()
        profiler.enable()
        run(stream, commands)
        profiler.disable()
    finally:
        app.close()
    stats = pstats.Stats(profiler)
    profiled = stats.total_tt  # type: ignore[attr-defined]
    def calls(function_name: str, file_suffix: str) -> int:
        return sum(
            entry[1] for (filename, _, function), entry in stats.stats.items()  # type: ignore[attr-defined]
            if function == function_name and filename.endswith(file_suffix)
        )

    queries = calls("execute", "psycopg/cursor.py") + calls("_call_append", "ledger/store/postgres.py")  # the append: through libpq
    transaction_commands = calls("_exec_command", "psycopg/_connection_base.py")  # BEGIN, COMMIT, SAVEPOINT …
    out = io.StringIO()
    out.write(
        f"{commands} commands in one thread ({backend}, projections {'on' if projections else 'off'}): "
        f"{wall / commands * 1000:.2f} ms wall-clock, {cpu / commands * 1000:.2f} ms CPU per command ({commands / wall:.0f}/s)\n"
    )
    if backend == "postgres":
        out.write(
            f"SQL sent per command: {queries / commands:.1f} execute calls (the append is one: ledger_append,"
            f" its own transaction) + {transaction_commands / commands:.1f} transaction"
            " commands of their own (BEGIN, COMMIT, … of the other transactions)\n"
        )
    out.write(
        f"under cProfile ({'CPU' if clock == 'cpu' else 'wall-clock'} time, inflated by the profiler):"
        f" {profiled / commands * 1000:.2f} ms per command; each part per command and its share"
        " (indented lines are parts of the line above):\n"
    )
    out.write(breakdown(stats, backend, profiled, commands))
    out.write(f"\ntop {top} functions by internal time:\n")
    stats.stream = out  # type: ignore[attr-defined]
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


# --- main -------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.throughput", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("LEDGER_BENCH_DATABASE_URL") or os.environ.get("LEDGER_TEST_POSTGRES_URL"),
                        help="a PostgreSQL database the benchmark may create (and drop) schemas in")  # fmt: skip
    parser.add_argument("--clients", type=int, default=8, help="client threads (ledger) and connections (pgbench)")
    parser.add_argument("--seconds", type=float, default=20, help="measured seconds of each run")
    parser.add_argument("--warmup", type=float, default=2, help="seconds each ledger run warms up before measuring")
    parser.add_argument("--providers", type=int, default=200, help="providers admitted before each run")
    parser.add_argument("--variants", default="single,group,single-raw,group-raw",
                        help=f"PostgreSQL ledger variants, of {', '.join(VARIANTS)} ('' for none)")  # fmt: skip
    parser.add_argument("--reference", default="",
                        help=f"reference variants, of {', '.join(REFERENCE_VARIANTS)}: the same client threads inserting one"
                        " event-sized row per command through psycopg, no ledger ('' for none, the default)")  # fmt: skip
    parser.add_argument("--processes", type=int, default=1,
                        help="writer processes for the PostgreSQL variants (each its own App; clients spread over them)")  # fmt: skip
    parser.add_argument("--partitioned", action="store_true",
                        help="with --processes: each process writes only its share of the providers (variant name ends in 'p')")  # fmt: skip
    parser.add_argument("--sqlite-variants", default="single,group", help="SQLite ledger variants ('' for none)")
    parser.add_argument("--sqlite-seconds", type=float, default=None, help="measured seconds of the SQLite runs (default: half of --seconds)")
    parser.add_argument("--no-pgbench", action="store_true", help="skip the pgbench baseline")
    parser.add_argument("--pgbench-jobs", type=int, default=2)
    parser.add_argument("--max-batch", type=int, default=64, help="LEDGER_GROUP_COMMIT_MAX_BATCH")
    parser.add_argument("--max-wait-ms", type=float, default=Settings.model_fields["group_commit_max_wait_ms"].default, help="LEDGER_GROUP_COMMIT_MAX_WAIT_MS")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--profile", type=int, metavar="N", help="profile N commands in one thread instead (no pgbench)")
    parser.add_argument("--cpu-profile", action="store_true",
                        help="profile the client threads' CPU time in the ledger runs (slows them down)")  # fmt: skip
    parser.add_argument("--profile-backend", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--profile-raw", action="store_true", help="profile without the in-process projections")
    parser.add_argument("--profile-clock", choices=("wall", "cpu"), default="wall",
                        help="profile wall-clock time (default) or this process's CPU time")  # fmt: skip
    args = parser.parse_args(argv)
    pg_wanted = args.profile_backend == "postgres" if args.profile else bool(args.variants or args.reference or not args.no_pgbench)
    if pg_wanted and not args.database_url:
        parser.error("--database-url (or LEDGER_BENCH_DATABASE_URL) is required for PostgreSQL runs")

    if args.profile:
        if args.profile_backend == "postgres":
            with fresh_schema(args.database_url) as (_, url):
                print(profile(url, "postgres", args.profile, args.providers, args.seed, not args.profile_raw, 25, args.profile_clock))
        else:
            with tempfile.TemporaryDirectory(prefix="ledger-bench-") as tmp:
                print(profile(f"sqlite:///{tmp}/ledger.db", "sqlite", args.profile, args.providers, args.seed, not args.profile_raw, 25, args.profile_clock))
        return 0

    report: dict = {"machine": machine(), "clients": args.clients, "seconds": args.seconds, "started": datetime.now(timezone.utc).isoformat()}
    print(f"machine: {report['machine']}")
    if pg_wanted:
        report["server"] = server_settings(args.database_url)
        print(f"server: {report['server']}")
    common = {
        "clients": args.clients, "warmup": args.warmup, "providers": args.providers, "seed": args.seed,
        "max_batch": args.max_batch, "max_wait_ms": args.max_wait_ms, "cpu_profile": args.cpu_profile,
    }  # fmt: skip
    runs: list[LedgerRun] = []
    pgbench: dict | None = None
    if not args.no_pgbench:
        pgbench = run_pgbench(args.database_url, args.clients, args.seconds, args.pgbench_jobs)
        report["pgbench"] = pgbench
        print(f"pgbench    single-row inserts {pgbench['tps']:8.1f} tps  ({pgbench['command']})", flush=True)
    for variant in filter(None, args.variants.split(",")):
        with fresh_schema(args.database_url) as (_, url):
            if args.processes > 1:
                run = run_ledger_processes(url, variant, processes=args.processes, seconds=args.seconds, partitioned=args.partitioned, **common)
            else:
                run = run_ledger("postgres", url, variant, seconds=args.seconds, **common)
        runs.append(run)
        print(run.line(), flush=True)
    for variant in filter(None, args.reference.split(",")):
        if variant not in REFERENCE_VARIANTS:
            parser.error(f"--reference: {variant!r} is not one of {', '.join(REFERENCE_VARIANTS)}")
        with fresh_schema(args.database_url) as (_, url):
            run = run_reference(url, variant, clients=args.clients, seconds=args.seconds, warmup=args.warmup)
        runs.append(run)
        print(run.line(), flush=True)
    for variant in filter(None, args.sqlite_variants.split(",")):
        with tempfile.TemporaryDirectory(prefix="ledger-bench-") as tmp:
            run = run_ledger("sqlite", f"sqlite:///{tmp}/ledger.db", variant, seconds=args.sqlite_seconds or args.seconds / 2, **common)
        runs.append(run)
        print(run.line(), flush=True)

    report["ledger"] = [{**asdict(r), "per_second": round(r.per_second, 1)} for r in runs]
    if pgbench:
        print()
        for run in runs:
            if run.backend in ("postgres", "reference"):
                ratio = run.per_second / pgbench["tps"]
                print(f"ratio {run.variant:<11} ledger / pgbench = {run.per_second:.1f} / {pgbench['tps']:.1f} = {ratio:.3f}")
        report["ratios"] = {r.variant: round(r.per_second / pgbench["tps"], 4) for r in runs if r.backend in ("postgres", "reference")}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
