"""The warehouse raw tables mirror silver exactly as the contracts and the silver schema declare."""

from __future__ import annotations

import pytest

from coretelecoms.contracts import CONTRACTS
from coretelecoms.load.schema import version_columns, versions_table
from coretelecoms.warehouse.loader import _LARGE_FIRST, load_order
from coretelecoms.warehouse.tables import RAW_TABLES

TABLES = {t.name: t for t in RAW_TABLES}


@pytest.mark.parametrize("entity", sorted(CONTRACTS), ids=str)
def test_conformed_table_columns_come_from_the_contract(entity: str) -> None:
    contract = CONTRACTS[entity]
    table = TABLES[contract.silver_table]
    assert table.column_names == (*contract.silver_column_names, "_change_seq", "_run_id")
    expected_key = ("complaint_key",) if contract.is_complaint else contract.natural_key
    assert table.primary_key == expected_key


@pytest.mark.parametrize("entity", ["customers", "agents"], ids=str)
def test_version_tables_match_the_silver_schema(entity: str) -> None:
    contract = CONTRACTS[entity]
    table = TABLES[versions_table(contract)]
    key = contract.natural_key[0]
    assert table.column_names == (
        key,
        *version_columns(contract),
        "valid_from",
        "valid_to",
        "_change_seq",
        "_run_id",
    )
    assert table.primary_key == (key, "valid_from")


def test_every_silver_table_is_mirrored_once() -> None:
    names = [t.name for t in RAW_TABLES]
    assert len(names) == len(set(names)) == 8
    assert "complaint_status_history" in names


def test_every_column_has_a_portable_warehouse_type() -> None:
    for table in RAW_TABLES:
        for column in table.columns:
            assert column.warehouse_type in {"varchar", "integer", "bigint", "date", "timestamp"}


def test_the_load_order_moves_every_table_once_large_ones_first() -> None:
    # a misspelt name in the ranking would silently send that table to the end
    assert set(_LARGE_FIRST) <= set(TABLES)
    ordered = [t.name for t in load_order(RAW_TABLES)]
    assert sorted(ordered) == sorted(TABLES)
    assert ordered[: len(_LARGE_FIRST)] == list(_LARGE_FIRST)
