"""The ``coretelecoms`` command line. Stage commands call the same task functions the DAG calls;
this module only parses arguments and prints through Rich."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import date, timedelta

import typer
from rich.console import Console
from rich.table import Table

from coretelecoms.config import Settings, get_settings

app = typer.Typer(
    name="coretelecoms",
    help="CoreTelecoms complaint platform: sources -> bronze -> silver -> gold.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


@app.callback()
def _main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging.")) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def fail(message: str) -> typer.Exit:
    """Print a one-line error and return the exit to raise (``raise fail(...)``)."""
    err_console.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    return typer.Exit(code=2)


@app.command()
def info(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Show the resolved settings (locations, DSNs with passwords masked)."""
    resolved = get_settings().public_dict()
    if as_json:
        typer.echo(json.dumps(resolved, indent=2, default=str))
        return
    table = Table(title="coretelecoms settings", show_lines=False)
    table.add_column("setting")
    table.add_column("value")
    for key, value in resolved.items():
        table.add_row(key, "" if value is None else str(value))
    console.print(table)


def _parse_date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise fail(f"{option} {value!r} is not a valid date (expected YYYY-MM-DD)") from None


@app.command()
def simulate(
    *,
    start: str = typer.Option("2025-11-20", help="First simulated day (YYYY-MM-DD)."),
    days: int = typer.Option(4, help="Number of daily complaint sources to generate."),
    scale: float = typer.Option(0.1, help="1 = real volumes (2.5 M customers, ~700 k rows/day)."),
    seed: int = typer.Option(42, help="Same seed, same bytes."),
    target: str | None = typer.Option(
        None, help="Source bucket override: a folder or s3://bucket/prefix."
    ),
    publish_as_of: str | None = typer.Option(
        None,
        "--publish-as-of",
        help="Only publish the customers/agents snapshots as of this date (no generation).",
    ),
) -> None:
    """Write all five sources (simulated), or publish the static sources as of a date."""
    from coretelecoms import simulate as sim

    overrides = {"source_uri": target} if target else {}
    settings = get_settings(**overrides)
    if publish_as_of is not None:
        as_of = _parse_date(publish_as_of, "--publish-as-of")
        try:
            changed = sim.publish_as_of(settings, as_of)
        except (FileNotFoundError, ValueError, OSError) as exc:
            raise fail(str(exc)) from None
        console.print(f"published as of {as_of}: {', '.join(changed) or 'nothing changed'}")
        return
    first_day = _parse_date(start, "--start")
    if days < 1:
        raise fail(f"--days must be at least 1, got {days}")
    if not scale > 0:
        raise fail(f"--scale must be greater than 0, got {scale}")
    if seed < 0:
        raise fail(f"--seed must be non-negative, got {seed}")
    try:
        with console.status(f"simulating {days} day(s) at scale {scale}..."):
            result = sim.simulate(settings, first_day, days, scale, seed)
    except (ValueError, OSError) as exc:
        raise fail(f"cannot simulate into {settings.source_uri}: {exc}") from None
    table = Table(title=f"simulated sources (seed {seed}, scale {scale})")
    for column in ("entity", "date", "location", "rows"):
        table.add_column(column, justify="right" if column == "rows" else "left")
    for written in result.written:
        table.add_row(
            written.entity, written.logical_date.isoformat(), written.location, f"{written.rows:,}"
        )
    console.print(table)
    console.print(
        f"{result.total_rows:,} rows in {result.seconds:.1f}s; static sources published as of "
        f"{first_day}; ground truth in {result.ground_truth_dir}"
    )


def _conformance_dsn() -> str:
    from coretelecoms.postgres import conformance_dsn

    return conformance_dsn(get_settings())


