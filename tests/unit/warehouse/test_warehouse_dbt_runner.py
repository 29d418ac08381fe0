"""run_dbt's configuration: project discovery, profile variables, Snowflake upload selection."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from coretelecoms.config import Settings
from coretelecoms.warehouse.dbt_runner import PROJECT_DIR_ENV, dbt_env, project_dir
from coretelecoms.warehouse.snowflake_warehouse import connection_params, upload_method

REPO = Path(__file__).resolve().parents[3]


def test_project_dir_finds_the_repo_dbt_project() -> None:
    assert project_dir() == REPO / "warehouse"


def test_project_dir_honours_the_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "dbt_project.yml").write_text("name: other\n")
    monkeypatch.setenv(PROJECT_DIR_ENV, str(tmp_path))
    assert project_dir() == tmp_path.resolve()


def test_project_dir_names_the_env_var_when_nothing_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PROJECT_DIR_ENV, str(tmp_path / "missing"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(
        "coretelecoms.warehouse.dbt_runner.__file__", str(tmp_path / "a" / "b" / "c" / "x.py")
    )
    with pytest.raises(FileNotFoundError, match=PROJECT_DIR_ENV):
        project_dir()


def test_profile_reads_only_variables_run_dbt_sets(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path,
        warehouse="snowflake",
        snowflake_account="acme",
        snowflake_user="loader",
        snowflake_password="s3cret",
    )
    env = dbt_env(settings)
    profiles = (REPO / "warehouse" / "profiles.yml").read_text()

    used = set(re.findall(r"env_var\('([A-Z_]+)'", profiles))
    assert used <= set(env)
    assert env["DBT_ENV_SECRET_SNOWFLAKE_PASSWORD"] == "s3cret"
    # the password only travels under dbt's secret prefix (masked in dbt logs)
    assert [k for k, v in env.items() if v == "s3cret"] == ["DBT_ENV_SECRET_SNOWFLAKE_PASSWORD"]
    assert env["DO_NOT_TRACK"] == "1"
    assert env["DBT_SEND_ANONYMOUS_USAGE_STATS"] == "False"
    assert yaml.safe_load(profiles)["coretelecoms"]["outputs"].keys() == {"duckdb", "snowflake"}


@pytest.mark.parametrize(
    ("host", "configured", "expected"),
    [
        ("127.0.0.1", "auto", "insert"),
        ("localhost", "auto", "insert"),
        (None, "auto", "stage"),
        ("acme.snowflakecomputing.com", "auto", "stage"),
        ("127.0.0.1", "stage", "stage"),
        (None, "insert", "insert"),
    ],
    ids=["loopback", "localhost", "default-host", "real-host", "forced-stage", "forced-insert"],
)
def test_upload_method(host: str | None, configured: str, expected: str, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, snowflake_host=host, snowflake_upload=configured)
    assert upload_method(settings) == expected


def test_connection_params_omit_unset_overrides(tmp_path: Path) -> None:
    params = connection_params(Settings(home=tmp_path, snowflake_account="acme"))
    assert params["account"] == "acme"
    assert "host" not in params and "port" not in params and "password" not in params
