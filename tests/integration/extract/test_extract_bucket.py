"""File sources (local folder and S3 over HTTP) to bronze: fidelity, idempotence, versions,
"no data yet", and clear errors with nothing published."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
from datetime import date

import openpyxl
import pandas as pd
import polars as pl
import pytest
from extract_support import lake_listing, put_source

from coretelecoms.config import Settings
from coretelecoms.contracts import get_contract
from coretelecoms.extract import (
    ExtractStatus,
    S3Extractor,
    SourceError,
    extract_entity,
    read_bronze,
    source_fingerprint,
)
from coretelecoms.extract.base import filesystem, partition_uri

DAY = date(2025, 11, 20)
TRICKY = ["007", "a\nb", 'say "hi", ok', "Zoë 東京 🚀", "", "x,y", "l1\r\nl2", " pad "]
CALL_HEADER = [
    "call ID",
    "customeR iD",
    "COMPLAINT_catego ry",
    "agent ID",
    "call_start_time",
    "call_end_time",
    "resolutionstatus",
    "callLogsGenerationDate",
]


def call_logs_csv(values: list[str] = TRICKY) -> bytes:
    """A call-log CSV written by pandas (index column with an empty header), tricky values."""
    frame = pd.DataFrame(
        {
            "call ID": [f"call-{i:04d}" for i in range(len(values))],
            "customeR iD": values,
            "COMPLAINT_catego ry": ["Payments"] * len(values),
            "agent ID": ["01001"] * len(values),
            "call_start_time": ["2025-03-01 10:00:00"] * len(values),
            "call_end_time": [""] * len(values),
            "resolutionstatus": ["Resolved"] * len(values),
            "callLogsGenerationDate": ["2025-11-20"] * len(values),
        },
        index=[i * 3 for i in range(len(values))],  # restarts and has gaps, like the real files
    )
    return frame.to_csv().encode("utf-8")


def source_records(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def test_call_logs_round_trip_byte_for_byte(bucket_settings: Settings) -> None:
    data = call_logs_csv()
    uri = put_source(bucket_settings, "call logs/call_logs_day_2025-11-20.csv", data)

    result = extract_entity(bucket_settings, "call_logs", DAY, "run-1")

    assert result.status is ExtractStatus.EXTRACTED
    man = result.manifest.current
    header, *records = source_records(data)
    assert header[0] == ""  # pandas' index column keeps its empty header in bronze
    assert man.columns == header == ["", *CALL_HEADER]
    assert man.rows == len(records) == len(TRICKY)
    assert man.source_uri == uri
    assert man.source_fingerprint == hashlib.sha256(data).hexdigest()
    assert man.bytes == len(data)
    assert (man.run_id, man.logical_date, man.extractor) == ("run-1", "2025-11-20", "S3Extractor")

    bronze = read_bronze(bucket_settings, "call_logs", DAY)
    frame = bronze.scan().collect()
    assert frame.columns == [*header, "_source_row"]
    assert all(frame.schema[c] == pl.String for c in header)
    assert frame.schema["_source_row"] == pl.Int64
    for row in frame.iter_rows(named=True):  # every bronze row maps back to its exact record
        assert [row[c] for c in header] == records[row["_source_row"] - 1]
    assert frame["customeR iD"].to_list() == TRICKY
    assert frame["call_end_time"].null_count() == 0  # '' stays '', pandas CSVs have no nulls
    assert frame["agent ID"].unique().to_list() == ["01001"]  # no inference: zeros kept

    fs = filesystem(bucket_settings, bronze.parquet_uri)
    assert hashlib.sha256(fs.cat_file(bronze.parquet_uri)).hexdigest() == man.parquet_sha256
    assert result.source_version.bronze_path == bronze.parquet_uri
    assert result.source_version.rows == man.rows


def test_rerun_on_unchanged_source_writes_nothing(bucket_settings: Settings) -> None:
    put_source(bucket_settings, "call logs/call_logs_day_2025-11-20.csv", call_logs_csv())
    first = extract_entity(bucket_settings, "call_logs", DAY, "run-1")
    before = lake_listing(bucket_settings)

    again = extract_entity(bucket_settings, "call_logs", DAY, "run-2")

    assert again.status is ExtractStatus.UNCHANGED
    assert again.manifest == first.manifest  # the existing manifest, run-1 and all
    assert lake_listing(bucket_settings) == before
    assert source_fingerprint(bucket_settings, "call_logs", DAY) == (
        first.manifest.current.source_fingerprint
    )


def test_one_changed_source_byte_creates_a_new_version(bucket_settings: Settings) -> None:
    data = call_logs_csv()
    put_source(bucket_settings, "call logs/call_logs_day_2025-11-20.csv", data)
    v1 = extract_entity(bucket_settings, "call_logs", DAY, "run-1").manifest
    changed = data.replace(b"Resolved", b"Resolvex", 1)
    put_source(bucket_settings, "call logs/call_logs_day_2025-11-20.csv", changed)

    result = extract_entity(bucket_settings, "call_logs", DAY, "run-2")

    assert result.status is ExtractStatus.EXTRACTED
    man = result.manifest
    assert [v.version for v in man.versions] == [1, 2]
    assert man.current_version == 2
    assert man.current.source_fingerprint == hashlib.sha256(changed).hexdigest()
    assert man.versions[0] == v1.current  # version 1 kept as it was
    current = read_bronze(bucket_settings, "call_logs", DAY).scan().collect()
    old = read_bronze(bucket_settings, "call_logs", DAY, version=1).scan().collect()
    assert current["resolutionstatus"][0] == "Resolvex"
    assert old["resolutionstatus"][0] == "Resolved"


def test_missing_day_is_no_data(bucket_settings: Settings) -> None:
    put_source(bucket_settings, "call logs/call_logs_day_2025-11-20.csv", call_logs_csv())

    result = extract_entity(bucket_settings, "call_logs", date(2025, 11, 24), "run-1")

    assert result.status is ExtractStatus.NO_DATA
    assert result.manifest is None and result.source_version is None
    assert source_fingerprint(bucket_settings, "call_logs", date(2025, 11, 24)) is None
    assert read_bronze(bucket_settings, "call_logs", date(2025, 11, 24)) is None


def test_header_only_file_is_zero_rows_not_an_error(bucket_settings: Settings) -> None:
    put_source(bucket_settings, "call logs/call_logs_day_2025-11-20.csv", call_logs_csv([]))

    result = extract_entity(bucket_settings, "call_logs", DAY, "run-1")

    assert result.status is ExtractStatus.EXTRACTED
    assert result.manifest.current.rows == 0
    frame = read_bronze(bucket_settings, "call_logs", DAY).scan().collect()
    assert frame.height == 0
    assert frame.columns == ["", *CALL_HEADER, "_source_row"]


@pytest.mark.parametrize(
    ("entity", "relative", "data", "match"),
    [
        ("call_logs", "call logs/call_logs_day_2025-11-20.csv", b"", "empty file"),
        (
            "call_logs",
            "call logs/call_logs_day_2025-11-20.csv",
            b",call ID\n0,a\n1,b,c\n",
            "line 3: ragged row",
        ),
        (
            "call_logs",
            "call logs/call_logs_day_2025-11-20.csv",
            b',call ID\n0,"a\n1,b\n',
            "line 2: unbalanced quote",
        ),
        (
            "customers",
            "customers/customers_dataset.csv",
            "customer_id,name\n1,Zoë\n".encode("latin-1"),
            "line 2: not UTF-8",
        ),
        (
            "social_media_complaints",
            "social_medias/media_complaint_day_2025-11-20.json",
            b'[{"complaint_id": "a"}]',
            "expected column-oriented",
        ),
        (
            "social_media_complaints",
            "social_medias/media_complaint_day_2025-11-20.json",
            b'{"complaint_id": {"0": "a",\n}}',
            "line 2: invalid JSON",
        ),
    ],
    ids=["empty", "ragged", "unbalanced-quote", "latin1", "json-records", "json-invalid"],
)
def test_malformed_source_raises_and_publishes_nothing(
    bucket_settings: Settings, entity: str, relative: str, data: bytes, match: str
) -> None:
    uri = put_source(bucket_settings, relative, data)

    with pytest.raises(SourceError, match=match) as err:
        extract_entity(bucket_settings, entity, DAY, "run-1")

    assert uri in str(err.value)
    assert read_bronze(bucket_settings, entity, DAY) is None
    part = partition_uri(bucket_settings, entity, DAY)
    assert not filesystem(bucket_settings, part).exists(part)


def test_malformed_new_version_keeps_the_previous_one_current(bucket_settings: Settings) -> None:
    put_source(bucket_settings, "call logs/call_logs_day_2025-11-20.csv", call_logs_csv())
    v1 = extract_entity(bucket_settings, "call_logs", DAY, "run-1").manifest
    put_source(bucket_settings, "call logs/call_logs_day_2025-11-20.csv", b",call ID\n0\n1,b,c\n")

    with pytest.raises(SourceError):
        extract_entity(bucket_settings, "call_logs", DAY, "run-2")

    assert read_bronze(bucket_settings, "call_logs", DAY).manifest == v1


def test_social_media_pandas_json_round_trip(bucket_settings: Settings) -> None:
    frame = pd.DataFrame(
        {
            "complaint_id": ["c1", "c2", "c3"],
            "customeR iD": ["007", None, 'Zoë\n"q"'],
            "agent ID": [1001, 1002, 1003],  # pandas writes numbers: kept as their JSON text
            "resolution_date": ["", "2025-11-20 10:00:00", None],
        },
        index=[4, 9, 10],
    )
    data = frame.to_json().encode()
    put_source(bucket_settings, "social_medias/media_complaint_day_2025-11-20.json", data)

    result = extract_entity(bucket_settings, "social_media_complaints", DAY, "run-1")

    out = read_bronze(bucket_settings, "social_media_complaints", DAY).scan().collect()
    assert result.manifest.current.rows == 3
    assert out.to_dicts() == [
        {
            "complaint_id": "c1",
            "customeR iD": "007",
            "agent ID": "1001",
            "resolution_date": "",
            "_source_row": 1,
        },
        {
            "complaint_id": "c2",
            "customeR iD": None,
            "agent ID": "1002",
            "resolution_date": "2025-11-20 10:00:00",
            "_source_row": 2,
        },
        {
            "complaint_id": "c3",
            "customeR iD": 'Zoë\n"q"',
            "agent ID": "1003",
            "resolution_date": None,
            "_source_row": 3,
        },
    ]
    assert list(json.loads(data)["complaint_id"]) == ["4", "9", "10"]


def test_customers_multiline_addresses_parse_exactly(bucket_settings: Settings) -> None:
    n = 3000
    frame = pd.DataFrame(
        {
            "customer_id": [f"{i:08d}-uuid" for i in range(n)],
            "name": ["Ann O'Neil"] * n,
            "Gender": ["F"] * n,
            "DATE of biRTH": ["1980-01-02"] * n,
            "signup_date": ["2020-03-04"] * n,
            "email": [f"{i}ann@GmaiL.om" for i in range(n)],
            "address": [f"PSC {i}, Box 3666\nAPO AA {i:05d}" for i in range(n)],
        }
    )
    put_source(
        bucket_settings, "customers/customers_dataset.csv", frame.to_csv(index=False).encode()
    )

    result = extract_entity(bucket_settings, "customers", DAY, "run-1")

    out = read_bronze(bucket_settings, "customers", DAY).scan().sort("_source_row").collect()
    assert result.manifest.current.rows == n
    assert out["address"].to_list() == frame["address"].to_list()
    assert out["customer_id"][5] == "00000005-uuid"


@pytest.mark.parametrize("fmt", ["xlsx", "parquet"])
def test_spreadsheet_and_parquet_files_become_text(bucket_settings: Settings, fmt: str) -> None:
    contract = dataclasses.replace(
        get_contract("agents"),
        source_location=f"agents/agents.{fmt}",
        source_format=fmt,
    )
    buf = io.BytesIO()
    if fmt == "xlsx":
        book = openpyxl.Workbook()
        sheet = book.active
        for row in (["iD", "NamE", "experience"], [1000, "Ann", "intern"], [1001, "Bo", None]):
            sheet.append(row)
        book.save(buf)
    else:
        pl.DataFrame(
            {"iD": [1000, 1001], "NamE": ["Ann", "Bo"], "experience": ["intern", ""]}
        ).write_parquet(buf)
    put_source(bucket_settings, f"agents/agents.{fmt}", buf.getvalue())

    result = S3Extractor(bucket_settings, contract).extract(DAY, "run-1")

    out = read_bronze(bucket_settings, "agents", DAY).scan().collect()
    assert result.manifest.current.rows == 2
    assert out.to_dicts() == [
        {"iD": "1000", "NamE": "Ann", "experience": "intern", "_source_row": 1},
        {"iD": "1001", "NamE": "Bo", "experience": "", "_source_row": 2},
    ]
