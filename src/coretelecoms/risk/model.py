"""The escalation model, its baselines, the hold-out evaluation and per-customer reasons.

Scores are compared on what an operator does with them: rank the customers of a month and call
the top tenth. Besides ROC AUC and PR AUC, the evaluation therefore reports the precision of the
top decile of each month and its lift over that month's escalation rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import average_precision_score, roc_auc_score

from coretelecoms.risk.dataset import BASELINES, FEATURES, LABEL

PARAMS: dict[str, Any] = {
    "max_iter": 100,
    "learning_rate": 0.1,
    "max_leaf_nodes": 15,
    "min_samples_leaf": 40,
    "l2_regularization": 1.0,
    "early_stopping": False,
    "random_state": 0,
}
"""Fixed hyper-parameters (no early stopping, fixed seed): the same features give the same
model, so a backfill and a day-by-day run write the same scores."""

REASONS = 3


def matrix(frame: pl.DataFrame) -> np.ndarray:
    """Feature matrix in ``FEATURES`` order (nulls become NaN, which the model handles)."""
    return frame.select(pl.col(FEATURES).cast(pl.Float64)).to_numpy()


@dataclass
class RiskModel:
    """A fitted classifier plus the per-feature reference values its reasons are measured from."""

    classifier: HistGradientBoostingClassifier
    reference: np.ndarray
    metadata: dict[str, Any] = field(default_factory=dict)

    def predict(self, frame: pl.DataFrame) -> np.ndarray:
        return self._predict(frame.select(pl.col(FEATURES).cast(pl.Float64)))

    def _predict(self, x: pl.DataFrame) -> np.ndarray:
        """Scores of the rows of ``x`` (``FEATURES``, as floats), each distinct row predicted once.

        Most panel rows repeat another row exactly (a quiet month after one or two complaints
        looks the same for many customers: ~2 % of a scale-1 day's rows are distinct, and
        occluding a feature makes rows more alike still), and the trees cost ~5 us of CPU per
        row. A row's score depends on its values only (it goes down the same trees, summed in
        the same order), and rows grouped as equal hold values the trees cannot tell apart, so
        the scores are bit for bit those of predicting every row.
        """
        if x.height < 2:
            return self.classifier.predict_proba(x.to_numpy())[:, 1]
        grouped = x.with_row_index("_row").group_by(FEATURES, maintain_order=True).agg("_row")
        distinct = self.classifier.predict_proba(grouped.select(FEATURES).to_numpy())[:, 1]
        rows = grouped["_row"]
        out = np.empty(x.height, dtype=distinct.dtype)
        out[rows.explode().to_numpy()] = np.repeat(distinct, rows.list.len().to_numpy())
        return out

    def contributions(self, frame: pl.DataFrame) -> np.ndarray:
        """How much each feature raises the score above what a typical value would give.

        Occlusion: the score minus the score with that one feature set to its training median.
        Model-agnostic and exact for what it measures; one prediction pass per feature, over
        the rows whose value differs from the median only: for the others the occluded row is
        the row itself, so the contribution is exactly 0 (most counts of most rows are at
        their median, so this skips most of the work).
        """
        x = matrix(frame)
        base = self._predict(pl.from_numpy(x, schema=list(FEATURES)))
        out = np.zeros((x.shape[0], x.shape[1]))
        for j in range(x.shape[1]):
            rows = np.flatnonzero(x[:, j] != self.reference[j])  # NaN differs from any median
            if rows.size == 0:
                continue
            occluded = x[rows]
            occluded[:, j] = self.reference[j]
            scores = self._predict(pl.from_numpy(occluded, schema=list(FEATURES)))
            out[rows, j] = base[rows] - scores
        return out

    def reasons(self, frame: pl.DataFrame, top: int = REASONS) -> list[str | None]:
        """The ``top`` features that raise each row's score most, as ``name=value (+delta)``."""
        if frame.is_empty():
            return []
        contrib = self.contributions(frame)
        values = matrix(frame)
        order = np.argsort(-contrib, axis=1, kind="stable")[:, :top]
        out: list[str | None] = []
        for i, idx in enumerate(order):
            parts = [
                f"{FEATURES[j]}={_fmt(values[i, j])} (+{contrib[i, j]:.3f})"
                for j in idx
                if contrib[i, j] > 0.0005
            ]
            out.append("; ".join(parts) or None)
        return out


def _fmt(value: float) -> str:
    if np.isnan(value):
        return "n/a"
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def fit(train: pl.DataFrame) -> RiskModel:
    """Fit the classifier on labelled panel rows.

    Raises:
        ValueError: the training rows hold a single class (nothing to learn).
    """
    y = train[LABEL].cast(pl.Int8).to_numpy()
    if len(np.unique(y)) < 2:
        raise ValueError("training months hold a single class: no escalations to learn from")
    x = matrix(train)
    classifier = HistGradientBoostingClassifier(**PARAMS).fit(x, y)
    # column by column: the same medians without a second copy of the matrix
    reference = np.nan_to_num(np.array([np.nanmedian(x[:, j]) for j in range(x.shape[1])]))
    return RiskModel(classifier, reference)


def ranks(frame: pl.DataFrame, score: np.ndarray) -> pl.DataFrame:
    """Per month: rank (1 = riskiest; ties broken by customer id) and decile (1 = top tenth)."""
    ranked = frame.select("customer_id", "month_start_date").with_columns(
        score=pl.Series(score, dtype=pl.Float64)
    )
    ranked = ranked.with_row_index("_row").sort(
        ["month_start_date", "score", "customer_id"], descending=[False, True, False]
    )
    ranked = ranked.with_columns(
        risk_rank=pl.int_range(1, pl.len() + 1).over("month_start_date").cast(pl.Int64),
        _n=pl.len().over("month_start_date"),
    ).with_columns(risk_decile=((pl.col("risk_rank") - 1) * 10 // pl.col("_n") + 1).cast(pl.Int64))
    return ranked.sort("_row").drop("_row", "_n")


def evaluate(frame: pl.DataFrame, score: np.ndarray) -> dict[str, float]:
    """ROC AUC, PR AUC, and top-decile precision and lift, pooled over the frame's months."""
    y = frame[LABEL].cast(pl.Int8).to_numpy()
    ranked = ranks(frame, score).with_columns(y=pl.Series(y))
    top = ranked.filter(pl.col("risk_decile") == 1)
    base_rate = float(y.mean())
    precision = float(top["y"].mean())
    return {
        "roc_auc": float(roc_auc_score(y, score)),
        "pr_auc": float(average_precision_score(y, score)),
        "top_decile_precision": precision,
        "top_decile_lift": precision / base_rate if base_rate else float("nan"),
        "base_rate": base_rate,
        "rows": len(y),
    }


def baseline_scores(frame: pl.DataFrame) -> dict[str, np.ndarray]:
    """Each baseline's score: its one column, as is."""
    return {name: frame[column].cast(pl.Float64).to_numpy() for name, column in BASELINES.items()}
