"""Silver -> DuckDB warehouse -> dbt build over hand-made silver data (see warehouse_silver_data).

One module-scoped scenario runs the pipeline the way the DAG does, day by day, and records what
each step produced; the tests assert on those records and on the final gold tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import psycopg
import pytest
import warehouse_silver_data as silver

from coretelecoms.config import Settings
from coretelecoms.warehouse import (
    DbtError,
    DbtResult,
    WarehouseLoadResult,
    gold_checksums,
    load_warehouse,
    run_dbt,
)
from coretelecoms.warehouse.silver import SilverNotReadyError

pytestmark = pytest.mark.postgres


@dataclass
class Scenario:
    settings: Settings
    loads: dict[str, WarehouseLoadResult] = field(default_factory=dict)
    builds: dict[str, DbtResult] = field(default_factory=dict)
    checksums: dict[str, dict[str, tuple[int, str]]] = field(default_factory=dict)
    lifecycle_k4_before_late: date | None = None

    def query(self, statement: str, params: list[object] | None = None) -> list[tuple]:
        return _query(self.settings, statement, params)


def _query(settings: Settings, statement: str, params: list[object] | None = None) -> list[tuple]:
    conn = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        return conn.execute(statement, params or []).fetchall()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def scenario(
    module_silver_dsn: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> Scenario:
    dsn = module_silver_dsn()
    settings = Settings(home=tmp_path_factory.mktemp("wh") / "home", pg_dsn=dsn, sla_days=5)
    sc = Scenario(settings)

    silver.write_days_1_2(dsn)
    sc.loads["day2"] = load_warehouse(settings)
    sc.builds["day2"] = run_dbt(settings, ["run"])

    silver.write_day_3(dsn)
    sc.loads["day3"] = load_warehouse(settings)
    sc.builds["day3"] = run_dbt(settings, ["build"])
    sc.checksums["day3"] = gold_checksums(settings.duckdb_path)

    sc.loads["rerun"] = load_warehouse(settings)
    run_dbt(settings, ["run"])
    sc.checksums["rerun"] = gold_checksums(settings.duckdb_path)

    run_dbt(settings, ["run", "--full-refresh"])
    sc.checksums["full_refresh"] = gold_checksums(settings.duckdb_path)

    # the same silver written as one backfill, loaded and built once, into its own warehouse
    backfill_dsn = module_silver_dsn()
    silver.write_days_1_2(backfill_dsn)
    silver.write_day_3(backfill_dsn)
    backfill = Settings(home=settings.home.parent / "backfill", pg_dsn=backfill_dsn)
    sc.loads["backfill"] = load_warehouse(backfill)
    run_dbt(backfill, ["run"])
    sc.checksums["backfill"] = gold_checksums(backfill.duckdb_path)

    (sc.lifecycle_k4_before_late,) = sc.query(
        "select backlog_date from gold.fct_complaint_lifecycle where complaint_key = ?",
        [silver.K4],
    )[0]
    silver.write_late_observation(dsn)
    sc.loads["late"] = load_warehouse(settings)
    sc.builds["late"] = run_dbt(settings, ["run", "--select", "fct_complaint_lifecycle"])
    return sc


def test_dbt_build_passes_every_model_and_test(scenario: Scenario) -> None:
    counts = scenario.builds["day3"].counts
    assert set(counts) == {"success", "pass"}, counts
    assert counts["pass"] == 45  # data tests (docs/warehouse.md: which ones, and why not more)
    assert counts["success"] == 17 + 4  # models + the on-run-start (3) and on-run-end hooks
    nodes = scenario.builds["day3"].nodes
    for model in (
        "dim_customer",
        "dim_agent",
        "dim_date",
        "fct_complaint",
        "fct_complaint_lifecycle",
        "customer_features_monthly",
    ):
        assert nodes[f"model.coretelecoms.{model}"] == "success"


def test_first_load_moves_every_silver_row(scenario: Scenario) -> None:
    rows = {t.table: t.rows for t in scenario.loads["day2"].tables}
    assert rows == {
        "customers": 3,
        "agents": 3,
        "call_logs": 2,
        "social_media_complaints": 2,
        "web_form_complaints": 2,
        "complaint_status_history": 7,
        "customer_versions": 4,
        "agent_versions": 3,
    }
    # Postgres NULL stays NULL through the CSV spool (not an empty string)
    assert scenario.query("select email from raw.customers where customer_id = ?", [silver.C2]) == [
        (None,)
    ]


def test_second_load_moves_only_the_day_3_changes(scenario: Scenario) -> None:
    tables = {t.table: t for t in scenario.loads["day3"].tables}
    rows = {name: t.rows for name, t in tables.items()}
    assert rows == {
        "customers": 0,
        "agents": 1,
        "call_logs": 1,
        "social_media_complaints": 0,
        "web_form_complaints": 2,
        "complaint_status_history": 4,
        "customer_versions": 0,
        "agent_versions": 2,
    }
    for t in tables.values():
        assert (t.watermark_after > t.watermark_before) == (t.rows > 0)
    assert scenario.query("select count(*) from raw.web_form_complaints") == [(3,)]


def test_rerun_moves_nothing_and_leaves_gold_unchanged(scenario: Scenario) -> None:
    rerun = scenario.loads["rerun"]
    assert rerun.rows == 0
    assert all(t.watermark_before == t.watermark_after for t in rerun.tables)
    assert scenario.checksums["rerun"] == scenario.checksums["day3"]
    assert set(scenario.checksums["day3"]) >= {
        "dim_customer",
        "fct_complaint",
        "fct_complaint_lifecycle",
        "customer_features_monthly",
    }


def test_incremental_builds_equal_a_full_refresh(scenario: Scenario) -> None:
    assert scenario.checksums["full_refresh"] == scenario.checksums["day3"]


def test_day_by_day_and_backfill_give_the_same_gold(scenario: Scenario) -> None:
    # 26 rows of days 1-2 + 10 of day 3, 4 of which update day 1-2 rows
    assert scenario.loads["backfill"].rows == 32
    assert scenario.checksums["backfill"] == scenario.checksums["day3"]


def test_address_change_splits_customer_versions_and_complaints_join_by_request_date(
    scenario: Scenario,
) -> None:
    versions = scenario.query(
        "select street, valid_from, valid_to, is_current from gold.dim_customer "
        "where customer_id = ? order by valid_from",
        [silver.C1],
    )
    assert versions == [
        ("1 Old Street", date(2024, 1, 10), date(2025, 11, 21), False),
        ("2 New Road", date(2025, 11, 21), date(9999, 12, 31), True),
    ]
    joined = dict(
        scenario.query(
            "select f.source_complaint_id, c.street from gold.fct_complaint as f "
            "join gold.dim_customer as c on f.customer_key = c.customer_key "
            "where f.customer_id = ?",
            [silver.C1],
        )
    )
    assert joined == {"CALL-1": "1 Old Street", "WF-5": "2 New Road", "WF-7": "2 New Road"}


def test_promotion_splits_agent_versions_and_complaints_join_by_request_date(
    scenario: Scenario,
) -> None:
    joined = dict(
        scenario.query(
            "select f.source_complaint_id, a.experience from gold.fct_complaint as f "
            "join gold.dim_agent as a on f.agent_key = a.agent_key where f.agent_id = 1000"
        )
    )
    assert joined == {"CALL-1": "Junior", "SM-4": "Junior", "WF-5": "Junior", "WF-7": "Senior"}


def test_first_customer_version_starts_at_signup_or_open_start(scenario: Scenario) -> None:
    starts = dict(
        scenario.query(
            "select customer_id, valid_from from gold.dim_customer where version_number = 1"
        )
    )
    assert starts == {
        silver.C1: date(2024, 1, 10),
        silver.C2: date(2023, 5, 1),
        silver.C3: date(1900, 1, 1),
    }


def test_fact_unions_the_three_channels_with_channel_specific_columns(scenario: Scenario) -> None:
    rows = {
        r[0]: r[1:]
        for r in scenario.query(
            "select source_complaint_id, channel, call_duration_minutes, media_channel, "
            "resolution_status from gold.fct_complaint"
        )
    }
    assert rows["CALL-1"] == ("call", 12, None, "Resolved")
    assert rows["SM-3"] == ("social_media", None, "Instagram", "Resolved")
    assert rows["WF-5"] == ("web_form", None, None, "In-Progress")
    assert len(rows) == 7


def test_lifecycle_records_first_date_of_each_milestone_and_sla(scenario: Scenario) -> None:
    (row,) = scenario.query(
        "select backlog_date, in_progress_date, resolved_date, blocked_date, days_to_resolve, "
        "is_sla_met from gold.fct_complaint_lifecycle where complaint_key = ?",
        [silver.K1],
    )
    assert row == (date(2025, 11, 20), date(2025, 11, 21), date(2025, 11, 22), None, 0, True)
    (open_row,) = scenario.query(
        "select days_open, is_sla_met, is_sla_breached from gold.fct_complaint_lifecycle "
        "where complaint_key = ?",
        [silver.K4],
    )
    # requested 2025-10-01, still open at its last observation 2025-11-22
    assert open_row == (52, False, True)


def test_milestones_never_move_once_set(scenario: Scenario) -> None:
    assert scenario.loads["late"].rows == 1
    assert scenario.lifecycle_k4_before_late == date(2025, 11, 21)
    assert scenario.query(
        "select backlog_date from gold.fct_complaint_lifecycle where complaint_key = ?",
        [silver.K4],
    ) == [(date(2025, 11, 21),)]


def test_features_count_escalations_and_rolling_volumes(scenario: Scenario) -> None:
    rows = {
        (r[0], r[1]): r[2:]
        for r in scenario.query(
            "select customer_id, month_start_date, complaint_count, escalation_count, "
            "rolling_3m_complaint_count, complaint_count_mom_change, distinct_agent_count "
            "from gold.customer_features_monthly"
        )
    }
    # C2 in September: the Blocked call (also followed by a social complaint 2 days later)
    assert rows[(silver.C2, date(2025, 9, 1))] == (2, 1, 2, 2, 2)
    # C3: August web form (resolved in 2 days), October social complaint open beyond the SLA
    assert rows[(silver.C3, date(2025, 10, 1))] == (1, 1, 2, 1, 1)
    assert rows[(silver.C1, date(2025, 11, 1))] == (2, 0, 2, 2, 1)


def test_dbt_docs_generate_writes_the_catalog(scenario: Scenario) -> None:
    run_dbt(scenario.settings, ["docs", "generate"])
    target = Path(scenario.settings.home) / "dbt" / "target"
    assert (target / "catalog.json").is_file()
    assert "fct_complaint" in (target / "manifest.json").read_text()


def _copy_warehouse(scenario: Scenario, tmp_path: Path) -> Settings:
    """Settings of a copy of the scenario's warehouse, for a test that changes it."""
    home = tmp_path / "home"
    home.mkdir()
    copy = Settings(home=home, pg_dsn=scenario.settings.pg_dsn)
    Path(copy.duckdb_path).write_bytes(Path(scenario.settings.duckdb_path).read_bytes())
    return copy


