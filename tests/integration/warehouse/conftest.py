"""Fixtures of the warehouse integration tests: a module-scoped, migrated silver database."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
from psycopg import sql

from coretelecoms.load import apply_migrations


@pytest.fixture(scope="module")
def module_silver_dsn(pg_server_dsn: str) -> Iterator[Callable[[], str]]:
    """Factory of fresh, migrated conformance databases living for the whole test module.

    dbt builds are the slow part of these tests, so each module builds once and its tests
    assert on the result; the function-scoped ``pg_dsn`` would force a build per test.
    """
    created: list[str] = []

    def _make() -> str:
        name = f"wh_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(pg_server_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        created.append(name)
        info = psycopg.conninfo.conninfo_to_dict(pg_server_dsn)
        info["dbname"] = name
        dsn = psycopg.conninfo.make_conninfo(**info)
        apply_migrations(dsn)
        return dsn

    yield _make
    with psycopg.connect(pg_server_dsn, autocommit=True) as conn:
        for name in created:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )
