"""Parsers from staged files to all-text Arrow: fidelity of values and clear errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coretelecoms.extract import SourceError, formats

TRICKY = ["007", "a\nb", 'say "hi"', "Zoë 東京 🚀", "", "x,y", "line1\r\nline2", " padded "]


def _write(tmp_path: Path, data: bytes, name: str = "src.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _csv_rows(path: Path, columns: list[str], uri: str = "uri", **kw: bool) -> list[dict]:
    return pa.Table.from_batches(
        list(formats.csv_batches(path, uri, columns, **kw)),
        schema=pa.schema([(c, pa.string()) for c in columns]),
    ).to_pylist()


def test_csv_tricky_values_round_trip_byte_for_byte(tmp_path: Path) -> None:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["", "value"])
    for i, value in enumerate(TRICKY):
        writer.writerow([i, value])
    path = _write(tmp_path, buf.getvalue().encode())
    columns = formats.read_csv_header(path, "uri")
    assert columns == ["", "value"]
    rows = _csv_rows(path, columns)
    assert [r["value"] for r in rows] == TRICKY
    assert [r[""] for r in rows] == [str(i) for i in range(len(TRICKY))]


def test_csv_empty_field_is_empty_string_not_null(tmp_path: Path) -> None:
    path = _write(tmp_path, b'a,b,c\n,,""\n')
    assert _csv_rows(path, ["a", "b", "c"]) == [{"a": "", "b": "", "c": ""}]


def test_csv_sql_nulls_distinguish_null_from_empty_string(tmp_path: Path) -> None:
    path = _write(tmp_path, b'a,b\n,""\n')
    assert _csv_rows(path, ["a", "b"], sql_nulls=True) == [{"a": None, "b": ""}]


def test_csv_header_only_has_zero_rows(tmp_path: Path) -> None:
    path = _write(tmp_path, b"a,b\n")
    assert formats.read_csv_header(path, "uri") == ["a", "b"]
    assert _csv_rows(path, ["a", "b"]) == []


@pytest.mark.parametrize("data", [b"", b"\n\n  \n"], ids=["zero-bytes", "blank-lines"])
def test_csv_empty_file_is_a_source_error(tmp_path: Path, data: bytes) -> None:
    path = _write(tmp_path, data)
    with pytest.raises(SourceError, match="empty file"):
        formats.read_csv_header(path, "s3://bucket/x.csv")


@pytest.mark.parametrize(
    ("data", "line", "problem"),
    [
        (b"a,b,c\n1,2,3\n4,5\n6,7,8\n", 3, "ragged row: expected 3 fields, got 2"),
        (b"a,b,c\n1,2,3\n4,5,6,7\n", 3, "ragged row: expected 3 fields, got 4"),
        (b'a,b,c\n1,2,3\n4,"5\nx,6\n7,8,9\n', 3, "unbalanced quote"),
        (b'a,b,c\n1,2,3\n"4\n",5,6\n7,8,\xff\n', 5, "not UTF-8"),
    ],
    ids=["short-row", "long-row", "unbalanced-quote", "latin1-byte"],
)
def test_csv_malformed_input_names_source_and_line(
    tmp_path: Path, data: bytes, line: int, problem: str
) -> None:
    path = _write(tmp_path, data)
    columns = formats.read_csv_header(path, "s3://b/call.csv")
    with pytest.raises(SourceError) as err:
        if data.count(b'"') % 2:
            raise formats.diagnose_csv(path, "s3://b/call.csv", len(columns), "odd quotes")
        _csv_rows(path, columns, "s3://b/call.csv")
    assert err.value.line == line
    assert problem in str(err.value)
    assert str(err.value).startswith("s3://b/call.csv, line ")


def test_csv_duplicate_header_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, b"a,a\n1,2\n")
    with pytest.raises(SourceError, match="duplicate column 'a'"):
        formats.read_csv_header(path, "uri")


def test_json_columns_keep_null_and_exact_number_text(tmp_path: Path) -> None:
    doc = (
        '{"id":{"0":"007","1":"b","2":"c"},"n":{"0":1.50,"1":null,"2":12},'
        '"f":{"0":true,"1":false,"2":""}}'
    )
    path = _write(tmp_path, doc.encode(), "x.json")
    columns, table = formats.json_columns_table(path, "uri")
    assert columns == ["id", "n", "f"]
    assert table.to_pylist() == [
        {"id": "007", "n": "1.50", "f": "true"},
        {"id": "b", "n": None, "f": "false"},
        {"id": "c", "n": "12", "f": ""},
    ]


def test_json_rows_follow_the_source_key_order(tmp_path: Path) -> None:
    doc = {"a": {"5": "x", "2": "y"}, "b": {"2": "Y", "5": "X"}}
    path = _write(tmp_path, json.dumps(doc).encode(), "x.json")
    _, table = formats.json_columns_table(path, "uri")
    assert table.to_pylist() == [{"a": "x", "b": "X"}, {"a": "y", "b": "Y"}]


@pytest.mark.parametrize(
    ("doc", "match", "line"),
    [
        (b'[{"a": 1}]', "top level is a list", None),
        (b'{"a": [1, 2]}', "column 'a' is a list", None),
        (b'{"a": {"0": 1}, "b": {"1": 2}}', "column 'b' has different row keys", None),
        (b'{"a": {"x": 1}}', "not row indexes", None),
        (b'{"a": {"0": {"n": 1}}}', "nested dict", None),
        (b'{"a":\n {"0": 1,}\n}', "invalid JSON", 2),
        (b'{"a":\n {"0": "\xe9"}}', "not UTF-8", 2),
        (b"", "empty file", None),
    ],
    ids=[
        "records",
        "lists",
        "key-mismatch",
        "non-index-keys",
        "nested",
        "bad-json",
        "latin1",
        "empty",
    ],
)
def test_json_not_column_oriented_is_a_source_error(
    tmp_path: Path, doc: bytes, match: str, line: int | None
) -> None:
    path = _write(tmp_path, doc, "x.json")
    with pytest.raises(SourceError, match=match) as err:
        formats.json_columns_table(path, "s3://b/x.json")
    assert err.value.line == line
    assert "s3://b/x.json" in str(err.value)


def test_rows_table_pads_short_rows_and_keeps_text() -> None:
    rows = formats.normalise_rows(
        [["iD", "NamE", ""], ["1000", "Ann", ""], ["1001", "", ""], ["", "", ""]]
    )
    columns, table = formats.rows_table(rows, "uri")
    assert columns == ["iD", "NamE"]
    assert table.to_pylist() == [{"iD": "1000", "NamE": "Ann"}, {"iD": "1001", "NamE": ""}]


def test_rows_table_refuses_a_row_wider_than_the_header() -> None:
    with pytest.raises(SourceError, match="row has 3 cells") as err:
        formats.rows_table([["a", "b"], ["1", "2"], ["1", "2", "3"]], "uri")
    assert err.value.line == 3


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, ""), (1000, "1000"), (1000.0, "1000"), (2.5, "2.5"), (True, "TRUE"), ("007", "007")],
)
def test_cell_text_renders_like_the_sheet_displays(value: object, text: str) -> None:
    assert formats.cell_text(value) == text


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(
        st.text(alphabet=st.sampled_from(["a", '"', "\n", ",", "\r", "é", " "]), max_size=12),
        max_size=40,
    ),
    target=st.integers(min_value=1, max_value=80),
)
def test_record_segments_cut_only_between_records(
    tmp_path_factory: pytest.TempPathFactory, values: list[str], target: int
) -> None:
    buf = io.StringIO(newline="")
    # CRLF records: a lone CR in a value is then quoted (with LF endings, Python's csv writer,
    # like pandas, leaves it unquoted and the file is ambiguous for every reader).
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(["", "value"])
    for i, value in enumerate(values):
        writer.writerow([i, value])
    data = buf.getvalue().encode()
    path = tmp_path_factory.mktemp("seg") / "x.csv"
    path.write_bytes(data)

    segments = list(formats.record_segments(path, target=target))

    assert b"".join(data[a:b] for a, b in segments) == data
    records = [list(csv.reader(io.StringIO(data[a:b].decode(), newline=""))) for a, b in segments]
    assert records[0] == [["", "value"]]
    assert [r for seg in records for r in seg] == [["", "value"]] + [
        [str(i), v] for i, v in enumerate(values)
    ]
    rows = _csv_rows(path, ["", "value"])
    assert [r["value"] for r in rows] == values


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (b'a,b\n1,x\n2,"open\n3,y\n', 3),  # an opening quote that never closes
        (b'a,b\n1,x\n2,y\n3,Pay"ments\n4,z\n', 4),  # a lone quote inside an unquoted value
        (b'a,b\n1,"two\nlines"\n2,"unclosed\n', 4),  # after a balanced multiline record
        (b'a,b\n1,"ok"\n', None),
    ],
)
def test_unclosed_quote_line_names_the_record_that_never_closes(
    tmp_path: Path, data: bytes, line: int | None
) -> None:
    assert formats.unclosed_quote_line(_write(tmp_path, data)) == line


def test_json_with_a_bom_parses_and_an_escaped_nul_is_refused(tmp_path: Path) -> None:
    doc = json.dumps({"a": {"0": "x"}}).encode()
    columns, table = formats.json_columns_table(
        _write(tmp_path, b"\xef\xbb\xbf" + doc, "bom.json"), "uri"
    )
    assert columns == ["a"] and table.to_pylist() == [{"a": "x"}]
    nul = _write(tmp_path, b'{"a": {"0": "x\\u0000y"}}', "nul.json")
    with pytest.raises(SourceError, match="NUL byte"):
        formats.json_columns_table(nul, "uri")


def test_rows_table_skips_blank_rows() -> None:
    rows = [["iD", "NamE"], ["1000", "Ann"], [], ["", "  "], ["1001", "Bob"]]
    columns, table = formats.rows_table(rows, "uri")
    assert columns == ["iD", "NamE"]
    assert table.to_pylist() == [{"iD": "1000", "NamE": "Ann"}, {"iD": "1001", "NamE": "Bob"}]