def _next_seq(conn: duckdb.DuckDBPyConnection) -> int:
    """A change sequence above every loaded one: what the next silver change would carry."""
    (top,) = conn.execute("select max(change_seq) + 1 from raw._load_watermarks").fetchone()
    return int(top)


def test_a_duplicate_raw_key_fails_a_gold_grain_test(scenario: Scenario, tmp_path: Path) -> None:
    """The staging models skip unique tests on the raw keys (docs/warehouse.md): a duplicate
    arriving with a load must still fail the build, through the gold grain tests."""
    copy = _copy_warehouse(scenario, tmp_path)
    conn = duckdb.connect(str(copy.duckdb_path))
    top = _next_seq(conn)
    for table, key in (
        ("customers", "customer_id"),
        ("customer_versions", "customer_id"),
        ("call_logs", "complaint_key"),
    ):
        conn.execute(
            f"insert into raw.{table} select * replace ({top} as _change_seq) "
            f"from raw.{table} order by {key} limit 1"
        )
    conn.close()
    with pytest.raises(DbtError) as info:
        run_dbt(copy, ["build"])
    failed = " ".join(info.value.failed_nodes)
    assert "unique_since_tested_dim_customer_customer_key" in failed
    assert "scd2_contiguous_dim_customer_customer_id" in failed
    assert "unique_fct_complaint_lifecycle_complaint_key" in failed
    # the failing customers stay in the tests' scope: the next build, with nothing new to
    # load, fails again (the tested watermark only moves when all of a model's tests pass)
    with pytest.raises(DbtError) as again:
        run_dbt(copy, ["build", "--select", "dim_customer"])
    assert "unique_since_tested_dim_customer_customer_key" in " ".join(again.value.failed_nodes)


