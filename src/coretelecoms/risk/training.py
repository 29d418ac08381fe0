"""The three things people do with the risk model: train it (and see whether it beats the
baselines), score every customer-month into the warehouse, and explain one customer's score."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from datetime import date
from typing import Any

import numpy as np
import polars as pl
from threadpoolctl import threadpool_limits

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


def _fingerprint(version: str, test_months: int) -> str:
    """What a fitted model depends on: its training rows (``version``), the hold-out, the
    hyper-parameters, the feature list and the library that fits it (an upgrade refits).
    Equal fingerprints give the same model."""
    import sklearn

    spec = json.dumps(
        [version, test_months, model.PARAMS, dataset.FEATURES, sklearn.__version__],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(spec.encode()).hexdigest()[:16]


def _threads(settings: Settings) -> threadpool_limits:
    """The model's thread budget (``risk_threads``) for the duration of a step."""
    return threadpool_limits(limits=settings.risk_threads)


def train(
    settings: Settings,
    test_months: int = DEFAULT_TEST_MONTHS,
    *,
    reuse: bool = False,
    logical_date: date | None = None,
) -> dict[str, Any]:
    """Evaluate on a time-based hold-out, refit on every labelled month, save the model.

    Trains on the ``risk_train_customers`` sample of whole customers (see
    ``store.read_training_features``): every sampled customer keeps all their months, so the
    hold-out is still split by month and no customer's future leaks into training.
    With ``reuse``, a saved model whose fingerprint matches today's training input is kept
    (training is deterministic, so refitting would give the same model) and only restamped with
    ``logical_date``, as a refit would be; its evaluation is returned with ``reused`` set.
    ``logical_date`` is the DAG day the model is trained for (``None`` from the CLI), which the
    refit policy ages it by (``refit_reason``). Returns the evaluation (also saved next to the
    model).

    Raises:
        RiskError: no warehouse or no feature table.
        ValueError: too few labelled months for the hold-out.
    """
    features, horizon, total = store.read_training_features(settings)
    # the horizon month has no label yet: drop it before training holds any copies
    panel = _labelled(dataset.build_panel(features, horizon))
    del features
    # what the refit policy reads back: the day trained for, the horizon month of the panel
    stamp = {
        "customers_total": total,
        "customers_trained": min(total, settings.risk_train_customers),
        "trained_for": logical_date.isoformat() if logical_date else None,
        "horizon": horizon.isoformat() if horizon else None,
    }
    if reuse:
        saved = _saved_model(settings)
        fingerprint = _fingerprint(_version(panel), test_months)
        if saved is not None and saved.metadata.get("fingerprint") == fingerprint:
            log.info("risk model %s reused: its training input is unchanged", fingerprint)
            if any(saved.metadata.get(k) != v for k, v in stamp.items()):
                # what a refit would have recorded (the model itself would be the same)
                saved.metadata = {**saved.metadata, **stamp}
                store.save_model(settings, saved)
            return {**saved.metadata, "reused": True}
    with _threads(settings):
        return train_on_panel(settings, panel, test_months, stamp)


def refit_reason(
    saved: dict[str, Any] | None,
    logical_date: date | None,
    horizon: date | None,
    refit_days: int,
) -> str | None:
    """Why the DAG's step must (re)train today, or ``None`` to keep the saved model.

    Refit when there is no model, no logical date (a run outside the DAG), no recorded training
    day (a model from ``coretelecoms risk train`` or older code), a new horizon month (a new
    month of labels), or a model ``refit_days`` or more logical days old. Only the logical date
    and the model's own record decide, never the clock or the data of the day, so a backfill
    run day by day makes the same choices as daily runs, and a rerun of a day (or of an
    earlier one) keeps the model it left.
    """
    if saved is None:
        return "no model yet"
    if logical_date is None:
        return "no logical date"
    trained_for = saved.get("trained_for")
    if not trained_for:
        return "the model records no training day"
    recorded = saved.get("horizon")
    if recorded != (horizon.isoformat() if horizon else None):
        return f"horizon month {recorded} -> {horizon}"
    age = (logical_date - date.fromisoformat(trained_for)).days
    if age >= refit_days:
        return f"model trained for {trained_for}, {age} days old"
    return None


def _saved_model(settings: Settings) -> model.RiskModel | None:
    try:
        return store.load_model(settings)
    except store.RiskError:
        return None


