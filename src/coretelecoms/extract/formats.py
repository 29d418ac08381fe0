"""Parsers from a staged source file to all-text Arrow record batches (no type inference).

Text rules (documented in docs/decisions/bronze-extraction.md):

- CSV written by pandas has no null marker, so an empty field is ``""``, never null.
- CSV streamed from Postgres (``COPY ... FORCE_QUOTE *``) quotes every non-null value, so an
  unquoted empty field is SQL NULL (null) and a quoted empty field is ``''``.
- JSON ``null`` stays null; numbers keep their exact source text (``007`` cannot occur in JSON,
  but ``1.50`` stays ``1.50``); booleans become ``true``/``false``.
- Spreadsheet cells: empty cells are ``""`` (the Sheets API cannot tell empty from ``''``).
- An empty header (the pandas index column of the call-log CSV) is kept as the column name ``""``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv

from coretelecoms.extract.base import CHUNK, SourceError, first_invalid_utf8, line_of_offset

CSV_BLOCK = 16 * 1024 * 1024
CSV_SEGMENT = 64 * 1024 * 1024
_HEADER_PROBE = 1024 * 1024
_BOM = "\ufeff"


def text_table(columns: list[str], data: list[list[str | None]]) -> pa.Table:
    """An all-text Arrow table from Python columns.

    Built through Polars: ``pa.array`` on a Python list imports pandas (~1 s per process).
    """
    if not columns:
        return pa.table({})
    arrays = [pl.Series(values, dtype=pl.String).to_arrow().cast(pa.string()) for values in data]
    return pa.Table.from_arrays(arrays, names=columns)


def check_columns(source_uri: str, columns: list[str]) -> None:
    seen: set[str] = set()
    for name in columns:
        if name in seen:
            raise SourceError(source_uri, f"duplicate column {name!r} in header", line=1)
        seen.add(name)


def read_csv_header(path: Path, source_uri: str) -> list[str]:
    """The header record of a staged CSV file.

    Raises:
        SourceError: the file is empty, has no header, or its header is not UTF-8.
    """
    with path.open("rb") as fh:
        head = fh.read(_HEADER_PROBE)
    if not head.strip():
        raise SourceError(source_uri, "empty file (no header, no rows)")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a multibyte character cut by the probe
            raise SourceError(
                source_uri, "not UTF-8 encoded", line=head.count(b"\n", 0, exc.start) + 1
            ) from None
        text = head[: exc.start].decode("utf-8")
    text = text.removeprefix(_BOM)
    header = next(csv.reader(io.StringIO(text, newline="")), None)
    if not header:
        raise SourceError(source_uri, "empty file (no header)", line=1)
    check_columns(source_uri, header)
    return header


def unclosed_quote_line(path: Path) -> int | None:
    """First physical line of the record whose quotes never balance, or None (error path only).

    Splits records the way :func:`record_segments` does (a newline ends a record when the count
    of ``"`` before it is even), so it names the record that split would swallow to the end of
    the file: an opening quote that never closes, or a lone quote inside an unquoted value.
    """
    parity = 0
    line = start = 1
    with path.open("rb") as fh:
        for raw in fh:
            if parity == 0:
                start = line
            parity = (parity + raw.count(b'"')) % 2
            line += 1
    return start if parity else None


def diagnose_csv(path: Path, source_uri: str, columns: int, cause: str) -> SourceError:
    """Find the first broken record of a staged CSV (error path only) and describe it."""
    bad = first_invalid_utf8(path)
    if bad is not None:
        return SourceError(source_uri, "not UTF-8 encoded", line=line_of_offset(path, bad))
    unclosed = unclosed_quote_line(path)
    if unclosed is not None:
        return SourceError(
            source_uri,
            "unbalanced quote: the quotes of the record starting here never close",
            line=unclosed,
        )
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, strict=True)
        start = 1
        try:
            for record in reader:
                if record and len(record) != columns:
                    return SourceError(
                        source_uri,
                        f"ragged row: expected {columns} fields, got {len(record)}",
                        line=start,
                    )
                start = reader.line_num + 1
        except csv.Error as exc:
            return SourceError(source_uri, f"malformed CSV ({exc}) in the record", line=start)
    return SourceError(source_uri, f"malformed CSV: {cause}")


def record_segments(path: Path, target: int = CSV_SEGMENT) -> Iterator[tuple[int, int]]:
    """Split a staged CSV into byte ranges that end on record boundaries.

    The first range is the header record; the others are about ``target`` bytes. A newline
    ends a record exactly when the number of ``"`` before it is even (quoted fields, and the
    doubled quotes inside them, always hold an even number), so the split needs no parsing.
    Callers must have checked that the file's quote count is even.
    """
    start = 0  # first byte of the range being built
    offset = 0  # file offset of the current chunk
    quotes = 0  # quotes before the current chunk
    header = True
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            counted, parity = 0, quotes % 2  # parity of quotes before chunk[counted]
            search = 0 if header else max(0, start + target - offset)
            while search < len(chunk) and (nl := chunk.find(b"\n", search)) >= 0:
                parity = (parity + chunk.count(b'"', counted, nl)) % 2
                counted = nl
                if parity == 0:
                    yield start, offset + nl + 1
                    start = offset + nl + 1
                    header = False
                    search = max(nl + 1, start + target - offset)
                else:
                    search = nl + 1
            quotes += chunk.count(b'"')
            offset += len(chunk)
    if offset > start:
        yield start, offset


def csv_batches(
    path: Path, source_uri: str, columns: list[str], *, sql_nulls: bool = False
) -> Iterator[pa.RecordBatch]:
    """Stream a staged CSV (multiline quoted values allowed) as all-text record batches.

    The file is parsed one record-aligned segment (~64 MB) at a time, so memory stays bounded
    whatever the file size (pyarrow's own streaming reader reads a local file ahead whole).
    ``sql_nulls``: unquoted empty fields are null (Postgres ``COPY ... FORCE_QUOTE *``);
    otherwise every empty field is ``""``. The header (first record) is skipped: ``columns``
    come from :func:`read_csv_header`.

    Raises:
        SourceError: ragged row, unbalanced quote, invalid UTF-8 (with the line).
    """
    read = pacsv.ReadOptions(column_names=columns, block_size=CSV_BLOCK, use_threads=True)
    parse = pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=True)
    convert = pacsv.ConvertOptions(
        column_types={c: pa.string() for c in columns},
        strings_can_be_null=sql_nulls,
        null_values=[""],
        quoted_strings_can_be_null=False,
    )
    segments = record_segments(path)
    next(segments, None)  # the header record
    with path.open("rb") as fh:
        for start, end in segments:
            fh.seek(start)
            data = fh.read(end - start)
            try:
                table = pacsv.read_csv(
                    pa.py_buffer(data),
                    read_options=read,
                    parse_options=parse,
                    convert_options=convert,
                )
            except pa.ArrowInvalid as exc:
                raise diagnose_csv(path, source_uri, len(columns), str(exc)) from None
            del data
            yield from table.to_batches()


def count_quotes(chunk: bytes) -> int:
    return chunk.count(b'"')


NUL_PROBLEM = "NUL byte (binary data, or a partially written file padded with zeros)"


# --------------------------------------------------------------------------------------------
# JSON (pandas ``to_json()`` default, column-oriented)


def _json_text(value: Any, source_uri: str, column: str) -> str | None:
    if value is None:
        return value
    if isinstance(value, str):
        if "\x00" in value:  # an escaped \u0000: Postgres text cannot hold it either
            raise SourceError(source_uri, f"column {column!r} holds a {NUL_PROBLEM}")
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    raise SourceError(
        source_uri, f"column {column!r} holds a nested {type(value).__name__}, not a scalar"
    )


def json_columns_table(path: Path, source_uri: str) -> tuple[list[str], pa.Table]:
    """Parse pandas' column-oriented JSON ``{col: {"0": v, ...}}`` into an all-text table.

    Rows follow the order of the row keys in the first column; every column must have exactly
    the same row keys. The file is read whole: the layout stores each column contiguously, so
    a row cannot be assembled before the last column is read (daily files are a few MB).

    Raises:
        SourceError: empty file, invalid JSON or UTF-8 (with the line), or another layout.
    """
    raw = path.read_bytes()
    if not raw.strip():
        raise SourceError(source_uri, "empty file")
    try:
        text = raw.decode("utf-8-sig")  # a leading BOM is an encoding marker, not content
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise SourceError(source_uri, "not UTF-8 encoded", line=line) from None
    try:
        doc = json.loads(text, parse_int=str, parse_float=str, parse_constant=str)
    except json.JSONDecodeError as exc:
        raise SourceError(source_uri, f"invalid JSON: {exc.msg}", line=exc.lineno) from None
    expected = 'column-oriented {"column": {"0": value, ...}}'
    if not isinstance(doc, dict):
        raise SourceError(source_uri, f"top level is a {type(doc).__name__}; expected {expected}")
    columns = list(doc)
    check_columns(source_uri, columns)
    keys: list[str] | None = None
    data: list[list[str | None]] = []
    for column in columns:
        cells = doc[column]
        if not isinstance(cells, dict):
            raise SourceError(
                source_uri,
                f"column {column!r} is a {type(cells).__name__}; expected {expected}",
            )
        if keys is None:
            keys = list(cells)
            if not all(k.isdigit() for k in keys):
                raise SourceError(source_uri, f"row keys of {column!r} are not row indexes")
        elif len(cells) != len(keys) or cells.keys() != set(keys):
            raise SourceError(source_uri, f"column {column!r} has different row keys")
        data.append([_json_text(cells[k], source_uri, column) for k in keys])
    return columns, text_table(columns, data)


# --------------------------------------------------------------------------------------------
# spreadsheets (rows of cells)


def cell_text(value: Any) -> str:
    """A spreadsheet cell as the text a person sees (what the Sheets API formats by default)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def rows_table(rows: list[list[str]], source_uri: str) -> tuple[list[str], pa.Table]:
    """First row = header; the rest padded with ``""`` to the header width.

    Blank rows (every cell empty or whitespace) are skipped, like blank lines of a CSV: a
    person leaves them between groups of rows, they are not records (the Sheets API drops
    trailing ones anyway).

    Raises:
        SourceError: no header, duplicate headers, or a row wider than the header.
    """
    while rows and not any(rows[-1]):
        rows.pop()
    if not rows:
        raise SourceError(source_uri, "empty sheet (no header row)")
    header = list(rows[0])
    while header and header[-1] == "":
        header.pop()
    check_columns(source_uri, header)
    width = len(header)
    body: list[list[str]] = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue  # a blank row separates rows in a sheet; it is not a record
        if len(row) > width and any(row[width:]):
            raise SourceError(
                source_uri, f"row has {len(row)} cells, header has {width}", line=number
            )
        body.append(list(row[:width]) + [""] * (width - len(row)))
    return header, text_table(header, [[r[i] for r in body] for i in range(width)])


def normalise_rows(rows: list[list[str]]) -> list[list[str]]:
    """Drop trailing empty cells of each row and trailing empty rows.

    The Sheets API omits them and an .xlsx may keep them, so both paths agree after this.
    """
    out = []
    for row in rows:
        end = len(row)
        while end and row[end - 1] == "":
            end -= 1
        out.append(list(row[:end]))
    while out and not out[-1]:
        out.pop()
    return out


def canonical_rows_bytes(rows: list[list[str]]) -> bytes:
    """Stable serialisation of sheet rows: what the sheet fingerprint hashes."""
    return json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def xlsx_rows(path: Path, source_uri: str, tab: str | None) -> list[list[str]] | None:
    """All rows of one worksheet (``tab``; the first one when None) as display text.

    Returns None when the workbook has no such tab (the source is "not there yet").

    Raises:
        SourceError: the file is empty or not an .xlsx workbook.
    """
    import zipfile

    import openpyxl

    if path.stat().st_size == 0:
        raise SourceError(source_uri, "empty file")
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise SourceError(source_uri, f"not a readable .xlsx workbook ({exc})") from None
    try:
        if tab is None:
            sheet = book.worksheets[0]
        elif tab in book.sheetnames:
            sheet = book[tab]
        else:
            return None
        return [[cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    finally:
        book.close()