def _assert_incremental_equals_full_refresh(settings: Settings) -> None:
    """The gold as built equals a full refresh of the same raw data. The lifecycle aside: the
    scenario's late observation of K4 did not move a milestone already set, by design, which a
    full refresh recomputes from history."""
    incremental = gold_checksums(settings.duckdb_path)
    run_dbt(settings, ["run", "--full-refresh"])
    refreshed = gold_checksums(settings.duckdb_path)
    del incremental["fct_complaint_lifecycle"], refreshed["fct_complaint_lifecycle"]
    assert incremental == refreshed


def _move(conn: duckdb.DuckDBPyConnection, table: str, key: str, customer: str, seq: int) -> None:
    """Complaint ``key`` corrected to ``customer``, as the silver loader's upsert writes it."""
    conn.execute(
        f"update raw.{table} set customer_id = ?, _change_seq = ? where complaint_key = ?",
        [customer, seq, key],
    )


_FEATURE_MONTHS = "select customer_id, month_start_date from gold.customer_features_monthly"


def test_complaints_moved_to_another_customer_or_month_leave_no_stale_feature_rows(
    scenario: Scenario, tmp_path: Path
) -> None:
    """A corrected complaint (another customer, another request month) must leave the feature
    model as a full refresh builds it: the months it left are rebuilt or, when empty, gone."""
    copy = _copy_warehouse(scenario, tmp_path)
    conn = duckdb.connect(str(copy.duckdb_path))
    before = set(conn.execute(_FEATURE_MONTHS).fetchall())
    assert {(silver.C1, date(2025, 6, 1)), (silver.C3, date(2025, 10, 1))} <= before
    top = _next_seq(conn)
    # both of C3's complaints move to C2
    _move(conn, "social_media_complaints", silver.K4, silver.C2, top)
    _move(conn, "web_form_complaints", silver.K6, silver.C2, top)
    # C1's June call moves to July
    conn.execute(
        "update raw.call_logs set call_started_at = call_started_at + interval 31 day, "
        "call_ended_at = call_ended_at + interval 31 day, _change_seq = ? "
        "where complaint_key = ?",
        [top, silver.K1],
    )
    conn.close()

    run_dbt(copy, ["build"])
    after = set(_query(copy, _FEATURE_MONTHS))
    assert not any(customer == silver.C3 for customer, _ in after)
    assert (silver.C1, date(2025, 6, 1)) not in after
    assert (silver.C1, date(2025, 7, 1)) in after
    _assert_incremental_equals_full_refresh(copy)