def train_on_panel(
    settings: Settings,
    panel: pl.DataFrame,
    test_months: int,
    sample: dict[str, Any] | None = None,
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
    version = _version(labelled)
    figures.update(
        version=version,
        fingerprint=_fingerprint(version, test_months),
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


def score(settings: Settings, fitted: model.RiskModel | None = None) -> dict[str, Any]:
    """Score the customer-months that need it with the saved model; rewrite the scores table.

    Only customers whose feature rows changed since the last scoring are scored, unless the
    model or the horizon changed, which rescores everyone (``store.plan_scoring``). They are read
    in one scan ordered by chunk of ``risk_score_chunk_customers``; each chunk's panel is built
    against the warehouse's horizon, scored and staged in a temporary table, so memory is bounded
    by the chunk. DuckDB then ranks all scores per month. The latest month's decile 1 gets
    reasons (one prediction pass per feature, so only for the customers an operator acts on now;
    ``coretelecoms risk explain`` covers anyone else), kept from the last scoring for customers
    not rescored. The table is the same as a full rescore would write. ``fitted``: the saved
    model when the caller has loaded it already.

    Raises:
        RiskError: no warehouse, no feature table, or no model trained yet.
    """
    fitted = fitted or store.load_model(settings)
    version = fitted.metadata.get("version")
    # the fingerprint names the model itself (same rows, other parameters: another model)
    model_key = fitted.metadata.get("fingerprint") or version
    clock = _Clock()
    with store.warehouse(settings, read_only=False) as conn, _threads(settings):
        horizon = store.horizon(conn)
        customers, todo, full = store.plan_scoring(
            conn, model_key, horizon, settings.risk_score_chunk_customers
        )
        clock("plan")
        if store.scores_unchanged(conn, customers, todo, full):
            written = store.score_count(conn)
            log.info("risk scoring: nothing changed since the last scoring, table kept")
            return _scored(written, 0, 0, horizon, version)
        store.start_scores(conn)
        rescored = 0
        for features in store.read_todo(conn):
            clock("read")
            panel = dataset.build_panel(features, horizon)
            del features
            clock("panel")
            predicted = fitted.predict(panel)
            clock("predict")
            scores = panel.select(*dataset.KEY, dataset.TARGET_MONTH).with_columns(
                score=pl.Series(predicted, dtype=pl.Float64)
            )
            del panel
            store.append_scores(conn, scores)
            rescored += scores.height
            del scores
            clock("append")
        to_explain = store.stage_top_decile(conn, horizon, full)
        clock("top_decile")
        reasons = _reasons(conn, fitted, horizon) if to_explain else _no_reasons()
        clock("reasons")
        written = store.finish_scores(
            conn, reasons, version=version, model_key=model_key, horizon=horizon, full=full
        )
        clock("finish")
    log.info("risk scoring phases (wall/CPU s): %s", clock.summary())
    log.info(
        "risk scoring: %d of %d customers scored (%s), %d customer-months, %d new reasons",
        todo,
        customers,
        "all" if full else "changed only",
        rescored,
        reasons.height,
    )
    return _scored(written, rescored, todo, horizon, version)


def _scored(
    written: int, rescored: int, todo: int, horizon: date | None, version: str | None
) -> dict[str, Any]:
    return {
        "rows": written,
        "rescored_rows": rescored,
        "rescored_customers": todo,
        "latest_month": horizon.isoformat() if written and horizon else None,
        "model_version": version,
    }


class _Clock:
    """Adds the wall and CPU seconds (all threads) since its last call to a named phase: the
    scoring step's timing log."""

    def __init__(self) -> None:
        self.phases: dict[str, list[float]] = {}
        self.last = (time.perf_counter(), time.process_time())

    def __call__(self, phase: str) -> None:
        now = (time.perf_counter(), time.process_time())
        spent = self.phases.setdefault(phase, [0.0, 0.0])
        spent[0] += now[0] - self.last[0]
        spent[1] += now[1] - self.last[1]
        self.last = now

    def summary(self) -> str:
        return ", ".join(f"{k} {w:.1f}/{c:.1f}" for k, (w, c) in self.phases.items())


def _reasons(conn: Any, fitted: model.RiskModel, horizon: Any) -> pl.DataFrame:
    """Reasons of the latest month's decile-1 rows listed in ``risk_explain``."""
    panel = dataset.build_panel(store.read_customers(conn, "risk_explain"), horizon)
    latest = panel.filter(pl.col("month_start_date") == horizon)
    del panel
    return latest.select(*dataset.KEY).with_columns(
        top_reasons=pl.Series(fitted.reasons(latest), dtype=pl.String)
    )


def _no_reasons() -> pl.DataFrame:
    return pl.DataFrame(
        schema={"customer_id": pl.String, "month_start_date": pl.Date, "top_reasons": pl.String}
    )


def train_and_score(
    settings: Settings,
    test_months: int = DEFAULT_TEST_MONTHS,
    logical_date: date | None = None,
) -> dict[str, Any]:
    """The DAG's step: keep the saved model unless a refit is due (``refit_reason``), then
    score what changed; or say why it cannot yet.

    Models are refit on a schedule, as production churn models are, not on every change of
    the features: on a keep day no training input is read at all. A due refit whose training
    input is exactly the saved model's (same fingerprint) keeps that model, restamped, since
    training is deterministic (fixed sample, fixed seed) and would give it again. The model,
    hence the scores, is a function of the logical dates run and the features on those days.
    """
    started = time.perf_counter()
    saved = _saved_model(settings)
    try:
        horizon = store.read_horizon(settings)
    except store.RiskError as exc:
        return {"status": "skipped", "reason": str(exc)}
    reason = refit_reason(
        saved.metadata if saved else None, logical_date, horizon, settings.risk_refit_days
    )
    if reason is None:
        figures, fitted = saved.metadata, saved  # type: ignore[union-attr]
    else:
        log.info("risk model refit due: %s", reason)
        try:
            figures = train(settings, test_months, reuse=True, logical_date=logical_date)
        except (store.RiskError, ValueError) as exc:
            return {"status": "skipped", "reason": str(exc)}
        fitted = None
    trained = time.perf_counter()
    out = score(settings, fitted)
    log.info(
        "risk step: train %.1f s (%s), score %.1f s",
        trained - started,
        "kept" if reason is None else "reused" if figures.get("reused") else "fitted",
        time.perf_counter() - trained,
    )
    return {
        "status": "scored",
        "metrics": figures["metrics"],
        "model_reused": reason is None or bool(figures.get("reused")),
        "model_refit_reason": reason,
        "model_trained_for": figures.get("trained_for"),
        **out,
    }


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