@app.command()
def status(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    limit: int = typer.Option(10, min=1, help="How many recent runs."),
) -> None:
    """Recent runs with reconciliation figures per entity and source version, and open
    quarantine by reason."""
    from coretelecoms.load import LoadError
    from coretelecoms.load.status import FIGURE_KEYS, status_report

    try:
        report = status_report(_conformance_dsn(), limit=limit)
    except LoadError as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=str))
        return
    if not report["migrated"]:
        console.print("the conformance schema is not created yet (run `coretelecoms load`)")
        return
    for run in report["runs"]:
        table = Table(title=f"run {run['run_id']} ({run['status']})")
        for column in ("entity", "date", "source", "status", *FIGURE_KEYS, "released"):
            table.add_column(column, justify="right" if column in FIGURE_KEYS else "left")
        for s in run["sources"]:
            table.add_row(
                s["entity"],
                s["logical_date"] or "",
                s["source_uri"] or s["source_fingerprint"],
                s["status"],
                *(f"{s[k]:,}" for k in FIGURE_KEYS),
                f"{s['released']:,}",
            )
        console.print(table)
    if not report["runs"]:
        console.print("no runs recorded yet")
    opened = report["open_quarantine"]
    console.print(
        "open quarantine: "
        + (", ".join(f"{reason} {n:,}" for reason, n in opened.items()) or "none")
    )


quarantine_app = typer.Typer(help="Inspect quarantined rows.", no_args_is_help=True)
app.add_typer(quarantine_app, name="quarantine")


