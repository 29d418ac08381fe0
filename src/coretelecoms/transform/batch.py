"""The hand-over between the transform and the loader.

Kept in its own module so both sides (and their tests) depend on the shape, not on each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

REJECT_SCHEMA: dict[str, pl.DataType] = {
    "_source_row": pl.Int64(),
    "reason": pl.String(),
    "detail": pl.String(),
    "record": pl.String(),
}
ISSUE_SCHEMA: dict[str, pl.DataType] = {
    "_source_row": pl.Int64(),
    "natural_key": pl.String(),
    "field": pl.String(),
    "rule": pl.String(),
    "original_value": pl.String(),
    "cleaned_value": pl.String(),
}


@dataclass(frozen=True)
class SourceVersion:
    """One extracted version of a source for a logical date (what bronze holds)."""

    entity: str
    logical_date: date
    source_uri: str
    fingerprint: str
    bronze_path: str
    rows: int


@dataclass
class TransformedBatch:
    """A deterministic slice of a source version, cleaned and checked.

    ``rows_read == clean.height + rejects.height + duplicates``; the loader splits ``clean``
    further into loaded, unchanged and orphans (quarantined).
    """

    source: SourceVersion
    batch_no: int
    rows_read: int
    clean: pl.DataFrame
    rejects: pl.DataFrame
    issues: pl.DataFrame
    duplicates: int
    originals: pl.DataFrame
