# ruff: noqa: S608  (SQL text is literal; the only identifiers are quoted module constants)
"""The run report: what one pipeline run read, loaded, quarantined and built, what the data
looks like, and who is most at risk.

Figures come from the database (``ops.*`` in silver) and the warehouse (``gold.*``), not from
XCom, so a report rewritten after a retry or a rerun tells the truth. It is written as JSON (for
tools) and one self-contained HTML file (for people: charts are inline SVG, no scripts or
external files, so it opens offline and can be mailed) to ``<lake>/reports/``, named by logical
date: a rerun of a day replaces that day's report.
"""

from __future__ import annotations

import html
import json
import logging
from datetime import date
from pathlib import Path
from typing import Any

from coretelecoms.config import Settings
from coretelecoms.load.state import FIGURE_KEYS, is_balanced
from coretelecoms.pipeline import charts

log = logging.getLogger(__name__)

_FIGURES = (*FIGURE_KEYS, "released")
_CHANNEL_LABELS = {"call": "Phone calls", "social_media": "Social media", "web_form": "Web forms"}
_BACKLOG_BUCKETS = ("0-5 days", "6-30 days", "31-90 days", "91-180 days", "over 180 days")
_TOP_CUSTOMERS = 15


# -- silver (ops) ----------------------------------------------------------------------------


def _rows(dsn: str, query: str, params: dict[str, Any] | None = None) -> list[tuple]:
    from coretelecoms.postgres import connect

    with connect(dsn) as conn:
        return conn.execute(query, params or {}).fetchall()


def run_figures(dsn: str, run_ids: list[str] | None = None) -> dict[str, dict[str, int]]:
    """Per entity, the reconciliation figures summed over ``run_ids`` (all runs when None)."""
    rows = _rows(
        dsn,
        "select entity, sum(rows_read), sum(rows_loaded), sum(rows_unchanged),"
        " sum(rows_quarantined), sum(rows_duplicates), sum(rows_released)"
        " from ops.pipeline_runs where %(all)s or run_id = any(%(runs)s)"
        " group by entity order by entity",
        {"all": run_ids is None, "runs": list(run_ids or [])},
    )
    return {r[0]: dict(zip(_FIGURES, (int(v or 0) for v in r[1:]), strict=True)) for r in rows}


def open_quarantine(dsn: str) -> dict[str, dict[str, int]]:
    """Open (unreleased) quarantine rows per entity and reason."""
    out: dict[str, dict[str, int]] = {}
    for entity, reason, n in _rows(
        dsn,
        "select entity, reason, count(*) from ops.quarantine where released_at is null"
        " group by entity, reason order by entity, reason",
    ):
        out.setdefault(entity, {})[reason] = int(n)
    return out


def quarantine_trend(dsn: str, through: date) -> dict[str, dict[str, int]]:
    """Rows quarantined per source day and reason, up to ``through`` (one entry per day)."""
    out: dict[str, dict[str, int]] = {}
    for day, reason, n in _rows(
        dsn,
        "select logical_date, reason, count(*) from ops.quarantine"
        " where logical_date <= %(through)s group by 1, 2 order by 1, 2",
        {"through": through},
    ):
        out.setdefault(day.isoformat(), {})[reason] = int(n)
    return out


def dq_issues(dsn: str, run_ids: list[str]) -> list[dict[str, Any]]:
    """Field-level issues recorded by ``run_ids``, per entity, field and rule, most first."""
    rows = _rows(
        dsn,
        "select entity, field, rule, count(*) from ops.dq_issues where run_id = any(%(runs)s)"
        " group by 1, 2, 3 order by 4 desc, 1, 2, 3",
        {"runs": run_ids},
    )
    return [{"entity": e, "field": f, "rule": r, "rows": int(n)} for e, f, r, n in rows]


