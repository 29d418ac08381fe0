"""The DAG's refit policy: a model is kept for ``refit_days`` logical days while the horizon month
stays, and the choice depends on the logical date and the model's own record only."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from coretelecoms.config import Settings
from coretelecoms.risk.training import refit_reason

HORIZON = date(2025, 10, 1)
TRAINED = date(2025, 11, 20)
SAVED = {"trained_for": TRAINED.isoformat(), "horizon": HORIZON.isoformat()}


@pytest.mark.parametrize("age", [0, 1, 6])
def test_model_is_kept_within_the_window_and_the_same_horizon(age: int) -> None:
    assert refit_reason(SAVED, TRAINED + timedelta(days=age), HORIZON, 7) is None


@pytest.mark.parametrize("age", [7, 8, 40])
def test_model_is_refit_once_the_window_elapsed(age: int) -> None:
    reason = refit_reason(SAVED, TRAINED + timedelta(days=age), HORIZON, 7)
    assert reason == f"model trained for {TRAINED}, {age} days old"


def test_a_new_horizon_month_refits_at_once() -> None:
    reason = refit_reason(SAVED, TRAINED + timedelta(days=1), date(2025, 11, 1), 7)
    assert reason is not None and "horizon month" in reason


def test_rerunning_an_earlier_day_keeps_the_model() -> None:
    """A rerun or backfill of a day before the model's never moves the model back."""
    assert refit_reason(SAVED, TRAINED - timedelta(days=3), HORIZON, 7) is None


@pytest.mark.parametrize(
    ("saved", "logical_date", "expected"),
    [
        (None, TRAINED, "no model yet"),
        (SAVED, None, "no logical date"),
        ({**SAVED, "trained_for": None}, TRAINED, "the model records no training day"),
        ({"horizon": HORIZON.isoformat()}, TRAINED, "the model records no training day"),
    ],
    ids=["no-model", "outside-the-dag", "cli-trained", "older-code"],
)
def test_refit_without_a_model_or_a_day_to_age_it_by(saved, logical_date, expected) -> None:
    assert refit_reason(saved, logical_date, HORIZON, 7) == expected


def test_window_is_a_setting_of_seven_days_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().risk_refit_days == 7
    monkeypatch.setenv("CORETELECOMS_RISK_REFIT_DAYS", "1")
    days = Settings().risk_refit_days
    assert refit_reason(SAVED, TRAINED + timedelta(days=1), HORIZON, days) is not None
