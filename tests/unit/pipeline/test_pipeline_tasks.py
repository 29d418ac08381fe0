"""Pure parts of the task layer and the runner: dates, the fault hook, error classification and
the settings a worker rebuilds from its environment."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from coretelecoms.config import Settings
from coretelecoms.pipeline import tasks
from coretelecoms.pipeline.airflow_runner import date_range, patched_environ, settings_environment


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(date(2025, 11, 21), id="date"),
        pytest.param(datetime(2025, 11, 21, 0, 0, tzinfo=UTC), id="datetime"),
        pytest.param("2025-11-21", id="ds"),
        pytest.param("2025-11-21T00:00:00+00:00", id="iso-timestamp"),
    ],
)
def test_to_date_accepts_what_airflow_and_the_cli_pass(value) -> None:
    assert tasks.to_date(value) == date(2025, 11, 21)


@pytest.mark.parametrize(
    ("spec", "entity", "expected"),
    [
        pytest.param("", "call_logs", None, id="unset"),
        pytest.param("call_logs=2", "call_logs", 2, id="one"),
        pytest.param("agents=1, call_logs=3", "call_logs", 3, id="several"),
        pytest.param("call_logs=2", "agents", None, id="other-entity"),
        pytest.param("call_logs=x", "call_logs", None, id="not-a-number"),
    ],
)
def test_fault_hook_spec(monkeypatch, spec, entity, expected) -> None:
    monkeypatch.setenv(tasks.FAULT_ENV, spec)
    assert tasks._fault_after(entity) == expected


def test_terminal_errors_are_told_apart_from_transient_ones() -> None:
    from coretelecoms.load import ReconciliationError, TransientLoadError

    assert tasks.is_terminal(ReconciliationError("does not add up", {"read": 1}))
    assert not tasks.is_terminal(TransientLoadError("deadlock"))
    assert not tasks.is_terminal(RuntimeError("anything else"))


def test_worker_environment_rebuilds_the_same_settings(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path / "home",
        pg_dsn=SecretStr("postgresql://u:secret@db:5432/x"),
        batch_size=123,
        warehouse="duckdb",
    )
    env = settings_environment(settings)
    assert env["CORETELECOMS_PG_DSN"] == "postgresql://u:secret@db:5432/x"
    with patched_environ(env):
        rebuilt = tasks.resolve_settings()
    assert rebuilt.model_dump() == settings.model_dump()


def test_patched_environ_restores_previous_values(monkeypatch) -> None:
    import os

    monkeypatch.setenv("CT_PROBE_A", "old")
    monkeypatch.delenv("CT_PROBE_B", raising=False)
    with patched_environ({"CT_PROBE_A": "new", "CT_PROBE_B": "set"}):
        assert os.environ["CT_PROBE_A"] == "new"
    assert os.environ["CT_PROBE_A"] == "old"
    assert "CT_PROBE_B" not in os.environ


def test_date_range_is_inclusive_and_rejects_reversed_ranges() -> None:
    assert date_range(date(2025, 11, 20), date(2025, 11, 23))[-1] == date(2025, 11, 23)
    assert len(date_range(date(2025, 11, 20), date(2025, 11, 23))) == 4
    with pytest.raises(ValueError, match="before start"):
        date_range(date(2025, 11, 23), date(2025, 11, 20))


def test_entities_for_validates_names_and_orders_parents_first() -> None:
    assert tasks.entities_for(None)[:2] == ("customers", "agents")
    with pytest.raises(ValueError, match="unknown entity"):
        tasks.entities_for("tweets")
