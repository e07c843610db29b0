"""The import figure: ``ledger import`` of files of growing size, each into a fresh ledger, the time
per command at each size against the smallest size's (1.0: the time per command does not grow with the
file).

    python -m bench.figures import --database-url ""                         # SQLite files
    python -m bench.figures import --database-url "$LEDGER_TEST_POSTGRES_URL" # a fresh schema per size

A file is the mix of ``bench.throughput`` (providers admitted, then projects taken through
acceptance and rating, complaints filed and verified, profile changes) kept valid from start to end:
an import is recorded whole or not at all, so the mix leaves out what would make a later command
refused (findings, complaints found true, unsatisfied ratings: they disqualify providers that later
commands name). Each import is the real command (``python -m ledger import FILE``) in a process of its
own: its wall-clock time (start-up and the wait for the read models included), its CPU time and its
peak memory (``wait4``'s ``ru_maxrss``).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def commands(size: int, providers: int) -> Iterator[Any]:
    """``size`` commands after the set-up of ``providers`` providers, none of which a rule refuses."""
    import itertools

    from bench.throughput import setup_commands, workload
    from ledger.commands import models as m

    def kept_valid() -> Iterator[m.Command]:
        for command in workload(0, providers, seed=1):
            if isinstance(command, m.RecordFinding):
                continue
            if isinstance(command, m.VerifyComplaint):
                command = command.model_copy(update={"verdict": "unfounded"})
            elif isinstance(command, m.RateSatisfaction):
                command = command.model_copy(update={"rating": "满意"})
            yield command

    yield from setup_commands(providers)
    yield from itertools.islice(kept_valid(), size)


@contextmanager
def fresh_ledger(database_url: str, workdir: Path, size: int) -> Iterator[str]:
    """A database URL no ledger uses yet: an SQLite file, or a new schema of the PostgreSQL database."""
    if not database_url:
        yield f"sqlite:///{workdir / f'import-{size}.db'}"
        return
    from bench.throughput import fresh_schema

    with fresh_schema(database_url) as (_, url):
        yield url


def run_one(file: Path, url: str) -> dict[str, float]:
    # the child's output goes to a file, not a pipe: wait4 reaps it before anything reads, and a
    # child that filled a pipe would wait for a reader for ever
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", "ledger", "import", str(file), "--json"],  # the URL by the environment, not in a process list
            stdout=subprocess.DEVNULL, stderr=err, env={**os.environ, "LEDGER_DATABASE_URL": url},
        )  # fmt: skip
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        if status != 0:
            err.seek(0)
            raise SystemExit(f"ledger import of {file} failed: {err.read().decode(errors='replace').strip().splitlines()[-1:]}")
    return {"seconds": seconds, "cpu": usage.ru_utime + usage.ru_stime, "peak_mib": usage.ru_maxrss / 1024}


def run(args: argparse.Namespace) -> dict[str, Any]:
    sizes = sorted(int(s) for s in args.sizes.split(","))
    results = []
    with tempfile.TemporaryDirectory() as directory:
        workdir = Path(directory)
        for size in sizes:
            file = workdir / f"import-{size}.jsonl"
            with file.open("w", encoding="utf-8") as out:
                lines = sum(out.write(command.model_dump_json() + "\n") > 0 for command in commands(size, args.import_providers))
            with fresh_ledger(args.database_url, workdir, size) as url:
                measured = run_one(file, url)
            results.append({"size": size, "commands": lines, **measured})
            print(f"  {lines:,} commands: {measured['seconds']:.1f} s", file=sys.stderr, flush=True)
    return {"backend": "postgresql" if args.database_url else "sqlite", "providers": args.import_providers, "results": results}
