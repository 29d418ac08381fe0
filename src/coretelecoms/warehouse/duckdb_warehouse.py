# ruff: noqa: S608  (identifiers come from the contracts / information_schema, quoted or validated; values are bound)
"""The embedded warehouse: a DuckDB file (``settings.duckdb_path``).

Each table's change set is staged from its CSV spool file and upserted with
``INSERT ... ON CONFLICT (primary key) DO UPDATE`` in the same DuckDB transaction that advances
the table's watermark, so a crash leaves either both or neither.
"""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb

from coretelecoms.warehouse.silver import ChangeSet
from coretelecoms.warehouse.tables import WATERMARK_TABLE, RawTable

log = logging.getLogger(__name__)

RAW_SCHEMA = "raw"


def _q(name: str) -> str:
    """Quote an identifier for DuckDB (names come from the contracts, never from users)."""
    return '"' + name.replace('"', '""') + '"'


class DuckDBWarehouse:
    """Sibling of ``SnowflakeWarehouse``: ``ensure_tables``, ``watermarks``, ``upsert``, ``close``.

    DuckDB allows one writer process per file: dbt cannot open the file while this is open, so
    ``load_warehouse`` closes it before ``run_dbt`` runs.
    """

    def __init__(self, path: Path, schema: str = RAW_SCHEMA) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.schema = schema
        self._conn = duckdb.connect(str(path))

    def close(self) -> None:
        self._conn.close()

    def _table(self, name: str) -> str:
        return f"{_q(self.schema)}.{_q(name)}"

    def ensure_tables(self, tables: tuple[RawTable, ...]) -> None:
        self._conn.execute(f"create schema if not exists {_q(self.schema)}")
        for t in tables:
            cols = ", ".join(f"{_q(c.name)} {c.warehouse_type}" for c in t.columns)
            pk = ", ".join(_q(c) for c in t.primary_key)
            self._conn.execute(
                f"create table if not exists {self._table(t.name)} ({cols}, primary key ({pk}))"
            )
            self._add_new_columns(t)
        self._conn.execute(
            f"create table if not exists {self._table(WATERMARK_TABLE)} "
            "(table_name varchar primary key, change_seq bigint not null, "
            "rows_moved bigint not null)"
        )

    def _add_new_columns(self, table: RawTable) -> None:
        """A column added to a contract appears in raw (nullable; older rows stay null)."""
        existing = {
            r[0]
            for r in self._conn.execute(
                "select column_name from information_schema.columns "
                "where table_schema = ? and table_name = ?",
                [self.schema, table.name],
            ).fetchall()
        }
        for column in table.columns:
            if column.name not in existing:
                log.warning("raw.%s: adding new column %s", table.name, column.name)
                self._conn.execute(
                    f"alter table {self._table(table.name)} "
                    f"add column {_q(column.name)} {column.warehouse_type}"
                )

    def watermarks(self) -> dict[str, int]:
        rows = self._conn.execute(
            f"select table_name, change_seq from {self._table(WATERMARK_TABLE)}"
        ).fetchall()
        return {name: int(seq) for name, seq in rows}

    def upsert(self, change: ChangeSet) -> None:
        """Upsert ``change`` by primary key and advance the watermark, atomically."""
        t = change.table
        types = ", ".join(f"'{c.name}': '{c.warehouse_type}'" for c in t.columns)
        cols = ", ".join(_q(c) for c in t.column_names)
        updates = ", ".join(f"{_q(c)} = excluded.{_q(c)}" for c in t.non_key_columns)
        pk = ", ".join(_q(c) for c in t.primary_key)
        conn = self._conn
        source = (
            f"select {cols} from read_csv(?, columns = {{{types}}}, header = false, "
            "quote = '\"', escape = '\"', allow_quoted_nulls = false, auto_detect = false)"
        )
        conn.execute("begin transaction")
        try:
            (empty,) = conn.execute(
                f"select count(*) = 0 from (select 1 from {self._table(t.name)} limit 1)"
            ).fetchone()
            # Postgres CSV: unquoted empty = NULL, quoted "" = empty string. An empty table (the
            # first load) skips the conflict check, about half the cost of a large first load.
            conflict = "" if empty else f" on conflict ({pk}) do update set {updates}"
            conn.execute(
                f"insert into {self._table(t.name)} ({cols}) {source}{conflict}",
                [str(change.path)],
            )
            conn.execute(
                f"insert into {self._table(WATERMARK_TABLE)} values (?, ?, ?) "
                "on conflict (table_name) do update set change_seq = excluded.change_seq, "
                "rows_moved = excluded.rows_moved",
                [t.name, change.max_seq, change.rows],
            )
            conn.execute("commit")
        except Exception:
            conn.execute("rollback")
            raise
        log.info("duckdb raw.%s: upserted %d rows (seq %d)", t.name, change.rows, change.max_seq)
