"""The task functions the DAG and the CLI call, on real sources, bronze and Postgres (no Airflow):
the static plan, extraction statuses, a load that fails once and resumes after its last
committed batch, and the run report."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import psycopg
import pytest

from coretelecoms.config import Settings
from coretelecoms.load import TransientLoadError
from coretelecoms.pipeline import tasks

pytestmark = pytest.mark.postgres

DAY = date(2025, 11, 20)


@pytest.fixture
def simulated(settings: Settings) -> Settings:
    from coretelecoms.simulate import publish_as_of, simulate

    small = settings.model_copy(update={"batch_size": 100})
    simulate(small, DAY, 1, 0.001, 7)
    publish_as_of(small, DAY)
    tasks.ensure_schema(small)
    return small


def test_static_plan_loads_new_sources_then_skips_them(simulated: Settings) -> None:
    plan = tasks.plan_static_loads(simulated, DAY)
    assert plan["load"] == ["customers", "agents"]
    run_id = tasks.cli_run_id("test", DAY)
    for entity in plan["load"]:
        assert tasks.extract(simulated, entity, DAY, run_id)["status"] == tasks.EXTRACTED
        assert tasks.load(simulated, entity, DAY, run_id)["status"] == tasks.LOADED
    again = tasks.plan_static_loads(simulated, DAY)
    assert again["load"] == []
    assert {p["reason"] for p in again["entities"].values()} == {"unchanged"}


def test_extract_statuses_extracted_unchanged_and_no_data(simulated: Settings) -> None:
    run_id = tasks.cli_run_id("test", DAY)
    first = tasks.extract(simulated, "call_logs", DAY, run_id)
    assert first["status"] == tasks.EXTRACTED and first["rows"] > 0
    assert tasks.extract(simulated, "call_logs", DAY, run_id)["status"] == tasks.UNCHANGED
    later = date(2025, 11, 24)
    assert tasks.extract(simulated, "call_logs", later, run_id)["status"] == tasks.NO_DATA
    assert tasks.load(simulated, "call_logs", later, run_id)["status"] == tasks.NO_DATA


def test_load_failing_mid_way_resumes_after_its_last_committed_batch(
    simulated: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = tasks.cli_run_id("test", DAY)
    for entity in ("customers", "agents", "call_logs"):
        tasks.extract(simulated, entity, DAY, run_id)
    tasks.load(simulated, "customers", DAY, run_id)
    tasks.load(simulated, "agents", DAY, run_id)

    monkeypatch.setenv(tasks.FAULT_ENV, "call_logs=2")
    with pytest.raises(TransientLoadError, match="injected fault"):
        tasks.load(simulated, "call_logs", DAY, run_id)
    dsn = simulated.pg_dsn.get_secret_value()
    with psycopg.connect(dsn) as conn:
        committed = conn.execute(
            "select count(*) from ops.load_checkpoints where entity = 'call_logs'"
        ).fetchone()[0]
    assert committed == 2

    retried = tasks.load(simulated, "call_logs", DAY, run_id)  # the marker stops a second fault
    assert retried["resumed_at_batch"] == 2
    assert retried["read"] == tasks.extract(simulated, "call_logs", DAY, run_id)["rows"]
    with psycopg.connect(dsn) as conn:
        loaded, distinct = conn.execute(
            "select count(*), count(distinct call_id) from conformed.call_logs"
        ).fetchone()
    assert loaded == distinct == retried["loaded"]

    rerun = tasks.load(simulated, "call_logs", DAY, run_id)  # everything committed: a no-op
    assert rerun["batches_committed"] == 0
    assert rerun["read"] == retried["read"]


def test_run_report_is_written_from_the_database(simulated: Settings) -> None:
    run_id = tasks.cli_run_id("test", DAY)
    for entity in ("customers", "agents", "web_form_complaints"):
        tasks.extract(simulated, entity, DAY, run_id)
        tasks.load(simulated, entity, DAY, run_id)
    out = tasks.write_report(simulated, DAY, run_id, {"load_customers": {"status": "loaded"}})
    report = json.loads(Path(out["json"]).read_text())
    assert report["run_id"] == run_id
    assert set(report["entities"]) == {"customers", "agents", "web_form_complaints"}
    figures = report["entities"]["web_form_complaints"]
    assert figures["read"] == (
        figures["loaded"] + figures["unchanged"] + figures["quarantined"] + figures["duplicates"]
    )
    assert report["tasks"] == {"load_customers": "loaded"}
    assert "<table>" in Path(out["html"]).read_text()
