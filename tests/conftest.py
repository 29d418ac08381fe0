"""Shared fixtures: real Postgres (embedded pgserver, or the server named by CORETELECOMS_PG_DSN)
with a fresh database per test, and Settings rooted in a temp folder."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from coretelecoms.config import Settings

_SERVER_DSN_ENV = "CORETELECOMS_PG_DSN"


@pytest.fixture(autouse=True)
def _isolate_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read the developer's CORETELECOMS_* variables or .env implicitly."""
    for name in list(os.environ):
        if name.startswith("CORETELECOMS_") and name != _SERVER_DSN_ENV:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AIRFLOW__COSMOS__ENABLE_TELEMETRY", "False")
    monkeypatch.setenv("DO_NOT_TRACK", "1")


@pytest.fixture(scope="session")
def pg_server_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Maintenance DSN of a real server: CORETELECOMS_PG_DSN if set, else an embedded pgserver."""
    configured = os.environ.get(_SERVER_DSN_ENV)
    if configured:
        yield configured
        return
    import pgserver

    server = pgserver.get_server(tmp_path_factory.mktemp("pgdata"), cleanup_mode="stop")
    try:
        yield server.get_uri("postgres")
    finally:
        server.cleanup()


def _with_database(server_dsn: str, database: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(server_dsn)
    info["dbname"] = database
    return psycopg.conninfo.make_conninfo(**info)


def _database_factory(server_dsn: str) -> Iterator[Callable[..., str]]:
    """Yield a factory of fresh, empty databases on the server; drop them all afterwards."""
    created: list[str] = []

    def _make(prefix: str = "ct") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(server_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        created.append(name)
        return _with_database(server_dsn, name)

    yield _make
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        for name in created:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )


@pytest.fixture
def make_database(pg_server_dsn: str) -> Iterator[Callable[..., str]]:
    """Factory of fresh, empty databases on the test server; dropped after the test."""
    yield from _database_factory(pg_server_dsn)


@pytest.fixture(scope="module")
def make_database_module(pg_server_dsn: str) -> Iterator[Callable[..., str]]:
    """``make_database`` for data a whole module shares (a simulation, a dbt build)."""
    yield from _database_factory(pg_server_dsn)


@pytest.fixture(scope="session")
def make_database_session(pg_server_dsn: str) -> Iterator[Callable[..., str]]:
    """``make_database`` for data the whole session shares."""
    yield from _database_factory(pg_server_dsn)


@pytest.fixture
def pg_dsn(make_database: Callable[..., str]) -> str:
    """A fresh conformance database."""
    return make_database("silver")


@pytest.fixture
def settings(tmp_path: Path, make_database: Callable[..., str]) -> Settings:
    """Settings rooted in tmp_path with fresh source and conformance databases."""
    return Settings(
        home=tmp_path / "home",
        pg_dsn=make_database("silver"),
        source_pg_dsn=make_database("source"),
    )


def free_port() -> int:
    """A free TCP port on loopback for a test server."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A real S3 HTTP endpoint (moto in server mode) on loopback, shared by the S3 tests."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def pytest_unconfigure(config: pytest.Config) -> None:
    """Silence pgserver's exit-time log line: its atexit hook runs after pytest closed the
    captured streams that logging handlers still point at ("--- Logging error ---" noise)."""
    import logging

    logging.getLogger("pgserver").disabled = True
