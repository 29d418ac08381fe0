"""Fixtures of the silver-load integration tests: a migrated conformance database."""

from __future__ import annotations

import pytest

from coretelecoms.load import apply_migrations


@pytest.fixture
def silver_dsn(pg_dsn: str) -> str:
    """A fresh conformance database with every migration applied."""
    apply_migrations(pg_dsn)
    return pg_dsn
