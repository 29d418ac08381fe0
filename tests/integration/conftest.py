"""A simulated gold warehouse shared by the risk model and report tests (built once per session,
only when a test asks for it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from simulated_pipeline import run_simulated_pipeline

from coretelecoms.config import Settings

# Six days at 0.5 % of the real volume: ~12.5 k customers and ~17 k complaints whose request
# dates span ten months. Complaints per customer (what the model learns from) depend on the
# number of days, not the scale, so this is the smallest run where the propensity shows.
SIM_DAYS, SIM_SCALE, SIM_SEED = 6, 0.005, 11


@dataclass(frozen=True)
class SimulatedGold:
    settings: Settings
    run_ids: list[str]


@pytest.fixture(scope="session")
def simulated_gold(
    make_database_session: Callable[..., str], tmp_path_factory: pytest.TempPathFactory
) -> SimulatedGold:
    settings = Settings(
        home=tmp_path_factory.mktemp("simulated_gold") / "home",
        pg_dsn=make_database_session("silver"),
        source_pg_dsn=make_database_session("source"),
    )
    run_ids = run_simulated_pipeline(settings, SIM_DAYS, SIM_SCALE, SIM_SEED)
    return SimulatedGold(settings, run_ids)
