"""Versioned, idempotent migrations of the silver conformance database.

``apply_migrations(dsn)`` applies every migration not yet recorded in ``ops.schema_migrations``,
each in its own transaction, under a database-wide advisory lock so two processes (two Airflow
tasks starting at once) never race: the second waits, then finds nothing left to do.

Migrations are either literal SQL files in this folder (``V<NNN>__<name>.sql``: the ``ops``
tables, the roles) or Python builders (the ``conformed`` tables, whose columns come from the
entity contracts). Every statement is itself idempotent (``if not exists``), so a database
created by hand or by an older build converges too.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

import psycopg
from psycopg import sql

from coretelecoms.load.errors import classify
from coretelecoms.load.schema import complaint_key_ddl, conformed_ddl
from coretelecoms.postgres import connect

log = logging.getLogger(__name__)

# pg_advisory_lock key shared by every process migrating the same database.
MIGRATION_LOCK_KEY = 0x0C07E7E1_0000_0001


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: Callable[[], list[sql.Composable]]


def _sql_file(filename: str) -> Callable[[], list[sql.Composable]]:
    def _load() -> list[sql.Composable]:
        text = resources.files(__name__).joinpath(filename).read_text(encoding="utf-8")
        return [sql.SQL(text)]  # type: ignore[arg-type]  # our own file, not data

    return _load


def _ops_schema() -> list[sql.Composable]:
    return [sql.SQL("create schema if not exists ops"), *_sql_file("V001__ops.sql")()]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "ops schema", _ops_schema),
    Migration(2, "conformed schema from the entity contracts", conformed_ddl),
    Migration(3, "writer and analyst roles", _sql_file("V003__roles.sql")),
    Migration(4, "complaint key checked against the source id", complaint_key_ddl),
)


def _checksum(conn: psycopg.Connection, statements: list[sql.Composable]) -> str:
    rendered = "\n;\n".join(s.as_string(conn) for s in statements)
    return hashlib.sha256(rendered.encode()).hexdigest()


def apply_migrations(dsn: str) -> list[str]:
    """Bring the conformance database to the latest schema; returns the migrations applied.

    Safe to call from every task and from several processes at once. Raises
    ``TransientLoadError`` when the database is unreachable or the lock wait times out, and
    ``TerminalLoadError`` when a migration itself fails (its transaction is rolled back, the
    version is not recorded).
    """
    applied: list[str] = []
    try:
        with connect(dsn, autocommit=True) as conn:
            conn.execute("select pg_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
            try:
                conn.execute("create schema if not exists ops")
                conn.execute(
                    "create table if not exists ops.schema_migrations ("
                    " version integer primary key, name text not null,"
                    " checksum text not null, applied_at timestamptz not null default now())"
                )
                done = {
                    v: c
                    for v, c in conn.execute("select version, checksum from ops.schema_migrations")
                }
                for migration in MIGRATIONS:
                    statements = migration.statements()
                    checksum = _checksum(conn, statements)
                    if migration.version in done:
                        if done[migration.version] != checksum:
                            log.warning(
                                "migration %s (%s) changed since it was applied; add a new "
                                "migration instead of editing an applied one",
                                migration.version,
                                migration.name,
                            )
                        continue
                    with conn.transaction():
                        for statement in statements:
                            conn.execute(statement)
                        conn.execute(
                            "insert into ops.schema_migrations (version, name, checksum)"
                            " values (%s, %s, %s)",
                            [migration.version, migration.name, checksum],
                        )
                    label = f"{migration.version:03d} {migration.name}"
                    log.info("applied migration %s", label)
                    applied.append(label)
            finally:
                conn.execute("select pg_advisory_unlock(%s)", [MIGRATION_LOCK_KEY])
    except psycopg.Error as exc:
        raise classify(exc, "applying conformance migrations") from exc
    return applied


__all__ = ["MIGRATIONS", "Migration", "apply_migrations"]
