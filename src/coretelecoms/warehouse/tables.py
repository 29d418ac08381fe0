"""The warehouse `raw` tables: one per silver table, columns and keys taken from the contracts.

The conformed tables come straight from each contract's ``silver_columns``; the three history
tables are declared here from docs/architecture.md (they have no contract of their own). Every
raw table also carries the silver metadata ``_change_seq`` (the loader's watermark) and
``_run_id`` (the pipeline run that last changed the row).
"""

from __future__ import annotations

from dataclasses import dataclass

from coretelecoms.contracts import CONTRACTS

SILVER_SCHEMA = "conformed"
WATERMARK_TABLE = "_load_watermarks"
# The row of WATERMARK_TABLE that says a load is running or stopped part way: each raw table
# commits on its own, so until the load ends raw may hold some tables' changes and not others'.
# dbt's on-run-start refuses to build then (warehouse/macros/raw_load.sql matches the row by
# its negative change_seq).
LOAD_IN_PROGRESS = "_load_in_progress"

# Postgres type -> portable warehouse type (DuckDB and Snowflake both accept these names).
_TYPES = {
    "uuid": "varchar",
    "text": "varchar",
    "integer": "integer",
    "bigint": "bigint",
    "date": "date",
    "timestamp": "timestamp",
}


@dataclass(frozen=True)
class RawColumn:
    name: str
    pg_type: str

    @property
    def warehouse_type(self) -> str:
        return _TYPES[self.pg_type]


@dataclass(frozen=True)
class RawTable:
    """One silver table mirrored into the warehouse `raw` schema."""

    name: str
    columns: tuple[RawColumn, ...]
    primary_key: tuple[str, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def non_key_columns(self) -> tuple[str, ...]:
        return tuple(c for c in self.column_names if c not in self.primary_key)


_META = (RawColumn("_change_seq", "bigint"), RawColumn("_run_id", "text"))


def _from_contract(entity: str) -> RawTable:
    contract = CONTRACTS[entity]
    key = ("complaint_key",) if contract.is_complaint else contract.natural_key
    cols = tuple(RawColumn(c.name, c.pg_type) for c in contract.silver_columns)
    return RawTable(contract.silver_table, cols + _META, key)


def _history(name: str, cols: tuple[tuple[str, str], ...], key: tuple[str, ...]) -> RawTable:
    return RawTable(name, tuple(RawColumn(n, t) for n, t in cols) + _META, key)


RAW_TABLES: tuple[RawTable, ...] = (
    *(_from_contract(e) for e in CONTRACTS),
    _history(
        "complaint_status_history",
        (
            ("complaint_key", "text"),
            ("channel", "text"),
            ("resolution_status", "text"),
            ("observed_date", "date"),
        ),
        ("complaint_key", "observed_date"),
    ),
    _history(
        "customer_versions",
        (
            ("customer_id", "uuid"),
            ("street", "text"),
            ("city", "text"),
            ("state_code", "text"),
            ("state_name", "text"),
            ("zip_code", "text"),
            ("valid_from", "date"),
            ("valid_to", "date"),
        ),
        ("customer_id", "valid_from"),
    ),
    _history(
        "agent_versions",
        (
            ("agent_id", "integer"),
            ("experience", "text"),
            ("valid_from", "date"),
            ("valid_to", "date"),
        ),
        ("agent_id", "valid_from"),
    ),
)
"""Parents first (reads naturally); the loader moves them in ``loader.load_order`` (large first)."""
