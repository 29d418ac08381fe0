"""Load state: which batches of which source version are committed, and which static snapshot
was loaded last. Both live in Postgres, written in the same transactions as the rows they
describe, so they can never disagree with the data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psycopg

from coretelecoms.load.errors import classify
from coretelecoms.postgres import connect

# Reconciliation figures, under the keys operators and ``status --json`` use:
# read = loaded + unchanged + quarantined + duplicates.
FIGURE_KEYS = ("read", "loaded", "unchanged", "quarantined", "duplicates")


def figures_of(obj: Any) -> dict[str, int]:
    """The reconciliation figures of anything that has them as attributes."""
    return {key: int(getattr(obj, key)) for key in FIGURE_KEYS}


def is_balanced(figures: Mapping[str, int]) -> bool:
    """Every row read is accounted for: loaded, unchanged, quarantined or a dropped duplicate."""
    return figures["read"] == sum(figures[key] for key in FIGURE_KEYS[1:])


@dataclass(frozen=True)
class LoadState:
    """Committed progress of one source version (entity + fingerprint).

    ``last_batch`` is None when nothing is committed yet; ``next_batch`` is the first batch
    number not committed (batches are numbered from 0). The two differ after a crash of a load
    that applied batches concurrently (``Loader`` with several connections): batch 5 may have
    committed while batch 4 had not, so a resume starts at 4 and skips 5 by its checkpoint.
    The figures are sums over the committed batches.
    """

    entity: str
    source_fingerprint: str
    last_batch: int | None = None
    next_batch: int = 0
    batches: int = 0
    read: int = 0
    loaded: int = 0
    unchanged: int = 0
    quarantined: int = 0
    duplicates: int = 0

    def figures(self) -> dict[str, int]:
        """Reconciliation figures under the keys operators and ``status --json`` use."""
        return figures_of(self)


# ``first_missing``: 0 unless batch 0 is committed, else the lowest committed batch whose
# successor is not (the checkpoints' primary key starts with entity, fingerprint, batch_no).
_STATE_SQL = (
    "with c as (select * from ops.load_checkpoints where entity = %(entity)s"
    " and source_fingerprint = %(fingerprint)s)"
    " select max(batch_no),"
    " coalesce((select min(c.batch_no) + 1 from c where not exists (select from c n"
    " where n.batch_no = c.batch_no + 1) and exists (select from c z where z.batch_no = 0)), 0),"
    " count(*), coalesce(sum(rows_read), 0), coalesce(sum(rows_loaded), 0),"
    " coalesce(sum(rows_unchanged), 0), coalesce(sum(rows_quarantined), 0),"
    " coalesce(sum(rows_duplicates), 0) from c"
)


def read_state(conn: psycopg.Connection, entity: str, fingerprint: str) -> LoadState:
    """``LoadState`` read on an open connection (inside the caller's transaction)."""
    row = conn.execute(_STATE_SQL, {"entity": entity, "fingerprint": fingerprint}).fetchone()
    assert row is not None
    last, first_missing, batches, *figures = row
    return LoadState(
        entity, fingerprint, last, int(first_missing), int(batches), *(int(f) for f in figures)
    )


class StateLoader:
    """Reads committed load state; the DAG uses it to skip batches a crashed attempt committed."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    def last_committed(self, entity: str, fingerprint: str) -> LoadState:
        """State of ``entity``'s source version ``fingerprint`` (empty when never loaded).

        Raises ``TransientLoadError`` when the database is unreachable.
        """
        try:
            with connect(self.dsn) as conn:
                return read_state(conn, entity, fingerprint)
        except psycopg.Error as exc:
            raise classify(exc, f"reading load state of {entity} {fingerprint}") from exc

    def last_snapshot(self, entity: str) -> str | None:
        """Fingerprint of the static snapshot of ``entity`` loaded last, or None."""
        try:
            with connect(self.dsn) as conn:
                row = conn.execute(
                    "select fingerprint from ops.source_snapshots where entity = %s"
                    " order by loaded_at desc, logical_date desc nulls last limit 1",
                    [entity],
                ).fetchone()
        except psycopg.Error as exc:
            raise classify(exc, f"reading source snapshots of {entity}") from exc
        return None if row is None else str(row[0])


def static_source_changed(dsn: str, entity: str, fingerprint: str) -> bool:
    """True when ``fingerprint`` differs from the last loaded snapshot of ``entity`` (or none was
    loaded): the DAG's branch between loading a static source and skipping it."""
    return StateLoader(dsn).last_snapshot(entity) != fingerprint
