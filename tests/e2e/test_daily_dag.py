"""End to end: the real DAG through ``dag.test()`` over the simulated capstone days.

One module-scoped run (4 simulated days + 1 day with no data yet) feeds every assertion: the
static branch, the gate, silver and gold against the simulator's ground truth, quarantine of the
true orphans after late parents were released, lifecycle and SCD2 history, a load made to fail
once mid-way that resumes from its checkpoint, Slack notifications to a loopback receiver, and a
second run of the same days as one backfill that must give identical silver and gold.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import polars as pl
import psycopg
import pytest

from coretelecoms.config import Settings
from coretelecoms.contracts import COMPLAINT_ENTITIES, STATIC_ENTITIES
from coretelecoms.pipeline import airflow_runner
from coretelecoms.pipeline.tasks import FAULT_ENV

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

START = date(2025, 11, 20)
DAYS = [START + timedelta(days=n) for n in range(4)]
NO_DATA_DAY = START + timedelta(days=4)
SNAPSHOT_DAY = START + timedelta(days=2)  # the simulator's second customers/agents snapshot
FAULT_DAY = START + timedelta(days=1)
SCALE = 0.002
SEED = 42
BATCH_SIZE = 150  # ~750 call logs a day -> 5-6 batches, so a fault can land mid-load
UUID_RE = r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"


# -- fixtures ----------------------------------------------------------------------------------


class _Receiver(BaseHTTPRequestHandler):
    messages: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).messages.append(json.loads(body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def slack() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A loopback stand-in of a Slack incoming webhook; yields its URL and received messages."""
    handler = type("Receiver", (_Receiver,), {"messages": []})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/services/T000/B000/XXX", handler.messages
    server.shutdown()


def _simulated_settings(home: Path, make_db: Callable[..., str], **extra: Any) -> Settings:
    from coretelecoms.simulate import simulate

    settings = Settings(
        home=home,
        pg_dsn=make_db("e2e_silver"),
        source_pg_dsn=make_db("e2e_source"),
        batch_size=BATCH_SIZE,
        **extra,
    )
    simulate(settings, START, len(DAYS), SCALE, SEED)
    return settings


@pytest.fixture(scope="module")
def daily(tmp_path_factory, make_database_module, slack) -> dict[str, Any]:
    """The 4 simulated days run one by one (a fresh runner call per day, like a scheduler),
    with the call-log load of day 2 failing once after its first committed batch, then a day
    with no data yet."""
    from coretelecoms.simulate import publish_as_of

    url, messages = slack
    settings = _simulated_settings(
        tmp_path_factory.mktemp("daily") / "home", make_database_module, slack_webhook_url=url
    )

    def before(day: date) -> None:
        publish_as_of(settings, day)
        if day == FAULT_DAY:
            os.environ[FAULT_ENV] = "call_logs=1"
        else:
            os.environ.pop(FAULT_ENV, None)

    outcomes: dict[date, airflow_runner.DagRunOutcome] = {}
    events: dict[date, list[tuple[str, str]]] = {}
    try:
        for day in [*DAYS, NO_DATA_DAY]:
            seen = events.setdefault(day, [])
            (outcome,) = airflow_runner.run_days(
                settings,
                [day],
                before_day=before,
                on_task=lambda task_id, state, seen=seen: seen.append((task_id, state)),
                retry_delay=timedelta(seconds=1),
            )
            outcomes[day] = outcome
    finally:
        os.environ.pop(FAULT_ENV, None)
    return {"settings": settings, "outcomes": outcomes, "events": events, "messages": messages}


@pytest.fixture(scope="module")
def truth(daily) -> dict[str, Any]:
    root = daily["settings"].ground_truth_dir
    sidecars = {
        entity: [json.loads((root / entity / f"{d}.json").read_text()) for d in DAYS]
        for entity in COMPLAINT_ENTITIES
    }
    return {"sidecars": sidecars, "simulation": json.loads((root / "simulation.json").read_text())}


def _dsn(settings: Settings) -> str:
    return settings.pg_dsn.get_secret_value()


