"""The escalation model on a real simulated warehouse: it beats both baselines on held-out
months, its scores land in gold, and the CLI trains, scores and explains."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

from coretelecoms.cli import app
from coretelecoms.config import Settings
from coretelecoms.risk import dataset, store, training

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def trained(simulated_gold) -> dict:
    return training.train(simulated_gold.settings)


@pytest.fixture(scope="module")
def scored(simulated_gold, trained) -> dict:
    return training.score(simulated_gold.settings)


def _gold(settings, query: str) -> pl.DataFrame:
    conn = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        return pl.from_arrow(conn.sql(query).to_arrow_table())
    finally:
        conn.close()


@pytest.mark.parametrize("baseline", sorted(dataset.BASELINES))
@pytest.mark.parametrize("metric", ["roc_auc", "pr_auc", "top_decile_lift"])
def test_model_beats_baseline_on_held_out_months(trained, baseline, metric) -> None:
    metrics = trained["metrics"]
    assert metrics["model"][metric] > metrics[baseline][metric], metrics


def test_evaluation_holds_out_the_latest_labelled_months(trained) -> None:
    assert len(trained["test_months"]) == training.DEFAULT_TEST_MONTHS
    assert max(trained["train_months"]) < min(trained["test_months"])
    assert trained["metrics"]["model"]["rows"] == trained["test_rows"]


def test_scores_land_in_the_warehouse_one_per_customer_month(simulated_gold, scored) -> None:
    settings = simulated_gold.settings
    panel = dataset.build_panel(store.read_features(settings))
    scores = _gold(settings, "select * from gold.customer_risk_scores")
    assert scores.height == scored["rows"] == panel.height
    assert scores.select("customer_id", "month_start_date").n_unique() == scores.height
    assert scores["score"].is_between(0, 1).all()
    per_month = scores.group_by("month_start_date").agg(
        n=pl.len(), top=pl.col("risk_rank").max(), ranks=pl.col("risk_rank").n_unique()
    )
    assert (per_month["n"] == per_month["top"]).all() and (
        per_month["n"] == per_month["ranks"]
    ).all()
    latest = scores.filter(pl.col("month_start_date") == pl.col("month_start_date").max())
    explained = latest.filter(pl.col("risk_decile") == 1)["top_reasons"]
    assert explained.is_not_null().mean() > 0.9
    assert latest.sort("risk_rank")["score"].is_sorted(descending=True)


def test_scoring_twice_gives_the_same_table(simulated_gold, scored) -> None:
    settings = simulated_gold.settings
    query = "select * from gold.customer_risk_scores order by month_start_date, customer_id"
    before = _gold(settings, query)
    training.score(settings)
    assert _gold(settings, query).equals(before)


def test_scoring_in_small_chunks_gives_the_same_table(simulated_gold, scored) -> None:
    settings = simulated_gold.settings
    query = "select * from gold.customer_risk_scores order by month_start_date, customer_id"
    before = _gold(settings, query)
    chunked = settings.model_copy(update={"risk_score_chunk_customers": 7})
    training.score(chunked)
    assert _gold(settings, query).equals(before)


SCORES = "select * from gold.customer_risk_scores order by month_start_date, customer_id"


def _write(settings, query: str, params: list | None = None) -> None:
    conn = duckdb.connect(str(settings.duckdb_path))
    try:
        conn.execute(query, params)
    finally:
        conn.close()


def _insert_features(settings, rows: pl.DataFrame) -> None:
    """Put feature rows a test took out back into the gold feature table."""
    conn = duckdb.connect(str(settings.duckdb_path))
    try:
        conn.register("rows_back", rows.to_arrow())
        conn.execute("insert into gold.customer_features_monthly by name select * from rows_back")
    finally:
        conn.close()


def _full_rescore(settings) -> dict:
    """Score as if for the first time: without the record of what was scored last."""
    _write(settings, f"drop table if exists {store.STATE_SCHEMA}.{store.RUN_TABLE}")
    return training.score(settings)


def test_rescoring_unchanged_features_scores_nothing_and_keeps_the_table(
    simulated_gold, scored
) -> None:
    settings = simulated_gold.settings
    before = _gold(settings, SCORES)
    again = training.score(settings)
    assert again["rescored_rows"] == 0 and again["rescored_customers"] == 0
    assert again["rows"] == before.height
    assert _gold(settings, SCORES).equals(before)


def _top_customer_month(settings) -> tuple[str, object]:
    """A latest-month decile-1 customer and one of their months with complaints."""
    row = _gold(
        settings,
        "select s.customer_id, min(f.month_start_date) as month "
        "from gold.customer_risk_scores s join gold.customer_features_monthly f using "
        "(customer_id) where s.risk_decile = 1 and s.top_reasons is not null and "
        "s.month_start_date = (select max(month_start_date) from gold.customer_risk_scores) "
        "group by s.customer_id order by s.customer_id limit 1",
    ).row(0)
    return row[0], row[1]


def test_changed_added_and_removed_customers_give_the_full_rescore_table(
    simulated_gold, scored
) -> None:
    settings = simulated_gold.settings
    original = _gold(settings, SCORES)
    features = _gold(settings, "select * from gold.customer_features_monthly")
    changed, month = _top_customer_month(settings)
    removed = original.filter(pl.col("risk_decile") == 10)["customer_id"][0]
    added = "risk-test-new-customer"
    change = (
        "update gold.customer_features_monthly set complaint_count = complaint_count + 3, "
        "blocked_count = blocked_count + 2 where customer_id = ? and month_start_date = ?"
    )
    try:
        _write(settings, change, [changed, month])
        _write(
            settings,
            "update gold.customer_features_monthly set customer_id = ? where customer_id = ?",
            [added, removed],
        )
        incremental = training.score(settings)
        # the changed customer, the new one (the removed one's rows under a new id): nobody else
        assert incremental["rescored_customers"] == 2
        panel = dataset.build_panel(store.read_features(settings))
        expected_rows = panel.filter(pl.col("customer_id").is_in([changed, added])).height
        assert incremental["rescored_rows"] == expected_rows
        after = _gold(settings, SCORES)
        assert after.filter(pl.col("customer_id") == removed).is_empty()
        assert after.filter(pl.col("customer_id") == added).height > 0
        assert not after.equals(original)
        full = _full_rescore(settings)
        assert full["rescored_rows"] == full["rows"] == after.height
        assert _gold(settings, SCORES).equals(after)
    finally:
        _write(settings, "delete from gold.customer_features_monthly")
        _insert_features(settings, features)
    restored = training.score(settings)
    # the changed customer back to their rows, the removed one back; the added one dropped
    assert restored["rescored_customers"] == 2
    assert _gold(settings, SCORES).equals(original)


def test_a_removed_customer_alone_still_rewrites_the_table(simulated_gold, scored) -> None:
    """Nothing to rescore but a customer gone: the table is not kept as it was."""
    settings = simulated_gold.settings
    original = _gold(settings, SCORES)
    removed = original.filter(pl.col("risk_decile") == 10)["customer_id"][0]
    rows = _gold(
        settings, f"select * from gold.customer_features_monthly where customer_id = '{removed}'"
    )
    try:
        _write(
            settings, "delete from gold.customer_features_monthly where customer_id = ?", [removed]
        )
        after = training.score(settings)
        assert after["rescored_customers"] == 0
        kept = _gold(settings, SCORES)
        assert kept.filter(pl.col("customer_id") == removed).is_empty()
        assert after["rows"] == kept.height < original.height
    finally:
        _insert_features(settings, rows)
    assert training.score(settings)["rescored_customers"] == 1
    assert _gold(settings, SCORES).equals(original)


CRASH_IN_FINISH = """
import os, sys
from contextlib import contextmanager
from coretelecoms.config import Settings
from coretelecoms.risk import store, training

