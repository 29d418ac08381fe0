"""The web-form source table on real Postgres to bronze: streamed, ordered, NULL vs '' kept."""

from __future__ import annotations

from datetime import date

import psycopg
import pytest

from coretelecoms.config import Settings
from coretelecoms.extract import (
    ExtractStatus,
    extract_entity,
    read_bronze,
    source_fingerprint,
)
from coretelecoms.extract.sql import split_table_name
from coretelecoms.postgres import source_dsn

pytestmark = pytest.mark.postgres

DAY = date(2025, 11, 20)
TABLE = "customer_complaints.web_form_request_2025_11_20"
# (Column1, request_id, customer, agent, resolution_date) inserted out of Column1 order
ROWS = [
    (7, "req-7", "007", 1001, ""),
    (2, "req-2", None, 1002, "2025-11-20 09:00:00"),
    (5, "req-5", 'multi\nline "quoted", ok', 1003, None),
    (3, "req-3", "Zoë 東京 🚀", None, ""),
]


def _create_table(settings: Settings, rows: list[tuple] = ROWS) -> None:
    with psycopg.connect(source_dsn(settings), autocommit=True) as conn:
        conn.execute("create schema if not exists customer_complaints")
        conn.execute(
            f"""create table {TABLE} (
                "Column1" bigint, request_id text, "customeR iD" text, "agent ID" integer,
                resolution_date text, "webFormGenerationDate" date default '2025-11-20')"""
        )
        with conn.cursor() as cur:
            cur.executemany(
                f'insert into {TABLE} ("Column1", request_id, "customeR iD", "agent ID",'
                " resolution_date) values (%s, %s, %s, %s, %s)",
                rows,
            )


def test_web_form_table_round_trip_in_column1_order(settings: Settings) -> None:
    _create_table(settings)

    result = extract_entity(settings, "web_form_complaints", DAY, "run-1")

    assert result.status is ExtractStatus.EXTRACTED
    man = result.manifest.current
    with psycopg.connect(source_dsn(settings)) as conn:
        (count,) = conn.execute(f"select count(*) from {TABLE}").fetchone()
    assert man.rows == count == len(ROWS)
    assert man.extractor == "SQLExtractor"
    assert man.source_uri.endswith("/customer_complaints.web_form_request_2025_11_20")
    assert man.columns == [
        "Column1",
        "request_id",
        "customeR iD",
        "agent ID",
        "resolution_date",
        "webFormGenerationDate",
    ]
    out = read_bronze(settings, "web_form_complaints", DAY).scan().collect()
    expected = sorted(ROWS)
    assert out["_source_row"].to_list() == [1, 2, 3, 4]
    assert out["Column1"].to_list() == [str(r[0]) for r in expected]
    assert out["customeR iD"].to_list() == [r[2] for r in expected]  # NULL stays null
    assert out["agent ID"].to_list() == [None if r[3] is None else str(r[3]) for r in expected]
    assert out["resolution_date"].to_list() == [r[4] for r in expected]  # '' stays ''
    assert out["webFormGenerationDate"].unique().to_list() == ["2025-11-20"]


def test_rerun_is_unchanged_and_an_update_is_a_new_version(settings: Settings) -> None:
    _create_table(settings)
    first = extract_entity(settings, "web_form_complaints", DAY, "run-1")
    fp = source_fingerprint(settings, "web_form_complaints", DAY)
    assert fp == first.manifest.current.source_fingerprint

    again = extract_entity(settings, "web_form_complaints", DAY, "run-2")
    assert again.status is ExtractStatus.UNCHANGED
    assert again.manifest == first.manifest

    with psycopg.connect(source_dsn(settings), autocommit=True) as conn:
        conn.execute(f"""update {TABLE} set resolution_date = null where "Column1" = 7""")
    changed = extract_entity(settings, "web_form_complaints", DAY, "run-3")

    assert changed.status is ExtractStatus.EXTRACTED
    assert changed.manifest.current_version == 2
    out = read_bronze(settings, "web_form_complaints", DAY).scan().collect()
    assert out.filter(out["Column1"] == "7")["resolution_date"].to_list() == [None]


def test_missing_table_is_no_data(settings: Settings) -> None:
    _create_table(settings)

    result = extract_entity(settings, "web_form_complaints", date(2025, 11, 24), "run-1")

    assert result.status is ExtractStatus.NO_DATA
    assert source_fingerprint(settings, "web_form_complaints", date(2025, 11, 24)) is None


def test_empty_table_is_zero_rows(settings: Settings) -> None:
    _create_table(settings, rows=[])

    result = extract_entity(settings, "web_form_complaints", DAY, "run-1")

    assert result.status is ExtractStatus.EXTRACTED
    assert result.manifest.current.rows == 0


@pytest.mark.parametrize(
    "name",
    ['customer_complaints.x"; drop table y; --', "a.b c", "schema.1table", "s.t.u"],
)
def test_table_names_that_are_not_plain_identifiers_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="invalid table identifier"):
        split_table_name(name)
