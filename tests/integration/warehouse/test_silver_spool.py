"""The COPY reader the warehouse spool and the table extractor share (`postgres.copy_out`).

It takes rows from libpq itself, so it must read the statement's result the way psycopg would:
the server's error surfaces as itself (a statement timeout stays `QueryCanceled`, a failing
expression `DivisionByZero`), and the connection stays usable, in the warehouse load's snapshot
transaction, for the next table's COPY and for the rollback that ends the snapshot.
"""

from __future__ import annotations

import io

import psycopg
import pytest

from coretelecoms.postgres import copy_out

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
        conn.execute("select 1")  # the snapshot transaction is open, as in the spool
        copy = f"copy ({query}) to stdout (format csv)".encode()
        with pytest.raises(error):
            for _ in copy_out(conn, copy):
                pass
        conn.rollback()
        assert conn.execute("select 42").fetchone() == (42,)
    finally:
        conn.close()


def test_a_complete_copy_is_read_byte_for_byte_and_the_snapshot_goes_on(pg_dsn: str) -> None:
    query = "select i, 'a,\"b\"' || chr(10) || i from generate_series(1, 100000) i"
    conn = _snapshot(pg_dsn)
    try:
        copy = f"copy ({query}) to stdout (format csv)"
        with conn.cursor().copy(copy) as plain:
            expected = b"".join(bytes(chunk) for chunk in plain)
        out = io.BytesIO()
        for block in copy_out(conn, copy.encode()):
            out.write(block)
        assert out.getvalue() == expected
        # the next table's statement runs in the same snapshot transaction
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        assert conn.execute("select count(*) from generate_series(1, 3)").fetchone() == (3,)
    finally:
        conn.close()
