"""The DuckDB raw schema: built from the contracts, extended when a contract gains a column."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from coretelecoms.warehouse.duckdb_warehouse import DuckDBWarehouse
from coretelecoms.warehouse.tables import RAW_TABLES, WATERMARK_TABLE


def _columns(path: Path, table: str) -> list[str]:
    conn = duckdb.connect(str(path), read_only=True)
    try:
        return [
            r[0]
            for r in conn.execute(
                "select column_name from information_schema.columns where table_schema = 'raw' "
                "and table_name = ? order by ordinal_position",
                [table],
            ).fetchall()
        ]
    finally:
        conn.close()


def _older_build_agents(tmp_path: Path, rows: list[tuple[int, str]]) -> Path:
    """A warehouse file as an older build left it (fewer columns, a primary key), then migrated
    by ``ensure_tables``."""
    path = tmp_path / "w.duckdb"
    conn = duckdb.connect(str(path))
    conn.execute("create schema raw")
    conn.execute("create table raw.agents (agent_id integer primary key, name varchar)")
    conn.executemany("insert into raw.agents values (?, ?)", rows)
    conn.close()
    wh = DuckDBWarehouse(path)
    wh.ensure_tables(RAW_TABLES)
    wh.close()
    return path


def test_ensure_tables_creates_every_raw_table_and_the_watermarks(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    wh = DuckDBWarehouse(path)
    wh.ensure_tables(RAW_TABLES)
    assert wh.watermarks() == {}
    wh.close()
    for table in RAW_TABLES:
        assert _columns(path, table.name) == list(table.column_names)
    assert _columns(path, WATERMARK_TABLE) == ["table_name", "change_seq", "rows_moved"]


def test_a_column_added_to_a_contract_is_added_to_raw(tmp_path: Path) -> None:
    path = _older_build_agents(tmp_path, [(1000, "Mary")])
    agents = next(t for t in RAW_TABLES if t.name == "agents")
    assert sorted(_columns(path, "agents")) == sorted(agents.column_names)


def test_a_raw_table_keyed_by_an_older_build_is_rebuilt_without_the_key_index(
    tmp_path: Path,
) -> None:
    path = _older_build_agents(tmp_path, [(1000, "Mary"), (1001, "Ann")])
    conn = duckdb.connect(str(path), read_only=True)
    try:
        keys = conn.execute(
            "select count(*) from duckdb_constraints() where schema_name = 'raw' "
            "and table_name = 'agents' and constraint_type = 'PRIMARY KEY'"
        ).fetchone()
        rows = conn.execute("select agent_id, name from raw.agents order by 1").fetchall()
    finally:
        conn.close()
    assert keys == (0,)
    assert rows == [(1000, "Mary"), (1001, "Ann")]


def test_memory_limit_caps_the_loader_connection(tmp_path: Path) -> None:
    """The configured cap reaches DuckDB, so a big day spills to disk rather than growing RSS."""
    wh = DuckDBWarehouse(tmp_path / "w.duckdb", memory_limit="512MB")
    limit = wh._conn.execute("select current_setting('memory_limit')").fetchone()[0]
    wh.close()
    assert limit.replace(" ", "") in {"512.0MiB", "488.2MiB", "512MB", "488.2MB"}


def _string_compressions(wh: DuckDBWarehouse) -> set[str]:
    conn = wh._conn
    conn.execute(
        "create table raw.s as select md5(cast(i as varchar)) as v from range(100000) t(i)"
    )
    conn.execute("checkpoint")
    rows = conn.execute(
        "select distinct compression from pragma_storage_info('raw.s') "
        "where segment_type = 'VARCHAR'"
    ).fetchall()
    return {r[0] for r in rows}


@pytest.mark.parametrize(
    ("disabled", "expected"),
    [("fsst,dict_fsst", {"Uncompressed"}), ("", {"DICT_FSST"})],
    ids=["fsst-disabled", "duckdb-default"],
)
def test_disabled_compression_reaches_the_loader_connection(
    tmp_path: Path, disabled: str, expected: set[str]
) -> None:
    """FSST costs most of a write's CPU (docs/warehouse.md, round 4); the loader can skip it."""
    wh = DuckDBWarehouse(tmp_path / "w.duckdb", disabled_compression=disabled)
    wh.ensure_tables(RAW_TABLES)
    try:
        assert _string_compressions(wh) == expected
    finally:
        wh.close()


def test_disabled_compression_rejects_anything_but_method_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="compression methods"):
        DuckDBWarehouse(tmp_path / "w.duckdb", disabled_compression="fsst'; drop table x; --")
