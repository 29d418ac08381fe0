"""The training panel and its time split, on tiny inline feature frames: quiet months are
zero-filled, the label comes from the next month, and nothing from a later month ever reaches
a feature or a training label."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from coretelecoms.risk import dataset, model


def _features(rows: list[tuple[str, date, int, int]]) -> pl.DataFrame:
    """(customer, month, complaints, escalations) -> a customer_features_monthly frame."""
    frame = pl.DataFrame(
        rows,
        schema=["customer_id", "month_start_date", "complaint_count", "escalation_count"],
        orient="row",
    )
    return frame.with_columns(
        call_count=pl.col("complaint_count"),
        resolved_count=pl.col("complaint_count") // 2,
        blocked_count=pl.col("escalation_count"),
        sla_breached_count=pl.col("escalation_count"),
        distinct_agent_count=pl.lit(1),
        avg_days_to_resolve=pl.lit(2.5),
        **{
            c: pl.lit(0)
            for c in dataset.MONTH_COUNTS
            if c
            not in {
                "complaint_count",
                "call_count",
                "resolved_count",
                "blocked_count",
                "sla_breached_count",
                "distinct_agent_count",
            }
        },
    )


def _random_features(seed: int, customers: int = 40, months: int = 8) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(customers):
        for m in range(1, months + 1):
            if rng.random() < 0.5:
                n = int(rng.integers(1, 5))
                rows.append((f"c{c:03d}", date(2025, m, 1), n, int(rng.integers(0, n + 1))))
    return _features(rows)


def test_quiet_months_are_zero_filled_and_label_comes_from_next_month() -> None:
    features = _features(
        [
            ("a", date(2025, 1, 1), 2, 0),
            ("a", date(2025, 3, 1), 1, 1),
            ("b", date(2025, 4, 1), 3, 0),
        ]
    )
    panel = dataset.build_panel(features).sort("customer_id", "month_start_date")
    a = panel.filter(pl.col("customer_id") == "a")
    assert a["month_start_date"].to_list() == [date(2025, m, 1) for m in (1, 2, 3, 4)]
    assert a["complaint_count"].to_list() == [2, 0, 1, 0]
    assert a["complaint_count_3m"].to_list() == [2, 2, 3, 1]
    assert a["months_since_last_complaint"].to_list() == [0, 1, 0, 1]
    # Feb is labelled by March's escalation; April is the horizon: not known yet.
    assert a[dataset.LABEL].to_list() == [False, True, False, None]
    b = panel.filter(pl.col("customer_id") == "b")
    assert b["month_start_date"].to_list() == [date(2025, 4, 1)]  # starts at first complaint


@pytest.mark.parametrize("cutoff_month", [3, 5, 7])
def test_features_never_depend_on_later_months(cutoff_month: int) -> None:
    """Rebuild the panel from the features truncated after ``cutoff``: every feature of every
    month up to the cutoff must be identical. A centred or forward window, a backwards shift or a
    whole-history statistic breaks this."""
    features = _random_features(seed=cutoff_month)
    cutoff = date(2025, cutoff_month, 1)
    full = dataset.build_panel(features)
    truncated = dataset.build_panel(features.filter(pl.col("month_start_date") <= cutoff))
    columns = [*dataset.KEY, *dataset.FEATURES]
    sort = list(dataset.KEY)
    assert_frame_equal(
        full.filter(pl.col("month_start_date") <= cutoff).select(columns).sort(sort),
        truncated.select(columns).sort(sort),
    )


def _reference_panel(features: pl.DataFrame, horizon: date) -> pl.DataFrame:
    """The panel's features written the plain way, one window per customer (what
    ``build_panel`` computed before it used running sums over the whole panel)."""
    monthly = features.select(sorted({*dataset.KEY, *dataset.SCORE_INPUTS, dataset.LABEL_SOURCE}))
    spine = (
        monthly.group_by("customer_id")
        .agg(first=pl.col("month_start_date").min())
        .with_columns(month_start_date=pl.date_ranges("first", pl.lit(horizon), interval="1mo"))
        .explode("month_start_date")
        .drop("first")
    )
    counts = [*dataset.MONTH_COUNTS, dataset.LABEL_SOURCE]
    m = pl.col("month_start_date").dt.year().cast(pl.Int32) * 12 + pl.col(
        "month_start_date"
    ).dt.month().cast(pl.Int32)
    panel = (
        spine.join(monthly, on=list(dataset.KEY), how="left")
        .with_columns(pl.col(counts).fill_null(0).cast(pl.Int64))
        .sort(list(dataset.KEY))
        .with_columns(unresolved_count=pl.col("complaint_count") - pl.col("resolved_count"), _m=m)
    )
    by = "customer_id"
    windowed = ("complaint_count", "blocked_count", "sla_breached_count", "unresolved_count")
    used = [
        (pl.col(f"{ch}_count").cum_sum().over(by) > 0).cast(pl.Int64)
        for ch in ("call", "social_media", "web_form")
    ]
    last = pl.when(pl.col("complaint_count") > 0).then(pl.col("_m")).forward_fill().over(by)
    panel = panel.with_columns(
        *(
            pl.col(c).rolling_sum(window_size=w, min_samples=1).over(by).alias(f"{c}_{w}m")
            for c in windowed
            for w in (3, 6, 12)
        ),
        *(pl.col(c).cum_sum().over(by).alias(f"{c}_to_date") for c in windowed),
        channels_used_to_date=pl.sum_horizontal(used),
        months_since_first_complaint=pl.col("_m") - pl.col("_m").min().over(by),
        months_since_last_complaint=pl.col("_m") - last,
        **{
            dataset.LABEL: pl.when(pl.col("month_start_date") < horizon).then(
                pl.col(dataset.LABEL_SOURCE).shift(-1).over(by) > 0
            ),
            dataset.TARGET_MONTH: pl.col("month_start_date").dt.offset_by("1mo"),
        },
    )
    return panel.select(*dataset.KEY, dataset.TARGET_MONTH, *dataset.FEATURES, dataset.LABEL)


@pytest.mark.parametrize("seed", range(4))
def test_panel_equals_the_per_customer_windows(seed: int) -> None:
    """Running sums over the whole panel give exactly the per-customer windows: over years
    (windows full and not), with gaps, a first month without complaints (the previous
    customer's last complaint must not leak in), unknown resolution times, a later horizon."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(60):
        for m in range(30):
            if rng.random() < 0.15 + 0.3 * (c % 3 == 0):
                n = int(rng.integers(0 if c % 5 == 0 else 1, 5))
                rows.append((f"c{c:03d}", date(2023 + m // 12, m % 12 + 1, 1), n, int(n > 2)))
    features = _features(rows).with_columns(
        web_form_count=pl.col("complaint_count") % 2,
        avg_days_to_resolve=pl.when(pl.col("complaint_count") > 1).then(
            pl.col("complaint_count") / 3
        ),
    )
    latest = features["month_start_date"].max()
    for horizon in (latest, date(2026, 3, 1)):
        expected = _reference_panel(features, horizon)
        assert_frame_equal(dataset.build_panel(features, horizon), expected)
    # chunks of customers give the rows of the whole
    whole = dataset.build_panel(features, latest)
    panel = dataset.build_panel(features.filter(pl.col("customer_id") < "c030"), latest)
    assert_frame_equal(panel, whole.filter(pl.col("customer_id") < "c030"))


def test_escalations_of_the_feature_month_are_not_a_feature() -> None:
    """A month-t escalation can be caused by a follow-up complaint in month t+1."""
    assert dataset.LABEL_SOURCE not in dataset.FEATURES


@pytest.mark.parametrize("test_months", [1, 2, 3])
def test_split_trains_only_on_labels_before_every_test_label(test_months: int) -> None:
    panel = dataset.build_panel(_random_features(seed=1))
    split = dataset.time_split(panel, test_months)
    train_labels = split.train[dataset.TARGET_MONTH]
    test_features = split.test["month_start_date"]
    test_labels = split.test[dataset.TARGET_MONTH]
    assert train_labels.max() <= test_features.min()
    assert train_labels.max() < test_labels.min()
    assert split.train["month_start_date"].max() < test_features.min()
    assert split.test[dataset.LABEL].is_not_null().all()
    assert split.train[dataset.LABEL].is_not_null().all()
    assert len(split.test_months) == test_months


def test_training_labels_do_not_change_when_test_months_change() -> None:
    """Rewriting everything after the last training label month leaves the training set as is."""
    features = _random_features(seed=2)
    split = dataset.time_split(dataset.build_panel(features), 3)
    last_train_label = split.train[dataset.TARGET_MONTH].max()
    later = pl.col("month_start_date") > last_train_label
    rewritten = features.with_columns(
        escalation_count=pl.when(later)
        .then(pl.col("complaint_count"))
        .otherwise(pl.col("escalation_count")),
        complaint_count=pl.when(later)
        .then(pl.col("complaint_count") + 7)
        .otherwise(pl.col("complaint_count")),
    )
    again = dataset.time_split(dataset.build_panel(rewritten), 3)
    assert_frame_equal(split.train.sort(dataset.KEY), again.train.sort(dataset.KEY))


def test_split_refuses_too_little_history() -> None:
    features = _features([("a", date(2025, 1, 1), 1, 0), ("a", date(2025, 2, 1), 1, 1)])
    with pytest.raises(ValueError, match="labelled months"):
        dataset.time_split(dataset.build_panel(features), 3)


def test_ranks_and_deciles_are_per_month_with_ties_broken_by_customer() -> None:
    frame = pl.DataFrame(
        {
            "customer_id": ["b", "a", "c", "d"],
            "month_start_date": [date(2025, 1, 1)] * 2 + [date(2025, 2, 1)] * 2,
        }
    )
    ranked = model.ranks(frame, np.array([0.5, 0.5, 0.1, 0.9]))
    assert ranked["risk_rank"].to_list() == [2, 1, 2, 1]
    assert ranked["risk_decile"].to_list() == [6, 1, 6, 1]


def test_top_decile_lift_of_a_perfect_score() -> None:
    frame = pl.DataFrame(
        {
            "customer_id": [f"c{i:02d}" for i in range(20)],
            "month_start_date": [date(2025, 1, 1)] * 20,
            dataset.LABEL: [True, True] + [False] * 18,
        }
    )
    metrics = model.evaluate(frame, np.array([1.0, 0.9] + [0.0] * 18))
    assert metrics["roc_auc"] == 1.0
    assert metrics["top_decile_precision"] == 1.0
    assert metrics["top_decile_lift"] == pytest.approx(10.0)
