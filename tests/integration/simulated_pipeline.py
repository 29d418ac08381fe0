"""Runs the pipeline's task functions (no Airflow) over a few simulated days: the shortest way to
a real gold warehouse for the risk model and the report tests."""

from __future__ import annotations

from datetime import date, timedelta

from coretelecoms.config import Settings
from coretelecoms.pipeline import tasks

START = date(2025, 11, 20)


def run_simulated_pipeline(settings: Settings, days: int, scale: float, seed: int) -> list[str]:
    """Simulate ``days`` days, load each into silver, then build the warehouse once (the
    warehouse load moves everything past its watermark, so one build equals one per day).
    Returns the run ids, oldest first."""
    from coretelecoms.simulate import publish_as_of, simulate

    simulate(settings, START, days, scale, seed)
    tasks.ensure_schema(settings)
    run_ids = []
    for offset in range(days):
        day = START + timedelta(days=offset)
        run_id = f"test__{day.isoformat()}"
        publish_as_of(settings, day)
        for entity in tasks.entities_for(None):
            if tasks.extract(settings, entity, day, run_id)["status"] != tasks.NO_DATA:
                tasks.load(settings, entity, day, run_id)
        tasks.release_quarantine(settings, day, run_id)
        run_ids.append(run_id)
    tasks.load_warehouse(settings, day, run_ids[-1])
    tasks.build_warehouse(settings, day, run_ids[-1])
    return run_ids
