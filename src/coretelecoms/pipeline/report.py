"""The run report: what one pipeline run read, loaded, quarantined and built.

Its figures come from the database (``ops.pipeline_runs``, ``ops.quarantine``) and the warehouse,
not from XCom, so a report rewritten after a retry or a rerun tells the truth. It is written as
JSON (for tools) and HTML (for people) to ``<lake>/reports/``, named by logical date: a rerun of
a day replaces that day's report.
"""

from __future__ import annotations

import html
import json
import logging
from datetime import date
from pathlib import Path
from typing import Any

from coretelecoms.config import Settings

log = logging.getLogger(__name__)

_FIGURES = ("read", "loaded", "unchanged", "quarantined", "duplicates", "released")


def run_figures(dsn: str, run_ids: list[str] | None = None) -> dict[str, dict[str, int]]:
    """Per entity, the reconciliation figures summed over ``run_ids`` (all runs when None)."""
    from coretelecoms.postgres import connect

    query = (
        "select entity, sum(rows_read), sum(rows_loaded), sum(rows_unchanged),"
        " sum(rows_quarantined), sum(rows_duplicates), sum(rows_released)"
        " from ops.pipeline_runs where %(all)s or run_id = any(%(runs)s)"
        " group by entity order by entity"
    )
    with connect(dsn) as conn:
        rows = conn.execute(query, {"all": run_ids is None, "runs": list(run_ids or [])}).fetchall()
    return {r[0]: dict(zip(_FIGURES, (int(v or 0) for v in r[1:]), strict=True)) for r in rows}


def open_quarantine(dsn: str) -> dict[str, dict[str, int]]:
    """Open (unreleased) quarantine rows per entity and reason."""
    from coretelecoms.postgres import connect

    with connect(dsn) as conn:
        rows = conn.execute(
            "select entity, reason, count(*) from ops.quarantine where released_at is null"
            " group by entity, reason order by entity, reason"
        ).fetchall()
    out: dict[str, dict[str, int]] = {}
    for entity, reason, n in rows:
        out.setdefault(entity, {})[reason] = int(n)
    return out


def gold_row_counts(settings: Settings) -> dict[str, int]:
    """Row count of every gold table (DuckDB only; empty for Snowflake or before the first build).

    Opens the DuckDB file read-only; returns {} when it does not exist yet.
    """
    if settings.warehouse != "duckdb" or settings.duckdb_path is None:
        return {}
    path = Path(settings.duckdb_path)
    if not path.exists():
        return {}
    import duckdb

    from coretelecoms.warehouse.checksums import GOLD_SCHEMA

    conn = duckdb.connect(str(path), read_only=True)
    try:
        tables = [
            r[0]
            for r in conn.execute(
                "select table_name from information_schema.tables where table_schema = ?"
                " order by 1",
                [GOLD_SCHEMA],
            ).fetchall()
        ]
        counts: dict[str, int] = {}
        for t in tables:
            # Identifiers come from information_schema and are quoted.
            quoted = '"{}"."{}"'.format(GOLD_SCHEMA, t.replace('"', '""'))
            query = "select count(*) from " + quoted  # noqa: S608
            counts[t] = int(conn.execute(query).fetchone()[0])
        return counts
    finally:
        conn.close()


def build_run_report(
    settings: Settings, logical_date: date, run_id: str, results: dict[str, Any]
) -> dict[str, Any]:
    """The report as a dict: task results, figures of this run, open quarantine, gold counts."""
    from coretelecoms.postgres import conformance_dsn

    dsn = conformance_dsn(settings)
    statuses = {k: (v or {}).get("status", "skipped") for k, v in results.items()}
    return {
        "run_id": run_id,
        "logical_date": logical_date.isoformat(),
        "tasks": statuses,
        "entities": run_figures(dsn, [run_id]),
        "open_quarantine": open_quarantine(dsn),
        "gold_rows": gold_row_counts(settings),
    }


def _html(report: dict[str, Any]) -> str:
    esc = html.escape

    def table(title: str, header: list[str], rows: list[list[Any]]) -> str:
        head = "".join(f"<th>{esc(h)}</th>" for h in header)
        body = "".join(
            "<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in row) + "</tr>" for row in rows
        )
        return f"<h2>{esc(title)}</h2><table><tr>{head}</tr>{body}</table>"

    entities = report["entities"]
    parts = [
        f"<h1>CoreTelecoms run {esc(report['logical_date'])}</h1>",
        f"<p>run id <code>{esc(report['run_id'])}</code></p>",
        table(
            "Silver reconciliation",
            ["entity", *_FIGURES],
            [[e, *(f[k] for k in _FIGURES)] for e, f in entities.items()],
        ),
        table(
            "Open quarantine",
            ["entity", "reason", "rows"],
            [[e, r, n] for e, by in report["open_quarantine"].items() for r, n in by.items()],
        ),
        table("Gold tables", ["table", "rows"], list(map(list, report["gold_rows"].items()))),
        table("Tasks", ["task", "status"], list(map(list, report["tasks"].items()))),
    ]
    style = "body{font-family:sans-serif}td,th{padding:2px 8px;border-bottom:1px solid #ddd}"
    return f"<!doctype html><html><head><meta charset='utf-8'><style>{style}</style></head>" + (
        f"<body>{''.join(parts)}</body></html>"
    )


def report_uris(settings: Settings, logical_date: date) -> tuple[str, str]:
    """JSON and HTML locations of the report of ``logical_date``."""
    base = f"{settings.reports_uri.rstrip('/')}/run_report_{logical_date.isoformat()}"
    return f"{base}.json", f"{base}.html"


def write_run_report(
    settings: Settings, logical_date: date, run_id: str, results: dict[str, Any]
) -> dict[str, Any]:
    """Build and write the report (local folder or s3:// through fsspec); returns a summary."""
    from coretelecoms.extract.base import filesystem

    report = build_run_report(settings, logical_date, run_id, results)
    json_uri, html_uri = report_uris(settings, logical_date)
    fs = filesystem(settings, json_uri)
    fs.makedirs(settings.reports_uri, exist_ok=True)
    with fs.open(json_uri, "w") as fh:
        json.dump(report, fh, indent=2, sort_keys=True)
    with fs.open(html_uri, "w") as fh:
        fh.write(_html(report))
    log.info("run report for %s written to %s", logical_date, json_uri)
    return {
        "json": json_uri,
        "html": html_uri,
        "entities": len(report["entities"]),
        "gold_tables": len(report["gold_rows"]),
    }
