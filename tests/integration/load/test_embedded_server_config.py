"""The embedded server's bulk-load settings are applied once and survive reattaching."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from coretelecoms.postgres import EMBEDDED_SETTINGS, configure_embedded

pytestmark = pytest.mark.postgres


def _settings(uri: str) -> dict[str, str]:
    with psycopg.connect(uri) as conn:
        return {
            name: conn.execute(f"select current_setting('{name}')").fetchone()[0]  # type: ignore[index]
            for name in EMBEDDED_SETTINGS
        }


def test_settings_are_applied_with_one_restart_then_left_alone(tmp_path: Path) -> None:
    import pgserver

    server = pgserver.get_server(tmp_path / "pgdata", cleanup_mode="stop")
    try:
        configure_embedded(server)
        assert _settings(server.get_uri("postgres")) == EMBEDDED_SETTINGS
        pid = server.get_pid()
        configure_embedded(server)  # already configured: no restart
        assert server.get_pid() == pid
    finally:
        server.cleanup()
