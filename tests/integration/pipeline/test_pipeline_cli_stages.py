"""The stage commands of the CLI (`extract`, `load`) call the task functions on real sources and
Postgres; `run` validates its dates before touching Airflow."""

from __future__ import annotations

from datetime import date

import duckdb
import psycopg
import pytest
from typer.testing import CliRunner

from coretelecoms.cli import app
from coretelecoms.config import Settings

pytestmark = pytest.mark.postgres

DAY = date(2025, 11, 20)


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    from coretelecoms.simulate import publish_as_of, simulate

    simulate(settings, DAY, 1, 0.001, 3)
    publish_as_of(settings, DAY)
    monkeypatch.setenv("CORETELECOMS_HOME", str(settings.home))
    monkeypatch.setenv("CORETELECOMS_PG_DSN", settings.pg_dsn.get_secret_value())
    monkeypatch.setenv("CORETELECOMS_SOURCE_PG_DSN", settings.source_pg_dsn.get_secret_value())
    return settings


def test_extract_then_load_one_day_from_the_command_line(cli_env: Settings) -> None:
    runner = CliRunner()
    extracted = runner.invoke(app, ["extract", "--date", DAY.isoformat()])
    assert extracted.exit_code == 0, extracted.output
    for entity in ("customers", "agents", "call_logs"):
        assert entity in extracted.output
    loaded = runner.invoke(app, ["load", "--date", DAY.isoformat()])
    assert loaded.exit_code == 0, loaded.output
    with psycopg.connect(cli_env.pg_dsn.get_secret_value()) as conn:
        runs = conn.execute(
            "select entity, status, rows_read from ops.pipeline_runs where run_id = %s",
            [f"cli__load__{DAY}"],
        ).fetchall()
    assert {r[0] for r in runs} == {
        "customers",
        "agents",
        "call_logs",
        "social_media_complaints",
        "web_form_complaints",
    }
    assert all(r[1] == "succeeded" and r[2] > 0 for r in runs)


def test_warehouse_full_refresh_from_the_command_line_repairs_gold(cli_env: Settings) -> None:
    """`coretelecoms warehouse --full-refresh` is the documented step after an upgrade that adds
    a gold column, and the repair of rows written into gold outside dbt."""
    runner = CliRunner()
    day = ["--date", DAY.isoformat()]
    for command in ("extract", "load", "warehouse"):
        result = runner.invoke(app, [command, *day])
        assert result.exit_code == 0, result.output
    conn = duckdb.connect(str(cli_env.duckdb_path))
    conn.execute("insert into gold.fct_complaint select * from gold.fct_complaint limit 1")
    conn.close()
    broken = runner.invoke(app, ["warehouse", *day])
    assert broken.exit_code != 0
    assert "unique_fct_complaint_complaint_key" in broken.output
    repaired = runner.invoke(app, ["warehouse", *day, "--full-refresh"])
    assert repaired.exit_code == 0, repaired.output
    conn = duckdb.connect(str(cli_env.duckdb_path), read_only=True)
    keys = conn.execute(
        "select count(*) = count(distinct complaint_key) from gold.fct_complaint"
    ).fetchone()
    conn.close()
    assert keys == (True,)


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["load", "--date", "2025-11-20", "--entity", "tweets"], id="unknown-entity"),
        pytest.param(["run"], id="run-without-dates"),
        pytest.param(["run", "--date", "2025-13-01"], id="run-bad-date"),
        pytest.param(["run", "--start", "2025-11-23", "--end", "2025-11-20"], id="run-reversed"),
        pytest.param(["run", "--date", "2025-11-20", "--start", "2025-11-20"], id="run-both"),
    ],
)
def test_bad_arguments_fail_with_a_message(args: list[str]) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "error" in result.output.lower()