def run_history(dsn: str, through: date) -> dict[str, dict[str, int]]:
    """Rows read, loaded and quarantined per logical date up to ``through`` (all runs)."""
    rows = _rows(
        dsn,
        "select logical_date, sum(rows_read), sum(rows_loaded), sum(rows_quarantined)"
        " from ops.pipeline_runs where logical_date <= %(through)s group by 1 order by 1",
        {"through": through},
    )
    return {
        d.isoformat(): {"read": int(r or 0), "loaded": int(lo or 0), "quarantined": int(q or 0)}
        for d, r, lo, q in rows
    }


# -- gold ------------------------------------------------------------------------------------


def _duckdb(settings: Settings) -> Any | None:
    """A read-only connection to the DuckDB warehouse, or None (Snowflake, or not built yet)."""
    if settings.warehouse != "duckdb" or settings.duckdb_path is None:
        return None
    path = Path(settings.duckdb_path)
    if not path.exists():
        return None
    import duckdb

    return duckdb.connect(str(path), read_only=True)


def _gold_tables(conn: Any) -> list[str]:
    from coretelecoms.warehouse.checksums import GOLD_SCHEMA

    return [
        r[0]
        for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = ? order by 1",
            [GOLD_SCHEMA],
        ).fetchall()
    ]


def gold_row_counts(settings: Settings) -> dict[str, int]:
    """Row count of every gold table (DuckDB only; empty for Snowflake or before the first build).

    Opens the DuckDB file read-only; returns {} when it does not exist yet.
    """
    conn = _duckdb(settings)
    if conn is None:
        return {}
    from coretelecoms.warehouse.checksums import GOLD_SCHEMA

    try:
        counts: dict[str, int] = {}
        for t in _gold_tables(conn):
            # Identifiers come from information_schema and are quoted.
            quoted = '"{}"."{}"'.format(GOLD_SCHEMA, t.replace('"', '""'))
            counts[t] = int(conn.execute("select count(*) from " + quoted).fetchone()[0])
        return counts
    finally:
        conn.close()


def complaint_kpis(settings: Settings) -> dict[str, Any]:
    """Volumes by channel, category and request month, SLA attainment, backlog age ({} if no
    gold yet). SLA attainment: share of complaints resolved within ``sla_days``."""
    conn = _duckdb(settings)
    if conn is None:
        return {}
    try:
        if not {"fct_complaint", "fct_complaint_lifecycle"} <= set(_gold_tables(conn)):
            return {}

        def pairs(query: str) -> dict[str, float]:
            return {str(k): v for k, v in conn.execute(query).fetchall()}

        monthly: dict[str, dict[str, int]] = {}
        for month, channel, n in conn.execute(
            "select strftime(date_trunc('month', request_date), '%Y-%m'), channel, count(*)"
            " from gold.fct_complaint where request_date is not null group by 1, 2 order by 1, 2"
        ).fetchall():
            monthly.setdefault(month, {})[channel] = int(n)
        buckets = (
            "case when days_open <= 5 then 0 when days_open <= 30 then 1"
            " when days_open <= 90 then 2 when days_open <= 180 then 3 else 4 end"
        )
        backlog = pairs(
            f"select {buckets}, count(*) from gold.fct_complaint_lifecycle"
            " where not is_resolved group by 1 order by 1"
        )
        return {
            "by_channel": pairs(
                "select channel, count(*) from gold.fct_complaint group by 1 order by 2 desc"
            ),
            "by_category": pairs(
                "select coalesce(complaint_category, '(not recorded)'), count(*)"
                " from gold.fct_complaint"
                " group by 1 order by 2 desc"
            ),
            "by_status": pairs(
                "select coalesce(resolution_status, '(not recorded)'), count(*)"
                " from gold.fct_complaint"
                " group by 1 order by 2 desc"
            ),
            "monthly_by_channel": monthly,
            "sla_attainment": pairs(
                "select channel, round(100 * avg(case when is_sla_met then 1 else 0 end), 1)"
                " from gold.fct_complaint_lifecycle group by 1 order by 1"
            ),
            "sla_days": settings.sla_days,
            "backlog_age": {
                label: int(backlog.get(str(i), 0)) for i, label in enumerate(_BACKLOG_BUCKETS)
            },
        }
    finally:
        conn.close()


