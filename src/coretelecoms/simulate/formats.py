"""Serialisers that reproduce the exact bytes the real sources' producers wrote.

- CSV as ``pandas.DataFrame.to_csv`` writes it: ``,`` separator, ``\\n`` line ends, fields quoted
  only when they contain a separator, quote or line break, missing values and empty strings
  written as nothing (unquoted), an optional row-index column with an empty header.
- JSON as ``pandas.DataFrame.to_json()`` writes it: column-oriented
  ``{"col":{"<index>":value,...},...}``, string keys, ``/`` escaped as ``\\/``, ``null``.
- XLSX through openpyxl, made reproducible: fixed document dates and zip entry timestamps.
- Postgres tables loaded with ``COPY`` (text format).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from typing import BinaryIO

import numpy as np
import polars as pl
import psycopg
from psycopg import sql

_FIXED_TIME = dt.datetime(2025, 1, 1, 0, 0, 0)
_ZIP_TIME = (2025, 1, 1, 0, 0, 0)


def _csv_field(value: str) -> str:
    if any(ch in value for ch in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value


def csv_bytes(
    frame: pl.DataFrame, index: np.ndarray | None = None, index_header: str = ""
) -> bytes:
    """pandas-compatible CSV bytes of ``frame`` (see :func:`write_csv`)."""
    out = io.BytesIO()
    write_csv(frame, out, index, index_header)
    return out.getvalue()


def write_csv(
    frame: pl.DataFrame,
    sink: BinaryIO,
    index: np.ndarray | None = None,
    index_header: str = "",
) -> None:
    """pandas-compatible CSV of ``frame`` (with a leading index column when ``index`` is given).

    Polars quotes empty strings and the empty header, pandas does not; so empty strings become
    nulls (written identically by pandas) and the header is written here.
    """
    columns = list(frame.columns)
    body = frame.with_columns(
        pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c)
        for c, t in frame.schema.items()
        if t == pl.String
    )
    header = [_csv_field(c) for c in columns]
    if index is not None:
        body = body.select(pl.Series("__index", index, dtype=pl.Int64), pl.all())
        header = [_csv_field(index_header), *header]
    sink.write((",".join(header) + "\n").encode())
    body.write_csv(sink, include_header=False, quote_style="necessary", line_terminator="\n")


def _json_value(column: str, dtype: pl.DataType) -> pl.Expr:
    col = pl.col(column)
    if dtype == pl.String:
        escaped = (
            col.str.replace_all("\\", "\\\\", literal=True)
            .str.replace_all('"', '\\"', literal=True)
            .str.replace_all("/", "\\/", literal=True)
            .str.replace_all("\n", "\\n", literal=True)
            .str.replace_all("\r", "\\r", literal=True)
            .str.replace_all("\t", "\\t", literal=True)
        )
        text = pl.concat_str([pl.lit('"'), escaped, pl.lit('"')])
    else:
        text = col.cast(pl.String)
    return text.fill_null(pl.lit("null"))


def json_columns_bytes(frame: pl.DataFrame, index: np.ndarray) -> bytes:
    """pandas ``to_json()`` (orient="columns") bytes of ``frame`` indexed by ``index``.

    Values must be ASCII (pandas escapes other characters as ``\\uXXXX``; not needed here).
    Quotes, backslashes, ``/`` and line breaks/tabs are escaped as pandas does.
    """
    keys = pl.Series("__key", index, dtype=pl.Int64).cast(pl.String)
    with_keys = frame.with_columns(keys)
    parts = []
    for column, dtype in frame.schema.items():
        body = with_keys.select(
            pl.concat_str(
                [pl.lit('"'), pl.col("__key"), pl.lit('":'), _json_value(column, dtype)]
            ).str.join(",")
        ).item()
        name = json.dumps(column).replace("/", "\\/")
        parts.append(f"{name}:{{{body or ''}}}")
    return ("{" + ",".join(parts) + "}").encode("ascii")


def xlsx_bytes(frame: pl.DataFrame, sheet: str) -> bytes:
    """A one-sheet workbook with ``frame`` (header row first); byte-identical for equal input.

    openpyxl stamps the current time into docProps/core.xml and zipfile stamps every entry, so
    the document dates are fixed and the archive is rewritten with fixed entry times.
    """
    from openpyxl import Workbook
    from openpyxl.writer.excel import ExcelWriter

    book = Workbook()
    ws = book.active
    ws.title = sheet
    ws.append(list(frame.columns))
    for row in frame.iter_rows():  # ~100 rows: the sheet is tiny
        ws.append(list(row))
    book.properties.created = _FIXED_TIME
    book.properties.modified = _FIXED_TIME
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(book, archive).save()
    fixed = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(raw.getvalue())) as src,
        zipfile.ZipFile(fixed, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            dst.writestr(entry, src.read(info.filename))
    return fixed.getvalue()


def copy_table(
    dsn: str,
    *,
    schema: str,
    table: str,
    frame: pl.DataFrame,
    index: np.ndarray,
    index_column: str,
    integer_columns: tuple[str, ...] = (),
) -> None:
    """(Re)create ``schema.table`` as the source system would have it and COPY the rows in.

    Columns are text except the index column and ``integer_columns`` (bigint), like a pandas
    ``to_sql`` of the day's frame. Drop, create and COPY run in one transaction, so a reader sees
    either the old table or the complete new one. Values must not contain tabs, newlines or
    backslashes (COPY text format).
    """
    columns = [index_column, *frame.columns]
    types = {c: "bigint" if c in (index_column, *integer_columns) else "text" for c in columns}
    target = sql.Identifier(schema, table)
    ddl = sql.SQL("create table {} ({})").format(
        target,
        sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(types[c])) for c in columns
        ),
    )
    body = frame.select(pl.Series(index_column, index, dtype=pl.Int64), pl.all())
    buffer = io.BytesIO()
    body.write_csv(
        buffer, include_header=False, separator="\t", null_value="\\N", quote_style="never"
    )
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
        cur.execute(sql.SQL("drop table if exists {}").format(target))
        cur.execute(ddl)
        copy_sql = sql.SQL("copy {} ({}) from stdin").format(
            target, sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        )
        with cur.copy(copy_sql) as copy:
            data = buffer.getvalue()
            chunk = 1 << 22
            for start in range(0, len(data), chunk):
                copy.write(data[start : start + chunk])
