"""Row hashes of a loaded static snapshot, so the next snapshot stages only what changed.

A new customers snapshot is 2.5 M rows of which a few thousand differ from the one loaded
before. Staging all of them costs a COPY and an index probe per row just to learn that
most are unchanged. Once a snapshot's load completes, the key and a hash of every clean row's
silver columns are written next to the lake (``<lake>/silver_state/<entity>/``). The next
snapshot's loader hashes its clean rows the same way and counts a row whose (key, hash) pair is
in the reference as unchanged without sending it to Postgres; every other row takes the usual
path (probe, compare, update or insert), so the database still decides what changed.

A hash match means "silver already holds exactly this row" only while silver holds what the
reference snapshot's load left there. :func:`reference_hashes` therefore uses the snapshot
loaded last, and none at all when another snapshot version committed batches after it (a load
that failed half-way changed some rows) or when the file is missing, unreadable or written by
another Polars version (``hash_rows`` is stable within a version only). Any doubt falls back
to comparing every row in Postgres, which gives the same silver and the same figures, slower.
"""

from __future__ import annotations

import logging

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


def row_hashes(contract: EntityContract, clean: pl.DataFrame) -> pl.DataFrame:
    """Key and 64-bit hash of the silver columns of each clean row (the one hash rule)."""
    return clean.select(
        pl.col(schema.key_column(contract)),
        clean.select(schema.data_columns(contract)).hash_rows(seed=0).alias(HASH),
    )


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
    settings: Settings, contract: EntityContract, source: SourceVersion, hashes: pl.DataFrame
) -> None:
    """Publish the row hashes of a completely loaded snapshot (temporary name, then rename) and
    drop the entity's older ones: only the snapshot loaded last is ever a reference."""
    from coretelecoms.extract.base import filesystem

    uri = state_uri(settings, contract, source.fingerprint)
    fs = filesystem(settings, uri)
    directory, name = uri.rsplit("/", 1)
    fs.makedirs(directory, exist_ok=True)
    tmp = f"{directory}/.{name}.tmp"
    with fs.open(tmp, "wb") as fh:
        hashes.write_parquet(fh, compression="lz4")
    fs.mv(tmp, uri)
    for path in fs.ls(directory, detail=False):
        if path.rsplit("/", 1)[-1] != name and path.endswith(".parquet"):
            fs.rm(path)


def reference_hashes(
    settings: Settings, dsn: str, contract: EntityContract, source: SourceVersion
) -> pl.DataFrame | None:
    """The row hashes silver can be trusted to hold for loading ``source``, or None.

    None when no other snapshot was loaded, when a version other than the reference and
    ``source`` committed batches after the reference finished, or when its file is missing.
    """
    from coretelecoms.extract.base import filesystem

    try:
        with connect(dsn) as conn:
            row = conn.execute(
                "select s.fingerprint, exists (select from ops.load_checkpoints c"
                " where c.entity = s.entity and c.source_fingerprint not in (s.fingerprint, %s)"
                " and c.committed_at >= s.loaded_at) from ops.source_snapshots s"
                " where s.entity = %s order by s.loaded_at desc, s.logical_date desc nulls last"
                " limit 1",
                [source.fingerprint, contract.entity],
            ).fetchone()
    except psycopg.Error as exc:
        raise classify(exc, f"reading source snapshots of {contract.entity}") from exc
    if row is None or row[0] == source.fingerprint:
        return None
    reference, overwritten = str(row[0]), bool(row[1])
    if overwritten:
        log.info(
            "%s: batches of another version committed after snapshot %s; comparing every row",
            contract.entity,
            reference[:12],
        )
        return None
    uri = state_uri(settings, contract, reference)
    fs = filesystem(settings, uri)
    if not fs.exists(uri):
        log.info("%s: no row hashes of snapshot %s; comparing every row", contract.entity, uri)
        return None
    with fs.open(uri, "rb") as fh:
        return pl.read_parquet(fh)
