"""A PostgreSQL cluster of a test's own, to stop and restart without disturbing the shared one.

``initdb`` in a temporary directory (Debian's ``postgresql`` package, run as the ``postgres``
OS user with ``runuser``: the tests run as root in CI), its own port, trust authentication on
127.0.0.1 and ``fsync=off``; removed afterwards. Without root or the binaries the test is
skipped locally and fails in CI (which must never skip), as the shared services do.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import running_in_ci


def worker_offset() -> int:
    """0 for the first pytest-xdist worker (or without xdist), 1 for the second…: ports apart."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(worker.removeprefix("gw") or 0)


def unavailable(reason: str) -> None:
    if running_in_ci():
        pytest.fail(f"CI must run the PostgreSQL restart tests: {reason}", pytrace=False)
    pytest.skip(reason)


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own (initdb in a temporary directory, its own port), to restart safely."""

    BIN = Path("/usr/lib/postgresql")

    def __init__(self, port: int) -> None:
        versions = sorted(self.BIN.glob("*/bin/initdb"))
        if os.geteuid() != 0:
            unavailable("starting a private PostgreSQL cluster needs root (runuser -u postgres)")
        if not versions or shutil.which("runuser") is None:
            unavailable("PostgreSQL's initdb (Debian's postgresql package) and runuser are needed")
        self.bin = versions[-1].parent
        self.port = port
        self.dir = Path(tempfile.mkdtemp(prefix="ledger-pg-"))
        shutil.chown(self.dir, "postgres")
        self.data = self.dir / "data"
        self.url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def _as_postgres(self, *args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True, capture_output=True, timeout=120, cwd="/")

    def _options(self) -> str:
        return f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"

    def start(self) -> None:
        if not self.data.exists():
            self._as_postgres(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-l", str(self.dir / "log"), "-o", self._options(), "start")

    def stop(self) -> None:
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-m", "fast", "stop")

    def restart(self, mode: str = "immediate") -> None:
        """Stop (``fast``: disconnect every client; ``immediate``: as a crash, recovery on start) and start again."""
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-m", mode, "-l", str(self.dir / "log"), "-o", self._options(), "restart")

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


@contextmanager
def private_postgres(port: int) -> Iterator[PrivatePostgres]:
    """A private cluster on ``port`` (plus this xdist worker's offset), started, and stopped and
    removed afterwards even when the test fails."""
    server = PrivatePostgres(port + worker_offset())
    server.start()
    try:
        yield server
    finally:
        try:
            server.stop()
        finally:
            server.remove()
