"""The escalation model on a real simulated warehouse: it beats both baselines on held-out
months, its scores land in gold, and the CLI trains, scores and explains."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

from coretelecoms.cli import app
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
