"""A pipelined read-model transaction (PostgreSQL): the statements whose results are not read go
together with the COMMIT, and it commits, or rolls back, exactly as a plain one does."""
from __future__ import annotations

import psycopg
import pytest

from ledger.projections.db import ReadModelDB


def _rows(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT k, v FROM kv ORDER BY k").fetchall()


@pytest.fixture
def db(postgres_url):
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)")
    opened = ReadModelDB(postgres_url, pool_size=1)
    yield opened
    opened.close()


def test_it_commits_what_it_wrote_and_reads_in_between(db, postgres_url):
    with db.transaction(pipelined=True) as tx:
        tx.execute("INSERT INTO kv VALUES (?, ?)", ("a", "1"))
        assert tx.fetchall("SELECT v FROM kv WHERE k = ?", ("a",)) == [("1",)]  # its own write, read in the block
        tx.executemany("INSERT INTO kv VALUES (?, ?)", [("b", "2"), ("c", "3")])
        tx.execute("INSERT INTO kv VALUES (?, ?)", ("d", "4"))
    assert _rows(postgres_url) == [("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")]


def test_it_keeps_nothing_when_the_block_raises_or_a_statement_fails(db, postgres_url):
    with pytest.raises(RuntimeError, match="^the caller gave up$"), db.transaction(pipelined=True) as tx:
        tx.execute("INSERT INTO kv VALUES (?, ?)", ("a", "1"))
        raise RuntimeError("the caller gave up")
    with pytest.raises(psycopg.errors.UniqueViolation), db.transaction(pipelined=True) as tx:
        tx.execute("INSERT INTO kv VALUES (?, ?)", ("b", "2"))
        tx.execute("INSERT INTO kv VALUES (?, ?)", ("b", "again"))  # fails at the COMMIT's round trip
    assert _rows(postgres_url) == []
    with db.transaction(pipelined=True) as tx:  # the connection went back to the pool usable
        tx.execute("INSERT INTO kv VALUES (?, ?)", ("c", "3"))
    assert _rows(postgres_url) == [("c", "3")]
