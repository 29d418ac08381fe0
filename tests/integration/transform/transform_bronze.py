"""Build bronze Parquet files for the transform tests (raw headers, all text, 1-based
``_source_row``), on a local lake or on S3."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import fsspec
import polars as pl

from coretelecoms.config import Settings
from coretelecoms.contracts import get_contract
from coretelecoms.transform.batch import SourceVersion

DAY = date(2025, 11, 20)


def write_bronze_file(
    settings: Settings,
    entity: str,
    rows: list[dict[str, str | None]],
    *,
    logical_date: date = DAY,
    extra_columns: dict[str, list[str | None]] | None = None,
    drop: tuple[str, ...] = (),
    row_group_size: int | None = None,
) -> SourceVersion:
    """Write rows (raw header -> text) as a bronze Parquet file and describe it."""
    contract = get_contract(entity)
    columns = [*contract.index_columns[:1], *contract.raw_columns]
    frame = pl.DataFrame(
        [{c: row.get(c) for c in columns} for row in rows],
        schema=dict.fromkeys(columns, pl.String),
    )
    for name, values in (extra_columns or {}).items():
        frame = frame.with_columns(pl.Series(name, values, dtype=pl.String))
    frame = frame.drop(list(drop)).with_columns(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("_source_row")
    )
    content = frame.write_csv().encode()
    fingerprint = hashlib.sha256(content).hexdigest()
    partition = f"{settings.lake_uri}/bronze/{entity}/ingest_date={logical_date}"
    uri = f"{partition}/part-{fingerprint[:12]}.parquet"
    if uri.startswith("s3://"):
        fs = fsspec.filesystem("s3", **settings.storage_options())
        with fs.open(uri, "wb") as fh:
            frame.write_parquet(fh, row_group_size=row_group_size)
    else:
        Path(uri).parent.mkdir(parents=True, exist_ok=True)
        frame.write_parquet(uri, row_group_size=row_group_size)
    return SourceVersion(
        entity=entity,
        logical_date=logical_date,
        source_uri=f"test://{entity}/{logical_date}",
        fingerprint=fingerprint,
        bronze_path=uri,
        rows=frame.height,
    )