def test_a_complaint_moved_twice_while_the_feature_model_is_skipped_is_not_lost(
    scenario: Scenario, tmp_path: Path
) -> None:
    """fct_complaint records only the last customer a complaint left; the log its post-hook
    appends to keeps every move until the feature model runs (macros/moved_customers.sql)."""
    copy = _copy_warehouse(scenario, tmp_path)
    conn = duckdb.connect(str(copy.duckdb_path))
    top = _next_seq(conn)
    # C3's October complaint moves to C2 and the fact is built alone (as when one of its tests
    # fails, which skips the feature model in a `dbt build`)...
    _move(conn, "social_media_complaints", silver.K4, silver.C2, top)
    conn.close()
    run_dbt(copy, ["run", "--select", "fct_complaint"])
    # ...then on to C1: the fact now says it left C2, and C3 is only in the log
    conn = duckdb.connect(str(copy.duckdb_path))
    _move(conn, "social_media_complaints", silver.K4, silver.C1, top + 1)
    conn.close()
    run_dbt(copy, ["build"])
    after = set(_query(copy, _FEATURE_MONTHS))
    assert (silver.C3, date(2025, 10, 1)) not in after
    assert (silver.C3, date(2025, 8, 1)) in after
    assert (silver.C1, date(2025, 10, 1)) in after
    _assert_incremental_equals_full_refresh(copy)


def _add_complaint(
    conn: duckdb.DuckDBPyConnection, like: str, source_id: str, at: str, seq: int
) -> str:
    """A new complaint in raw, a copy of complaint ``like`` (same channel and customer) requested
    at ``at`` and, for a social complaint, resolved an hour later; observed once, as Resolved."""
    channel, table, id_column, start, end = {
        silver.K2: ("call", "call_logs", "call_id", "call_started_at", "call_ended_at"),
        silver.K3: (
            "social_media",
            "social_media_complaints",
            "complaint_id",
            "requested_at",
            "resolved_at",
        ),
    }[like]
    key = silver.complaint_key(channel, source_id)
    conn.execute(
        f"insert into raw.{table} select * replace (? as complaint_key, ? as {id_column}, "
        f"'Resolved' as resolution_status, cast(? as timestamp) as {start}, "
        f"cast(? as timestamp) + interval 1 hour as {end}, ? as _change_seq) "
        f"from raw.{table} where complaint_key = ?",
        [key, source_id, at, at, seq, like],
    )
    conn.execute(
        "insert into raw.complaint_status_history select * replace (? as complaint_key, "
        "'Resolved' as resolution_status, cast(? as date) as observed_date, ? as _change_seq) "
        "from raw.complaint_status_history where complaint_key = ? limit 1",
        [key, at, seq, like],
    )
    return key


