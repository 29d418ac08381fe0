"""File sources in the source bucket (a local folder or ``s3://``) through fsspec.

Formats: ``csv`` (pandas-written, multiline quoted values), ``json_columns`` (pandas
``to_json()`` default layout), ``xlsx`` (first worksheet) and ``parquet``. The object is first
copied into the private staging folder while it is hashed, so the fingerprint always describes
exactly the bytes that were parsed, even if the source is overwritten meanwhile.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from coretelecoms.extract import formats
from coretelecoms.extract.base import (
    CHUNK,
    Extractor,
    SourceError,
    StagedSource,
    filesystem,
    join_uri,
    line_of_offset,
)

log = logging.getLogger(__name__)

FORMATS = ("csv", "json_columns", "xlsx", "parquet")


class S3Extractor(Extractor):
    """Extracts one object of the source bucket per logical date (or the static snapshot)."""

    name = "S3Extractor"

    def source_uri(self, logical_date: date) -> str:
        return join_uri(
            str(self.settings.source_uri), self.contract.source_name(logical_date.isoformat())
        )

    def fingerprint(self, logical_date: date) -> str | None:
        uri = self.source_uri(logical_date)
        fs = filesystem(self.settings, uri)
        digest = hashlib.sha256()
        try:
            with fs.open(uri, "rb", block_size=CHUNK) as fh:
                while chunk := fh.read(CHUNK):
                    digest.update(chunk)
        except FileNotFoundError:
            return None
        return digest.hexdigest()

    def stage(self, logical_date: date, workdir: Path) -> StagedSource | None:
        uri = self.source_uri(logical_date)
        fmt = self.contract.source_format
        if fmt not in FORMATS:
            raise ValueError(f"{self.name} cannot read format {fmt!r}; expected one of {FORMATS}")
        fs = filesystem(self.settings, uri)
        local = workdir / f"source.{fmt}"
        digest = hashlib.sha256()
        size = 0
        quotes = 0
        nul_at: int | None = None  # offset of the first NUL byte of a CSV
        try:
            with fs.open(uri, "rb", block_size=CHUNK) as src, local.open("wb") as dst:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    if fmt == "csv":
                        quotes += formats.count_quotes(chunk)
                        if nul_at is None and (found := chunk.find(b"\x00")) >= 0:
                            nul_at = size + found
                    size += len(chunk)
                    dst.write(chunk)
        except FileNotFoundError:
            log.info("%s: no source at %s", self.contract.entity, uri)
            return None
        fingerprint = digest.hexdigest()
        if size == 0:
            raise SourceError(uri, "empty file (0 bytes)")

        if fmt == "csv":
            columns = formats.read_csv_header(local, uri)
            if nul_at is not None:  # after the header check: UTF-16 is reported as not UTF-8
                raise SourceError(uri, formats.NUL_PROBLEM, line=line_of_offset(local, nul_at))
            if quotes % 2:
                raise formats.diagnose_csv(local, uri, len(columns), "odd number of quotes")
            return StagedSource(
                uri,
                fingerprint,
                size,
                columns,
                lambda: formats.csv_batches(local, uri, columns),
            )
        if fmt == "json_columns":
            columns, table = formats.json_columns_table(local, uri)
        elif fmt == "xlsx":
            rows = formats.xlsx_rows(local, uri, tab=None)
            if rows is None:  # pragma: no cover - first sheet always exists
                return None
            columns, table = formats.rows_table(rows, uri)
        else:
            columns, table = _parquet_table(local, uri)
        return StagedSource(uri, fingerprint, size, columns, lambda: iter(table.to_batches()))


def _parquet_table(path: Path, source_uri: str) -> tuple[list[str], pa.Table]:
    """A Parquet source with every column cast to text (nested columns are refused)."""
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise SourceError(source_uri, f"not a readable Parquet file ({exc})") from None
    columns = table.column_names
    formats.check_columns(source_uri, columns)
    try:
        cast = [table.column(i).cast(pa.string()) for i in range(table.num_columns)]
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SourceError(source_uri, f"column not representable as text ({exc})") from None
    return columns, pa.table(cast, names=columns)
