"""Agents sheet snapshots: ~100 agents, ids from 1000 in no particular order, mixed-case levels.

A snapshot frame has the raw columns ``iD, NamE, experience, state`` plus ``_level`` (the
canonical experience level, ground truth only).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from coretelecoms.contracts.reference import EXPERIENCE_LEVELS, US_STATES
from coretelecoms.simulate import vocabulary as vocab
from coretelecoms.simulate.defects import DefectRates, defect_count
from coretelecoms.simulate.randomness import choice_idx, pick

RAW_COLUMNS = ("iD", "NamE", "experience", "state")
FIRST_AGENT_ID = 1000
_LEVEL_WEIGHTS = (0.15, 0.35, 0.3, 0.2)


def _agents(rng: np.random.Generator, ids: np.ndarray) -> pl.DataFrame:
    n = len(ids)
    first = pick(vocab.FIRST_NAMES, choice_idx(rng, n, len(vocab.FIRST_NAMES)))
    last = pick(vocab.LAST_NAMES, choice_idx(rng, n, len(vocab.LAST_NAMES)))
    level = pick(EXPERIENCE_LEVELS, choice_idx(rng, n, 4, _LEVEL_WEIGHTS))
    states = tuple(US_STATES.values())
    return pl.DataFrame(
        {
            "iD": pl.Series(ids, dtype=pl.Int64),
            "NamE": pl.DataFrame({"f": first, "l": last})
            .select(pl.concat_str([pl.col("f"), pl.col("l")], separator=" "))
            .to_series(),
            "state": pick(states, choice_idx(rng, n, len(states))),
            "_level": level,
            "_lower": pl.Series(rng.random(n) < 0.3),
        }
    ).with_columns(experience=_raw_experience())


def _raw_experience() -> pl.Expr:
    """The sheet's spelling: canonical, or lower-case for ~30% (``intern``/``Intern``)."""
    return (
        pl.when(pl.col("_lower"))
        .then(pl.col("_level").str.to_lowercase())
        .otherwise(pl.col("_level"))
    )


def generate_agents(rng: np.random.Generator, n: int) -> pl.DataFrame:
    """n agents with ids FIRST_AGENT_ID.. in shuffled sheet order."""
    ids = rng.permutation(np.arange(FIRST_AGENT_ID, FIRST_AGENT_ID + n))
    return _agents(rng, ids).select(*RAW_COLUMNS, "_level", "_lower")


def evolve_agents(
    rng: np.random.Generator, previous: pl.DataFrame, rates: DefectRates
) -> tuple[pl.DataFrame, dict[str, int]]:
    """The next sheet: ~``promotion`` of non-senior agents move up one level; new agents join
    with the next ids (inserted at random positions, the sheet stays unsorted)."""
    n = previous.height
    levels = previous["_level"].to_list()
    eligible = np.flatnonzero(previous["_level"].to_numpy() != EXPERIENCE_LEVELS[-1])
    k = min(len(eligible), defect_count(rates.promotion, n))
    promoted = rng.choice(eligible, size=k, replace=False)
    for row in promoted:  # ~10 rows of a 100-row sheet
        levels[row] = EXPERIENCE_LEVELS[EXPERIENCE_LEVELS.index(levels[row]) + 1]
    moved = previous.with_columns(_level=pl.Series(levels, dtype=pl.String)).with_columns(
        experience=_raw_experience()
    )
    start = int(previous["iD"].max()) + 1
    n_new = defect_count(rates.new_agents, n)
    newcomers = _agents(rng, np.arange(start, start + n_new)).select(moved.columns)
    frame = pl.concat([moved, newcomers], how="vertical")
    frame = frame[rng.permutation(frame.height)]
    return frame, {"promotions": k, "new_agents": n_new}