def test_later_builds_rebuild_every_feature_month_their_changes_reach(
    scenario: Scenario, tmp_path: Path
) -> None:
    """An incremental build rebuilds a customer's months from the first one its changes reach:
    a new complaint can make one up to escalation_window_days earlier (in the month before) a
    follow-up, and the rolling windows of the rebuilt months read the eleven months before from
    the rows built earlier. Either way the result must be what a full refresh builds."""
    copy = _copy_warehouse(scenario, tmp_path)
    month = "select escalation_count, rolling_12m_complaint_count " + (
        "from gold.customer_features_monthly where customer_id = ? and month_start_date = ?"
    )
    conn = duckdb.connect(str(copy.duckdb_path))
    top = _next_seq(conn)
    # C2 (two complaints in September 2025): one in January 2025, one on 28 December
    _add_complaint(conn, silver.K3, "SM-JAN", "2025-01-10 10:00:00", top)
    _add_complaint(conn, silver.K3, "SM-DEC", "2025-12-28 10:00:00", top)
    conn.close()
    run_dbt(copy, ["build"])
    assert _query(copy, month, [silver.C2, date(2025, 12, 1)]) == [(0, 4)]

    # a call five days later, in January 2026: the December complaint is now followed up on
    # another channel, though the change is in a later month than the row it changes
    conn = duckdb.connect(str(copy.duckdb_path))
    _add_complaint(conn, silver.K2, "CALL-JAN", "2026-01-02 09:00:00", top + 1)
    conn.close()
    run_dbt(copy, ["build"])
    # December's rolling 12 months still count January 2025 (eleven months before, the edge of
    # the window), which the first build built: the second reads it from the table
    assert _query(copy, month, [silver.C2, date(2025, 12, 1)]) == [(1, 4)]
    # January 2026's window no longer reaches January 2025: September's two, December, itself
    assert _query(copy, month, [silver.C2, date(2026, 1, 1)]) == [(0, 4)]
    _assert_incremental_equals_full_refresh(copy)


def test_features_built_ahead_of_a_lagging_fact_take_its_later_rows(
    scenario: Scenario, tmp_path: Path
) -> None:
    """`run --select fct_complaint_lifecycle customer_features_monthly` after a load builds
    the features while fct_complaint has not taken the load's change: the lifecycle lifts the
    features' maximum to the change's _change_seq, which the fact's next build then writes.
    The feature model keeps a high-water mark per input, so it still takes that row."""
    copy = _copy_warehouse(scenario, tmp_path)
    conn = duckdb.connect(str(copy.duckdb_path))
    top = _next_seq(conn)
    conn.execute(
        "update raw.call_logs set complaint_category = 'Network Failure', _change_seq = ? "
        "where complaint_key = ?",
        [top, silver.K2],
    )
    conn.close()
    run_dbt(copy, ["run", "--select", "fct_complaint_lifecycle", "customer_features_monthly"])
    september = (
        "select payments_count, network_failure_count from gold.customer_features_monthly "
        "where customer_id = ? and month_start_date = '2025-09-01'"
    )
    assert _query(copy, september, [silver.C2]) == [(1, 0)]  # the fact still says Payments
    run_dbt(copy, ["build"])
    assert _query(copy, september, [silver.C2]) == [(0, 1)]
    _assert_incremental_equals_full_refresh(copy)


def test_a_full_refresh_of_the_fact_repairs_a_duplicated_row(
    scenario: Scenario, tmp_path: Path
) -> None:
    """A full refresh is the repair for rows written into gold outside dbt: reading the rows
    built before (for moves) must not bring a duplicated key back."""
    copy = _copy_warehouse(scenario, tmp_path)
    conn = duckdb.connect(str(copy.duckdb_path))
    conn.execute(
        "insert into gold.fct_complaint select * from gold.fct_complaint where complaint_key = ?",
        [silver.K1],
    )
    conn.close()
    keys = "select count(*) from gold.fct_complaint where complaint_key = ?"
    assert _query(copy, keys, [silver.K1]) == [(2,)]
    run_dbt(copy, ["build", "--select", "fct_complaint", "--full-refresh"])
    assert _query(copy, keys, [silver.K1]) == [(1,)]


