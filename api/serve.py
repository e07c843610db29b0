"""``ledger serve``: the API and the dashboard over one ledger, with uvicorn.

One process by default. ``--workers N`` (PostgreSQL only) runs N worker processes on one
listening socket (uvicorn's process manager, which restarts a worker that dies): one interpreter
decides and encodes commands one at a time, so a single process leaves a core idle (BENCHMARKS.md,
commands). Each worker is a whole App of its own — its pool, aggregate cache, group committer and
projection worker — as writer processes are: the log's write lock keeps one gap-free order, a
command decided on an aggregate another worker has since changed is a conflict, decided again,
and the projection workers take turns on the read models' tracking rows. A request that asks to
read its own writes (``Wait-For-Read-Models``) waits for the shared read models, whichever worker
applies them.

uvicorn parses HTTP with ``httptools`` and runs its event loop on ``uvloop`` (``uvicorn[standard]``,
chosen by uvicorn when they are installed): 10 % less of the server's CPU a command than ``h11`` and
asyncio's own loop (BENCHMARKS.md, commands over HTTP).

The workers' Prometheus metrics are collected across processes (``prometheus_client``'s
multiprocess mode, in a directory of this server's own that is removed when it stops).
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

#: where a worker process finds the ledger's URL (the environment, not the command line, so that
#: its password never shows in a process list); ``ledger.settings.Settings`` reads it
DATABASE_URL_VARIABLE = "LEDGER_DATABASE_URL"
#: prometheus_client's multiprocess mode: set before any worker imports it
METRICS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def serve(database_url: str, *, host: str, port: int, fail: Callable[[str], Any], workers: int = 1) -> None:
    import uvicorn
    from pydantic import ValidationError

    from api.app import create_app
    from api.settings import ApiSettings
    from ledger.bootstrap import bootstrap
    from ledger.redaction import describe_failure, redact
    from ledger.settings import Settings, refused_setting
    from ledger.store import NoLedger

    try:
        settings = ApiSettings()
    except ValidationError as error:
        fail(refused_setting(error, ApiSettings))
        return
    if workers > 1 and not database_url.startswith("postgres"):
        fail(f"--workers {workers}: worker processes need a PostgreSQL ledger; an SQLite ledger is served by one process")
        return
    if database_url.startswith("sqlite:///") and not Path(database_url.removeprefix("sqlite:///")).exists():
        fail(f"no ledger at {redact(database_url)} (run `ledger demo` or give -d)")
    try:  # a server opens an existing ledger only: nothing is made in an empty or foreign database
        ledger_app = bootstrap(Settings(database_url=database_url), create=False)
    except NoLedger as error:
        fail(str(error))
        return
    except Exception as error:
        fail(f"cannot open the ledger at {redact(database_url)}: {describe_failure(error, database_url)}")
        return
    if workers == 1:
        try:
            uvicorn.run(create_app(ledger_app, settings), host=host, port=port, log_level="info")
        finally:
            ledger_app.close()
        return
    ledger_app.close()  # opened once here: the one-line error above before the workers start
    with tempfile.TemporaryDirectory(prefix="ledger-api-metrics-") as metrics:
        os.environ[DATABASE_URL_VARIABLE] = database_url
        os.environ[METRICS_DIR_VARIABLE] = metrics
        uvicorn.run("api.serve:worker_app", factory=True, workers=workers, host=host, port=port, log_level="info")


def worker_app() -> FastAPI:
    """The application of one worker process (``--workers``): its own App on the ledger the
    server was started with."""
    from prometheus_client import multiprocess

    from api.app import create_app
    from api.settings import ApiSettings
    from ledger.bootstrap import bootstrap

    _forget_dead_workers(multiprocess)
    return create_app(bootstrap(create=False), ApiSettings(), close_ledger=True)


def _forget_dead_workers(multiprocess: Any) -> None:
    """Drop the live-worker series of worker processes that have exited (uvicorn restarted them)."""
    directory = os.environ.get(METRICS_DIR_VARIABLE)
    if not directory:
        return
    for path in Path(directory).glob("gauge_live*_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, directory)
        except PermissionError:  # alive, another user's
            pass
