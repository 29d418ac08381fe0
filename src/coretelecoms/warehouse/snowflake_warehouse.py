# ruff: noqa: S608  (identifiers come from the contracts / information_schema, quoted or validated; values are bound)
"""The production warehouse: Snowflake through the official connector.

Same shape as ``DuckDBWarehouse``. A change set is first bulk-loaded into a temporary all-text
table, then upserted into ``<schema>.<table>`` by primary key (``DELETE ... USING`` + ``INSERT``)
in one transaction with the watermark update (temporary-table DDL runs before ``BEGIN`` because
Snowflake DDL commits implicitly).

Two upload paths fill the temporary table:

- ``stage`` (production): ``PUT`` the CSV spool file to the table stage and ``COPY INTO``.
- ``insert``: batched multi-row ``INSERT``. fakesnow's server does not emulate stages or ``PUT``,
  so this is the path the tests exercise; ``auto`` picks it when the host is a loopback address.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import polars as pl

from coretelecoms.config import Settings
from coretelecoms.warehouse.silver import ChangeSet
from coretelecoms.warehouse.tables import LOAD_IN_PROGRESS, WATERMARK_TABLE, RawTable

log = logging.getLogger(__name__)

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
INSERT_BATCH_ROWS = 5_000


def _ident(name: str) -> str:
    """Unquoted identifier (Snowflake upper-cases it, as dbt's sources expect)."""
    if not _IDENT.match(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return name


def connection_params(settings: Settings) -> dict[str, Any]:
    """Connector keyword arguments from settings (the password never leaves this dict)."""
    params: dict[str, Any] = {
        "account": settings.snowflake_account,
        "user": settings.snowflake_user,
        "database": settings.snowflake_database,
        "schema": settings.snowflake_schema,
        "session_parameters": {"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False},
    }
    if settings.snowflake_password is not None:
        params["password"] = settings.snowflake_password.get_secret_value()
    for name in ("warehouse", "role", "host", "port", "protocol"):
        value = getattr(settings, f"snowflake_{name}")
        if value is not None:
            params[name] = value
    return {k: v for k, v in params.items() if v is not None}


def upload_method(settings: Settings) -> str:
    """``stage`` or ``insert``: the configured method, or ``insert`` for a loopback host."""
    configured = settings.snowflake_upload
    if configured != "auto":
        return configured
    return "insert" if settings.snowflake_host in _LOOPBACK else "stage"


class SnowflakeWarehouse:
    """Sibling of ``DuckDBWarehouse``: ``ensure_tables``, ``watermarks``, ``mark_load``,
    ``upsert``, ``close``."""

    def __init__(self, settings: Settings) -> None:
        import snowflake.connector  # heavy import, only on the snowflake path

        self.schema = _ident(settings.snowflake_schema)
        self.database = _ident(settings.snowflake_database)
        self.method = upload_method(settings)
        params = connection_params(settings)
        params.pop("schema", None)  # the schema may not exist yet
        self._conn = snowflake.connector.connect(**params)
        self._cur = self._conn.cursor()
        self._cur.execute(f"create database if not exists {self.database}")
        self._cur.execute(f"use database {self.database}")

    def close(self) -> None:
        self._cur.close()
        self._conn.close()

    def _table(self, name: str) -> str:
        return f"{self.schema}.{_ident(name)}"

    def ensure_tables(self, tables: tuple[RawTable, ...]) -> None:
        self._cur.execute(f"create schema if not exists {self.schema}")
        self._cur.execute(f"use schema {self.schema}")
        for t in tables:
            cols = ", ".join(f"{_ident(c.name)} {c.warehouse_type}" for c in t.columns)
            pk = ", ".join(_ident(c) for c in t.primary_key)
            self._cur.execute(
                f"create table if not exists {self._table(t.name)} ({cols}, primary key ({pk}))"
            )
            self._add_new_columns(t)
        self._cur.execute(
            f"create table if not exists {self._table(WATERMARK_TABLE)} "
            "(table_name varchar primary key, change_seq bigint not null, "
            "rows_moved bigint not null)"
        )

    def _add_new_columns(self, table: RawTable) -> None:
        """A column added to a contract appears in raw (nullable; older rows stay null), as on
        DuckDB: without it the next upsert would fail on a column the table lacks."""
        self._cur.execute(
            "select column_name from information_schema.columns "
            "where table_schema = %s and table_name = %s",
            (self.schema.upper(), table.name.upper()),
        )
        existing = {str(name).upper() for (name,) in self._cur.fetchall()}
        for column in table.columns:
            if column.name.upper() not in existing:
                log.warning("%s.%s: adding new column %s", self.schema, table.name, column.name)
                self._cur.execute(
                    f"alter table {self._table(table.name)} "
                    f"add column {_ident(column.name)} {column.warehouse_type}"
                )

    def watermarks(self) -> dict[str, int]:
        self._cur.execute(f"select table_name, change_seq from {self._table(WATERMARK_TABLE)}")
        return {str(name): int(seq) for name, seq in self._cur.fetchall()}

    def _stage_table(self, change: ChangeSet) -> str:
        t = change.table
        # unqualified: temporary tables live in the session's schema (fakesnow keeps them in
        # a separate catalog and rejects a schema-qualified name)
        stage = _ident(f"_stage_{t.name}")
        cols = ", ".join(f"{_ident(c)} varchar" for c in t.column_names)
        self._cur.execute(f"create or replace temporary table {stage} ({cols})")
        if self.method == "stage":
            path = change.path.as_posix()
            self._cur.execute(f"put 'file://{path}' @%_stage_{t.name} overwrite = true")
            self._cur.execute(
                f"copy into {stage} from @%_stage_{t.name} file_format = (type = csv "
                "field_optionally_enclosed_by = '\"' empty_field_as_null = true null_if = ()) "
                "purge = true"
            )
        else:
            self._insert_batches(stage, change)
        return stage

    def _insert_batches(self, stage: str, change: ChangeSet) -> None:
        names = change.table.column_names
        placeholders = ", ".join(["%s"] * len(names))
        statement = f"insert into {stage} ({', '.join(names)}) values ({placeholders})"
        frame = pl.read_csv(
            change.path,
            has_header=False,
            new_columns=list(names),
            schema=dict.fromkeys(names, pl.String),
        )
        for batch in frame.iter_slices(INSERT_BATCH_ROWS):
            self._cur.executemany(statement, batch.rows())

    def mark_load(self, running: bool) -> None:
        """Mark a load as running until it has loaded every table (``LOAD_IN_PROGRESS``)."""
        marks = self._table(WATERMARK_TABLE)
        if running:  # one statement: a marker left by a load that stopped is never off a moment
            self._cur.execute(
                f"insert into {marks} (table_name, change_seq, rows_moved) select %s, -1, 0 "
                f"where not exists (select 1 from {marks} where table_name = %s)",
                (LOAD_IN_PROGRESS, LOAD_IN_PROGRESS),
            )
        else:
            self._cur.execute(f"delete from {marks} where table_name = %s", (LOAD_IN_PROGRESS,))

    def upsert(self, change: ChangeSet) -> None:
        """Upsert ``change`` by primary key and advance the watermark in one transaction.

        The upsert is ``DELETE ... USING`` + ``INSERT`` rather than ``MERGE``: every column is
        replaced either way, and fakesnow's server fails a ``MERGE`` inside an explicit
        transaction, which would leave the atomic data + watermark write untestable.
        """
        t = change.table
        stage = self._stage_table(change)
        target = self._table(t.name)
        casts = ", ".join(f"cast({_ident(c.name)} as {c.warehouse_type})" for c in t.columns)
        on = " and ".join(f"{target}.{k} = {stage}.{k}" for k in t.primary_key)
        cols = ", ".join(t.column_names)
        marks = self._table(WATERMARK_TABLE)
        cur = self._cur
        cur.execute("begin")
        try:
            cur.execute(f"delete from {target} using {stage} where {on}")
            cur.execute(f"insert into {target} ({cols}) select {casts} from {stage}")
            cur.execute(f"delete from {marks} where table_name = %s", (t.name,))
            cur.execute(
                f"insert into {marks} (table_name, change_seq, rows_moved) values (%s, %s, %s)",
                (t.name, change.max_seq, change.rows),
            )
            cur.execute("commit")
        except Exception:
            cur.execute("rollback")
            raise
        cur.execute(f"drop table if exists {stage}")
        log.info("snowflake %s: upserted %d rows (seq %d)", t.name, change.rows, change.max_seq)
