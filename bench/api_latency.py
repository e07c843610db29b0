"""HTTP API latency at 64 concurrent connections over a ledger of 10,000 providers.

Builds the ledger through the command layer (applications and admissions in the
jurisdictions that admit without a notice period, spread over three of them),
serves it with ``ledger serve`` in a separate process, and drives it with an
asyncio load generator (httpx, one process, ``--connections`` at once). Reports
p50/p99 of a registry page and a timeline page next to the same server's bare
``/health``, measured in the same run: the ratio is the figure, not the
milliseconds (which depend on the machine).

    python -m bench.api_latency --providers 10000 --connections 64 --requests 3000 --json api.json
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

JURISDICTIONS = ("tangshan", "liuzhou", "province")
CHUNK = 250  # providers per execute_all
KINDS = {"tangshan": "数字化服务商", "liuzhou": "集成服务商", "province": "系统解决方案服务商"}


def credit_code_for(n: int) -> str:
    """A valid 统一社会信用代码 per provider (the check character computed)."""
    from ledger.rules import credit_code

    body = "".join(credit_code.ALPHABET[(n // 31**i) % 31] for i in range(9))
    return credit_code.complete("91120116" + body)


def provider_ids(providers: int) -> list[str]:
    return [f"{JURISDICTIONS[n % 3][:2].upper()}-{n:05d}" for n in range(providers)]


def lifecycle(n: int, provider_id: str, projects: int) -> list:
    """One provider's commands: application and admission, then ``projects`` projects taken from
    registration through diagnosis, filing, implementation and acceptance to the enterprise's
    rating and the fee paid (about ten events each on the provider's timeline)."""
    from ledger.commands import models as m

    j = JURISDICTIONS[n % 3]
    commands: list[m.Command] = [
        m.SubmitApplication(command_id=f"app-{n}", provider_id=provider_id, jurisdiction=j, name=f"服务商 {n}", credit_code=credit_code_for(n), kind=KINDS[j], effective_on=date(2025, 2, 1)),
        m.AdmitProvider(command_id=f"admit-{n}", provider_id=provider_id, effective_on=date(2025, 2, 3)),
    ]  # fmt: skip
    for k in range(projects):
        p = f"P-{n:05d}-{k}"

        def on(day: int) -> date:
            return date(2025, 2, 4 + day)

        commands += [
            m.RegisterProject(command_id=f"{p}-reg", project_id=p, jurisdiction=j, enterprise_id=f"E-{n:05d}-{k}", enterprise_name=f"企业 {n}-{k}", integrated_provider_id=provider_id, effective_on=on(0)),
            m.RecordDiagnosis(command_id=f"{p}-diag", project_id=p, level_before=1, report="诊断报告", effective_on=on(1)),
            m.SubmitFiling(command_id=f"{p}-fil", project_id=p, content="改造方案", cost="200000", effective_on=on(2)),
            m.DecideFiling(command_id=f"{p}-dec", project_id=p, approved=True, effective_on=on(3)),
            m.StartImplementation(command_id=f"{p}-impl", project_id=p, effective_on=on(4)),
            m.RecordAcceptance(command_id=f"{p}-acc", project_id=p, passed=True, level_after=2, effective_on=on(5)),
            m.RateSatisfaction(command_id=f"{p}-rate", project_id=p, provider_id=provider_id, rating="满意", effective_on=on(6)),
            m.RecordPayment(command_id=f"{p}-pay", project_id=p, kind="fee_paid", amount="100000", provider_id=provider_id, effective_on=on(7)),
        ]  # fmt: skip
    return commands


def record_chunk(database_url: str, start: int, stop: int, projects: int) -> int:
    """Record providers ``start`` .. ``stop - 1`` in one ``execute_all`` (one transaction: every
    command is decided as usual, the batch is written with a few multi-row statements)."""
    from ledger.bootstrap import bootstrap
    from ledger.clock import ManualClock
    from ledger.settings import Settings

    ids = provider_ids(stop)
    with bootstrap(Settings(database_url=database_url), clock=ManualClock(date(2025, 3, 1)), projections=False) as app:
        batch = [c for n in range(start, stop) for c in lifecycle(n, ids[n], projects)]
        app.ledger.execute_all(batch)
    return len(batch)


def build(database_url: str, providers: int, projects: int = 1, workers: int = 2) -> dict[str, float]:
    """Record the ledger through the command layer, ``CHUNK`` providers per transaction, in
    ``workers`` processes at once (their providers are distinct aggregates: no conflicts; the
    log's write lock orders their transactions), then build the read models by following the
    log. Returns the counts and the seconds each part took."""
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from multiprocessing import get_context

    from rich.progress import Progress

    from ledger.bootstrap import bootstrap
    from ledger.clock import ManualClock
    from ledger.commands import models as m
    from ledger.settings import Settings

    started = time.perf_counter()
    with bootstrap(Settings(database_url=database_url), clock=ManualClock(date(2025, 3, 1)), projections=False) as app:
        app.ledger.execute_all(
            [m.DeclareRulebookValidity(command_id=f"valid-{j}", jurisdiction=j, valid_from=date(2025, 1, 1), reference="bench") for j in JURISDICTIONS]
        )
    commands = 0
    with Progress() as bar, ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        task = bar.add_task(f"recording {providers} providers, {projects} project(s) each, {workers} processes", total=providers)
        chunks = {pool.submit(record_chunk, database_url, a, min(providers, a + CHUNK), projects): min(providers, a + CHUNK) - a for a in range(0, providers, CHUNK)}
        for done in as_completed(chunks):
            commands += done.result()
            bar.advance(task, chunks[done])
    recorded = time.perf_counter() - started
    with bootstrap(Settings(database_url=database_url), clock=ManualClock(date(2025, 3, 1))) as app:
        if app.projections is not None:
            app.projections.catch_up()
        events = app.ledger.store.max_position()
    total = time.perf_counter() - started
    return {"commands": commands, "events": events, "workers": workers, "record_seconds": round(recorded, 1), "projection_seconds": round(total - recorded, 1), "build_seconds": round(total, 1)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def drive(base: str, paths: list[str], connections: int, headers: dict[str, str], retried: list[str] | None = None) -> list[float]:
    """Latencies of ``paths`` requested over ``connections`` connections at once; requests that
    met a closed connection are sent again (listed in ``retried``) and timed from the first try."""
    import httpx

    retried = [] if retried is None else retried
    latencies: list[float] = []
    queue = list(paths)
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base, limits=limits, headers=headers, timeout=60) as client:

        async def worker() -> None:
            while queue:
                path = queue.pop()
                started = time.perf_counter()
                for attempt in range(3):
                    try:
                        answer = await client.get(path)
                        break
                    except httpx.TransportError:  # a kept-alive connection the server closed meanwhile
                        retried.append(path)
                        if attempt == 2:
                            raise
                latencies.append(time.perf_counter() - started)  # a retried request counts from its first attempt
                if answer.status_code != 200:
                    raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:200]}")

        await asyncio.gather(*(worker() for _ in range(connections)))
    return latencies


def summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "p50_ms": round(1000 * statistics.median(ordered), 2),
        "p99_ms": round(1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 2),
    }


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--providers", type=int, default=10_000)
    parser.add_argument("--projects", type=int, default=1, help="projects per provider, each through acceptance (about 10 events)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--requests", type=int, default=3000, help="requests per endpoint")
    parser.add_argument("--workers", type=int, default=2, help="processes recording the ledger at once")
    parser.add_argument("--reuse", action="store_true", help="serve the ledger already at --database-url if this benchmark built it (same --providers)")


def serve_and_measure(database_url: str, ids: list[str], connections: int, requests: int) -> dict[str, Any]:
    """p50/p99 of /health, a registry page and a timeline page, one after the other, on one server."""
    import httpx

    from api.auth import Principal, mint_token
    from api.settings import ApiSettings

    secret = os.urandom(32).hex()
    settings = ApiSettings(jwt_secret=secret, _env_file=None)
    token = mint_token(Principal(sub="bench", role="auditor"), settings, minutes=120)
    port = free_port()
    env = {**os.environ, "LEDGER_API_JWT_SECRET": secret, "LEDGER_DATABASE_URL": database_url}  # not in a process list
    server = subprocess.Popen([sys.executable, "-m", "ledger", "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.2)
        rng = random.Random(7)
        pages = len(ids) // 3 // 50
        workloads = {
            "health": ["/health"] * requests,
            "registry_page": [f"/v1/registry?jurisdiction={rng.choice(JURISDICTIONS)}&limit=50&offset={50 * rng.randrange(max(1, pages))}" for _ in range(requests)],
            "timeline_page": [f"/v1/providers/{rng.choice(ids)}/timeline?limit=50" for _ in range(requests)],
        }
        headers = {"Authorization": f"Bearer {token}"}
        asyncio.run(drive(base, ["/health"] * 200 + workloads["registry_page"][:100] + workloads["timeline_page"][:100], connections, headers))  # warm-up
        retried: dict[str, list[str]] = {name: [] for name in workloads}
        figures: dict[str, Any] = {name: summary(asyncio.run(drive(base, paths, connections, headers, retried[name]))) for name, paths in workloads.items()}
        for name in workloads:
            figures[name]["retried"] = len(retried[name])
        sample = httpx.get(f"{base}{workloads['timeline_page'][0]}", headers=headers).json()
        figures["timeline_entries"] = len(sample["items"])
    finally:
        server.terminate()
        server.wait(timeout=30)
    health = figures["health"]["p99_ms"]
    for name in ("registry_page", "timeline_page"):
        figures[name]["p99_vs_health"] = round(figures[name]["p99_ms"] / health, 2)
    return figures


def already_built(database_url: str, providers: int) -> bool:
    from ledger.store import open_store

    try:
        store = open_store(database_url)
    except Exception:
        return False
    try:
        return store.command_result(f"app-{providers - 1}") is not None and store.command_result(f"app-{providers}") is None
    finally:
        store.close()


def run(args: argparse.Namespace, workdir: str) -> dict[str, Any]:
    database_url = args.database_url or f"sqlite:///{workdir}/bench.db"
    built: dict[str, Any] = {"reused": True}
    if not (args.reuse and already_built(database_url, args.providers)):
        built = build(database_url, args.providers, args.projects, args.workers)
    figures = serve_and_measure(database_url, provider_ids(args.providers), args.connections, args.requests)
    return {"providers": args.providers, "connections": args.connections, "backend": database_url.split(":", 1)[0], "build": built, **figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments(parser)
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary directory")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        result = run(args, workdir)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