@quarantine_app.command("list")
def quarantine_list(
    entity: str | None = typer.Option(None, help="Only this entity."),
    reason: str | None = typer.Option(None, help="Only this reason code."),
    open_only: bool = typer.Option(False, "--open", help="Only rows not released yet."),
    limit: int = typer.Option(50, min=1, help="At most this many rows (newest first)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List quarantined rows (without their records)."""
    from coretelecoms.load import LoadError
    from coretelecoms.load.status import list_quarantine

    try:
        found = list_quarantine(_conformance_dsn(), entity, reason, open_only, limit)
    except LoadError as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(found, indent=2, default=str))
        return
    table = Table(title=f"quarantine ({len(found)} rows)")
    for column in ("id", "entity", "date", "row", "reason", "key", "released by"):
        table.add_column(column)
    for q in found:
        table.add_row(
            str(q["id"]),
            q["entity"],
            q["logical_date"] or "",
            "" if q["source_row"] is None else str(q["source_row"]),
            q["reason"],
            q["natural_key"] or "",
            q["released_run_id"] or "",
        )
    console.print(table)


@quarantine_app.command("show")
def quarantine_show(quarantine_id: int = typer.Argument(..., help="Quarantine row id.")) -> None:
    """Show one quarantined row with its original and cleaned record (JSON)."""
    from coretelecoms.load import LoadError
    from coretelecoms.load.status import get_quarantine

    try:
        found = get_quarantine(_conformance_dsn(), quarantine_id)
    except LoadError as exc:
        raise fail(str(exc)) from None
    if found is None:
        raise fail(f"no quarantine row with id {quarantine_id}")
    typer.echo(json.dumps(found, indent=2, default=str))


# -- pipeline stages and the DAG (coretelecoms.pipeline) -----------------------------------------

DEMO_START = date(2025, 11, 20)
DEMO_DAYS = 4
DEMO_SEED = 42

_SHORT_HEADERS = {
    "unchanged": "unchg",
    "quarantined": "quar",
    "duplicates": "dups",
    "released": "rel",
    "open quarantine": "open q",
}


def _figures_table(title: str, rows: list[dict], columns: tuple[str, ...]) -> Table:
    from rich import box

    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
    for column in columns:
        left = column in {"entity", "status", "table"}
        table.add_column(
            _SHORT_HEADERS.get(column, column), justify="left" if left else "right", no_wrap=True
        )
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    return table


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _stage_error(exc: Exception) -> typer.Exit:
    from coretelecoms.pipeline.tasks import is_terminal

    kind = "cannot be fixed by a retry" if is_terminal(exc) else "may succeed on a retry"
    return fail(f"{type(exc).__name__} ({kind}): {exc}")


@app.command()
def extract(
    on: str = typer.Option(..., "--date", help="Logical date (YYYY-MM-DD)."),
    entity: str | None = typer.Option(None, help="Only this entity (default: all five)."),
) -> None:
    """Extract the sources of one day into bronze (the DAG's extract tasks)."""
    from coretelecoms.pipeline import tasks

    day = _parse_date(on, "--date")
    settings = get_settings()
    try:
        entities = tasks.entities_for(entity)
    except ValueError as exc:
        raise fail(str(exc)) from None
    run_id = tasks.cli_run_id("extract", day)
    results = []
    for name in entities:
        with console.status(f"extracting {name} for {day}..."):
            try:
                results.append(tasks.extract(settings, name, day, run_id))
            except Exception as exc:
                raise _stage_error(exc) from exc
    for row in results:
        row["fingerprint"] = (row.get("fingerprint") or "")[:12]
    console.print(
        _figures_table(f"bronze {day}", results, ("entity", "status", "rows", "fingerprint"))
    )
    console.print(f"bronze partitions under {settings.lake_uri}/bronze/<entity>/ingest_date={day}/")


@app.command()
def load(
    on: str = typer.Option(..., "--date", help="Logical date (YYYY-MM-DD)."),
    entity: str | None = typer.Option(None, help="Only this entity (default: all five)."),
) -> None:
    """Transform and load one day's bronze into silver, then release quarantined orphans whose
    parents arrived (the DAG's load and release tasks)."""
    from coretelecoms.pipeline import tasks

    day = _parse_date(on, "--date")
    settings = get_settings()
    try:
        entities = tasks.entities_for(entity)
    except ValueError as exc:
        raise fail(str(exc)) from None
    run_id = tasks.cli_run_id("load", day)
    results = []
    try:
        tasks.ensure_schema(settings)
        for name in entities:
            with console.status(f"loading {name} for {day}..."):
                results.append(tasks.load(settings, name, day, run_id))
        released = tasks.release_quarantine(settings, day, run_id)["released"]
    except Exception as exc:
        raise _stage_error(exc) from exc
    for row in results:
        row["released"] = released.get(row["entity"], 0)
    columns = ("entity", "status", "read", "loaded", "unchanged", "quarantined", "duplicates")
    console.print(_figures_table(f"silver {day} (run {run_id})", results, (*columns, "released")))


@app.command()
def warehouse(
    on: str = typer.Option(..., "--date", help="Logical date (YYYY-MM-DD)."),
    full_refresh: bool = typer.Option(
        False,
        "--full-refresh",
        help="Rebuild every gold model from raw: once after an upgrade that adds a column to "
        "one (docs/operations.md), or to repair gold written outside dbt.",
    ),
) -> None:
    """Move silver changes into the warehouse and run `dbt build` (the DAG's gold tasks)."""
    from coretelecoms.pipeline import tasks

    day = _parse_date(on, "--date")
    settings = get_settings()
    run_id = tasks.cli_run_id("warehouse", day)
    try:
        with console.status("loading the warehouse..."):
            moved = tasks.load_warehouse(settings, day, run_id)
        with console.status("dbt build..."):
            built = tasks.build_warehouse(settings, day, run_id, full_refresh=full_refresh)
    except Exception as exc:
        raise _stage_error(exc) from exc
    console.print(f"warehouse ({moved['warehouse']}): {moved['rows']:,} changed rows moved")
    console.print(f"dbt build: {built['nodes']} nodes, {built['counts']}")


def _run_dag_days(
    settings: Settings, days: list[date], before_day: Callable[[date], object] | None = None
) -> list:
    """Run the DAG for ``days`` with a Rich progress display; Airflow and dbt output goes to a
    log file under the home (``--verbose`` shows it instead)."""
    import contextlib
    import os

    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from coretelecoms.contracts import COMPLAINT_ENTITIES, STATIC_ENTITIES
    from coretelecoms.pipeline import airflow_runner

    verbose = logging.getLogger().level <= logging.DEBUG
    log_path = settings.home / "logs" / "pipeline.log"
    out = Console(file=os.fdopen(os.dup(1), "w", buffering=1), force_terminal=console.is_terminal)
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "DEBUG" if verbose else "WARNING")
    outcomes = []
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} days"),
        TimeElapsedColumn(),
        console=out,
    )

    current: list[date] = []

    def before(day: date) -> None:
        current[:] = [day]
        progress.update(bar, description=f"{day}: starting")
        if before_day is not None:
            before_day(day)

    def on_task(task_id: str, state: str) -> None:
        progress.update(bar, description=f"{current[0]}: {task_id} {state}")

    def after(outcome: airflow_runner.DagRunOutcome) -> None:
        states = outcome.states()

        def loaded(entities: tuple[str, ...]) -> list[str]:
            return [e for e in entities if states.get(f"load_{e}") == "success"]

        static = loaded(STATIC_ENTITIES)
        channels = loaded(COMPLAINT_ENTITIES)
        colour = "green" if outcome.succeeded else "red"
        failed = outcome.failed_tasks()
        progress.console.print(
            f"[{colour}]{outcome.logical_date}: {outcome.state}[/] in {outcome.seconds:.0f}s; "
            f"static {'loaded: ' + ', '.join(static) if static else 'unchanged'}; "
            f"channels loaded {len(channels)}/{len(COMPLAINT_ENTITIES)}"
            + (f"; [red]failed: {', '.join(failed)}[/]" if failed else "")
        )
        progress.advance(bar)
        outcomes.append(outcome)

    capture = contextlib.nullcontext() if verbose else airflow_runner.output_to_file(log_path)
    with progress:
        bar = progress.add_task("preparing Airflow", total=len(days))
        try:
            with capture:
                airflow_runner.run_days(
                    settings, days, before_day=before, after_day=after, on_task=on_task
                )
        except airflow_runner.AirflowSetupError as exc:
            raise fail(str(exc)) from None
    if not verbose:
        out.print(f"Airflow and dbt logs: {log_path}")
    return outcomes


