"""The PostgreSQL application role of the tests (least privilege: ``ledger/store/migrate.py``).

``scripts/pg-start.sh`` creates the owner ``ledger`` (its URL is LEDGER_TEST_POSTGRES_URL) and
the application role ``ledger_app`` (password ``ledger_app``). A test that connects as the
application takes a URL of the owner's (with its search_path) and swaps user and password for
the application role's: those of LEDGER_TEST_POSTGRES_APP_URL when it is set, else
``ledger_app:ledger_app``.
"""
from __future__ import annotations

import os
from urllib.parse import quote, unquote, urlsplit, urlunsplit

APP_URL_ENV = "LEDGER_TEST_POSTGRES_APP_URL"
DEFAULT_APP_ROLE = "ledger_app"
DEFAULT_APP_PASSWORD = "ledger_app"


def app_credentials() -> tuple[str, str]:
    """(role, password) of the application role."""
    configured = os.environ.get(APP_URL_ENV, "").strip()
    if configured:
        parts = urlsplit(configured)
        return unquote(parts.username or DEFAULT_APP_ROLE), unquote(parts.password or "")
    return DEFAULT_APP_ROLE, DEFAULT_APP_PASSWORD


def as_app(owner_url: str) -> str:
    """``owner_url`` (same host, database and options) connecting as the application role."""
    role, password = app_credentials()
    parts = urlsplit(owner_url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{quote(role, safe='')}:{quote(password, safe='')}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def app_role() -> str:
    return app_credentials()[0]