def risk_summary(settings: Settings) -> dict[str, Any]:
    """The riskiest customers of the latest scored month and how the model compares with the
    baselines on the held-out months ({} before the first scoring)."""
    from coretelecoms.risk.store import load_evaluation, read_scores

    scores = read_scores(settings)
    evaluation = load_evaluation(settings)
    if scores.is_empty():
        return {}
    top = scores.head(_TOP_CUSTOMERS)
    return {
        "month": scores["month_start_date"][0].isoformat(),
        "target_month": scores["target_month_start_date"][0].isoformat(),
        "customers_scored": scores.height,
        "top": [
            {
                "rank": r["risk_rank"],
                "customer_id": r["customer_id"],
                "score": round(float(r["score"]), 4),
                "top_reasons": r["top_reasons"],
            }
            for r in top.iter_rows(named=True)
        ],
        "model_version": evaluation.get("version"),
        "test_months": evaluation.get("test_months", []),
        "metrics": evaluation.get("metrics", {}),
    }


# -- the report ------------------------------------------------------------------------------


def build_run_report(
    settings: Settings, logical_date: date, run_id: str, results: dict[str, Any]
) -> dict[str, Any]:
    """The report as a dict (JSON-able): everything the HTML shows, as numbers."""
    from coretelecoms.postgres import conformance_dsn

    dsn = conformance_dsn(settings)
    statuses = {k: (v or {}).get("status", "done" if v else "skipped") for k, v in results.items()}
    entities = run_figures(dsn, [run_id])
    return {
        "run_id": run_id,
        "logical_date": logical_date.isoformat(),
        "tasks": statuses,
        "entities": entities,
        "reconciled": {e: is_balanced(f) for e, f in entities.items()},
        "runs": run_history(dsn, logical_date),
        "dq_issues": dq_issues(dsn, [run_id]),
        "quarantine_trend": quarantine_trend(dsn, logical_date),
        "open_quarantine": open_quarantine(dsn),
        "gold_rows": gold_row_counts(settings),
        "complaints": complaint_kpis(settings),
        "risk": risk_summary(settings),
    }


_STYLE = """
body{font-family:system-ui,sans-serif;margin:0;background:#f3f4f6;color:#111827}
main{max-width:1120px;margin:0 auto;padding:24px}
header{background:#1e3a8a;color:#fff;padding:20px 24px}
header h1{margin:0;font-size:22px} header p{margin:4px 0 0;opacity:.85;font-size:13px}
section{background:#fff;border-radius:8px;padding:16px 20px;margin:0 0 18px;
box-shadow:0 1px 2px rgba(0,0,0,.06)}
h2{font-size:17px;margin:0 0 4px} .note{color:#6b7280;font-size:13px;margin:0 0 12px}
.tiles{display:flex;gap:12px;flex-wrap:wrap;margin:0 0 18px}
.tile{background:#fff;border-radius:8px;padding:12px 16px;min-width:150px;flex:1;
box-shadow:0 1px 2px rgba(0,0,0,.06)}
.tile b{display:block;font-size:22px} .tile span{color:#6b7280;font-size:12px}
.grid{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:18px;margin:8px 0 12px}
table{border-collapse:collapse;font-size:13px;width:100%;margin:6px 0}
th{text-align:left;color:#374151;border-bottom:2px solid #e5e7eb;padding:4px 8px}
td{border-bottom:1px solid #f0f0f0;padding:4px 8px} td.n,th.n{text-align:right}
.ok{color:#15803d;font-weight:600} .bad{color:#b91c1c;font-weight:600}
code{font-size:12px} .reasons{font-size:12px;color:#374151}
td.id{font-family:ui-monospace,monospace;font-size:12px;white-space:nowrap}
"""


def _esc(value: object) -> str:
    return html.escape(str(value))