def _move_k4_to_c2(copy: Settings) -> int:
    """K4 (C3's only October complaint) corrected to C2 in the next load; its _change_seq."""
    conn = duckdb.connect(str(copy.duckdb_path))
    top = _next_seq(conn)
    _move(conn, "social_media_complaints", silver.K4, silver.C2, top)
    conn.close()
    return top


def test_a_full_refresh_of_the_fact_alone_keeps_a_move_it_is_first_to_see(
    scenario: Scenario, tmp_path: Path
) -> None:
    """`build --select fct_complaint --full-refresh` takes the move, so the features' next
    build must still learn of it: the full refresh compares with the rows built before too."""
    copy = _copy_warehouse(scenario, tmp_path)
    _move_k4_to_c2(copy)
    run_dbt(copy, ["build", "--select", "fct_complaint", "--full-refresh"])
    assert _query(copy, "select customer_id from dbt_state.moved_customers") == [(silver.C3,)]
    run_dbt(copy, ["build"])
    assert (silver.C3, date(2025, 10, 1)) not in set(_query(copy, _FEATURE_MONTHS))
    _assert_incremental_equals_full_refresh(copy)


def test_a_move_the_features_see_while_the_fact_lags_is_not_lost(
    scenario: Scenario, tmp_path: Path
) -> None:
    """The move's load also brings a later status observation: `run --select
    fct_complaint_lifecycle customer_features_monthly` lifts the features above the move's
    _change_seq before the fact logs it, so the log is read above the features' fact mark."""
    copy = _copy_warehouse(scenario, tmp_path)
    top = _move_k4_to_c2(copy)
    conn = duckdb.connect(str(copy.duckdb_path))
    conn.execute(
        "insert into raw.complaint_status_history select * replace ("
        "'Resolved' as resolution_status, cast('2025-11-23' as date) as observed_date, "
        "? as _change_seq) from raw.complaint_status_history where complaint_key = ? limit 1",
        [top + 1, silver.K5],
    )
    conn.close()
    run_dbt(copy, ["run", "--select", "fct_complaint_lifecycle", "customer_features_monthly"])
    run_dbt(copy, ["build"])
    assert (silver.C3, date(2025, 10, 1)) not in set(_query(copy, _FEATURE_MONTHS))
    _assert_incremental_equals_full_refresh(copy)


def _tested_watermarks(settings: Settings) -> dict[str, int]:
    return dict(_query(settings, "select model_name, change_seq from dbt_state.tested_watermarks"))


def test_tested_watermark_is_the_tested_state_and_a_full_build_forgets_it(
    scenario: Scenario, tmp_path: Path
) -> None:
    """dim_customer's since_tested tests check the customers rebuilt since its tests last all
    passed (macros/tested_watermarks.sql): the recorded watermark is the table's maximum after
    its tests pass, and a full build (first build, --full-refresh) re-tests every row."""
    # the scenario ends with a `run --full-refresh`, which forgot the watermark of its `build`
    assert _tested_watermarks(scenario.settings) == {}
    copy = _copy_warehouse(scenario, tmp_path)
    run_dbt(copy, ["test", "--select", "dim_customer"])
    conn = duckdb.connect(str(copy.duckdb_path), read_only=True)
    (top,) = conn.execute("select max(_change_seq) from gold.dim_customer").fetchone()
    conn.close()
    assert _tested_watermarks(copy) == {"dim_customer": top}

    # a row written outside a build, below the watermark, is out of the incremental scope...
    conn = duckdb.connect(str(copy.duckdb_path))
    conn.execute(
        "insert into gold.dim_customer select * from gold.dim_customer order by _change_seq limit 1"
    )
    conn.close()
    run_dbt(copy, ["test", "--select", "dim_customer"])
    # ...and found again once a full build has forgotten the watermark
    run_dbt(copy, ["run", "--select", "dim_customer", "--full-refresh"])
    assert _tested_watermarks(copy) == {}
    conn = duckdb.connect(str(copy.duckdb_path))
    conn.execute(
        "insert into gold.dim_customer select * from gold.dim_customer order by _change_seq limit 1"
    )
    conn.close()
    with pytest.raises(DbtError) as info:
        run_dbt(copy, ["test", "--select", "dim_customer"])
    failed = " ".join(info.value.failed_nodes)
    assert "unique_since_tested_dim_customer_customer_key" in failed
    assert "scd2_contiguous_dim_customer_customer_id" in failed