@app.command()
def run(
    on: str | None = typer.Option(None, "--date", help="Run the DAG for one logical date."),
    start: str | None = typer.Option(None, help="First date of a backfill (with --end)."),
    end: str | None = typer.Option(None, help="Last date of a backfill (inclusive)."),
) -> None:
    """Run the Airflow DAG for one day or a range (a backfill, one day after another) on the
    embedded Airflow home, through `dag.test()`."""
    from coretelecoms.pipeline.airflow_runner import date_range

    if on is not None and (start or end):
        raise fail("give either --date or --start/--end")
    if on is not None:
        days = [_parse_date(on, "--date")]
    elif start and end:
        try:
            days = date_range(_parse_date(start, "--start"), _parse_date(end, "--end"))
        except ValueError as exc:
            raise fail(str(exc)) from None
    else:
        raise fail("give --date, or --start and --end")
    outcomes = _run_dag_days(get_settings(), days)
    if any(not o.succeeded for o in outcomes):
        raise typer.Exit(code=1)


@app.command()
def demo(
    scale: float = typer.Option(0.05, help="Source volume (1 = the real 2.5 M customers)."),
) -> None:
    """Simulate the four capstone days (2025-11-20..23, seed 42), run the DAG for each, and
    print what landed where."""
    import time
    import warnings

    from coretelecoms import simulate as sim
    from coretelecoms.pipeline.airflow_runner import date_range

    if not scale > 0:
        raise fail(f"--scale must be greater than 0, got {scale}")
    # pgserver's runtime-dir fallback is expected in containers; keep the demo output readable.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    settings = get_settings()
    started = time.perf_counter()
    with console.status(f"simulating {DEMO_DAYS} days at scale {scale} (seed {DEMO_SEED})..."):
        result = sim.simulate(settings, DEMO_START, DEMO_DAYS, scale, DEMO_SEED)
    console.print(f"simulated {result.total_rows:,} source rows in {result.seconds:.0f}s")
    days = date_range(DEMO_START, DEMO_START + timedelta(days=DEMO_DAYS - 1))
    outcomes = _run_dag_days(settings, days, before_day=lambda d: sim.publish_as_of(settings, d))
    _print_summary(settings, outcomes, time.perf_counter() - started)
    if any(not o.succeeded for o in outcomes):
        raise typer.Exit(code=1)