def _table(header: list[str], rows: list[list[Any]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    head = "".join(
        f"<th class='n'>{_esc(h)}</th>" if i in numeric else f"<th>{_esc(h)}</th>"
        for i, h in enumerate(header)
    )

    def cell(i: int, value: Any) -> str:
        if isinstance(value, tuple):  # (html, css class): already escaped markup
            return f"<td class='{value[1]}'>{value[0]}</td>"
        text = f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else value
        return f"<td class='n'>{_esc(text)}</td>" if i in numeric else f"<td>{_esc(text)}</td>"

    body = "".join("<tr>" + "".join(cell(i, c) for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _section(title: str, note: str, *parts: str) -> str:
    return (
        f"<section><h2>{_esc(title)}</h2><p class='note'>{_esc(note)}</p>{''.join(parts)}</section>"
    )


def _grid(*svgs: str) -> str:
    return "<div class='grid'>" + "".join(f"<div>{s}</div>" for s in svgs) + "</div>"


def _tiles(report: dict[str, Any]) -> str:
    entities = report["entities"]
    total = {k: sum(f[k] for f in entities.values()) for k in _FIGURES}
    balanced = all(report["reconciled"].values())
    tiles = [
        (f"{total['read']:,}", "rows read this run"),
        (f"{total['loaded']:,}", "rows loaded (new or changed)"),
        (f"{total['quarantined']:,}", "rows quarantined this run"),
        (f"{sum(i['rows'] for i in report['dq_issues']):,}", "field-level DQ issues"),
        (
            "no data" if not entities else "balanced" if balanced else "NOT balanced",
            "reconciliation",
        ),
    ]
    return (
        "<div class='tiles'>"
        + "".join(
            f"<div class='tile'><b>{_esc(v)}</b><span>{_esc(t)}</span></div>" for v, t in tiles
        )
        + "</div>"
    )


def _run_section(report: dict[str, Any]) -> str:
    entities = report["entities"]
    rows = [
        [
            e,
            *(f[k] for k in _FIGURES),
            ("&#10003; balanced", "ok") if report["reconciled"][e] else ("&#10007; off", "bad"),
        ]
        for e, f in entities.items()
    ]
    history = report["runs"]
    days = list(history)
    trend = charts.line_chart(
        "Rows per run (logical date)",
        [d[5:] for d in days],
        {k: [history[d][k] for d in days] for k in ("read", "loaded", "quarantined")},
        empty_message="no runs recorded yet",
    )
    tasks = charts.bar_chart(
        "Rows read this run, by entity",
        [(e, f["read"]) for e, f in sorted(entities.items(), key=lambda kv: -kv[1]["read"])],
        empty_message="nothing read in this run (no new source data)",
    )
    return _section(
        "Pipeline run and reconciliation",
        "Per entity: rows read = loaded + unchanged + quarantined + duplicates dropped. "
        "Released: earlier orphans loaded in this run once their parent arrived.",
        _grid(tasks, trend),
        _table(["entity", *_FIGURES, "reconciliation"], rows, set(range(1, 7)))
        if rows
        else "<p class='note'>No source data was processed in this run.</p>",
        _table(["task", "status"], [[t, s] for t, s in report["tasks"].items()])
        if report["tasks"]
        else "",
    )


def _quality_section(report: dict[str, Any]) -> str:
    issues = report["dq_issues"]
    by_rule: dict[str, int] = {}
    by_field: dict[str, int] = {}
    for i in issues:
        by_rule[i["rule"]] = by_rule.get(i["rule"], 0) + i["rows"]
        key = f"{i['entity']}.{i['field']}"
        by_field[key] = by_field.get(key, 0) + i["rows"]
    none = "no field-level issues in this run"
    return _section(
        "Data-quality issues",
        "Values that were cleaned or nulled while loading (the row itself loaded); originals "
        "are kept in ops.dq_issues and the lake.",
        _grid(
            charts.bar_chart(
                "Issues by rule",
                sorted(by_rule.items(), key=lambda kv: -kv[1]),
                empty_message=none,
            ),
            charts.bar_chart(
                "Issues by field",
                sorted(by_field.items(), key=lambda kv: -kv[1]),
                color=charts.PALETTE[1],
                empty_message=none,
            ),
        ),
        _table(
            ["entity", "field", "rule", "rows"],
            [[i["entity"], i["field"], i["rule"], i["rows"]] for i in issues],
            {3},
        )
        if issues
        else "",
    )


def _quarantine_section(report: dict[str, Any]) -> str:
    trend = report["quarantine_trend"]
    days = list(trend)
    reasons = sorted({r for by in trend.values() for r in by})
    open_rows = report["open_quarantine"]
    by_reason: dict[str, int] = {}
    for by in open_rows.values():
        for reason, n in by.items():
            by_reason[reason] = by_reason.get(reason, 0) + n
    return _section(
        "Quarantine",
        "Rows that could not be loaded. Orphans (unknown customer or agent) are retried on "
        "every run and released when their parent arrives; the rest wait for a person.",
        _grid(
            charts.bar_chart(
                "Open quarantine by reason",
                sorted(by_reason.items(), key=lambda kv: -kv[1]),
                color=charts.PALETTE[3],
                empty_message="quarantine is empty",
            ),
            charts.stacked_columns(
                "Quarantined rows per source day, by reason",
                [d[5:] for d in days],
                {r: [trend[d].get(r, 0) for d in days] for r in reasons},
                empty_message="nothing quarantined so far",
            ),
        ),
        _table(
            ["entity", "reason", "open rows"],
            [[e, r, n] for e, by in open_rows.items() for r, n in by.items()],
            {2},
        ),
    )


def _complaints_section(report: dict[str, Any]) -> str:
    kpis = report["complaints"]
    if not kpis:
        return _section(
            "Complaints",
            "The warehouse has not been built yet.",
            charts.empty("Complaints", "no gold tables yet"),
        )
    label = _CHANNEL_LABELS.get
    monthly = kpis["monthly_by_channel"]
    months = list(monthly)
    channels = sorted({c for by in monthly.values() for c in by})
    return _section(
        "Complaint KPIs",
        f"All complaints in the warehouse, by request date. SLA: resolved within "
        f"{kpis['sla_days']} days of the request. Backlog age: days an unresolved complaint has "
        "been open, up to its last observation.",
        _grid(
            charts.bar_chart(
                "Complaints by channel", [(label(c, c), n) for c, n in kpis["by_channel"].items()]
            ),
            charts.bar_chart(
                "Complaints by category",
                list(kpis["by_category"].items()),
                color=charts.PALETTE[1],
            ),
            charts.bar_chart(
                f"SLA attainment by channel (resolved within {kpis['sla_days']} days)",
                [(label(c, c), v) for c, v in kpis["sla_attainment"].items()],
                unit="%",
                value_format=lambda v: f"{v:.1f}",
                color=charts.PALETTE[2],
            ),
            charts.bar_chart(
                "Open backlog by age",
                list(kpis["backlog_age"].items()),
                color=charts.PALETTE[3],
                empty_message="no open complaints",
            ),
        ),
        charts.line_chart(
            "Complaints per request month, by channel",
            months,
            {label(c, c): [monthly[m].get(c, 0) for m in months] for c in channels},
            width=1060,
        ),
    )


_SCORER_NAMES = {
    "model": "model (gradient boosting)",
    "complaints_last_month": "baseline: complaints last month",
    "unresolved_last_month": "baseline: unresolved last month",
}


def _ordered(metrics: dict[str, dict[str, float]]) -> list[tuple[str, dict[str, float]]]:
    """The model first, then the baselines."""
    return sorted(metrics.items(), key=lambda kv: (kv[0] != "model", kv[0]))


def _metric_rows(metrics: dict[str, dict[str, float]]) -> list[list[Any]]:
    return [
        [
            _SCORER_NAMES.get(name, name),
            f"{m['roc_auc']:.3f}",
            f"{m['pr_auc']:.3f}",
            f"{100 * m['top_decile_precision']:.1f}%",
            f"{m['top_decile_lift']:.2f}x",
        ]
        for name, m in _ordered(metrics)
    ]


def _month_span(months: list[str], shift: int = 0) -> str:
    if not months:
        return "n/a"
    first, last = (date.fromisoformat(months[0]), date.fromisoformat(months[-1]))

    def ym(d: date) -> str:
        total = d.year * 12 + d.month - 1 + shift
        return f"{total // 12}-{total % 12 + 1:02d}"

    return ym(first) if first == last else f"{ym(first)} to {ym(last)}"


def _risk_section(report: dict[str, Any]) -> str:
    risk = report["risk"]
    if not risk:
        return _section(
            "Riskiest customers",
            "No risk scores yet: the model needs several months of complaint history "
            "(coretelecoms risk train, then risk score).",
        )
    ordered = _ordered(risk["metrics"])
    lift = charts.bar_chart(
        "Top-decile lift on held-out months (higher is better)",
        [(_SCORER_NAMES.get(name, name), m["top_decile_lift"]) for name, m in ordered],
        unit="x",
        value_format=lambda v: f"{v:.2f}",
        color=[charts.PALETTE[4] if name == "model" else "#9ca3af" for name, _ in ordered],
        empty_message="no evaluation saved",
    )
    held_out = (
        f"features of {_month_span(risk['test_months'])} predicting "
        f"{_month_span(risk['test_months'], 1)}"
    )
    rows = [
        [
            r["rank"],
            (_esc(r["customer_id"]), "id"),
            f"{r['score']:.3f}",
            (_esc(r["top_reasons"] or ""), "reasons"),
        ]
        for r in risk["top"]
    ]
    return _section(
        "Riskiest customers",
        f"Probability of an escalated complaint in {risk['target_month'][:7]}, from features up to "
        f"{risk['month'][:7]} ({risk['customers_scored']:,} customers scored, model "
        f"{risk['model_version']}). Held-out evaluation: {held_out}. Lift: escalation rate "
        "among each month's top tenth of scores over the overall rate.",
        _grid(
            lift,
            _table(
                ["scorer", "ROC AUC", "PR AUC", "top-decile precision", "lift"],
                _metric_rows(risk["metrics"]),
                {1, 2, 3, 4},
            ),
        ),
        _table(["rank", "customer", "score", "top reasons (feature=value, +score)"], rows, {0, 2}),
    )


def render_html(report: dict[str, Any]) -> str:
    """The report as one self-contained HTML page."""
    header = (
        f"<header><h1>CoreTelecoms pipeline run {_esc(report['logical_date'])}</h1>"
        f"<p>run <code>{_esc(report['run_id'])}</code></p></header>"
    )
    body = "".join(
        [
            _tiles(report),
            _run_section(report),
            _quality_section(report),
            _quarantine_section(report),
            _complaints_section(report),
            _risk_section(report),
        ]
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>CoreTelecoms run {_esc(report['logical_date'])}</title>"
        f"<style>{_STYLE}</style></head><body>{header}<main>{body}</main></body></html>"
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
        json.dump(report, fh, indent=2, sort_keys=True, default=str)
    with fs.open(html_uri, "w") as fh:
        fh.write(render_html(report))
    log.info("run report for %s written to %s", logical_date, html_uri)
    return {
        "json": json_uri,
        "html": html_uri,
        "entities": len(report["entities"]),
        "gold_tables": len(report["gold_rows"]),
    }


def latest_run(settings: Settings, logical_date: date | None = None) -> tuple[date, str] | None:
    """The logical date and run id of the most recent run (of ``logical_date`` if given)."""
    from coretelecoms.postgres import conformance_dsn

    rows = _rows(
        conformance_dsn(settings),
        "select logical_date, run_id from ops.pipeline_runs"
        " where %(day)s::date is null or logical_date = %(day)s::date"
        " order by started_at desc limit 1",
        {"day": logical_date},
    )
    return (rows[0][0], rows[0][1]) if rows else None
