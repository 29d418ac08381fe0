"""Postgres connections: a configured DSN, or an embedded real PostgreSQL started with pgserver.

The embedded server keeps running after the process exits (``cleanup_mode=None``) so that the
CLI, Airflow tasks, tests and a process restarted after ``kill -9`` all share one server and its
data; ``stop_embedded`` stops it explicitly.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from pathlib import Path

import psycopg
from psycopg import sql

from coretelecoms.config import CONFORMANCE_DATABASE, SOURCE_DATABASE, Settings

log = logging.getLogger(__name__)
_lock = threading.Lock()
_servers: dict[Path, object] = {}


def _embedded_server(data_dir: Path) -> object:
    """Start (or attach to) the pgserver instance owning ``data_dir``."""
    import pgserver  # heavy import, only in embedded mode

    with _lock:
        key = data_dir.absolute()
        if key not in _servers:
            key.mkdir(parents=True, exist_ok=True)
            log.info("starting embedded PostgreSQL in %s", key)
            _servers[key] = pgserver.get_server(key, cleanup_mode=None)
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


def stop_embedded(settings: Settings) -> None:
    """Stop the embedded server for ``settings`` if this process started or attached to it."""
    with _lock:
        server = _servers.pop(Path(settings.pg_data_dir or "").absolute(), None)
    if server is not None:
        server.cleanup()  # type: ignore[attr-defined]
