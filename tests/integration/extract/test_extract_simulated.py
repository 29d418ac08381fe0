"""All five simulated sources to bronze: row counts equal independent counts of each source."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import openpyxl
import psycopg
import pytest

from coretelecoms.config import Settings
from coretelecoms.contracts import CONTRACTS
from coretelecoms.extract import ExtractStatus, extract_entity, read_bronze
from coretelecoms.postgres import source_dsn

pytestmark = pytest.mark.postgres
simulate_mod = pytest.importorskip("coretelecoms.simulate")

DAY = date(2025, 11, 20)


def _source_count(settings: Settings, entity: str) -> int:
    """Rows in the source, counted without the extractor (csv module, json, SQL, openpyxl)."""
    contract = CONTRACTS[entity]
    location = contract.source_name(DAY.isoformat())
    if contract.source_format == "csv":
        with (Path(str(settings.source_uri)) / location).open(newline="", encoding="utf-8") as fh:
            return sum(1 for _ in csv.reader(fh)) - 1
    if contract.source_format == "json_columns":
        doc = json.loads((Path(str(settings.source_uri)) / location).read_text())
        return len(next(iter(doc.values())))
    if contract.source_format == "table":
        with psycopg.connect(source_dsn(settings)) as conn:
            schema, table = location.split(".")
            return conn.execute(f'select count(*) from {schema}."{table}"').fetchone()[0]
    book = openpyxl.load_workbook(str(settings.agents_sheet), read_only=True)
    return sum(1 for row in book[location].iter_rows(values_only=True) if any(row)) - 1


def test_simulated_day_extracts_every_source_exactly(settings: Settings) -> None:
    simulate_mod.simulate(settings, DAY, 1, 0.0005, 11)

    for entity in CONTRACTS:
        result = extract_entity(settings, entity, DAY, "sim-run")
        assert result.status is ExtractStatus.EXTRACTED, entity
        rows = result.manifest.current.rows
        assert rows == _source_count(settings, entity) > 0, entity
        frame = read_bronze(settings, entity, DAY).scan().collect()
        assert frame.height == rows
        assert frame["_source_row"].to_list() == list(range(1, rows + 1))

    for entity in CONTRACTS:
        assert extract_entity(settings, entity, DAY, "again").status is ExtractStatus.UNCHANGED
