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

JURISDICTIONS = ("tangshan", "liuzhou", "province")
KINDS = {"tangshan": "数字化服务商", "liuzhou": "集成服务商", "province": "系统解决方案服务商"}


def credit_code_for(n: int) -> str:
    """A valid 统一社会信用代码 per provider (the check character computed)."""
    from ledger.rules import credit_code

    body = "".join(credit_code.ALPHABET[(n // 31**i) % 31] for i in range(9))
    return credit_code.complete("91120116" + body)


def build(database_url: str, providers: int) -> list[str]:
    from rich.progress import Progress

    from ledger.bootstrap import bootstrap
    from ledger.clock import ManualClock
    from ledger.commands import models as m
    from ledger.settings import Settings

    clock = ManualClock(date(2025, 3, 1))
    ids = [f"{j[:2].upper()}-{n:05d}" for n, j in ((n, JURISDICTIONS[n % 3]) for n in range(providers))]
    with bootstrap(Settings(database_url=database_url), clock=clock) as app:
        app.ledger.execute_all(
            [m.DeclareRulebookValidity(command_id=f"valid-{j}", jurisdiction=j, valid_from=date(2025, 1, 1), reference="bench") for j in JURISDICTIONS]
        )
        with Progress() as bar:
            task = bar.add_task(f"recording {providers} providers", total=providers)
            for start in range(0, providers, 500):
                commands: list[m.Command] = []
                for n in range(start, min(providers, start + 500)):
                    j = JURISDICTIONS[n % 3]
                    commands.append(m.SubmitApplication(command_id=f"app-{n}", provider_id=ids[n], jurisdiction=j, name=f"服务商 {n}", credit_code=credit_code_for(n), kind=KINDS[j], effective_on=date(2025, 2, 1)))
                    commands.append(m.AdmitProvider(command_id=f"admit-{n}", provider_id=ids[n], effective_on=date(2025, 2, 20)))
                app.ledger.execute_all(commands)
                bar.update(task, completed=min(providers, start + 500))
        if app.projections is not None:
            app.projections.catch_up()
    return ids


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def drive(base: str, paths: list[str], connections: int, headers: dict[str, str]) -> list[float]:
    import httpx

    latencies: list[float] = []
    queue = list(paths)
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base, limits=limits, headers=headers, timeout=60) as client:

        async def worker() -> None:
            while queue:
                path = queue.pop()
                started = time.perf_counter()
                answer = await client.get(path)
                latencies.append(time.perf_counter() - started)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--providers", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--requests", type=int, default=3000, help="requests per endpoint")
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary directory")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()

    from api.auth import Principal, mint_token
    from api.settings import ApiSettings

    workdir = tempfile.TemporaryDirectory()
    database_url = args.database_url or f"sqlite:///{workdir.name}/bench.db"
    started = time.perf_counter()
    ids = build(database_url, args.providers)
    built = time.perf_counter() - started
    secret = os.urandom(32).hex()
    settings = ApiSettings(jwt_secret=secret, _env_file=None)
    token = mint_token(Principal(sub="bench", role="auditor"), settings, minutes=120)
    port = free_port()
    env = {**os.environ, "LEDGER_API_JWT_SECRET": secret}
    server = subprocess.Popen([sys.executable, "-m", "ledger", "serve", "-d", database_url, "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        import httpx

        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.2)
        rng = random.Random(7)
        pages = args.providers // 3 // 50
        workloads = {
            "health": ["/health"] * args.requests,
            "registry_page": [f"/v1/registry?jurisdiction={rng.choice(JURISDICTIONS)}&limit=50&offset={50 * rng.randrange(max(1, pages))}" for _ in range(args.requests)],
            "timeline_page": [f"/v1/providers/{rng.choice(ids)}/timeline?limit=50" for _ in range(args.requests)],
        }
        headers = {"Authorization": f"Bearer {token}"}
        asyncio.run(drive(base, ["/health"] * 200, args.connections, headers))  # warm-up
        figures = {name: summary(asyncio.run(drive(base, paths, args.connections, headers))) for name, paths in workloads.items()}
    finally:
        server.terminate()
        server.wait(timeout=30)
    health = figures["health"]["p99_ms"]
    for name in ("registry_page", "timeline_page"):
        figures[name]["p99_vs_health"] = round(figures[name]["p99_ms"] / health, 1)
    result = {"providers": args.providers, "connections": args.connections, "build_seconds": round(built, 1), "backend": database_url.split(":", 1)[0], **figures}
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