def test_the_fact_scoped_tests_reach_complaints_whose_dimension_changed(
    scenario: Scenario, tmp_path: Path
) -> None:
    """fct_complaint's since_tested tests check the complaints rebuilt since its tests last all
    passed, and also the complaints of a customer whose versions changed since: a complaint
    rebuilt for a dimension change may keep its _change_seq."""
    copy = _copy_warehouse(scenario, tmp_path)
    facts = ["--select", "fct_complaint"]
    run_dbt(copy, ["test", *facts])
    # the fact's watermark, and one for each dimension its scoped tests read
    marks = _tested_watermarks(copy)
    assert set(marks) == {"fct_complaint", "fct_complaint>dim_customer", "fct_complaint>dim_agent"}
    for name, table in (
        ("fct_complaint", "fct_complaint"),
        ("fct_complaint>dim_customer", "dim_customer"),
    ):
        assert [(marks[name],)] == _query(copy, f"select max(_change_seq) from gold.{table}")

    # a complaint pointing at no version, below the watermark: out of scope...
    conn = duckdb.connect(str(copy.duckdb_path))
    conn.execute(
        "update gold.fct_complaint set customer_key = 'no-such-version' where customer_id = ?",
        [silver.C1],
    )
    conn.close()
    run_dbt(copy, ["test", *facts])
    # ...but not for a whole check
    with pytest.raises(DbtError):
        run_dbt(copy, ["test", *facts], {"test_every_row": True})
    # ...and in scope once its customer changes
    conn = duckdb.connect(str(copy.duckdb_path))
    top = _next_seq(conn)
    conn.execute(
        "update gold.dim_customer set _change_seq = ? where customer_id = ? and version_number = 1",
        [top, silver.C1],
    )
    conn.close()
    with pytest.raises(DbtError) as info:
        run_dbt(copy, ["test", *facts])
    assert "dimension_version_at_fct_complaint_customer_key" in " ".join(info.value.failed_nodes)


_STALE_CUSTOMER_VERSIONS = """
    select complaint.complaint_key
    from gold.fct_complaint as complaint
    join gold.dim_customer as version using (customer_key)
    where complaint.request_date >= version.valid_to
"""


def _fact_ahead_of_a_lagging_dimension(copy: Settings) -> int:
    """`build --select fct_complaint` after a load that holds a new version of C1 (from
    2025-03-01, so its June complaint belongs to it) and a later change of another complaint:
    the fact and its tests run while dim_customer has not taken the version, whose
    _change_seq (returned) lies below the fact's maximum."""
    conn = duckdb.connect(str(copy.duckdb_path))
    top = _next_seq(conn)
    conn.execute(
        "insert into raw.customer_versions select * replace ("
        "cast('2025-03-01' as date) as valid_from, ? as _change_seq) "
        "from raw.customer_versions where customer_id = ? order by valid_from limit 1",
        [top, silver.C1],
    )
    conn.execute(
        "update raw.call_logs set resolution_status = 'Resolved', _change_seq = ? "
        "where complaint_key = ?",
        [top + 1, silver.K2],
    )
    conn.close()
    run_dbt(copy, ["build", "--select", "fct_complaint"])
    assert _query(copy, "select max(_change_seq) from gold.fct_complaint") == [(top + 1,)]
    return top


def test_a_dimension_built_after_the_fact_was_tested_is_in_the_scope(
    scenario: Scenario, tmp_path: Path
) -> None:
    """The dimension then takes the version below the fact's watermark, and the fact, not yet
    rebuilt, keeps complaints on the version that now ends before them. The whole-table check
    fails there, so the scoped one must too."""
    copy = _copy_warehouse(scenario, tmp_path)
    top = _fact_ahead_of_a_lagging_dimension(copy)
    marks = _tested_watermarks(copy)
    assert marks["fct_complaint"] == top + 1
    assert marks["fct_complaint>dim_customer"] < top  # the dimension's part is scoped
    run_dbt(copy, ["run", "--select", "dim_customer"])
    assert _query(copy, _STALE_CUSTOMER_VERSIONS)  # what the check must find
    with pytest.raises(DbtError) as info:
        run_dbt(copy, ["test", "--select", "fct_complaint"])
    assert "dimension_version_at_fct_complaint_customer_key" in " ".join(info.value.failed_nodes)
    # a full build of the dimension forgets what the fact's tests knew of it
    run_dbt(copy, ["run", "--select", "dim_customer", "dim_agent", "--full-refresh"])
    assert set(_tested_watermarks(copy)) == {"fct_complaint"}


