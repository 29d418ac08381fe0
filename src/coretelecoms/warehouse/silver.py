"""Reading silver changes: one consistent snapshot, streamed with COPY into spool files.

All tables are read inside one REPEATABLE READ, read-only transaction, so the watermarks recorded
for the tables describe the same moment of silver (a parent and its children never disagree).
Rows stream through ``COPY (SELECT ...) TO STDOUT`` in CSV into a local file, so memory stays
flat however large the change set is; both warehouses bulk-load that file.

Known limit: ``_change_seq`` values are taken from a sequence when a row is written, so a silver
transaction still open during the read may commit rows with a lower sequence than the watermark
recorded now. The pipeline runs the warehouse load after the silver load has committed, so this
cannot happen there; do not run them concurrently.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from coretelecoms.postgres import connect, copy_out
from coretelecoms.warehouse.tables import SILVER_SCHEMA, RawTable

log = logging.getLogger(__name__)


class SilverNotReadyError(RuntimeError):
    """Silver has no table to read (migrations not applied): a retry will not fix it."""


@dataclass(frozen=True)
class ChangeSet:
    """The rows of one silver table changed after ``after_seq``, spooled to ``path`` as CSV."""

    table: RawTable
    after_seq: int
    max_seq: int
    rows: int
    path: Path


class SilverReader:
    """Context manager holding the snapshot transaction; ``changes`` spools one table."""

    def __init__(self, dsn: str, spool_dir: Path) -> None:
        self._dsn = dsn
        self._spool_dir = spool_dir
        self._conn: psycopg.Connection | None = None

    def __enter__(self) -> SilverReader:
        self._conn = connect(self._dsn)
        self._conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        self._conn.read_only = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._conn is not None:
            try:
                self._conn.rollback()
            finally:
                self._conn.close()

    def changes(self, table: RawTable, after_seq: int) -> ChangeSet:
        """Spool the rows of ``table`` with ``_change_seq > after_seq``.

        Raises:
            SilverNotReadyError: the silver table does not exist.
        """
        assert self._conn is not None, "use SilverReader as a context manager"
        ident = sql.Identifier(SILVER_SCHEMA, table.name)
        where = sql.SQL("_change_seq > {}").format(sql.Literal(after_seq))
        try:
            count, max_seq = self._conn.execute(
                sql.SQL("select count(*), coalesce(max(_change_seq), {}) from {} where {}").format(
                    sql.Literal(after_seq), ident, where
                )
            ).fetchone()
        except psycopg.errors.UndefinedTable as exc:
            raise SilverNotReadyError(
                f"silver table {SILVER_SCHEMA}.{table.name} does not exist; "
                "apply the silver migrations (coretelecoms load) first"
            ) from exc
        path = self._spool_dir / f"{table.name}.csv"
        if count == 0:
            return ChangeSet(table, after_seq, after_seq, 0, path)
        cols = sql.SQL(", ").join(
            # uuid/date/timestamp render as ISO text; both warehouses cast them back.
            sql.Identifier(c)
            for c in table.column_names
        )
        # no ORDER BY: keys are unique per table, so the upsert needs no order, and sorting a
        # first load (millions of rows) would cost Postgres more than the copy itself
        copy = sql.SQL("copy (select {} from {} where {}) to stdout (format csv)").format(
            cols, ident, where
        )
        with path.open("wb") as out:
            for block in copy_out(self._conn, copy.as_bytes(self._conn)):
                out.write(block)
        log.info("silver %s: %d changed rows after seq %d", table.name, count, after_seq)
        return ChangeSet(table, after_seq, int(max_seq), int(count), path)
