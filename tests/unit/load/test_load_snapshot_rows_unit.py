"""Row hashes of static snapshots: one hash per row, looked up by binary search."""

from __future__ import annotations

import numpy as np
import polars as pl

from coretelecoms.contracts import AGENTS
from coretelecoms.load.snapshot_rows import KnownRows, row_hashes


def agents(experience: str = "Junior") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "agent_id": pl.Series([1000, 1001], dtype=pl.Int32),
            "name": ["Bo", "Al"],
            "experience": [experience, "Senior"],
            "state": ["Ohio", None],
            "_source_row": [0, 1],
        }
    )


def test_row_hash_ignores_lineage_and_changes_with_any_silver_value() -> None:
    base = row_hashes(AGENTS, agents())
    assert base.to_list() == row_hashes(AGENTS, agents().with_columns(_source_row=[7, 8])).to_list()
    changed = row_hashes(AGENTS, agents("Senior")).to_list()
    assert changed[0] != base[0] and changed[1] == base[1]


def test_known_rows_finds_exactly_the_stored_hashes() -> None:
    known = KnownRows("s1", np.array([3, 10, 2**63 + 5], dtype=np.uint64))
    probe = pl.Series([0, 3, 4, 10, 11, 2**63 + 5, 2**64 - 1], dtype=pl.UInt64)
    assert known.contains(probe).tolist() == [False, True, False, True, False, True, False]
    empty = KnownRows("s0", np.array([], dtype=np.uint64))
    assert empty.contains(probe).tolist() == [False] * 7
