"""Row hashes of a loaded static snapshot, so the next snapshot stages only what changed.

A new customers snapshot is 2.5 M rows of which a few thousand differ from the one loaded
before. Staging all of them costs a COPY and an index probe per row just to learn that
most are unchanged. Once a snapshot's load completes, a hash of every clean row's silver
columns (the key included) is written to the lake (``<lake>/silver_state/<entity>/``).
The next snapshot's loader hashes its clean rows the same way and counts a row whose hash is in
the reference as unchanged without sending it to Postgres; every other row takes the usual path
(probe, compare, update or insert), so the database still decides what changed. The reference
is held as one sorted ``uint64`` array (20 MB for 2.5 M customers) and each batch is looked up
with a binary search, so no hash table of the whole snapshot is rebuilt per batch. A changed
row is wrongly skipped only if its 64-bit hash equals one of the reference's: about 1e-13 per
changed row at 2.5 M customers.

A hash match means "silver already holds exactly this row" only while silver holds what the
reference snapshot's load left there. :func:`reference_hashes` therefore uses the version whose
batch committed last, and only when its file exists: a file is written only by a load that ran
completely in one go, so a version that failed half-way or was resumed has none; nor when the
file was written by another Polars version (``hash_rows`` is stable within a version only; the
version is in the name).
Any doubt falls back to comparing every row in Postgres: the same silver and figures, slower.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import polars as pl
import psycopg

from coretelecoms.config import Settings
from coretelecoms.contracts import EntityContract
from coretelecoms.load import schema
from coretelecoms.load.errors import classify
from coretelecoms.postgres import connect
from coretelecoms.transform.batch import SourceVersion

log = logging.getLogger(__name__)

HASH = "_row_hash"


def row_hashes(contract: EntityContract, clean: pl.DataFrame) -> pl.Series:
    """64-bit hash of the silver columns (key included) of each clean row: the one hash rule."""
    return clean.select(schema.data_columns(contract)).hash_rows(seed=0).alias(HASH)


@dataclass(frozen=True)
class KnownRows:
    """Row hashes of the snapshot ``fingerprint`` that silver holds, sorted for binary search."""

    fingerprint: str
    hashes: np.ndarray

    def contains(self, hashes: pl.Series) -> np.ndarray:
        """Per hash, whether the reference holds it (vectorised binary search)."""
        values = hashes.to_numpy()
        if self.hashes.size == 0:
            return np.zeros(values.shape, dtype=bool)
        at = np.searchsorted(self.hashes, values).clip(max=self.hashes.size - 1)
        return self.hashes[at] == values


def state_uri(settings: Settings, contract: EntityContract, fingerprint: str) -> str:
    """Where the row hashes of one snapshot version live (tagged with the Polars version)."""
    from coretelecoms.extract.base import join_uri

    return join_uri(
        str(settings.lake_uri),
        "silver_state",
        contract.entity,
        f"{fingerprint}-polars{pl.__version__}.parquet",
    )


def write_hashes(
    settings: Settings, contract: EntityContract, source: SourceVersion, hashes: pl.Series
) -> None:
    """Publish the row hashes of a completely loaded snapshot (temporary name, then rename) and
    drop the entity's older ones: only the snapshot loaded last is ever a reference.

    Best effort: the load has committed, so a storage error is logged, not raised (the next
    snapshot then compares every row).
    """
    from coretelecoms.extract.base import filesystem

    uri = state_uri(settings, contract, source.fingerprint)
    try:
        fs = filesystem(settings, uri)
        directory, name = uri.rsplit("/", 1)
        fs.makedirs(directory, exist_ok=True)
        tmp = f"{directory}/.{name}.tmp"
        with fs.open(tmp, "wb") as fh:
            hashes.sort().to_frame(HASH).write_parquet(fh)
        fs.mv(tmp, uri)
        for path in fs.ls(directory, detail=False):
            if path.rsplit("/", 1)[-1] != name and path.endswith(".parquet"):
                fs.rm(path)
    except Exception:  # silver has committed: an optimisation must not fail the load
        log.warning("%s: could not write row hashes %s", contract.entity, uri, exc_info=True)


def reference(conn: psycopg.Connection, entity: str, current: str) -> str | None:
    """Fingerprint of the snapshot silver can be trusted to hold while loading ``current``.

    The version other than ``current`` whose batch committed last: after that commit only
    ``current`` (resuming, with other keys) changed the entity. Ordering by commits, not by
    ``ops.source_snapshots.loaded_at``, matters: rerunning an older, already loaded version
    commits nothing but would move its ``loaded_at`` past newer data. A version that failed
    half-way or was resumed is found the same way and has no hash file (only a load that ran
    completely in one go writes one), so the caller compares every row.
    """
    row = conn.execute(
        "select source_fingerprint from ops.load_checkpoints"
        " where entity = %s and source_fingerprint <> %s"
        " order by committed_at desc, batch_no desc limit 1",
        [entity, current],
    ).fetchone()
    return None if row is None else str(row[0])


def reference_hashes(
    settings: Settings, dsn: str, contract: EntityContract, source: SourceVersion
) -> KnownRows | None:
    """The row hashes of :func:`reference` for loading ``source``, or None (also when its file
    is missing). The loader checks the reference again under the entity's lock."""
    from coretelecoms.extract.base import filesystem

    try:
        with connect(dsn) as conn:
            fingerprint = reference(conn, contract.entity, source.fingerprint)
    except psycopg.Error as exc:
        raise classify(exc, f"reading source snapshots of {contract.entity}") from exc
    if fingerprint is None:
        return None
    uri = state_uri(settings, contract, fingerprint)
    try:
        fs = filesystem(settings, uri)
        if not fs.exists(uri):
            log.info("%s: no row hashes at %s; comparing every row", contract.entity, uri)
            return None
        with fs.open(uri, "rb") as fh:
            hashes = pl.read_parquet(fh).get_column(HASH).sort()
    except (OSError, pl.exceptions.PolarsError):
        # An optimisation must not block a load: a retry would fail the same way.
        log.warning("%s: cannot read row hashes %s; comparing every row", contract.entity, uri)
        return None
    return KnownRows(fingerprint, hashes.to_numpy())