def _scalar(settings: Settings, query: str, params: Any = None) -> Any:
    with psycopg.connect(_dsn(settings)) as conn:
        return conn.execute(query, params).fetchone()[0]


def _duck(settings: Settings, query: str) -> Any:
    import duckdb

    conn = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        return conn.execute(query).fetchone()[0]
    finally:
        conn.close()


# -- the DAG's control flow --------------------------------------------------------------------


def test_every_simulated_day_succeeds(daily) -> None:
    for day, outcome in daily["outcomes"].items():
        assert outcome.succeeded, (day, outcome.failed_tasks())


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        pytest.param(DAYS[0], "success", id="day1-first-load"),
        pytest.param(DAYS[1], "skipped", id="day2-unchanged"),
        pytest.param(DAYS[2], "success", id="day3-new-snapshot"),
        pytest.param(DAYS[3], "skipped", id="day4-unchanged"),
    ],
)
def test_static_sources_load_only_when_new_or_changed(daily, day, expected) -> None:
    states = daily["outcomes"][day].states()
    for entity in STATIC_ENTITIES:
        assert states[f"extract_{entity}"] == expected
        assert states[f"load_{entity}"] == expected
    assert states["static_sources_unchanged"] == ("skipped" if expected == "success" else "success")
    assert states["static_sources_ready"] == "success"


def test_complaint_loads_wait_for_static_loads_only_on_days_they_run(daily) -> None:
    """The gate holds complaint loads until the static loads finished on the days those run
    (day 1 and the snapshot day); on the other days there is nothing to wait for."""
    for day in DAYS:
        tasks = daily["outcomes"][day].tasks
        static_ends = [
            tasks[f"load_{e}"].end for e in STATIC_ENTITIES if tasks[f"load_{e}"].state == "success"
        ]
        gate = tasks["static_sources_ready"]
        if day in (DAYS[0], SNAPSHOT_DAY):
            assert len(static_ends) == len(STATIC_ENTITIES)
        else:
            assert static_ends == []
        for entity in COMPLAINT_ENTITIES:
            load = tasks[f"load_{entity}"]
            assert load.state == "success"
            assert load.start >= gate.end
            assert all(load.start >= end for end in static_ends)


def test_day_with_no_data_yet_ends_skipped_not_failed(daily) -> None:
    outcome = daily["outcomes"][NO_DATA_DAY]
    states = outcome.states()
    assert outcome.succeeded
    for entity in COMPLAINT_ENTITIES:
        assert states[f"extract_{entity}"] == "skipped"
        assert states[f"load_{entity}"] == "skipped"
    for task in ("release_quarantine", "load_warehouse", "dbt_build", "score_risk", "run_report"):
        assert states[task] == "skipped", task
    report = Path(daily["settings"].reports_uri) / f"run_report_{NO_DATA_DAY}.json"
    assert json.loads(report.read_text())["entities"] == {}


def test_failed_load_retries_from_its_checkpoint_without_duplicates(daily) -> None:
    settings = daily["settings"]
    load = daily["outcomes"][FAULT_DAY].tasks["load_call_logs"]
    assert load.state == "success"
    assert load.try_number == 2  # failed once, succeeded on the retry
    heard = [state for task, state in daily["events"][FAULT_DAY] if task == "load_call_logs"]
    assert heard == ["running", "failed", "running", "success"]
    marker = Path(settings.home) / "faults" / f"call_logs_{FAULT_DAY}.fired"
    assert marker.exists()
    fired_at = marker.stat().st_mtime
    with psycopg.connect(_dsn(settings)) as conn:
        rows = conn.execute(
            "select batch_no, extract(epoch from committed_at), rows_read from"
            " ops.load_checkpoints where entity = 'call_logs' and logical_date = %s"
            " order by batch_no",
            [FAULT_DAY],
        ).fetchall()
        source_rows = conn.execute(
            "select rows_read from ops.pipeline_runs where entity = 'call_logs'"
            " and logical_date = %s and status = 'succeeded'",
            [FAULT_DAY],
        ).fetchone()[0]
    assert [r[0] for r in rows] == list(range(len(rows))) and len(rows) > 2
    # The fault fires when the loader asks for batch 1, with batch 0 in flight (batches are
    # applied two at a time); the failed try let batch 0 commit, the retry did not redo it (one
    # checkpoint per batch, each batch's rows once) and brought the rest.
    assert float(rows[0][1]) < float(rows[1][1])
    assert fired_at < float(rows[1][1])
    assert sum(r[2] for r in rows) == source_rows
    sidecar = json.loads(
        (settings.ground_truth_dir / "call_logs" / f"{FAULT_DAY}.json").read_text()
    )
    assert source_rows == sidecar["rows"]


