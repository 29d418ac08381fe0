"""Read-only views of the load state for operators: recent runs with reconciliation figures,
open quarantine by reason, and quarantined rows. The CLI prints these; nothing here writes."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from coretelecoms.load.errors import classify
from coretelecoms.load.state import FIGURE_KEYS
from coretelecoms.postgres import connect

log = logging.getLogger(__name__)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _migrated(conn: psycopg.Connection) -> bool:
    row = conn.execute("select to_regclass('ops.pipeline_runs') is not null").fetchone()
    return bool(row and row[0])


def _open_quarantine(conn: psycopg.Connection) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    by_reason: dict[str, int] = {}
    by_entity: dict[str, dict[str, int]] = {}
    for entity, reason, n in conn.execute(
        "select entity, reason, count(*) from ops.quarantine where released_at is null"
        " group by entity, reason order by entity, reason"
    ):
        by_reason[reason] = by_reason.get(reason, 0) + int(n)
        by_entity.setdefault(entity, {})[reason] = int(n)
    return by_reason, by_entity


def status_report(dsn: str, limit: int = 10) -> dict[str, Any]:
    """The ``limit`` most recent runs, each with per-entity, per-source-version figures, plus
    the open quarantine by reason. Raises ``TransientLoadError`` when the database is down."""
    try:
        with connect(dsn) as conn:
            if not _migrated(conn):
                return {"migrated": False, "runs": [], "open_quarantine": {},
                        "open_quarantine_by_entity": {}}  # fmt: skip
            conn.row_factory = dict_row  # type: ignore[assignment]
            runs = conn.execute(
                "select run_id, min(started_at) as started_at, max(finished_at) as finished_at"
                " from ops.pipeline_runs group by run_id order by min(started_at) desc limit %s",
                [limit],
            ).fetchall()
            ids = [r["run_id"] for r in runs]
            sources = conn.execute(
                "select run_id, entity, source_uri, source_fingerprint, logical_date, status,"
                " batches, rows_read, rows_loaded, rows_unchanged, rows_quarantined,"
                " rows_duplicates, rows_released, detail, started_at, finished_at"
                " from ops.pipeline_runs where run_id = any(%s)"
                " order by started_at, entity, source_fingerprint",
                [ids],
            ).fetchall()
            conn.row_factory = psycopg.rows.tuple_row  # type: ignore[assignment]
            by_reason, by_entity = _open_quarantine(conn)
    except psycopg.Error as exc:
        raise classify(exc, "reading pipeline status") from exc
    out_runs = []
    for run in runs:
        mine = [s for s in sources if s["run_id"] == run["run_id"]]
        statuses = {s["status"] for s in mine}
        status = next((s for s in ("failed", "running", "abandoned") if s in statuses), "succeeded")
        out_runs.append(
            {
                "run_id": run["run_id"],
                "status": status,
                "started_at": _jsonable(run["started_at"]),
                "finished_at": _jsonable(run["finished_at"]),
                "logical_dates": sorted(
                    {_jsonable(s["logical_date"]) for s in mine if s["logical_date"]}
                ),
                "sources": [_source(s) for s in mine],
            }
        )
    return {
        "migrated": True,
        "runs": out_runs,
        "open_quarantine": by_reason,
        "open_quarantine_by_entity": by_entity,
    }


def _source(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "entity": row["entity"],
        "source_uri": row["source_uri"],
        "source_fingerprint": row["source_fingerprint"],
        "logical_date": _jsonable(row["logical_date"]),
        "status": row["status"],
        "batches": row["batches"],
        **{key: int(row[f"rows_{key}"]) for key in FIGURE_KEYS},
        "released": int(row["rows_released"]),
        "detail": row["detail"],
    }


_QUARANTINE_COLUMNS = (
    "id, run_id, entity, source_uri, source_fingerprint, logical_date, batch_no, source_row,"
    " reason, detail, natural_key, generated_date, quarantined_at, released_at, released_run_id"
)


def list_quarantine(
    dsn: str,
    entity: str | None = None,
    reason: str | None = None,
    open_only: bool = False,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Quarantined rows (newest first) without their records; filters combine with AND."""
    try:
        with connect(dsn) as conn:
            if not _migrated(conn):
                return []
            conn.row_factory = dict_row  # type: ignore[assignment]
            rows = conn.execute(
                f"select {_QUARANTINE_COLUMNS} from ops.quarantine"  # noqa: S608 (constant)
                " where (%(entity)s::text is null or entity = %(entity)s)"
                " and (%(reason)s::text is null or reason = %(reason)s)"
                " and (not %(open)s or released_at is null)"
                " order by id desc limit %(limit)s",
                {"entity": entity, "reason": reason, "open": open_only, "limit": limit},
            ).fetchall()
    except psycopg.Error as exc:
        raise classify(exc, "listing quarantine") from exc
    return [{k: _jsonable(v) for k, v in r.items()} for r in rows]


def get_quarantine(dsn: str, quarantine_id: int) -> dict[str, Any] | None:
    """One quarantined row with its original record and cleaned record, or None."""
    try:
        with connect(dsn) as conn:
            if not _migrated(conn):
                return None
            conn.row_factory = dict_row  # type: ignore[assignment]
            row = conn.execute(
                f"select {_QUARANTINE_COLUMNS}, record, clean_record"  # noqa: S608 (constant)
                " from ops.quarantine where id = %s",
                [quarantine_id],
            ).fetchone()
    except psycopg.Error as exc:
        raise classify(exc, f"reading quarantine row {quarantine_id}") from exc
    return None if row is None else {k: _jsonable(v) for k, v in row.items()}
