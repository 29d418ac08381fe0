# ruff: noqa: S608  (identifiers come from the contracts / information_schema, quoted or validated; values are bound)
"""The embedded warehouse: a DuckDB file (``settings.duckdb_path``).

Each table's change set is staged from its CSV spool file into a temporary table, then
upserted by primary key (``DELETE ... USING`` the staged keys, then ``INSERT``) in the same DuckDB
transaction that advances the table's watermark, so a crash leaves either both or neither.

The raw tables declare no PRIMARY KEY constraint: DuckDB maintains one as an ART index on every
insert, which made bulk loads about eight times slower (measured: 2.8 M complaint rows from CSV,
43 s with the key, 5 s without). Keys stay unique because silver's are (one row per key in a
change set) and the upsert deletes a key before inserting it; the dbt staging tests check it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb

from coretelecoms.config import compression_methods
from coretelecoms.warehouse.silver import ChangeSet
from coretelecoms.warehouse.tables import LOAD_IN_PROGRESS, WATERMARK_TABLE, RawTable

log = logging.getLogger(__name__)

RAW_SCHEMA = "raw"


def set_disabled_compression(conn: duckdb.DuckDBPyConnection, methods: str) -> None:
    """Skip ``methods`` (e.g. ``fsst,dict_fsst``) when this instance writes tables.

    A ``SET``, not a ``duckdb.connect`` config entry: DuckDB 2.0 accepts the entry there and
    ignores it (checked with ``pragma_storage_info``). dbt-duckdb applies profile ``settings``
    with ``SET`` on every cursor, so profiles.yml can carry it directly.

    Raises:
        ValueError: ``methods`` is not a comma-separated list of method names.
    """
    conn.execute(f"set disabled_compression_methods = '{compression_methods(methods)}'")


def _q(name: str) -> str:
    """Quote an identifier for DuckDB (names come from the contracts, never from users)."""
    return '"' + name.replace('"', '""') + '"'


class DuckDBWarehouse:
    """Sibling of ``SnowflakeWarehouse``: ``ensure_tables``, ``watermarks``, ``mark_load``,
    ``upsert``, ``close``.

    DuckDB allows one writer process per file: dbt cannot open the file while this is open, so
    ``load_warehouse`` closes it before ``run_dbt`` runs.
    """

    def __init__(
        self,
        path: Path,
        schema: str = RAW_SCHEMA,
        memory_limit: str | None = None,
        disabled_compression: str = "",
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.schema = schema
        config = {"memory_limit": memory_limit} if memory_limit else {}
        self._conn = duckdb.connect(str(path), config=config)
        set_disabled_compression(self._conn, disabled_compression)

    def close(self) -> None:
        self._conn.close()

    def _table(self, name: str) -> str:
        return f"{_q(self.schema)}.{_q(name)}"

    def ensure_tables(self, tables: tuple[RawTable, ...]) -> None:
        self._conn.execute(f"create schema if not exists {_q(self.schema)}")
        for t in tables:
            cols = ", ".join(f"{_q(c.name)} {c.warehouse_type}" for c in t.columns)
            self._conn.execute(f"create table if not exists {self._table(t.name)} ({cols})")
            self._drop_primary_key(t)
            self._add_new_columns(t)
        self._conn.execute(
            f"create table if not exists {self._table(WATERMARK_TABLE)} "
            "(table_name varchar primary key, change_seq bigint not null, "
            "rows_moved bigint not null)"
        )

    def _drop_primary_key(self, table: RawTable) -> None:
        """Rebuild a raw table created with a PRIMARY KEY (older builds) without it, once.

        DuckDB cannot drop a constraint in place; the copy keeps every row and column.
        """
        (has_key,) = self._conn.execute(
            "select count(*) > 0 from duckdb_constraints() where schema_name = ? "
            "and table_name = ? and constraint_type = 'PRIMARY KEY'",
            [self.schema, table.name],
        ).fetchone()
        if not has_key:
            return
        log.warning("raw.%s: rebuilding without its primary key index", table.name)
        old = self._table(table.name)
        copy = self._table(f"{table.name}__rebuild")
        self._conn.execute("begin transaction")
        try:
            self._conn.execute(f"create or replace table {copy} as select * from {old}")
            self._conn.execute(f"drop table {old}")
            self._conn.execute(f"alter table {copy} rename to {_q(table.name)}")
            self._conn.execute("commit")
        except Exception:
            self._conn.execute("rollback")
            raise

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

    def mark_load(self, running: bool) -> None:
        """Mark a load as running until it has loaded every table (``LOAD_IN_PROGRESS``)."""
        marks = self._table(WATERMARK_TABLE)
        if running:
            self._conn.execute(
                f"insert into {marks} values (?, -1, 0) on conflict (table_name) do nothing",
                [LOAD_IN_PROGRESS],
            )
        else:
            self._conn.execute(f"delete from {marks} where table_name = ?", [LOAD_IN_PROGRESS])

    def upsert(self, change: ChangeSet) -> None:
        """Upsert ``change`` by primary key and advance the watermark, atomically."""
        t = change.table
        types = ", ".join(f"'{c.name}': '{c.warehouse_type}'" for c in t.columns)
        cols = ", ".join(_q(c) for c in t.column_names)
        target = self._table(t.name)
        stage = _q(f"_stage_{t.name}")
        on = " and ".join(f"{target}.{_q(k)} = {stage}.{_q(k)}" for k in t.primary_key)
        conn = self._conn
        # Postgres CSV: unquoted empty = NULL, quoted "" = empty string.
        conn.execute(
            f"create or replace temporary table {stage} as select {cols} from read_csv(?, "
            f"columns = {{{types}}}, header = false, quote = '\"', escape = '\"', "
            "allow_quoted_nulls = false, auto_detect = false)",
            [str(change.path)],
        )
        conn.execute("begin transaction")
        try:
            conn.execute(f"delete from {target} using {stage} where {on}")
            conn.execute(f"insert into {target} ({cols}) select {cols} from {stage}")
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
        finally:
            conn.execute(f"drop table if exists {stage}")
        log.info("duckdb raw.%s: upserted %d rows (seq %d)", t.name, change.rows, change.max_seq)
