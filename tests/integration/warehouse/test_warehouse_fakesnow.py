"""The Snowflake path against fakesnow's server: the real connector for the loader and
dbt-snowflake with the `snowflake` profile target (host/port/protocol pointing at fakesnow).

What fakesnow cannot emulate (stages/PUT, so the production upload path; MERGE inside an explicit
transaction; dbt-snowflake's incremental MERGE) is listed in docs/warehouse.md; the loader's
`insert` upload path runs here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import warehouse_silver_data as silver

from coretelecoms.config import Settings
from coretelecoms.warehouse import (
    DbtError,
    DbtResult,
    WarehouseLoadResult,
    load_warehouse,
    run_dbt,
)
from coretelecoms.warehouse.snowflake_warehouse import SnowflakeWarehouse, upload_method
from coretelecoms.warehouse.tables import RAW_TABLES

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

# fakesnow fails dbt-snowflake's incremental MERGE ("ambiguous column"); see docs/warehouse.md.
FAKESNOW_VARS = {"incremental_strategy": "delete+insert"}


@pytest.fixture(scope="module")
def fakesnow_server() -> Iterator[dict[str, Any]]:
    fakesnow = pytest.importorskip("fakesnow")
    with fakesnow.server() as conn_kwargs:
        yield conn_kwargs


def snowflake_settings(fakesnow_server: dict[str, Any], **overrides: Any) -> Settings:
    """Settings for the snowflake warehouse pointed at fakesnow's server."""
    return Settings(
        warehouse="snowflake",
        snowflake_account=fakesnow_server["account"],
        snowflake_user=fakesnow_server["user"],
        snowflake_password=fakesnow_server["password"],
        snowflake_host=fakesnow_server["host"],
        snowflake_port=fakesnow_server["port"],
        snowflake_protocol=fakesnow_server["protocol"],
        **overrides,
    )


@dataclass
class SnowScenario:
    settings: Settings
    conn_kwargs: dict[str, Any]
    loads: dict[str, WarehouseLoadResult] = field(default_factory=dict)
    builds: dict[str, DbtResult] = field(default_factory=dict)

    def query(self, statement: str) -> list[tuple]:
        import snowflake.connector

        with snowflake.connector.connect(**self.conn_kwargs, database="CORETELECOMS") as conn:
            return conn.cursor().execute(statement).fetchall()