def test_the_fact_rebuilds_complaints_of_a_version_built_after_it(
    scenario: Scenario, tmp_path: Path
) -> None:
    """The fact keeps a high-water mark per dimension (_dim_customer_seq), not its own
    maximum, so the next build moves C1's June complaint to the version built after the fact,
    and the gold equals a full refresh."""
    copy = _copy_warehouse(scenario, tmp_path)
    top = _fact_ahead_of_a_lagging_dimension(copy)
    assert _query(copy, "select max(_dim_customer_seq) from gold.fct_complaint") < [(top,)]
    run_dbt(copy, ["build"])
    assert _query(copy, _STALE_CUSTOMER_VERSIONS) == []
    assert _query(
        copy,
        "select max(_dim_customer_seq), max(_dim_agent_seq) from gold.fct_complaint",
    ) == _query(
        copy,
        "select (select max(_change_seq) from gold.dim_customer),"
        " (select max(_change_seq) from gold.dim_agent)",
    )
    june = _query(
        copy,
        "select version.valid_from from gold.fct_complaint as complaint"
        " join gold.dim_customer as version using (customer_key)"
        " where complaint.customer_id = ? and month(complaint.request_date) = 6",
        [silver.C1],
    )
    assert june and {valid_from for (valid_from,) in june} == {date(2025, 3, 1)}
    _assert_incremental_equals_full_refresh(copy)


def test_dbt_refuses_to_build_on_a_load_that_stopped_part_way(
    module_silver_dsn: Callable[[], str], tmp_path: Path
) -> None:
    """Raw tables commit one by one: a load that fails after some of them leaves its marker,
    and dbt refuses to build until the load is resumed (the models would otherwise lift their
    marks above the rows the resumed load writes)."""
    dsn = module_silver_dsn()
    silver.write_days_1_2(dsn)
    settings = Settings(home=tmp_path / "home", pg_dsn=dsn)
    # a real failure part way: the agents are loaded after the complaint tables
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("alter table conformed.agents rename to agents_elsewhere")
    with pytest.raises(SilverNotReadyError):
        load_warehouse(settings)
    marks = "select table_name, change_seq from raw._load_watermarks"
    written = dict(_query(settings, marks))
    assert written.pop("_load_in_progress") == -1
    assert "call_logs" in written and "agents" not in written
    with pytest.raises(DbtError, match="did not finish"):
        run_dbt(settings, ["run"])
    run_dbt(settings, ["compile"])  # commands that only read still work, for the operator
    # nothing built (dbt creates the schemas before its hooks run)
    assert _query(settings, "select count(*) from duckdb_tables() where schema_name = 'gold'") == [
        (0,)
    ]

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("alter table conformed.agents_elsewhere rename to agents")
    resumed = load_warehouse(settings)
    assert {t.table for t in resumed.tables if t.rows} == {"agents", "agent_versions"}
    assert "_load_in_progress" not in dict(_query(settings, marks))
    run_dbt(settings, ["build"])


def test_dbt_compile_works_on_a_new_warehouse(tmp_path: Path) -> None:
    """`dbt compile` renders the on-run-start hooks on several threads at once; when two of
    them created the dbt_state schema while rendering, DuckDB failed one on the conflict (5 of
    6 compiles of a new warehouse). Three new warehouses, as each compile is a fresh race."""
    for attempt in range(3):
        home = tmp_path / f"home{attempt}"
        home.mkdir()
        run_dbt(Settings(home=home), ["compile"])


def test_dbt_failure_names_the_failing_node(scenario: Scenario) -> None:
    """Runs last: it breaks raw data on purpose (an experience level outside the contract, a
    version without a start date)."""
    conn = duckdb.connect(str(scenario.settings.duckdb_path))
    conn.execute(
        "insert into raw.agent_versions values (1001, 'Wizard', '2025-11-25', null, 0, 'bad'), "
        "(1002, 'Senior', null, null, 0, 'bad')"
    )
    conn.close()
    with pytest.raises(DbtError) as info:
        run_dbt(scenario.settings, ["test", "--select", "stg_agent_versions"])
    assert any(
        "accepted_values_stg_agent_versions_experience" in n for n in info.value.failed_nodes
    )
    assert "accepted_values_stg_agent_versions_experience" in str(info.value)
    assert any("not_null_columns_stg_agent_versions" in n for n in info.value.failed_nodes)