opened = store.warehouse


class Crashing:
    \"\"\"The warehouse connection, but the process dies when the new scores table is written
    and about to be swapped in (the transaction is open, nothing committed).\"\"\"

    def __init__(self, conn):
        self.conn = conn

    def execute(self, query, *args, **kwargs):
        if query.lstrip().startswith("alter table"):
            os._exit(9)
        return self.conn.execute(query, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.conn, name)


@contextmanager
def crashing(settings, *, read_only=True):
    with opened(settings, read_only=read_only) as conn:
        yield Crashing(conn)


store.warehouse = crashing
training.score(Settings(home=sys.argv[1]))
"""


def test_a_crash_while_the_scores_are_written_leaves_the_table_and_a_rerun_converges(
    simulated_gold, scored
) -> None:
    """Killed after the new table is written, before it replaces the old one: the old table
    and its bookkeeping stay, no half-written table is left, and the rerun writes the table
    scoring everyone would."""
    import subprocess
    import sys

    settings = simulated_gold.settings
    original = _gold(settings, SCORES)
    state = _gold(settings, f"select * from {store.STATE_SCHEMA}.{store.SCORED_TABLE}")
    # a third of the customers look changed to the scorer (same features, so same scores)
    _write(
        settings,
        f"update {store.STATE_SCHEMA}.{store.SCORED_TABLE} set features_hash = "
        "features_hash + 1 where hash(customer_id) % 3 = 0",
    )
    marked = _gold(settings, f"select * from {store.STATE_SCHEMA}.{store.SCORED_TABLE}")
    crash = subprocess.run(
        [sys.executable, "-c", CRASH_IN_FINISH, str(settings.home)],
        check=False,
        capture_output=True,
    )
    assert crash.returncode == 9, crash.stderr.decode()[-2000:]
    assert _gold(settings, SCORES).equals(original)
    assert _gold(settings, f"select * from {store.STATE_SCHEMA}.{store.SCORED_TABLE}").equals(
        marked
    )
    left = _gold(
        settings,
        "select table_name from information_schema.tables where table_name = "
        f"'{store.NEW_SCORES_TABLE}'",
    )
    assert left.is_empty()
    rerun = training.score(settings)
    assert 0 < rerun["rescored_customers"] < original["customer_id"].n_unique()
    assert _gold(settings, SCORES).equals(original)
    assert _gold(
        settings, f"select * from {store.STATE_SCHEMA}.{store.SCORED_TABLE} order by all"
    ).equals(state.sort(state.columns))


def test_model_is_reused_only_while_its_training_input_is_unchanged(
    simulated_gold, trained, scored
) -> None:
    settings = simulated_gold.settings
    original = _gold(settings, SCORES)
    reused = training.train(settings, reuse=True)
    assert reused["reused"] and reused["fingerprint"] == trained["fingerprint"]
    assert reused["metrics"] == trained["metrics"]
    customer, month = _top_customer_month(settings)
    change = (
        "update gold.customer_features_monthly set sla_breached_count = sla_breached_count {} 4 "
        "where customer_id = ? and month_start_date = ?"
    )
    _write(settings, change.format("+"), [customer, month])
    try:
        retrained = training.train(settings, reuse=True)
        assert not retrained.get("reused")
        assert retrained["fingerprint"] != trained["fingerprint"]
        # a new model rescores everyone
        rescored = training.score(settings)
        assert rescored["rescored_rows"] == rescored["rows"] == original.height
    finally:
        _write(settings, change.format("-"), [customer, month])
    # back to the original features: a retrain gives the original model, and its scores
    out = training.train_and_score(settings)
    assert not out["model_reused"] and out["model_version"] == trained["version"]
    assert out["rescored_rows"] == out["rows"]
    assert _gold(settings, SCORES).equals(original)
    again = training.train_and_score(settings)
    assert again["model_reused"] and again["rescored_rows"] == 0
    assert _gold(settings, SCORES).equals(original)


# -- the DAG step's refit policy -----------------------------------------------------------------

DAY = date(2025, 11, 20)


def _home(simulated_gold, root: Path) -> Settings:
    """A warehouse of its own (the shared one's features, no scores, no model)."""
    root.mkdir()
    shutil.copy(simulated_gold.settings.duckdb_path, root / "warehouse.duckdb")
    settings = simulated_gold.settings.model_copy(
        update={"duckdb_path": root / "warehouse.duckdb", "lake_uri": str(root / "lake")}
    )
    _write(settings, f"drop table if exists gold.{store.SCORES_TABLE}")
    _write(settings, f"drop schema if exists {store.STATE_SCHEMA} cascade")
    return settings


def _labelled_customer_month(settings) -> tuple[str, object]:
    """A customer-month before the horizon: a training row, so changing it changes the model."""
    return _gold(
        settings,
        "select customer_id, month_start_date from gold.customer_features_monthly where "
        "month_start_date < (select max(month_start_date) from gold.customer_features_monthly) "
        "order by customer_id, month_start_date limit 1",
    ).row(0)


LATE_COMPLAINTS = (
    "update gold.customer_features_monthly set complaint_count = complaint_count + 2, "
    "call_count = call_count + 2 where customer_id = ? and month_start_date = ?"
)


def _run_days(settings: Settings, *, crash_on_refit: bool = False) -> list[dict]:
    """Day 1, late complaints on day 3, day 9 (the window elapsed): the DAG step each day.
    With ``crash_on_refit`` the refit of day 9 is saved but its scoring dies, then day 9 reruns."""
    customer, month = _labelled_customer_month(settings)
    outs = [training.train_and_score(settings, logical_date=DAY)]
    _write(settings, LATE_COMPLAINTS, [customer, month])
    outs.append(training.train_and_score(settings, logical_date=DAY + timedelta(days=2)))
    if crash_on_refit:
        training.train(settings, reuse=True, logical_date=DAY + timedelta(days=8))
    outs.append(training.train_and_score(settings, logical_date=DAY + timedelta(days=8)))
    return outs


def test_dag_step_keeps_the_model_in_its_window_and_refits_when_it_elapsed(
    simulated_gold, tmp_path
) -> None:
    settings = _home(simulated_gold, tmp_path / "home")
    first, kept, refit = _run_days(settings)
    assert first["model_refit_reason"] == "no model yet" and not first["model_reused"]
    assert first["model_trained_for"] == DAY.isoformat()
    assert first["rescored_rows"] == first["rows"]
    # late complaints changed a training row: the model is kept anyway, one customer rescored
    assert kept["model_refit_reason"] is None and kept["model_reused"]
    assert kept["model_version"] == first["model_version"]
    assert kept["model_trained_for"] == DAY.isoformat()
    assert kept["rescored_customers"] == 1
    # rerunning that day, or an earlier one, changes nothing
    table = _gold(settings, SCORES)
    for rerun in (DAY + timedelta(days=2), DAY + timedelta(days=1)):
        again = training.train_and_score(settings, logical_date=rerun)
        assert again["model_refit_reason"] is None and again["rescored_rows"] == 0
        assert _gold(settings, SCORES).equals(table)
    # 8 days on: refit on today's features, everyone rescored
    assert refit["model_refit_reason"] == f"model trained for {DAY}, 8 days old"
    assert not refit["model_reused"] and refit["model_version"] != first["model_version"]
    assert refit["model_trained_for"] == (DAY + timedelta(days=8)).isoformat()
    assert refit["rescored_rows"] == refit["rows"]
    assert _gold(settings, "select distinct model_version from gold.customer_risk_scores")[
        "model_version"
    ].to_list() == [refit["model_version"]]


def test_a_new_horizon_month_refits_within_the_window(simulated_gold, tmp_path) -> None:
    settings = _home(simulated_gold, tmp_path / "home")
    first = training.train_and_score(settings, logical_date=DAY)
    customer, month = _gold(
        settings,
        "select customer_id, month_start_date from gold.customer_features_monthly where "
        "month_start_date = (select max(month_start_date) from gold.customer_features_monthly) "
        "order by customer_id limit 1",
    ).row(0)
    _write(
        settings,
        "insert into gold.customer_features_monthly select * replace "
        "(cast(month_start_date + interval 1 month as date) as month_start_date) "
        "from gold.customer_features_monthly where customer_id = ? and month_start_date = ?",
        [customer, month],
    )
    out = training.train_and_score(settings, logical_date=DAY + timedelta(days=1))
    assert out["model_refit_reason"].startswith("horizon month") and not out["model_reused"]
    assert out["latest_month"] > first["latest_month"]
    assert store.load_model(settings).metadata["horizon"] == out["latest_month"]


def test_cli_train_always_refits_and_the_dag_step_then_restamps_it(
    simulated_gold, tmp_path
) -> None:
    settings = _home(simulated_gold, tmp_path / "home")
    first = training.train_and_score(settings, logical_date=DAY)
    # what `coretelecoms risk train` calls: a fit even though the DAG would keep the model
    cli = training.train(settings)
    assert not cli.get("reused") and cli["trained_for"] is None
    assert cli["version"] == first["model_version"]
    # the next DAG day finds no training day recorded: a refit is due, but the input is the
    # same, so the model is kept and stamped with the day, as a refit would have been
    out = training.train_and_score(settings, logical_date=DAY + timedelta(days=1))
    assert out["model_refit_reason"] == "the model records no training day"
    assert out["model_reused"] and out["model_version"] == first["model_version"]
    assert out["rescored_rows"] == 0
    assert store.load_model(settings).metadata["trained_for"] == "2025-11-21"
    assert store.load_evaluation(settings)["trained_for"] == "2025-11-21"


def test_two_homes_running_the_same_days_give_identical_scores(simulated_gold, tmp_path) -> None:
    """Daily runs in one home; the same days with a crash after the refit was saved and a rerun
    in the other: the same models, the same scores, after every day."""
    daily = _home(simulated_gold, tmp_path / "daily")
    crashed = _home(simulated_gold, tmp_path / "crashed")
    a = _run_days(daily)
    b = _run_days(crashed, crash_on_refit=True)
    assert [o["model_version"] for o in a] == [o["model_version"] for o in b]
    assert [o["model_refit_reason"] for o in b] == [
        "no model yet",
        None,
        None,  # the crashed attempt had saved the day's model: kept, everyone rescored
    ]
    assert b[-1]["rescored_rows"] == b[-1]["rows"]
    assert _gold(daily, SCORES).equals(_gold(crashed, SCORES))
    assert (
        store.load_model(daily).metadata["fingerprint"]
        == store.load_model(crashed).metadata["fingerprint"]
    )


def test_training_sample_is_whole_customers_and_repeatable(simulated_gold) -> None:
    settings = simulated_gold.settings.model_copy(update={"risk_train_customers": 40})
    everything = store.read_features(settings)
    sample, horizon, total = store.read_training_features(settings)
    again, _, _ = store.read_training_features(settings)
    key = ["customer_id", "month_start_date"]
    assert total == everything["customer_id"].n_unique() > 40
    assert sample["customer_id"].n_unique() == 40
    assert sample.sort(key).equals(again.sort(key))
    # whole customers: every month of a sampled customer, so the time split stays intact
    of_sampled = everything.filter(pl.col("customer_id").is_in(sample["customer_id"].implode()))
    assert of_sampled.height == sample.height
    assert horizon == everything["month_start_date"].max()


# -- the command line ------------------------------------------------------------------------


@pytest.fixture
def cli_env(simulated_gold, monkeypatch: pytest.MonkeyPatch):
    settings = simulated_gold.settings
    monkeypatch.setenv("CORETELECOMS_HOME", str(settings.home))
    monkeypatch.setenv("CORETELECOMS_PG_DSN", settings.pg_dsn.get_secret_value())
    return settings


def test_cli_train_score_and_explain(cli_env, scored) -> None:
    runner = CliRunner()
    trained = runner.invoke(app, ["risk", "train", "--json"])
    assert trained.exit_code == 0, trained.output
    assert '"model"' in trained.output and '"complaints_last_month"' in trained.output
    result = runner.invoke(app, ["risk", "score", "--top", "3"])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output
    riskiest = store.read_scores(cli_env)["customer_id"][0]
    explained = runner.invoke(app, ["risk", "explain", riskiest, "--json"])
    assert explained.exit_code == 0, explained.output
    assert riskiest in explained.output and "contribution" in explained.output
    overall = runner.invoke(app, ["risk", "explain"])
    assert overall.exit_code == 0 and "importance" in overall.output


def test_cli_explain_unknown_customer_fails_with_a_message(cli_env, scored) -> None:
    result = CliRunner().invoke(app, ["risk", "explain", "not-a-customer"])
    assert result.exit_code == 2
    assert "no features for customer not-a-customer" in result.output


def test_cli_score_without_a_model_says_to_train_first(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CORETELECOMS_HOME", str(tmp_path))
    result = CliRunner().invoke(app, ["risk", "score"])
    assert result.exit_code == 2
    assert "run the pipeline first" in result.output or "risk train" in result.output