@pytest.fixture(scope="module")
def snow(
    module_silver_dsn: Callable[[], str],
    fakesnow_server: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> SnowScenario:
    dsn = module_silver_dsn()
    settings = snowflake_settings(
        fakesnow_server, home=tmp_path_factory.mktemp("snow") / "home", pg_dsn=dsn
    )
    sc = SnowScenario(settings, fakesnow_server)
    silver.write_days_1_2(dsn)
    sc.loads["day2"] = load_warehouse(settings)
    sc.builds["day2"] = run_dbt(settings, ["run"], FAKESNOW_VARS)
    silver.write_day_3(dsn)
    sc.loads["day3"] = load_warehouse(settings)
    sc.builds["day3"] = run_dbt(settings, ["build"], FAKESNOW_VARS)  # incremental + all tests
    sc.loads["rerun"] = load_warehouse(settings)
    return sc


def test_loopback_host_selects_the_insert_upload_path(snow: SnowScenario) -> None:
    assert upload_method(snow.settings) == "insert"
    assert upload_method(snow.settings.model_copy(update={"snowflake_host": None})) == "stage"


def test_loader_moves_changes_then_nothing_on_rerun(snow: SnowScenario) -> None:
    assert snow.loads["day2"].rows == 26
    assert snow.loads["day3"].rows == 10
    assert snow.loads["rerun"].rows == 0
    assert snow.query("select count(*) from RAW.WEB_FORM_COMPLAINTS") == [(3,)]
    assert snow.query(
        "select change_seq from RAW._LOAD_WATERMARKS where table_name = 'web_form_complaints'"
    ) == [
        next(
            (t.watermark_after,)
            for t in snow.loads["day3"].tables
            if t.table == "web_form_complaints"
        )
    ]


def test_dbt_build_passes_on_the_snowflake_target(snow: SnowScenario) -> None:
    counts = snow.builds["day3"].counts
    assert set(counts) == {"success", "pass"}, counts
    assert counts["success"] == 17 + 4  # models + the on-run-start (3) and on-run-end hooks


def test_tested_watermark_is_recorded_and_used_on_the_snowflake_target(snow: SnowScenario) -> None:
    """The hooks and since_tested tests (macros/tested_watermarks.sql) are portable: the build
    recorded the maximum of each model with scoped tests, and a build reading them passes."""
    models = ("dim_customer", "fct_complaint")
    tops = {m: snow.query(f"select max(_change_seq) from GOLD.{m.upper()}")[0][0] for m in models}
    (agents,) = snow.query("select max(_change_seq) from GOLD.DIM_AGENT")
    recorded = snow.query("select model_name, change_seq from DBT_STATE.TESTED_WATERMARKS")
    # the fact's scoped tests also read both dimensions: their maxima, kept for the fact
    assert dict(recorded) == {
        **tops,
        "fct_complaint>dim_customer": tops["dim_customer"],
        "fct_complaint>dim_agent": agents[0],
    }
    rebuilt = run_dbt(snow.settings, ["build", "--select", *models], FAKESNOW_VARS)
    assert set(rebuilt.counts) == {"success", "pass"}, rebuilt.counts


def test_address_change_joins_complaints_to_the_version_valid_at_request(
    snow: SnowScenario,
) -> None:
    rows = dict(
        snow.query(
            "select f.source_complaint_id, c.street from GOLD.FCT_COMPLAINT as f "
            "join GOLD.DIM_CUSTOMER as c on f.customer_key = c.customer_key "
            f"where f.customer_id = '{silver.C1}'"
        )
    )
    assert rows == {"CALL-1": "1 Old Street", "WF-5": "2 New Road", "WF-7": "2 New Road"}


def test_incremental_lifecycle_records_milestones(snow: SnowScenario) -> None:
    (row,) = snow.query(
        "select backlog_date, in_progress_date, resolved_date from GOLD.FCT_COMPLAINT_LIFECYCLE "
        f"where complaint_key = '{silver.K1}'"
    )
    assert tuple(row) == (date(2025, 11, 20), date(2025, 11, 21), date(2025, 11, 22))


def test_dbt_refuses_to_build_while_a_load_is_marked_on_the_snowflake_target(
    snow: SnowScenario,
) -> None:
    """The loader's marker (written when a load starts, removed once every table is loaded)
    stops dbt on Snowflake too, where dbt could run beside a load."""
    wh = SnowflakeWarehouse(snow.settings)
    try:
        wh.mark_load(running=True)
        wh.mark_load(running=True)  # a resumed load finds it there
        assert snow.query(
            "select table_name, change_seq from RAW._LOAD_WATERMARKS where change_seq < 0"
        ) == [("_load_in_progress", -1)]
        with pytest.raises(DbtError, match="did not finish"):
            run_dbt(snow.settings, ["run", "--select", "dim_date"], FAKESNOW_VARS)
        wh.mark_load(running=False)
    finally:
        wh.close()
    assert run_dbt(snow.settings, ["run", "--select", "dim_date"], FAKESNOW_VARS).counts


def test_a_full_refresh_of_the_fact_reads_its_previous_rows_on_the_snowflake_target(
    snow: SnowScenario,
) -> None:
    """A full refresh of fct_complaint compares each complaint with its row as built before, to
    log a move it is the first to see (dbt-snowflake replaces the table with a `create or
    replace ... as select` that reads it). Runs last on the scenario: it changes raw."""
    ((top,),) = snow.query("select max(change_seq) + 1 from RAW._LOAD_WATERMARKS")
    snow.query(
        f"update RAW.SOCIAL_MEDIA_COMPLAINTS set customer_id = '{silver.C2}', _change_seq = {top} "
        f"where complaint_key = '{silver.K4}'"
    )
    run_dbt(snow.settings, ["run", "--select", "fct_complaint", "--full-refresh"], FAKESNOW_VARS)
    assert snow.query(
        "select customer_id, _moved_from_customer_id from GOLD.FCT_COMPLAINT "
        f"where complaint_key = '{silver.K4}'"
    ) == [(silver.C2, silver.C3)]
    assert snow.query("select customer_id, change_seq from DBT_STATE.MOVED_CUSTOMERS") == [
        (silver.C3, top)
    ]
    assert snow.query(
        "select max(_dim_customer_seq), max(_dim_agent_seq) from GOLD.FCT_COMPLAINT"
    ) == snow.query(
        "select (select max(_change_seq) from GOLD.DIM_CUSTOMER), "
        "(select max(_change_seq) from GOLD.DIM_AGENT)"
    )


def test_a_column_added_to_a_contract_is_added_to_snowflake_raw(
    fakesnow_server: dict[str, Any], tmp_path: Path
) -> None:
    """A raw table as an older build left it (fewer columns, rows) gains the contract's other
    columns, nullable, and keeps its rows; without this the next upsert fails on them."""
    import snowflake.connector

    settings = snowflake_settings(
        fakesnow_server, home=tmp_path / "home", snowflake_database="OLDBUILD"
    )
    with snowflake.connector.connect(**fakesnow_server) as conn:
        cur = conn.cursor()
        cur.execute("create database if not exists OLDBUILD")
        cur.execute("create schema if not exists OLDBUILD.RAW")
        cur.execute("create table OLDBUILD.RAW.AGENTS (agent_id integer primary key, name varchar)")
        cur.execute("insert into OLDBUILD.RAW.AGENTS values (1000, 'Mary')")
    wh = SnowflakeWarehouse(settings)
    try:
        wh.ensure_tables(RAW_TABLES)
        wh.ensure_tables(RAW_TABLES)  # a second run finds nothing to add
    finally:
        wh.close()
    agents = next(t for t in RAW_TABLES if t.name == "agents")
    with snowflake.connector.connect(**fakesnow_server, database="OLDBUILD") as conn:
        cur = conn.cursor()
        cur.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'RAW' and table_name = 'AGENTS'"
        )
        columns = sorted(str(name).lower() for (name,) in cur.fetchall())
        rows = cur.execute("select agent_id, name from RAW.AGENTS").fetchall()
    assert columns == sorted(agents.column_names)
    assert [tuple(r) for r in rows] == [(1000, "Mary")]
