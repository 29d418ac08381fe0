"""``load_warehouse``: move what changed in silver since the last load into the warehouse `raw`.

Per table, the warehouse keeps a watermark (the highest silver ``_change_seq`` it holds) written
in the same transaction as the rows. A load reads ``_change_seq > watermark`` from one silver
snapshot, upserts by primary key and advances the watermark, so a rerun moves nothing and a load
interrupted at any point resumes where it stopped without duplicates.

Tables commit one by one, so a load that stopped part way leaves raw with the snapshot's changes
of some tables only. Built on that, the gold models would lift their watermarks above the rows
the resumed load then writes, and never take them. A marker row (``LOAD_IN_PROGRESS``) is
written when a load starts and removed once every table is loaded; dbt refuses to build while
it is there.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from coretelecoms.config import Settings
from coretelecoms.postgres import conformance_dsn
from coretelecoms.warehouse.silver import ChangeSet, SilverReader
from coretelecoms.warehouse.tables import RAW_TABLES, RawTable

log = logging.getLogger(__name__)


class Warehouse(Protocol):
    """What the loader needs from a warehouse (DuckDB and Snowflake implement it alike)."""

    def ensure_tables(self, tables: tuple[RawTable, ...]) -> None: ...
    def watermarks(self) -> dict[str, int]: ...
    def mark_load(self, running: bool) -> None: ...
    def upsert(self, change: ChangeSet) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class TableLoad:
    table: str
    rows: int
    watermark_before: int
    watermark_after: int


@dataclass(frozen=True)
class WarehouseLoadResult:
    """Outcome of one load: rows moved and watermarks per raw table."""

    warehouse: str
    tables: tuple[TableLoad, ...] = field(default_factory=tuple)
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)

    def as_dict(self) -> dict[str, object]:
        """Small, JSON-friendly summary (for XCom and run reports)."""
        return {
            "warehouse": self.warehouse,
            "rows": self.rows,
            "seconds": round(self.seconds, 3),
            "tables": {
                t.table: {
                    "rows": t.rows,
                    "watermark_before": t.watermark_before,
                    "watermark_after": t.watermark_after,
                }
                for t in self.tables
            },
        }


def open_warehouse(settings: Settings) -> Warehouse:
    """The warehouse selected by ``settings.warehouse``; the caller must ``close()`` it."""
    if settings.warehouse == "snowflake":
        from coretelecoms.warehouse.snowflake_warehouse import SnowflakeWarehouse

        return SnowflakeWarehouse(settings)
    from coretelecoms.warehouse.duckdb_warehouse import DuckDBWarehouse

    assert settings.duckdb_path is not None
    return DuckDBWarehouse(
        Path(settings.duckdb_path),
        memory_limit=settings.duckdb_memory_limit,
        disabled_compression=settings.duckdb_disabled_compression,
    )


# Tables that can move millions of rows in one load (a first load: 2.5 M customers and 2.5 M
# versions; a day: ~850 k status observations, ~460 k calls), largest first. With one spool in
# flight, a large table spooling while a large one upserts keeps Postgres and DuckDB busy at the
# same time; in the order of RAW_TABLES (parents first) the two customer tables each sat beside a
# 100-row agents table, so their spools and upserts took turns (day 1 at scale 1: see
# docs/warehouse.md, round 5). The order is free: all tables come from one snapshot.
_LARGE_FIRST = (
    "customers",
    "customer_versions",
    "complaint_status_history",
    "call_logs",
    "web_form_complaints",
    "social_media_complaints",
)


def load_order(tables: tuple[RawTable, ...]) -> tuple[RawTable, ...]:
    """``tables`` with the potentially large ones first (largest first), the rest after."""
    rank = {name: i for i, name in enumerate(_LARGE_FIRST)}
    return tuple(sorted(tables, key=lambda t: rank.get(t.name, len(rank))))


def _spooled_ahead(
    silver: SilverReader, tables: tuple[RawTable, ...], marks: dict[str, int]
) -> Iterator[ChangeSet]:
    """Change sets in table order, the next one spooling from Postgres while the caller upserts.

    Postgres (a server process) and the warehouse (DuckDB in-process, or Snowflake) then work at
    the same time instead of taking turns. One worker thread keeps the reads on the snapshot
    connection serial; both libraries release the GIL while they wait or work.
    """
    if not tables:
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="silver-spool") as pool:
        # one spool in flight: a first load never holds all of silver on disk as CSV at once
        pending = pool.submit(silver.changes, tables[0], marks.get(tables[0].name, 0))
        try:
            for following in (*tables[1:], None):
                change = pending.result()
                if following is not None:
                    pending = pool.submit(silver.changes, following, marks.get(following.name, 0))
                yield change
        finally:
            pending.cancel()


def load_warehouse(settings: Settings, dsn: str | None = None) -> WarehouseLoadResult:
    """Upsert silver changes since the last load into the warehouse `raw` schema.

    ``dsn`` overrides the conformance database of ``settings`` (tests, tools).

    Raises:
        SilverNotReadyError: silver tables are missing (run the silver load first).
        duckdb.IOException: another process (e.g. a running dbt) holds the DuckDB file.
    """
    started = time.perf_counter()
    dsn = dsn or conformance_dsn(settings)
    loads: list[TableLoad] = []
    warehouse = open_warehouse(settings)
    try:
        warehouse.ensure_tables(RAW_TABLES)
        marks = warehouse.watermarks()
        # from the start, not the first upsert: a Snowflake build starting while the first
        # table spools would otherwise pass its check and read raw half loaded
        warehouse.mark_load(running=True)
        with (
            tempfile.TemporaryDirectory(prefix="ct-warehouse-") as spool,
            SilverReader(dsn, Path(spool)) as silver,
        ):
            for change in _spooled_ahead(silver, load_order(RAW_TABLES), marks):
                if change.rows:
                    warehouse.upsert(change)
                    change.path.unlink(missing_ok=True)
                loads.append(
                    TableLoad(change.table.name, change.rows, change.after_seq, change.max_seq)
                )
        warehouse.mark_load(running=False)
    finally:
        warehouse.close()
    result = WarehouseLoadResult(settings.warehouse, tuple(loads), time.perf_counter() - started)
    log.info("warehouse load (%s): %d rows in %.1fs", result.warehouse, result.rows, result.seconds)
    return result