def _print_summary(settings: Settings, outcomes: list, seconds: float) -> None:
    from coretelecoms.config import mask_dsn
    from coretelecoms.pipeline.report import (
        gold_row_counts,
        open_quarantine,
        report_uris,
        run_figures,
    )
    from coretelecoms.postgres import conformance_dsn

    dsn = conformance_dsn(settings)
    figures = run_figures(dsn, [o.run_id for o in outcomes])
    opened = open_quarantine(dsn)
    rows = [
        {
            "entity": e.removesuffix("_complaints"),
            **f,
            "open quarantine": sum(opened.get(e, {}).values()),
        }
        for e, f in figures.items()
    ]
    columns = ("read", "loaded", "unchanged", "quarantined", "duplicates", "released")
    console.print(
        _figures_table(
            "silver rows per entity over the demo runs (unchg = unchanged, quar = quarantined,"
            " rel = released later, open q = still in quarantine)",
            rows,
            ("entity", *columns, "open quarantine"),
        )
    )
    gold = gold_row_counts(settings)
    console.print(
        _figures_table(
            "gold tables", [{"table": t, "rows": n} for t, n in gold.items()], ("table", "rows")
        )
    )
    last = outcomes[-1].logical_date if outcomes else DEMO_START
    _, html_uri = report_uris(settings, last)
    where = Table(title="where things are", show_header=False)
    where.add_column("what", no_wrap=True)
    where.add_column("location", overflow="fold")
    where.add_row("warehouse (DuckDB)", str(settings.duckdb_path))
    where.add_row("silver (Postgres)", mask_dsn(dsn))
    where.add_row("lake (bronze, quarantine)", str(settings.lake_uri))
    where.add_row("run report", html_uri)
    where.add_row("sources (simulated)", str(settings.source_uri))
    where.add_row("Airflow home", str(settings.airflow_home))
    console.print(where)
    ok = sum(1 for o in outcomes if o.succeeded)
    console.print(f"{ok}/{len(outcomes)} DAG runs succeeded; demo took {seconds:.0f}s")


# -- risk and report ---------------------------------------------------------------------------

risk_app = typer.Typer(
    help="Escalation risk: train the model, score customers, explain a score.",
    no_args_is_help=True,
)
app.add_typer(risk_app, name="risk")


def _metrics_table(evaluation: dict) -> Table:
    table = Table(
        title="held-out months " + ", ".join(m[:7] for m in evaluation.get("test_months", []))
    )
    for column in ("scorer", "ROC AUC", "PR AUC", "top-decile precision", "lift", "base rate"):
        table.add_column(
            column, justify="left" if column == "scorer" else "right", no_wrap=column == "scorer"
        )
    metrics = evaluation.get("metrics", {})
    for name, m in sorted(metrics.items(), key=lambda kv: (kv[0] != "model", kv[0])):
        table.add_row(
            name,
            f"{m['roc_auc']:.3f}",
            f"{m['pr_auc']:.3f}",
            f"{m['top_decile_precision']:.1%}",
            f"{m['top_decile_lift']:.2f}x",
            f"{m['base_rate']:.1%}",
        )
    return table


