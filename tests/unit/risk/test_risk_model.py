"""The occlusion reasons skip rows whose value already is the median, and the medians are taken
column by column: both must give exactly what the plain computation gives."""

from __future__ import annotations

import numpy as np
import polars as pl

from coretelecoms.risk import dataset, model


def _frame(rows: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    data = {f: rng.poisson(0.3, rows).astype(float) for f in dataset.FEATURES}
    data["avg_days_to_resolve"] = np.where(
        rng.random(rows) < 0.3, np.nan, rng.gamma(2.0, 2.0, rows)
    )
    label = (data["complaint_count"] + data["blocked_count"] + rng.random(rows)) > 1.2
    return pl.DataFrame(data).with_columns(
        pl.col("avg_days_to_resolve").fill_nan(None), pl.Series(dataset.LABEL, label)
    )


def test_contributions_equal_occluding_every_row() -> None:
    train = _frame(4000, 1)
    fitted = model.fit(train)
    frame = _frame(500, 2)
    x = model.matrix(frame)
    base = fitted.classifier.predict_proba(x)[:, 1]
    expected = np.empty_like(x)
    for j in range(x.shape[1]):
        occluded = x.copy()
        occluded[:, j] = fitted.reference[j]
        expected[:, j] = base - fitted.classifier.predict_proba(occluded)[:, 1]
    got = fitted.contributions(frame)
    assert np.array_equal(got, expected)
    assert (got == 0).mean() > 0.5  # most values sit at the median: the skipped work


def test_reference_is_the_training_median_per_feature() -> None:
    train = _frame(4000, 1)
    fitted = model.fit(train)
    assert np.array_equal(
        fitted.reference, np.nan_to_num(np.nanmedian(model.matrix(train), axis=0))
    )


def test_predicting_distinct_rows_once_gives_every_row_its_own_score() -> None:
    """Rows are grouped by value and each group predicted once: the scores must be bit for bit
    the classifier's on every row, in order, nulls (NaN) included."""
    fitted = model.fit(_frame(4000, 1))
    frame = _frame(300, 3).sample(3000, with_replacement=True, seed=3)  # repeated rows
    distinct = frame.select(dataset.FEATURES).unique().height
    assert distinct < frame.height / 2
    expected = fitted.classifier.predict_proba(model.matrix(frame))[:, 1]
    assert np.array_equal(fitted.predict(frame), expected)
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=4)
    assert np.array_equal(
        fitted.predict(shuffled), fitted.classifier.predict_proba(model.matrix(shuffled))[:, 1]
    )
    assert len(fitted.predict(frame.head(1))) == 1
