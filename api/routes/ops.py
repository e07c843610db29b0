"""Health (the process answers), readiness (the database, and Kafka where configured), Prometheus metrics."""
from __future__ import annotations

import os
import socket
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

from api.deps import AppDep, SettingsDep
from api.models import Health, Readiness
from api.serve import METRICS_DIR_VARIABLE

router = APIRouter(tags=["operations"])


@router.get("/health", response_model=Health, summary="The process answers")
def health() -> Any:
    return Health(status="ok")


def _kafka(servers: str) -> str:
    for server in servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host or server, int(port or 9092)), timeout=1.0):
                return "ok"
        except (OSError, ValueError):
            continue
    return f"unreachable: {servers}"


@router.get("/ready", response_model=Readiness, responses={503: {"model": Readiness}}, summary="The database (and Kafka where configured) answer")
def ready(app: AppDep, settings: SettingsDep) -> Any:
    checks: dict[str, str] = {}
    try:
        checks["database"] = f"ok (log at position {app.ledger.store.max_position()})"
    except Exception as error:
        checks["database"] = f"unavailable: {type(error).__name__}"
    if settings.check_kafka:
        checks["kafka"] = _kafka(app.settings.kafka_bootstrap)
    ok = all(v.startswith("ok") for v in checks.values())
    body = Readiness(status="ready" if ok else "not_ready", checks=checks)
    return body if ok else JSONResponse(body.model_dump(), status_code=503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def metrics() -> Response:
    """This process's metrics; with ``ledger serve --workers N``, every worker's together."""
    registry = REGISTRY
    if os.environ.get(METRICS_DIR_VARIABLE):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
