"""The escalation training set: a dense customer x month panel built from
``customer_features_monthly``, with features known at the end of month t and the label from t+1.

The feature store only has rows for months in which a customer complained. A customer who was
quiet in a month still has a risk, so the panel carries every customer from the month of their
first complaint up to the horizon (the last month with data), zero-filling quiet months, and
derives the windowed features (3, 6, 12 months, to date) on that dense grid. Every derived
feature looks backwards only; ``tests/unit/risk`` fails if one ever looks forwards.

``escalation_count`` of month t is deliberately not a feature: a cross-channel follow-up that
makes a month-t complaint escalated may be requested in month t+1, so it carries the label.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

KEY = ("customer_id", "month_start_date")

MONTH_COUNTS = (
    "complaint_count",
    "call_count",
    "social_media_count",
    "web_form_count",
    "technician_support_count",
    "network_failure_count",
    "router_delivery_count",
    "payments_count",
    "resolved_count",
    "blocked_count",
    "sla_breached_count",
    "distinct_agent_count",
)
"""Counts of month t taken from the feature store (0 in a quiet month)."""

LABEL_SOURCE = "escalation_count"
LABEL = "is_escalated_next_month"
TARGET_MONTH = "target_month_start_date"

_WINDOWED = ("complaint_count", "blocked_count", "sla_breached_count", "unresolved_count")

SCORE_INPUTS: tuple[str, ...] = ("month_start_date", *MONTH_COUNTS, "avg_days_to_resolve")
"""The feature-table columns a customer's scored panel rows depend on (with the horizon); the
label's source never reaches a score. Incremental scoring hashes exactly these to find the
customers to rescore, so a column the panel starts reading must be added here."""

FEATURES: tuple[str, ...] = (
    *MONTH_COUNTS,
    "unresolved_count",
    "avg_days_to_resolve",
    *(f"{c}_{w}" for c in _WINDOWED for w in ("3m", "6m", "12m", "to_date")),
    "channels_used_to_date",
    "months_since_first_complaint",
    "months_since_last_complaint",
)
"""Model inputs, all known at the end of month t."""

BASELINES: dict[str, str] = {
    "complaints_last_month": "complaint_count",
    "unresolved_last_month": "unresolved_count",
}
"""Single-column baselines the model must beat: the column itself is the score."""


def _month_index(column: str) -> pl.Expr:
    return pl.col(column).dt.year().cast(pl.Int32) * 12 + pl.col(column).dt.month().cast(pl.Int32)


def build_panel(features: pl.DataFrame, horizon: date | None = None) -> pl.DataFrame:
    """Dense customer x month panel with ``FEATURES``, ``LABEL`` and ``TARGET_MONTH``.

    ``LABEL`` is null in the horizon month (its next month is not known yet): those rows are
    scored, never trained on. ``horizon`` defaults to the latest month of ``features``; pass the
    warehouse's latest month when ``features`` holds only some customers (a training sample, a
    scoring chunk), since a customer's rows depend on nothing else but the horizon.

    Raises:
        ValueError: ``features`` lacks a column the panel needs.
    """
    needed = {*KEY, *SCORE_INPUTS, LABEL_SOURCE}
    missing = needed - set(features.columns)
    if missing:
        raise ValueError(f"customer_features_monthly lacks columns {sorted(missing)}")
    monthly = features.select(sorted(needed)).with_columns(pl.col("month_start_date").cast(pl.Date))
    if monthly.is_empty():
        return _empty_panel()
    if horizon is None:
        horizon = monthly["month_start_date"].max()
    # one row per customer and month from their first month to the horizon, in (customer, month)
    # order; _pos is the row's place in its customer's run (0 = their first month)
    spine = (
        monthly.group_by("customer_id")
        .agg(first=pl.col("month_start_date").min())
        .sort("customer_id")
        .with_columns(month_start_date=pl.date_ranges("first", pl.lit(horizon), interval="1mo"))
        .explode("month_start_date")
        .with_columns(_m=_month_index("month_start_date"))
        .with_columns(_pos=pl.col("_m") - _month_index("first"))
        .drop("first")
    )
    counts = [*MONTH_COUNTS, LABEL_SOURCE]
    panel = (
        spine.join(monthly, on=list(KEY), how="left", maintain_order="left")
        .with_columns(pl.col(counts).fill_null(0).cast(pl.Int64))
        .with_columns(unresolved_count=pl.col("complaint_count") - pl.col("resolved_count"))
        .with_row_index("_row")
        .with_columns(_start=(pl.col("_row") - pl.col("_pos")))
    )
    # Per-customer running sums without a window per customer: a running sum over the whole
    # (sorted, dense) panel, less its value before the customer's first row; a w-month window
    # is the running sum less its value w rows earlier, or before the first row while the
    # customer has fewer than w months. Integer arithmetic: exactly the per-customer sums.
    running = [*_WINDOWED, "call_count", "social_media_count", "web_form_count"]
    panel = panel.with_columns(pl.col(c).cum_sum().alias(f"_cs_{c}") for c in running)

    def to_date(c: str) -> pl.Expr:
        cs = pl.col(f"_cs_{c}")
        return cs - (cs - pl.col(c)).gather(pl.col("_start"))

    def window(c: str, w: int) -> pl.Expr:
        cs = pl.col(f"_cs_{c}")
        return pl.when(pl.col("_pos") >= w).then(cs - cs.shift(w)).otherwise(to_date(c))

    active = pl.when(pl.col("complaint_count") > 0).then(pl.col("_row")).forward_fill()
    derived = {
        **{f"{c}_{w}m": window(c, w) for c in _WINDOWED for w in (3, 6, 12)},
        **{f"{c}_to_date": to_date(c) for c in _WINDOWED},
        "channels_used_to_date": pl.sum_horizontal(
            (to_date(f"{ch}_count") > 0).cast(pl.Int64)
            for ch in ("call", "social_media", "web_form")
        ),
        "months_since_first_complaint": pl.col("_pos").cast(pl.Int32),
        # the last row with complaints, if it is this customer's (the panel is dense)
        "months_since_last_complaint": pl.when(active >= pl.col("_start")).then(
            (pl.col("_row") - active).cast(pl.Int32)
        ),
        # the next row of a customer is the next month, up to the horizon
        LABEL: pl.when(pl.col("month_start_date") < horizon).then(
            pl.col(LABEL_SOURCE).shift(-1) > 0
        ),
        TARGET_MONTH: pl.col("month_start_date").dt.offset_by("1mo"),
    }
    return panel.select(
        *KEY,
        *(derived[c].alias(c) if c in derived else c for c in (TARGET_MONTH, *FEATURES, LABEL)),
    )


def _empty_panel() -> pl.DataFrame:
    schema: dict[str, pl.DataType] = {
        "customer_id": pl.String(),
        "month_start_date": pl.Date(),
        TARGET_MONTH: pl.Date(),
    }
    schema.update({f: pl.Float64() for f in FEATURES})
    schema[LABEL] = pl.Boolean()
    return pl.DataFrame(schema=schema)


@dataclass(frozen=True)
class Split:
    """A strictly time-based split: every training label month precedes every test label month."""

    train: pl.DataFrame
    test: pl.DataFrame
    train_months: tuple[date, ...]
    test_months: tuple[date, ...]


def labelled_months(panel: pl.DataFrame) -> list[date]:
    """Feature months whose next month is known, oldest first."""
    return sorted(panel.filter(pl.col(LABEL).is_not_null())["month_start_date"].unique())


def time_split(panel: pl.DataFrame, test_months: int) -> Split:
    """Hold out the last ``test_months`` labelled months; train on the months before them.

    A training row of month t carries its label from t+1, which is at most the first test
    feature month and so strictly before every test label month.

    Raises:
        ValueError: fewer than ``test_months + 2`` labelled months (training needs two).
    """
    months = labelled_months(panel)
    if test_months < 1 or len(months) < test_months + 2:
        raise ValueError(
            f"need at least {test_months + 2} labelled months of features for a "
            f"{test_months}-month hold-out, found {len(months)}"
        )
    train_m, test_m = months[:-test_months], months[-test_months:]
    labelled = (
        panel if panel[LABEL].null_count() == 0 else panel.filter(pl.col(LABEL).is_not_null())
    )
    train = labelled.filter(pl.col("month_start_date").is_in(train_m))
    test = labelled.filter(pl.col("month_start_date").is_in(test_m))
    return Split(train, test, tuple(train_m), tuple(test_m))
