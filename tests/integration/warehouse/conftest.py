"""Fixtures of the warehouse integration tests: a module-scoped, migrated silver database."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from coretelecoms.load import apply_migrations


@pytest.fixture(scope="module")
def module_silver_dsn(
    make_database_module: Callable[..., str],
) -> Callable[[], str]:
    """Factory of fresh, migrated conformance databases living for the whole test module.

    dbt builds are the slow part of these tests, so each module builds once and its tests
    assert on the result; the function-scoped ``pg_dsn`` would force a build per test.
    """

    def _make() -> str:
        dsn = make_database_module("wh")
        apply_migrations(dsn)
        return dsn

    return _make
