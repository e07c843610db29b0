"""Commands over HTTP: ``ledger serve --workers 1`` against ``--workers N`` on one PostgreSQL
ledger, in the same run, back to back, with pgbench's single-row inserts at the same number of
connections as the baseline of issue 10's commands figure.

Builds a ledger of ``--providers`` admitted providers (``bench.api_latency.build``, no projects),
then, for each round and each worker count, starts ``ledger serve`` in its own process, warms it
up and sends ``--requests`` profile changes (each its own ``Idempotency-Key``, a provider drawn at
random, the regulator of its jurisdiction's token) over ``--connections`` connections at once
from one asyncio process (httpx). A 409 ("conflicted with concurrent writers") is sent again with
the same key, as a client should, and counted. CPU seconds per command are read from ``/proc``:
the server's processes (the uvicorn parent and its workers), the PostgreSQL processes, and the
load generator itself, which shares the machine's cores with them.

    python -m bench.api_commands --database-url "$LEDGER_TEST_POSTGRES_URL" --workers 1,2 --connections 16 --requests 2000 --rounds 2
    python -m bench.api_commands --database-url "$LEDGER_TEST_POSTGRES_URL" --providers 3 --one-provider --requests 300 --pgbench-seconds 0
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.api_latency import JURISDICTIONS, build, free_port, provider_ids
from bench.throughput import fresh_schema, process_cpu, run_pgbench, server_cpu, server_cpu_since


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (uvicorn's workers)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _tree_cpu(pid: int) -> float:
    return process_cpu(pid) + sum(process_cpu(child) for child in _children(pid))


async def _send(base: str, requests: list[tuple[str, dict[str, Any], dict[str, str]]], connections: int) -> tuple[list[float], int]:
    """POST every (path, body, headers) over ``connections`` connections; (latencies, 409s sent again)."""
    import httpx

    latencies: list[float] = []
    resent = 0
    queue = list(requests)
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:

        async def worker() -> None:
            nonlocal resent
            while queue:
                path, body, headers = queue.pop()
                started = time.perf_counter()
                for _ in range(50):
                    try:
                        answer = await client.post(path, json=body, headers=headers)
                    except httpx.TransportError:  # a kept-alive connection the server closed meanwhile
                        resent += 1
                        continue
                    if answer.status_code != 409:
                        break
                    resent += 1
                if answer.status_code != 201:
                    raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:300]}")
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(worker() for _ in range(connections)))
    return latencies, resent


def _requests(ids: list[str], tokens: dict[str, str], count: int, prefix: str, seed: int) -> list[tuple[str, dict[str, Any], dict[str, str]]]:
    rng = random.Random(seed)
    out = []
    for n in range(count):
        k = rng.randrange(len(ids))
        body = {"field": "address", "new_value": f"{prefix} No. {n}", "changed_on": "2025-03-01", "reported_on": "2025-03-02"}
        headers = {"Authorization": f"Bearer {tokens[JURISDICTIONS[k % 3]]}", "Idempotency-Key": f"{prefix}-{n}"}
        out.append((f"/v1/providers/{ids[k]}/profile-changes", body, headers))
    return out


def measure(database_url: str, ids: list[str], workers: int, connections: int, requests: int, label: str, env_extra: dict[str, str]) -> dict[str, Any]:
    """One server with ``workers`` processes: warm-up, then ``requests`` commands timed."""
    import httpx

    from api.auth import Principal, mint_token
    from api.settings import ApiSettings

    secret = os.urandom(32).hex()
    settings = ApiSettings(jwt_secret=secret, _env_file=None)
    tokens = {j: mint_token(Principal(sub=f"bench-{j}", role="regulator", jurisdiction=j), settings, minutes=120) for j in JURISDICTIONS}
    port = free_port()
    # the URL, with its password, goes by the environment: never into a process list
    env = {**os.environ, "LEDGER_API_JWT_SECRET": secret, "LEDGER_DATABASE_URL": database_url, **env_extra}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    command = [sys.executable, "-m", "ledger", "serve", "--port", str(port), *(["--workers", str(workers)] if workers > 1 else [])]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                metrics = httpx.get(f"{base}/metrics").text
                if workers == 1 or metrics.count("ledger_api_worker_started_seconds{") == workers:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the server (ledger serve --workers {workers}) did not start")
            time.sleep(0.2)
        asyncio.run(_send(base, _requests(ids, tokens, max(200, connections * 10), f"{label}-warm", 1), connections))
        timed = _requests(ids, tokens, requests, label, 2)
        server_before, pg_before, own_before = _tree_cpu(server.pid), server_cpu(), time.process_time()
        started = time.perf_counter()
        latencies, resent = asyncio.run(_send(base, timed, connections))
        seconds = time.perf_counter() - started
        server_seconds, pg_seconds, own_seconds = _tree_cpu(server.pid) - server_before, server_cpu_since(pg_before), time.process_time() - own_before
    finally:
        server.terminate()
        server.wait(timeout=60)
    ordered = sorted(latencies)
    return {
        "workers": workers,
        "commands": len(latencies),
        "seconds": round(seconds, 2),
        "commands_per_s": round(len(latencies) / seconds, 1),
        "p50_ms": round(1000 * statistics.median(ordered), 1),
        "p99_ms": round(1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 1),
        "resent_409": resent,
        "server_cpu_ms_per_command": round(1000 * server_seconds / len(latencies), 2),
        "postgres_cpu_ms_per_command": round(1000 * pg_seconds / len(latencies), 2),
        "load_generator_cpu_ms_per_command": round(1000 * own_seconds / len(latencies), 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api_commands", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("LEDGER_TEST_POSTGRES_URL", ""), help="a PostgreSQL database the bench may create a schema in")
    parser.add_argument("--providers", type=int, default=600)
    parser.add_argument("--workers", default="1,2", help="worker counts of `ledger serve`, each measured every round")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--requests", type=int, default=2000, help="commands timed per server")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-group-commit", action="store_true", help="the servers run with LEDGER_GROUP_COMMIT=false (group commit is the default)")
    parser.add_argument("--one-provider", action="store_true", help="every command changes the same provider (a hot aggregate)")
    parser.add_argument("--pgbench-seconds", type=float, default=10.0, help="0: no pgbench")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    if not args.database_url.startswith("postgres"):
        parser.error("--database-url (or LEDGER_TEST_POSTGRES_URL) must be a PostgreSQL URL: worker processes need PostgreSQL")
    counts = [int(w) for w in args.workers.split(",")]
    env_extra = {"LEDGER_GROUP_COMMIT": "false"} if args.no_group_commit else {}
    runs: list[dict[str, Any]] = []
    with fresh_schema(args.database_url) as (_, url):
        built = build(url, args.providers, projects=0, workers=2)
        ids = provider_ids(args.providers)[: 1 if args.one_provider else None]
        for round_ in range(args.rounds):
            for workers in counts:
                run = measure(url, ids, workers, args.connections, args.requests, f"r{round_}w{workers}", env_extra)
                run["round"] = round_ + 1
                run["at"] = time.strftime("%H:%M:%S", time.gmtime())
                print(json.dumps(run), flush=True)
                runs.append(run)
    pgbench = run_pgbench(args.database_url, args.connections, args.pgbench_seconds, 2) if args.pgbench_seconds > 0 else None
    result = {
        "providers": args.providers, "one_provider": args.one_provider, "connections": args.connections, "group_commit": not args.no_group_commit,
        "build": built, "runs": runs, "pgbench": pgbench,
    }  # fmt: skip
    for workers in counts:
        rates = [r["commands_per_s"] for r in runs if r["workers"] == workers]
        line = f"--workers {workers}: {', '.join(f'{x:,.0f}' for x in rates)} commands/s"
        if pgbench:
            tps = pgbench["tps"]
            line += f" ({', '.join(f'{x / tps:.1%}' for x in rates)} of pgbench's {tps:,.0f} tps)"
        print(line)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
