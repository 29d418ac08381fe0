"""``coretelecoms status`` and ``coretelecoms quarantine`` against a real conformance database."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest
from load_batches import killed_after, make_batch
from typer.testing import CliRunner

from coretelecoms.cli import app
from coretelecoms.contracts import AGENTS, CALL_LOGS, CUSTOMERS
from coretelecoms.load import Loader

pytestmark = pytest.mark.postgres

D1 = date(2025, 11, 20)
C1 = "11111111-1111-4111-8111-111111111111"
C2 = "22222222-2222-4222-8222-222222222222"


@pytest.fixture
def cli_env(silver_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CORETELECOMS_PG_DSN", silver_dsn)
    monkeypatch.setenv("CORETELECOMS_HOME", str(tmp_path / "home"))
    return silver_dsn


def _seed(dsn: str) -> None:
    Loader(dsn, CUSTOMERS, "run-1", D1).load(
        [make_batch(CUSTOMERS, [{"customer_id": C1}], logical_date=D1, fingerprint="c")]
    )
    Loader(dsn, AGENTS, "run-1", D1).load(
        [make_batch(AGENTS, [{"agent_id": 1000}], logical_date=D1, fingerprint="a")]
    )
    calls = [
        {
            "call_id": cid,
            "customer_id": cust,
            "agent_id": 1000,
            "resolution_status": "Backlog",
            "call_started_at": datetime(2025, 5, 1),
            "generated_date": D1,
        }
        for cid, cust in (("ok", C1), ("orphan", C2))
    ]
    Loader(dsn, CALL_LOGS, "run-1", D1).load(
        [
            make_batch(
                CALL_LOGS,
                calls,
                logical_date=D1,
                duplicates=1,
                rejects=[{"reason": "missing_key", "record": {"call ID": ""}}],
            )
        ]
    )


def test_status_json_reports_figures_per_source_and_open_quarantine(cli_env: str) -> None:
    _seed(cli_env)
    result = CliRunner().invoke(app, ["status", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    (run,) = report["runs"]
    assert run["run_id"] == "run-1" and run["status"] == "succeeded"
    calls = next(s for s in run["sources"] if s["entity"] == "call_logs")
    assert {k: calls[k] for k in ("read", "loaded", "unchanged", "quarantined", "duplicates")} == {
        "read": 4,
        "loaded": 1,
        "unchanged": 0,
        "quarantined": 2,
        "duplicates": 1,
    }
    assert report["open_quarantine"] == {"missing_key": 1, "unknown_customer": 1}


def test_status_table_and_unmigrated_database(pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORETELECOMS_PG_DSN", pg_dsn)
    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == 0 and "not created yet" in result.output
    assert json.loads(CliRunner().invoke(app, ["status", "--json"]).output)["runs"] == []


def test_quarantine_list_filters_and_show_prints_the_original(cli_env: str) -> None:
    _seed(cli_env)
    listed = CliRunner().invoke(
        app, ["quarantine", "list", "--reason", "unknown_customer", "--open", "--json"]
    )
    assert listed.exit_code == 0, listed.output
    (row,) = json.loads(listed.output)
    assert row["natural_key"] == "orphan" and row["entity"] == "call_logs"
    shown = CliRunner().invoke(app, ["quarantine", "show", str(row["id"])])
    assert shown.exit_code == 0, shown.output
    detail = json.loads(shown.output)
    assert detail["record"]["customeR iD"] == C2 and detail["clean_record"]["call_id"] == "orphan"
    table = CliRunner().invoke(app, ["quarantine", "list", "--entity", "call_logs"])
    assert "unknown_customer" in table.output and "missing_key" in table.output
    missing = CliRunner().invoke(app, ["quarantine", "show", "999999"])
    assert missing.exit_code == 2


def test_a_run_left_running_by_a_dead_process_is_marked_abandoned(cli_env: str) -> None:
    """Ctrl-C (like kill -9) skips the failure bookkeeping; the next load of the entity closes
    the orphaned row so ``status`` stops reporting a run that no process is doing."""
    first = make_batch(
        CUSTOMERS, [{"customer_id": C1}], logical_date=D1, fingerprint="c", source_rows=2
    )
    second = make_batch(
        CUSTOMERS,
        [{"customer_id": C2}],
        logical_date=D1,
        fingerprint="c",
        batch_no=1,
        first_row=1,
        source_rows=2,
    )

    with pytest.raises(KeyboardInterrupt):
        Loader(cli_env, CUSTOMERS, "run-killed", D1).load(killed_after(first))
    stale = json.loads(CliRunner().invoke(app, ["status", "--json"]).output)["runs"]
    assert [(r["run_id"], r["status"]) for r in stale] == [("run-killed", "running")]

    summary = Loader(cli_env, CUSTOMERS, "run-2", D1).load([first, second])
    assert (summary.batches_skipped, summary.batches_committed) == (1, 1)
    runs = {
        r["run_id"]: r["status"]
        for r in json.loads(CliRunner().invoke(app, ["status", "--json"]).output)["runs"]
    }
    assert runs == {"run-killed": "abandoned", "run-2": "succeeded"}