# -- data against the simulator's ground truth -------------------------------------------------


def _expected_complaints(sidecars: list[dict[str, Any]]) -> int:
    """Fresh complaints minus row rejects (missing key, unparseable required timestamp, unknown
    status) minus true orphans; late-arriving parents are released, so their rows count."""
    total = 0
    for s in sidecars:
        d = s["defects"]
        rejected = d["missing_key"] + d["unparseable_date"] + d["unknown_status"]
        total += s["fresh_complaints"] - rejected - d["orphan_customer"] - d["orphan_agent"]
    return total


@pytest.mark.parametrize("entity", COMPLAINT_ENTITIES)
def test_silver_complaints_match_ground_truth_minus_rejects(daily, truth, entity) -> None:
    from coretelecoms.contracts import get_contract

    table = get_contract(entity).silver_table
    count = _scalar(daily["settings"], f"select count(*) from conformed.{table}")
    assert count == _expected_complaints(truth["sidecars"][entity])


def test_silver_static_entities_match_the_snapshots(daily, truth) -> None:
    snaps = truth["simulation"]["snapshots"]
    customer_ids: set[str] = set()
    for snap in snaps["customers"]:
        ids = pl.read_csv(snap["path"], infer_schema=False)["customer_id"].drop_nulls()
        customer_ids |= set(ids.filter(ids.str.contains(UUID_RE)).to_list())
    settings = daily["settings"]
    assert _scalar(settings, "select count(*) from conformed.customers") == len(customer_ids)
    assert _scalar(settings, "select count(*) from conformed.agents") == max(
        s["rows"] for s in snaps["agents"]
    )


def test_quarantine_holds_exactly_the_true_orphans(daily, truth) -> None:
    orphan_customers: set[str] = set()
    orphan_agents: set[int] = set()
    late_rows = 0
    for sidecars in truth["sidecars"].values():
        for s in sidecars:
            assert not s["orphan_customer_ids"]["ids_truncated"]
            orphan_customers |= set(s["orphan_customer_ids"]["ids"])
            orphan_agents |= set(s["orphan_agent_ids"]["ids"])
            late_rows += s["defects"]["late_customer"] + s["defects"]["late_agent"]
    with psycopg.connect(_dsn(daily["settings"])) as conn:
        open_rows = conn.execute(
            "select reason, record ->> 'customeR iD', record ->> 'agent ID' from ops.quarantine"
            " where released_at is null and reason in ('unknown_customer', 'unknown_agent')"
        ).fetchall()
        released = conn.execute(
            "select count(*) from ops.quarantine where released_at is not null"
        ).fetchone()[0]
    assert {r[1] for r in open_rows if r[0] == "unknown_customer"} == orphan_customers
    assert {int(float(r[2])) for r in open_rows if r[0] == "unknown_agent"} == orphan_agents
    assert len(open_rows) == len(orphan_customers) + len(orphan_agents)
    assert late_rows > 0
    assert released == late_rows


def test_lifecycle_history_and_scd2_versions_exist(daily) -> None:
    settings = daily["settings"]
    progressed = _scalar(
        settings,
        "select count(*) from (select complaint_key from conformed.complaint_status_history"
        " group by complaint_key having count(*) > 1) t",
    )
    assert progressed > 0
    assert (
        _scalar(
            settings,
            "select count(*) from conformed.customer_versions where valid_to"
            f" = date '{SNAPSHOT_DAY}'",
        )
        > 0
    )
    assert (
        _scalar(
            settings,
            "select count(*) from conformed.agent_versions where valid_from"
            f" = date '{SNAPSHOT_DAY}'",
        )
        > 0
    )
    assert _duck(settings, "select count(*) from gold.dim_customer where not is_current") > 0
    assert _duck(settings, "select count(*) from gold.dim_agent where not is_current") > 0


