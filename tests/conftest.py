"""Shared fixtures.

Event-store fixtures come first: every test that asks for ``database_url`` (or
``store``) runs once per backend, on a real SQLite file and on a real PostgreSQL
schema. Fixtures for the ledger service go below them.
"""
from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import pytest

from ledger.store import EventStore, open_store

# =============================================================================
# Event store backends: database_url, store, raw_db
# =============================================================================

#: Base URL of a PostgreSQL database the tests may create schemas in (scripts/pg-start.sh prints one).
POSTGRES_URL_ENV = "LEDGER_TEST_POSTGRES_URL"

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def service_address(env: str, start_script: str, service: str) -> str:
    """A real service's address from ``env``; skips the test without one, but fails in CI (which must never skip)."""
    address = os.environ.get(env, "").strip()
    if not address:
        message = f"{env} is not set (run {start_script}, or scripts/test.sh)"
        if running_in_ci():
            pytest.fail(f"CI must run the {service} tests: {message}", pytrace=False)
        pytest.skip(message)
    return address


def postgres_base_url() -> str:
    """The test database's URL."""
    return service_address(POSTGRES_URL_ENV, "scripts/pg-start.sh", "PostgreSQL")


def with_search_path(url: str, schema: str) -> str:
    """``url`` with ``options=-csearch_path=<schema>`` added to its query (keeping other options)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    options = " ".join(value for key, value in query if key == "options")
    options = f"{options} -csearch_path={schema}".strip()
    query = [(key, value) for key, value in query if key != "options"] + [("options", options)]
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


@contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    """A fresh schema for one test; yields a URL whose search_path is that schema; drops it after."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex}"
    with psycopg.connect(base_url, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield with_search_path(base_url, schema)
    finally:
        with psycopg.connect(base_url, autocommit=True) as admin:
            admin.execute("SET lock_timeout = '30s'")
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A URL of an empty ledger database: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        with postgres_schema(postgres_base_url()) as url:
            yield url


@pytest.fixture
def backend(database_url: str) -> str:
    """``"sqlite"`` or ``"postgres"``."""
    return "sqlite" if database_url.startswith("sqlite:") else "postgres"


@pytest.fixture
def store(database_url: str) -> Iterator[EventStore]:
    """An event store on the test's database, closed after the test."""
    opened = open_store(database_url)
    try:
        yield opened
    finally:
        opened.close()


class RawDatabase:
    """Direct SQL on the test's database, past the event store: what a DBA or an attacker can do.

    ``execute`` runs one statement in autocommit mode with the backend's own
    placeholders (``?`` for SQLite, ``%s`` for PostgreSQL). The ``tamper_*``
    helpers change rows "as a superuser would": they switch the append-only
    triggers off, change the rows, and switch them on again.
    """

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.backend = "sqlite" if database_url.startswith("sqlite:") else "postgres"
        if self.backend == "sqlite":
            from ledger.store.sqlite import database_path

            self._conn: Any = sqlite3.connect(database_path(database_url), isolation_level=None, timeout=30)
        else:
            import psycopg

            self._conn = psycopg.connect(database_url, autocommit=True)

    @property
    def placeholder(self) -> str:
        return "?" if self.backend == "sqlite" else "%s"

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        cur = self._conn.execute(sql, params)
        return list(cur.fetchall()) if cur.description else []

    def tamper_update(self, position: int, **columns: Any) -> None:
        """Set ``columns`` of the event at ``position``, bypassing the append-only triggers."""
        p = self.placeholder
        assignments = ", ".join(f"{name} = {p}" for name in columns)
        self._behind_the_back(
            f"UPDATE ledger_events SET {assignments} WHERE position = {p}", (*columns.values(), position)
        )

    def tamper_delete(self, *positions: int) -> None:
        """Delete the events at ``positions``, bypassing the append-only triggers."""
        for position in positions:
            self._behind_the_back(f"DELETE FROM ledger_events WHERE position = {self.placeholder}", (position,))

    def _behind_the_back(self, sql: str, params: tuple[Any, ...]) -> None:
        if self.backend == "sqlite":
            from ledger.store.sqlite import APPEND_ONLY_TRIGGERS

            names = ["ledger_events_no_update", "ledger_events_no_delete"]
            self._conn.execute("BEGIN IMMEDIATE")
            for name in names:
                self._conn.execute(f"DROP TRIGGER {name}")
            self._conn.execute(sql, params)
            for name in names:
                self._conn.execute(APPEND_ONLY_TRIGGERS[name])
            self._conn.execute("COMMIT")
        else:
            # The table's owner may switch its triggers off (a superuser could also use
            # SET session_replication_role = replica).
            with self._conn.transaction():
                self._conn.execute("ALTER TABLE ledger_events DISABLE TRIGGER USER")
                self._conn.execute(sql, params)
                self._conn.execute("ALTER TABLE ledger_events ENABLE TRIGGER USER")

    def close(self) -> None:
        self._conn.close()


@pytest.fixture
def raw_db(database_url: str, store: EventStore) -> Iterator[RawDatabase]:
    """Direct SQL access to the test's database (the store fixture has created the tables)."""
    raw = RawDatabase(database_url)
    try:
        yield raw
    finally:
        raw.close()


# =============================================================================
# Ledger service fixtures go below.
# =============================================================================


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL schema of its own, for tests that only make sense on PostgreSQL."""
    with postgres_schema(postgres_base_url()) as url:
        yield url
