"""The app factory: a FastAPI application over one ledger App (its ``ledger`` and ``views``)."""
from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import errors
from api.routes import commands, ops, personal, queries, reports
from api.settings import ApiSettings
from ledger.bootstrap import App

REQUESTS = Counter("ledger_api_requests_total", "HTTP requests answered", ["method", "route", "status"])
LATENCY = Histogram("ledger_api_request_seconds", "HTTP request latency", ["method", "route"])
#: with ``ledger serve --workers N``: one series per live worker process (its ``pid`` label)
STARTED = Gauge("ledger_api_worker_started_seconds", "when this API process started (Unix time)", multiprocess_mode="liveall")

#: the dashboard and every asset it loads (the chart library is vendored: no CDN)
STATIC = Path(__file__).parent / "static"

DESCRIPTION = """Compliance ledger of the pools of digital-transformation service providers (数字化转型服务商).

Bearer tokens (JWT) name a role — regulator (of a jurisdiction), auditor, provider, enterprise;
without a token you are the public and see the pool and the published lists.
Dates say their axis: `effective_*` is when a fact took effect, `recorded_*` / `known_at` when the ledger recorded it.
"""


def create_app(ledger_app: App, settings: ApiSettings | None = None, *, close_ledger: bool = False) -> FastAPI:
    """``ledger_app`` is the bootstrap App: ``.ledger`` executes commands, ``.views`` answers every read.
    ``close_ledger``: the application closes it when the server stops (a worker process's own App)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        STARTED.set(time.time())
        try:
            yield
        finally:
            if close_ledger:
                ledger_app.close()

    app = FastAPI(title="Compliance ledger API", version="1", description=DESCRIPTION, docs_url="/docs", redoc_url=None, lifespan=lifespan)
    app.state.ledger_app = ledger_app
    app.state.settings = settings or ApiSettings()
    errors.install(app)
    for module in (ops, queries, commands, reports, personal):
        app.include_router(module.router)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def _home() -> RedirectResponse:
        return RedirectResponse("/dashboard")

    @app.get("/dashboard", include_in_schema=False)
    def _dashboard() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    app.add_middleware(Measured)
    return app


class Measured:
    """Counts and times every HTTP request by route, until its response starts (a stream's too).

    A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` (``@app.middleware("http")``)
    passes each response through a stream and a task of its own, a cost on every request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        counted = False

        def count(status: int) -> None:
            nonlocal counted
            counted = True
            route = getattr(scope.get("route"), "path", "unmatched")  # the router sets it in this scope
            LATENCY.labels(scope["method"], route).observe(time.perf_counter() - started)
            REQUESTS.labels(scope["method"], route, str(status)).inc()

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start" and not counted:
                count(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            if not counted:  # failed before answering: the server answers 500
                count(500)
