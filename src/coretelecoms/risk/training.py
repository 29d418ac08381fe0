"""The three things people do with the risk model: train it (and see whether it beats the
baselines), score every customer-month into the warehouse, and explain one customer's score."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import numpy as np
import polars as pl

from coretelecoms.config import Settings
from coretelecoms.risk import dataset, model, store

log = logging.getLogger(__name__)

DEFAULT_TEST_MONTHS = 3


def evaluate_split(split: dataset.Split) -> tuple[model.RiskModel, dict[str, Any]]:
    """Fit on the training months, then score model and baselines on the held-out months."""
    fitted = model.fit(split.train)
    results = {"model": model.evaluate(split.test, fitted.predict(split.test))}
    for name, score in model.baseline_scores(split.test).items():
        results[name] = model.evaluate(split.test, score)
    figures = {
        "train_months": [m.isoformat() for m in split.train_months],
        "test_months": [m.isoformat() for m in split.test_months],
        "train_rows": split.train.height,
        "test_rows": split.test.height,
        "metrics": results,
    }
    return fitted, figures


def _version(panel: pl.DataFrame) -> str:
    """Content hash of the labelled training rows: same features, same version."""
    labelled = _labelled(panel)
    digest = hashlib.sha256(labelled.hash_rows().sort().to_numpy().tobytes()).hexdigest()
    return digest[:12]


def train(settings: Settings, test_months: int = DEFAULT_TEST_MONTHS) -> dict[str, Any]:
    """Evaluate on a time-based hold-out, refit on every labelled month, save the model.

    Trains on the ``risk_train_customers`` sample of whole customers (see
    ``store.read_training_features``): every sampled customer keeps all their months, so the
    hold-out is still split by month and no customer's future leaks into training.
    Returns the evaluation (also saved next to the model).

    Raises:
        RiskError: no warehouse or no feature table.
        ValueError: too few labelled months for the hold-out.
    """
    features, horizon, total = store.read_training_features(settings)
    # the horizon month has no label yet: drop it before training holds any copies
    panel = _labelled(dataset.build_panel(features, horizon))
    del features
    sample = {
        "customers_total": total,
        "customers_trained": min(total, settings.risk_train_customers),
    }
    return train_on_panel(settings, panel, test_months, sample)


def train_on_panel(
    settings: Settings,
    panel: pl.DataFrame,
    test_months: int,
    sample: dict[str, int] | None = None,
) -> dict[str, Any]:
    """``train`` on an already built panel (only its labelled rows are used).

    Copies are dropped as soon as they are done with: the hold-out split goes before the final
    refit, so peak memory is the labelled rows plus one feature matrix.
    """
    labelled = _labelled(panel)
    del panel
    split = dataset.time_split(labelled, test_months)
    _, figures = evaluate_split(split)
    to_explain = _sample(split.test)
    del split
    final = model.fit(labelled)
    importance = np.abs(final.contributions(to_explain)).mean(axis=0)
    figures.update(
        version=_version(labelled),
        trained_through=labelled["month_start_date"].max().isoformat(),
        final_rows=labelled.height,
        **(sample or {}),
        features=list(dataset.FEATURES),
        params=model.PARAMS,
        importance=dict(
            sorted(
                zip(dataset.FEATURES, importance.round(5).tolist(), strict=True),
                key=lambda kv: -kv[1],
            )
        ),
    )
    final.metadata = figures
    figures["model_uri"], figures["evaluation_uri"] = store.save_model(settings, final)
    log.info("risk model %s trained: %s", figures["version"], figures["metrics"]["model"])
    return figures


def _labelled(panel: pl.DataFrame) -> pl.DataFrame:
    if panel[dataset.LABEL].null_count() == 0:
        return panel
    return panel.filter(pl.col(dataset.LABEL).is_not_null())


def _sample(frame: pl.DataFrame, n: int = 5000) -> pl.DataFrame:
    return frame if frame.height <= n else frame.sample(n, seed=0)


def score(settings: Settings) -> dict[str, Any]:
    """Score every customer-month with the saved model and replace the scores table.

    Customers are scored one hash bucket of ``risk_score_chunk_customers`` at a time, each
    chunk's panel built against the warehouse's horizon and its scores appended to a staging
    table; DuckDB ranks them per month at the end. Memory is bounded by the chunk, plus the
    latest month's running top decile, which gets reasons: those cost one prediction pass per
    feature, so only the customers an operator acts on now carry them in the table
    (``coretelecoms risk explain`` covers any other customer-month on demand).

    Raises:
        RiskError: no warehouse, no feature table, or no model trained yet.
    """
    fitted = store.load_model(settings)
    with store.warehouse(settings, read_only=False) as conn:
        horizon = store.horizon(conn)
        customers = store.customer_count(conn)
        chunks = max(1, -(-customers // settings.risk_score_chunk_customers))
        # the horizon month holds every customer: its decile 1 is the first ceil(n / 10) ranks
        top_n = -(-customers // 10)
        store.start_scores(conn)
        top: pl.DataFrame | None = None
        for chunk in range(chunks):
            panel = dataset.build_panel(store.read_chunk(conn, chunks, chunk), horizon)
            if panel.is_empty():
                continue
            scored = panel.with_columns(score=pl.Series(fitted.predict(panel), dtype=pl.Float64))
            store.append_scores(
                conn,
                scored.select(*dataset.KEY, dataset.TARGET_MONTH, "score"),
            )
            latest = scored.filter(pl.col("month_start_date") == horizon)
            top = (
                (latest if top is None else pl.concat([top, latest]))
                .sort(["score", "customer_id"], descending=[True, False])
                .head(top_n)
            )
            del panel, scored, latest
        if top is None:
            reasons = pl.DataFrame(
                schema={
                    "customer_id": pl.String,
                    "month_start_date": pl.Date,
                    "top_reasons": pl.String,
                }
            )
        else:
            reasons = top.select(*dataset.KEY).with_columns(
                top_reasons=pl.Series(fitted.reasons(top), dtype=pl.String)
            )
        written = store.finish_scores(conn, reasons, fitted.metadata.get("version"))
    return {
        "rows": written,
        "latest_month": horizon.isoformat() if written and horizon else None,
        "model_version": fitted.metadata.get("version"),
    }


def train_and_score(settings: Settings, test_months: int = DEFAULT_TEST_MONTHS) -> dict[str, Any]:
    """The DAG's step: retrain on today's features and rescore, or say why it cannot yet.

    Training is deterministic (fixed sample, fixed seed), so the scores depend on the features
    only (backfill-safe).
    """
    try:
        figures = train(settings, test_months)
    except (store.RiskError, ValueError) as exc:
        return {"status": "skipped", "reason": str(exc)}
    out = score(settings)
    return {"status": "scored", "metrics": figures["metrics"], **out}


def explain(settings: Settings, customer_id: str, month: str | None = None) -> dict[str, Any]:
    """Every feature's value and contribution to one customer's score (latest month by default).

    Raises:
        RiskError: no model, or the customer has no features (never complained).
    """
    fitted = store.load_model(settings)
    features, horizon = store.read_customer_features(settings, customer_id)
    rows = dataset.build_panel(features, horizon)
    if month is not None:
        rows = rows.filter(pl.col("month_start_date") == pl.lit(month).str.to_date())
    if rows.is_empty():
        raise store.RiskError(f"no features for customer {customer_id} ({month or 'any month'})")
    row = rows.sort("month_start_date").tail(1)
    contrib = fitted.contributions(row)[0]
    values = model.matrix(row)[0]
    table = sorted(
        (
            {"feature": f, "value": float(v), "contribution": float(c)}
            for f, v, c in zip(dataset.FEATURES, values, contrib, strict=True)
        ),
        key=lambda r: -r["contribution"],
    )
    return {
        "customer_id": customer_id,
        "month_start_date": row["month_start_date"][0].isoformat(),
        "score": float(fitted.predict(row)[0]),
        "model_version": fitted.metadata.get("version"),
        "features": table,
    }
