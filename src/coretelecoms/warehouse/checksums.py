# ruff: noqa: S608  (identifiers come from the contracts / information_schema, quoted or validated; values are bound)
"""Order-independent checksums of the gold tables, for idempotence and backfill-equality checks.

Metadata columns (leading underscore: ``_change_seq``, ``_run_id``) are excluded: they record how
and when rows arrived, not what the gold says, and legitimately differ between a day-by-day run
and a backfill.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

GOLD_SCHEMA = "gold"


def gold_checksums(duckdb_path: Path, schema: str = GOLD_SCHEMA) -> dict[str, tuple[int, str]]:
    """``{table: (row count, checksum)}`` for every table of ``schema`` in the DuckDB file."""
    conn = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        tables = [
            r[0]
            for r in conn.execute(
                "select table_name from information_schema.tables "
                "where table_schema = ? and table_type = 'BASE TABLE' order by 1",
                [schema],
            ).fetchall()
        ]
        out: dict[str, tuple[int, str]] = {}
        for table in tables:
            cols = [
                r[0]
                for r in conn.execute(
                    "select column_name from information_schema.columns "
                    "where table_schema = ? and table_name = ? order by ordinal_position",
                    [schema, table],
                ).fetchall()
                if not r[0].startswith("_")
            ]
            row = ", ".join(f'coalesce(cast("{c}" as varchar), chr(0))' for c in cols)
            count, digest = conn.execute(
                f"select count(*), coalesce(sum(hash(concat_ws('|', {row}))), 0) "
                f'from "{schema}"."{table}"'
            ).fetchone()
            out[table] = (int(count), str(digest))
        return out
    finally:
        conn.close()
