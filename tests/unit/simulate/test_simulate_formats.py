"""The serialisers reproduce the bytes pandas (the real producers) wrote."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pandas as pd
import polars as pl
import pytest

from coretelecoms.simulate import formats


@pytest.fixture
def frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "call ID": ["a1", None, "c3", "d4"],
            "address": ["1 Main St\nTown, NY 10001", "PSC 1, Box 2\nAPO AA 09001", 'say "hi"', ""],
            "agent ID": [1000, 1001, 1002, 1003],
            "resolution_date": ["", "2025-01-01 10:00:00", "", "x/y"],
        }
    )


def test_csv_bytes_equal_pandas_to_csv_with_gapped_index(frame: pl.DataFrame) -> None:
    index = np.array([0, 1, 3, 7])
    expected = frame.to_pandas().set_axis(index).to_csv().encode()
    assert formats.csv_bytes(frame, index, index_header="") == expected


def test_csv_bytes_without_index_equal_pandas(frame: pl.DataFrame) -> None:
    assert formats.csv_bytes(frame) == frame.to_pandas().to_csv(index=False).encode()


def test_csv_index_header_reads_back_as_unnamed_0(frame: pl.DataFrame) -> None:
    data = formats.csv_bytes(frame, np.arange(4))
    assert list(pd.read_csv(io.BytesIO(data)).columns)[:2] == ["Unnamed: 0", "call ID"]


def test_json_columns_bytes_equal_pandas_to_json(frame: pl.DataFrame) -> None:
    index = np.array([0, 2, 3, 9])
    expected = frame.to_pandas().set_axis(index).to_json().encode()
    assert formats.json_columns_bytes(frame, index) == expected


def test_xlsx_is_reproducible_and_readable() -> None:
    sheet = pl.DataFrame(
        {"iD": [1003, 1000], "NamE": ["A B", "C D"], "experience": ["intern", "Senior"]}
    )
    first = formats.xlsx_bytes(sheet, "agents")
    assert first == formats.xlsx_bytes(sheet, "agents")
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert {i.date_time for i in archive.infolist()} == {(2025, 1, 1, 0, 0, 0)}
    read = pd.read_excel(io.BytesIO(first), sheet_name="agents")
    assert list(read.columns) == ["iD", "NamE", "experience"]
    assert read["iD"].tolist() == [1003, 1000]
