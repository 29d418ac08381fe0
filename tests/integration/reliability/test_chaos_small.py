"""The crash-anywhere harness, small: one simulated day at a tiny scale, the pipeline killed with
SIGKILL twice (in a load task, where the transform streams into the loader, and in
dbt_build), then rerun until it succeeds; silver,
gold and the lake must equal a clean run's. ``make chaos`` runs the full version (20+ kills
over four days)."""

from __future__ import annotations

from pathlib import Path

import pytest

from coretelecoms.reliability.chaos import run_chaos

pytestmark = [pytest.mark.slow, pytest.mark.chaos]


def test_kill_9_anywhere_then_rerun_equals_a_clean_run(tmp_path: Path) -> None:
    result = run_chaos(
        root=tmp_path / "chaos", days=1, kills=2, scale=0.001, seed=3, echo=lambda *_: None
    )
    assert result["kills_landed"] == 2, result["trials"]
    assert result["trials_passed"] == result["trials_total"], result["day_results"]
    assert result["days_identical"] == 1, result["day_results"]
