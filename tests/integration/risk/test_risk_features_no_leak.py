"""The feature store itself does not leak: rebuilding ``customer_features_monthly`` after removing
every complaint requested after a cutoff leaves the model's inputs for earlier months unchanged
(real dbt on a copy of a simulated warehouse). ``escalation_count`` is the exception, which is
why it is only ever a label."""

from __future__ import annotations

import shutil
from datetime import date

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from coretelecoms.risk import dataset
from coretelecoms.warehouse import run_dbt

pytestmark = pytest.mark.postgres

CUTOFF = date(2025, 7, 1)  # complaints requested on or after this day are removed
_REQUESTED = {
    "call_logs": "call_started_at",
    "social_media_complaints": "requested_at",
    "web_form_complaints": "requested_at",
}
_INPUTS = [*dataset.MONTH_COUNTS, "avg_days_to_resolve"]


def _features(path) -> pl.DataFrame:
    conn = duckdb.connect(str(path), read_only=True)
    try:
        query = "select * from gold.customer_features_monthly where month_start_date < ?"
        frame = pl.from_arrow(conn.sql(query, params=[CUTOFF]).to_arrow_table())
    finally:
        conn.close()
    return frame.sort("customer_id", "month_start_date")


@pytest.fixture(scope="module")
def before_and_after(simulated_gold, tmp_path_factory) -> tuple[pl.DataFrame, pl.DataFrame]:
    settings = simulated_gold.settings
    home = tmp_path_factory.mktemp("truncated") / "home"
    home.mkdir()
    copy = home / "warehouse.duckdb"
    shutil.copy(settings.duckdb_path, copy)
    conn = duckdb.connect(str(copy))
    try:
        for table, column in _REQUESTED.items():
            # table and column names are the module's constants
            conn.execute(
                f'delete from raw."{table}" where cast("{column}" as date) >= ?',
                [CUTOFF],
            )
    finally:
        conn.close()
    truncated = settings.model_copy(update={"home": home, "duckdb_path": copy})
    run_dbt(truncated, ["run", "--select", "+customer_features_monthly", "--full-refresh"])
    return _features(settings.duckdb_path), _features(copy)


def test_model_inputs_before_the_cutoff_ignore_later_complaints(before_and_after) -> None:
    before, after = before_and_after
    assert before.height > 1000
    columns = [*dataset.KEY, *_INPUTS]
    assert_frame_equal(before.select(columns), after.select(columns))


def test_escalation_count_reaches_into_the_next_month(before_and_after) -> None:
    """Cross-channel follow-ups in July make some June complaints escalated: a feature built on
    escalation_count would leak the label."""
    before, after = before_and_after
    joined = before.join(after, on=list(dataset.KEY), suffix="_truncated")
    changed = joined.filter(pl.col("escalation_count") != pl.col("escalation_count_truncated"))
    assert changed.height > 0
    assert changed["month_start_date"].max() == date(2025, 6, 1)
