from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from coretelecoms.cli import app
from coretelecoms.config import Settings, mask_dsn


def test_embedded_defaults_live_under_home(tmp_path: Path) -> None:
    s = Settings(home=tmp_path)
    assert s.source_uri == str(tmp_path / "sources")
    assert s.lake_uri == str(tmp_path / "lake")
    assert s.agents_sheet_is_local
    assert s.embedded_postgres


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        ("postgresql://app:s3cr3t@db:5432/x", "postgresql://app:***@db:5432/x"),
        ("host=db user=app password=s3cr3t dbname=x", "host=db user=app password=*** dbname=x"),
        ("postgresql://app@db/x", "postgresql://app@db/x"),
    ],
    ids=["uri", "keywords", "no-password"],
)
def test_mask_dsn_hides_passwords(dsn: str, expected: str) -> None:
    assert mask_dsn(dsn) == expected


def test_info_json_masks_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORETELECOMS_HOME", str(tmp_path))
    monkeypatch.setenv("CORETELECOMS_PG_DSN", "postgresql://app:topsecret@db/x")
    monkeypatch.setenv("CORETELECOMS_SNOWFLAKE_PASSWORD", "alsosecret")
    result = CliRunner().invoke(app, ["info", "--json"])
    assert result.exit_code == 0, result.output
    assert "topsecret" not in result.output and "alsosecret" not in result.output
    data = json.loads(result.output)
    assert data["pg_dsn"] == "postgresql://app:***@db/x"
    assert data["snowflake_password"] == "***"
    assert data["lake_uri"] == str(tmp_path / "lake")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("FSST", "fsst"), ("fsst, dict_fsst", "fsst,dict_fsst"), ("", "")],
)
def test_duckdb_compression_methods_are_normalised_once_for_loader_and_dbt(
    raw: str, expected: str
) -> None:
    assert Settings(duckdb_disabled_compression=raw).duckdb_disabled_compression == expected


@pytest.mark.parametrize("raw", [",fsst", "fsst;", "fsst'; drop table x; --"])
def test_a_bad_duckdb_compression_list_fails_when_settings_are_read(raw: str) -> None:
    with pytest.raises(ValidationError, match="compression methods"):
        Settings(duckdb_disabled_compression=raw)
