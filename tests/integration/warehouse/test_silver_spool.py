"""Spooling a silver COPY (`silver._drain`) when the server stops it part-way.

The fast path takes rows from libpq itself, so when it meets the end of the COPY it must read
the statement's result the way psycopg would: the server's error surfaces as itself (a
statement timeout stays `QueryCanceled`, a failing expression `DivisionByZero`), and the
connection stays usable for the rollback that ends the snapshot.
"""

from __future__ import annotations

import io

import psycopg
import pytest

from coretelecoms.warehouse.silver import _drain

pytestmark = pytest.mark.postgres

ROWS = 200_000


def _snapshot(dsn: str) -> psycopg.Connection:
    conn = psycopg.connect(dsn)
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    return conn


@pytest.mark.parametrize(
    ("setup", "query", "error"),
    [
        (
            "set statement_timeout = '1s'",
            "select i, case when i = 100000 then pg_sleep(3)::text end"
            f" from generate_series(1, {ROWS}) i",
            psycopg.errors.QueryCanceled,
        ),
        (
            "select 1",
            f"select i, 1 / (100000 - i) from generate_series(1, {ROWS}) i",
            psycopg.errors.DivisionByZero,
        ),
    ],
    ids=["statement-timeout", "division-by-zero"],
)
def test_a_server_error_mid_copy_surfaces_as_itself_and_the_connection_recovers(
    pg_dsn: str, setup: str, query: str, error: type[psycopg.Error]
) -> None:
    conn = _snapshot(pg_dsn)
    try:
        conn.execute(setup)
        copy = f"copy ({query}) to stdout (format csv)"
        with pytest.raises(error), conn.cursor().copy(copy) as cp:
            _drain(conn.pgconn, cp, ROWS, io.BytesIO().write)
        conn.rollback()
        assert conn.execute("select 42").fetchone() == (42,)
    finally:
        conn.close()


@pytest.mark.parametrize("claimed", [999, 1001])
def test_a_row_count_that_does_not_match_the_copy_fails_and_the_connection_recovers(
    pg_dsn: str, claimed: int
) -> None:
    conn = _snapshot(pg_dsn)
    try:
        out = io.BytesIO()
        with (
            pytest.raises(psycopg.OperationalError, match=f"{claimed} rows"),
            conn.cursor().copy("copy (select generate_series(1, 1000)) to stdout") as cp,
        ):
            _drain(conn.pgconn, cp, claimed, out.write)
        conn.rollback()
        assert conn.execute("select 42").fetchone() == (42,)
    finally:
        conn.close()


def test_a_complete_copy_is_spooled_byte_for_byte(pg_dsn: str) -> None:
    query = "select i, 'a,\"b\"' || chr(10) || i from generate_series(1, 5000) i"
    conn = _snapshot(pg_dsn)
    try:
        copy = f"copy ({query}) to stdout (format csv)"
        with conn.cursor().copy(copy) as plain:
            expected = b"".join(bytes(chunk) for chunk in plain)
        out = io.BytesIO()
        with conn.cursor().copy(copy) as cp:
            _drain(conn.pgconn, cp, 5000, out.write)
        assert out.getvalue() == expected
    finally:
        conn.close()