def test_gold_matches_silver(daily) -> None:
    from coretelecoms.contracts import get_contract

    settings = daily["settings"]
    complaints = sum(
        _scalar(settings, f"select count(*) from conformed.{get_contract(e).silver_table}")
        for e in COMPLAINT_ENTITIES
    )
    assert _duck(settings, "select count(*) from gold.fct_complaint") == complaints
    assert _duck(settings, "select count(*) from gold.fct_complaint_lifecycle") == complaints
    customers = _scalar(settings, "select count(*) from conformed.customers")
    assert _duck(settings, "select count(*) from gold.dim_customer where is_current") == customers


def test_each_run_posts_its_outcome_to_slack(daily) -> None:
    texts = [m["text"] for m in daily["messages"]]
    for day in [*DAYS, NO_DATA_DAY]:
        assert any(f"coretelecoms_daily {day}: run success" in t for t in texts), (day, texts)


def test_run_report_written_per_day(daily) -> None:
    settings = daily["settings"]
    report = json.loads((Path(settings.reports_uri) / f"run_report_{DAYS[0]}.json").read_text())
    assert set(report["entities"]) == {*STATIC_ENTITIES, *COMPLAINT_ENTITIES}
    assert report["gold_rows"]["fct_complaint"] > 0
    assert (Path(settings.reports_uri) / f"run_report_{DAYS[0]}.html").exists()
    last = json.loads((Path(settings.reports_uri) / f"run_report_{DAYS[-1]}.json").read_text())
    assert last["tasks"]["score_risk"] == "scored"
    assert last["gold_rows"]["customer_risk_scores"] > 0
    assert last["risk"]["top"] and last["risk"]["metrics"]["model"]


# -- backfill equals day by day ----------------------------------------------------------------


@pytest.mark.slow
def test_same_day_run_three_times_gives_identical_checksums(daily) -> None:
    """The last day ran once in the fixture; two more runs change nothing in silver (quarantine
    and reconciliation included), gold or the lake."""
    from coretelecoms.reliability.chaos import differences, snapshot

    settings = daily["settings"]
    first = snapshot(settings)
    for rerun in (2, 3):
        (outcome,) = airflow_runner.run_days(settings, [DAYS[-1]])
        assert outcome.succeeded, outcome.failed_tasks()
        assert differences(first, snapshot(settings)) == [], f"run {rerun} of {DAYS[-1]}"


@pytest.mark.slow
def test_backfill_gives_the_same_silver_and_gold_as_day_by_day(
    daily, tmp_path_factory, make_database_module
) -> None:
    from coretelecoms.reliability.chaos import differences, snapshot
    from coretelecoms.reliability.checksums import duplicate_keys
    from coretelecoms.simulate import publish_as_of

    home = tmp_path_factory.mktemp("backfill") / "home"
    settings = _simulated_settings(home, make_database_module)
    outcomes = airflow_runner.run_days(
        settings, DAYS, before_day=lambda d: publish_as_of(settings, d)
    )
    assert [o.state for o in outcomes] == ["success"] * len(DAYS)
    # Each home simulated its sources into its own folder: where a row was read differs.
    ignore = frozenset({"source_uri"})
    assert differences(snapshot(daily["settings"], ignore), snapshot(settings, ignore)) == []
    assert set(duplicate_keys(_dsn(settings)).values()) == {0}


def test_airflow_reports_no_import_errors(daily) -> None:
    """Needs the migrated metadata database the daily run prepared."""
    import subprocess
    import sys

    airflow = Path(sys.executable).with_name("airflow")
    proc = subprocess.run(
        [str(airflow), "dags", "list-import-errors", "-o", "json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env=os.environ.copy(),
    )
    assert json.loads(proc.stdout.strip().splitlines()[-1] or "[]") == []
