"""The group committer's own CPU per batch, against the same threads without it, in one run.

    python -m bench.group_commit --threads 1,4,8 --batches 3000

Each thread "decides" (a fixed loop of Python) and submits a batch, ``--batches`` times. The store
is a stand-in that answers ``append_many`` after ``--round-trip-ms`` of sleep (the interpreter lock
released, as while PostgreSQL works), so that what is measured is the committer alone: leaders,
followers, their hand-offs and wake-ups. The baseline is the same loop and the same sleep per
batch in one thread without a committer. Nothing here touches a database; the throughput
benchmark (``bench.throughput``) measures the ledger as a whole.
"""
from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Sequence

from ledger.group_commit import GroupCommitOptions, GroupCommitter
from ledger.store import AppendResult, CommandBatch

DECIDING = 300  # additions a thread makes before each submit: a few microseconds of Python


class RoundTripStore:
    """Answers every append_many after a fixed sleep: what the committer waits for, without a database."""

    def __init__(self, round_trip: float) -> None:
        self.round_trip = round_trip

    def append_many(self, batches: Sequence[CommandBatch], atomic: bool = False) -> list[AppendResult]:
        time.sleep(self.round_trip)
        return [AppendResult(b.command_id, (1,)) for b in batches]


def decide() -> int:
    total = 0
    for i in range(DECIDING):
        total += i
    return total


def baseline(batches: int, round_trip: float) -> float:
    """Microseconds of CPU per batch: deciding and the sleep, no committer."""
    cpu = time.process_time()
    for _ in range(batches):
        decide()
        time.sleep(round_trip)
    return (time.process_time() - cpu) / batches * 1e6


def committed(threads: int, batches: int, round_trip: float) -> tuple[float, float, float]:
    """(µs of CPU per batch, batches a second, mean group) with ``threads`` threads sharing a committer."""
    committer = GroupCommitter(RoundTripStore(round_trip), GroupCommitOptions(), on_commit=lambda: None)  # type: ignore[arg-type]
    batch = CommandBatch("bench", "Bench", "bench", "{}", [])

    def client() -> None:
        for _ in range(batches):
            with committer.session():
                decide()
                committer.submit(batch)

    workers = [threading.Thread(target=client) for _ in range(threads)]
    cpu, wall = time.process_time(), time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    total = threads * batches
    return cpu / total * 1e6, total / wall, committer.mean_group


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", default="1,4,8", help="thread counts, comma-separated")
    parser.add_argument("--batches", type=int, default=3000, help="batches each thread submits")
    parser.add_argument("--round-trip-ms", type=float, default=0.4, help="the stand-in store's answer time")
    args = parser.parse_args(argv)
    round_trip = args.round_trip_ms / 1000
    base = baseline(args.batches, round_trip)
    print(f"baseline (no committer, one thread): {base:.1f} µs of CPU a batch")
    for threads in (int(t) for t in args.threads.split(",")):
        cpu, rate, mean = committed(threads, args.batches, round_trip)
        print(f"{threads} thread(s): {cpu:.1f} µs of CPU a batch ({cpu - base:+.1f} over the baseline), "
              f"{rate:,.0f} batches/s, {mean:.1f} batches a group")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