@risk_app.command("train")
def risk_train(
    test_months: int = typer.Option(3, min=1, help="Months held out for the evaluation."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Train the escalation model on a time-based split, compare it with the baselines on the
    held-out months, then refit on every labelled month and save it."""
    from coretelecoms.risk import RiskError, train

    try:
        evaluation = train(get_settings(), test_months=test_months)
    except (RiskError, ValueError) as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(evaluation, indent=2, default=str))
        return
    console.print(_metrics_table(evaluation))
    console.print(
        f"model {evaluation['version']} trained through {evaluation['trained_through'][:7]} "
        f"on {evaluation['final_rows']:,} customer-months; saved to {evaluation['model_uri']}"
    )


@risk_app.command("score")
def risk_score(
    top: int = typer.Option(10, min=0, help="How many of the riskiest customers to print."),
) -> None:
    """Score every customer-month with the saved model into gold.customer_risk_scores."""
    from coretelecoms.risk import RiskError, score
    from coretelecoms.risk.store import read_scores

    settings = get_settings()
    try:
        result = score(settings)
    except RiskError as exc:
        raise fail(str(exc)) from None
    console.print(
        f"wrote {result['rows']:,} scores (model {result['model_version']}); "
        f"latest month {result['latest_month']}"
    )
    if top:
        table = Table(title=f"riskiest customers, features up to {result['latest_month']}")
        for column in ("rank", "customer", "score", "top reasons"):
            table.add_column(column, justify="right" if column in {"rank", "score"} else "left")
        for r in read_scores(settings).head(top).iter_rows(named=True):
            table.add_row(
                str(r["risk_rank"]), r["customer_id"], f"{r['score']:.3f}", r["top_reasons"] or ""
            )
        console.print(table)


@risk_app.command("explain")
def risk_explain(
    customer_id: str | None = typer.Argument(
        None, help="A customer id; without one, the model's overall feature importance."
    ),
    month: str | None = typer.Option(None, help="Feature month YYYY-MM-01 (default: latest)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Why a customer scores as they do: each feature's value and how much it moves the score."""
    from coretelecoms.risk import RiskError, explain
    from coretelecoms.risk.store import load_evaluation

    settings = get_settings()
    if customer_id is None:
        evaluation = load_evaluation(settings)
        if not evaluation:
            raise fail("no risk model yet: run `coretelecoms risk train` first")
        if as_json:
            typer.echo(json.dumps(evaluation["importance"], indent=2))
            return
        console.print(_metrics_table(evaluation))
        table = Table(title="mean |score change| when a feature is set to its median")
        table.add_column("feature")
        table.add_column("importance", justify="right")
        importance = sorted(evaluation["importance"].items(), key=lambda kv: -kv[1])
        for feature, value in importance:
            table.add_row(feature, f"{value:.4f}")
        console.print(table)
        return
    try:
        explained = explain(settings, customer_id, month)
    except RiskError as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(explained, indent=2))
        return
    table = Table(
        title=f"customer {customer_id}, features up to {explained['month_start_date']}: "
        f"score {explained['score']:.3f}"
    )
    for column in ("feature", "value", "score change"):
        table.add_column(column, justify="left" if column == "feature" else "right")
    for row in explained["features"]:
        table.add_row(row["feature"], f"{row['value']:g}", f"{row['contribution']:+.4f}")
    console.print(table)


@app.command()
def report(
    on: str | None = typer.Option(
        None, "--date", help="Logical date (YYYY-MM-DD); default: the latest run."
    ),
) -> None:
    """Write the HTML + JSON run report of the latest run (of a day) to <lake>/reports/."""
    from coretelecoms.pipeline.report import latest_run, write_run_report

    settings = get_settings()
    day = _parse_date(on, "--date") if on else None
    found = latest_run(settings, day)
    if found is None:
        raise fail(
            f"no pipeline run recorded{f' for {day}' if day else ''}: run the pipeline first"
        )
    logical_date, run_id = found
    written = write_run_report(settings, logical_date, run_id, {})
    console.print(f"run report of {logical_date} ({run_id}): {written['html']}")


if __name__ == "__main__":  # pragma: no cover
    app()
