"""Postgres connections: a configured DSN, or an embedded real PostgreSQL started with pgserver.

The embedded server keeps running after the process exits (``cleanup_mode=None``) so that the
CLI, Airflow tasks, tests and a process restarted after ``kill -9`` all share one server and its
data; ``stop_embedded`` stops it explicitly.

The embedded server is configured for bulk loads (``EMBEDDED_SETTINGS``, see
docs/operations.md for the equivalent RDS parameter group) when it is first started.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg import pq, sql

from coretelecoms.config import CONFORMANCE_DATABASE, SOURCE_DATABASE, Settings

log = logging.getLogger(__name__)
_lock = threading.Lock()
_servers: dict[Path, object] = {}

# postgresql.conf settings of the embedded server, for loads of millions of rows per batch run.
# The defaults (128 MB of shared buffers, 1 GB of WAL between checkpoints) made the first load
# checkpoint every few seconds, and every page dirtied after a checkpoint is written to the WAL
# whole again (full-page writes). With these, a whole first load fits between two checkpoints.
# Crash safety is unchanged: every commit is still flushed (fsync, synchronous_commit stay on).
EMBEDDED_SETTINGS: dict[str, str] = {
    "shared_buffers": "1GB",
    "max_wal_size": "8GB",
    "min_wal_size": "1GB",
    "checkpoint_timeout": "30min",
    "maintenance_work_mem": "512MB",
}


def configure_embedded(server: object) -> None:
    """Apply ``EMBEDDED_SETTINGS`` to a pgserver instance (``ALTER SYSTEM``), restarting it
    once when a setting needs it (``shared_buffers``).

    Idempotent and cheap when the settings are in place: a server is restarted only the first
    time it is configured (or when the settings change), under pgserver's own inter-process lock,
    so processes attaching to a configured server never restart it.
    """
    from pgserver import _commands  # pgserver has no public restart

    # The whole check-and-restart holds pgserver's inter-process lock, so two processes
    # starting a fresh data directory at once restart it once, not twice.
    with server._lock:  # type: ignore[attr-defined]
        with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:  # type: ignore[attr-defined]
            stored = dict(
                conn.execute(
                    "select name, setting from pg_file_settings"
                    " where sourcefile like '%postgresql.auto.conf' and applied is not false"
                ).fetchall()
            )
            wanted = {k: v for k, v in EMBEDDED_SETTINGS.items() if stored.get(k) != v}
            if not wanted:
                return
            for name, value in wanted.items():
                conn.execute(
                    sql.SQL("alter system set {} = {}").format(
                        sql.Identifier(name), sql.Literal(value)
                    )
                )
            conn.execute("select pg_reload_conf()")
            # pg_reload_conf only signals the server, so pending_restart is not reliable yet.
            restart = conn.execute(
                "select exists (select from pg_settings where name = any(%s)"
                " and context = 'postmaster')",
                [list(wanted)],
            ).fetchone()
        if restart and restart[0]:
            data_dir = server.pgdata  # type: ignore[attr-defined]
            log.info("restarting embedded PostgreSQL in %s for %s", data_dir, sorted(wanted))
            _commands.pg_ctl(
                ["-w", "-m", "fast", "stop"],
                pgdata=data_dir,
                user=server.system_user,  # type: ignore[attr-defined]
            )
            server.ensure_postgres_running()  # type: ignore[attr-defined]


def _embedded_server(data_dir: Path) -> object:
    """Start (or attach to) the pgserver instance owning ``data_dir``."""
    import pgserver  # heavy import, only in embedded mode

    with _lock:
        key = data_dir.absolute()
        if key not in _servers:
            key.mkdir(parents=True, exist_ok=True)
            log.info("starting embedded PostgreSQL in %s", key)
            server = pgserver.get_server(key, cleanup_mode=None)
            configure_embedded(server)
            _servers[key] = server
        return _servers[key]


def _ensure_database(maintenance_dsn: str, database: str) -> None:
    with psycopg.connect(maintenance_dsn, autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", [database]).fetchone()
        if not exists:
            # Another process may create it between the check and here.
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                conn.execute(sql.SQL("create database {}").format(sql.Identifier(database)))


def _embedded_dsn(settings: Settings, database: str) -> str:
    server = _embedded_server(Path(settings.pg_data_dir or settings.home / "pgdata"))
    _ensure_database(server.get_uri("postgres"), database)  # type: ignore[attr-defined]
    return server.get_uri(database)  # type: ignore[attr-defined]


def conformance_dsn(settings: Settings) -> str:
    """DSN of the silver conformance database (embedded database ``coretelecoms`` by default)."""
    if settings.pg_dsn is not None:
        return settings.pg_dsn.get_secret_value()
    return _embedded_dsn(settings, CONFORMANCE_DATABASE)


def source_dsn(settings: Settings) -> str:
    """DSN of the web-form source system (a separate embedded database by default)."""
    if settings.source_pg_dsn is not None:
        return settings.source_pg_dsn.get_secret_value()
    if settings.pg_dsn is not None:
        return settings.pg_dsn.get_secret_value()
    return _embedded_dsn(settings, SOURCE_DATABASE)


def connect(dsn: str, **kwargs: object) -> psycopg.Connection:
    """Open a connection with the platform's session defaults (UTC, identifiable in pg_stat)."""
    return psycopg.connect(
        dsn, application_name="coretelecoms", options="-c timezone=UTC", **kwargs
    )


_COPY_BLOCK = 1024 * 1024


def copy_out(conn: psycopg.Connection, query: bytes) -> Iterator[bytes]:
    """Run ``COPY ... TO STDOUT`` and yield its output in ~1 MB blocks.

    Uses the libpq layer (``psycopg.pq``) directly: Postgres sends one message per row, and
    psycopg's ``Copy`` iterator costs ~1-7 us of Python per row (a first warehouse load spools
    5 M rows) where ``get_copy_data`` costs a fraction of that. Runs in the connection's
    current transaction, if one is open (the warehouse load's snapshot).

    Raises:
        psycopg.Error: the server's own error, as psycopg would raise it (``QueryCanceled``
            for a statement timeout, ``DivisionByZero``, ...), after the statement's results
            are read, so the connection stays usable (e.g. for a rollback);
            ``OperationalError`` when the connection broke.
    """
    pgconn = conn.pgconn
    result = pgconn.exec_(query)
    if result.status != pq.ExecStatus.COPY_OUT:
        raise psycopg.errors.error_from_result(result)
    block = bytearray()
    while True:
        nbytes, data = pgconn.get_copy_data(0)  # blocking; -1 = done, -2 = error
        if nbytes < 0:
            break
        block += data
        if len(block) >= _COPY_BLOCK:
            yield bytes(block)
            block.clear()
    failed = None
    while (final := pgconn.get_result()) is not None:
        if failed is None and final.status != pq.ExecStatus.COMMAND_OK:
            failed = psycopg.errors.error_from_result(final)
    if failed is not None:
        raise failed
    if nbytes == -2:
        raise psycopg.OperationalError(f"COPY failed: {pgconn.get_error_message()}")
    if block:
        yield bytes(block)


def stop_embedded(settings: Settings) -> None:
    """Stop the embedded server for ``settings`` if this process started or attached to it."""
    with _lock:
        server = _servers.pop(Path(settings.pg_data_dir or "").absolute(), None)
    if server is not None:
        server.cleanup()  # type: ignore[attr-defined]
