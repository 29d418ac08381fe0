"""The units of work of the daily pipeline, shared by the Airflow DAG and the CLI stage commands.

Every function is keyed by what it processes (entity, logical date, run id), never by the wall
clock, so running it twice gives the same result: extraction is a no-op for a source already in
bronze, the loader skips committed batches, release and warehouse load only move what changed.
Each returns a small JSON-able dict (it travels through XCom and into the run report); none
returns data frames.

The stage packages are imported inside the functions: the DAG file imports this module at parse
time, which must stay cheap and must not fail while a stage is being rebuilt.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coretelecoms.config import Settings, get_settings
from coretelecoms.contracts import COMPLAINT_ENTITIES, STATIC_ENTITIES, Kind, get_contract

if TYPE_CHECKING:
    from coretelecoms.transform.batch import TransformedBatch

log = logging.getLogger(__name__)

# Task results carry one of these statuses.
EXTRACTED = "extracted"
UNCHANGED = "unchanged"
NO_DATA = "no_data"
LOADED = "loaded"

# Test-only fault hook: ``<entity>=<n>`` makes the load of ``entity`` fail once, right after its
# n-th batch of the attempt committed; a marker file under ``$CORETELECOMS_HOME/faults`` keeps the
# retry from failing again. Used by the end-to-end test of resume-from-checkpoint.
FAULT_ENV = "CORETELECOMS_FAULT_AFTER_BATCHES"


def to_date(value: date | datetime | str) -> date:
    """A logical date from a date, a datetime (Airflow's ``logical_date``) or ``YYYY-MM-DD``."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def cli_run_id(stage: str, logical_date: date) -> str:
    """Run id of a stage run from the CLI: stable per stage and day, so a rerun updates its own
    reconciliation rows instead of adding new ones."""
    return f"cli__{stage}__{logical_date.isoformat()}"


def resolve_settings(settings: Settings | None = None) -> Settings:
    """The given settings, or the environment's (what an Airflow worker has)."""
    return settings if settings is not None else get_settings()


def _dsn(settings: Settings) -> str:
    from coretelecoms.postgres import conformance_dsn

    return conformance_dsn(settings)


# Errors a retry cannot fix, by module and class name (imported lazily: a stage module being
# rebuilt must not break the DAG at parse time).
_TERMINAL_ERRORS = (
    ("coretelecoms.load.errors", "TerminalLoadError"),  # includes ReconciliationError
    ("coretelecoms.extract.base", "SourceError"),
    ("coretelecoms.transform.transformer", "ContractError"),
    ("coretelecoms.warehouse.dbt_runner", "DbtError"),
)


def is_terminal(exc: BaseException) -> bool:
    """True when retrying cannot help (broken source or contract, figures that do not
    reconcile, a failing dbt model or test): the DAG fails such a task at once instead of
    spending its retries, and the message tells the operator what to fix."""
    import sys

    for module_name, class_name in _TERMINAL_ERRORS:
        module = sys.modules.get(module_name)
        cls = getattr(module, class_name, None) if module is not None else None
        if cls is not None and isinstance(exc, cls):
            return True
    return False


# -- schema and plan ---------------------------------------------------------------------------


def ensure_schema(settings: Settings) -> dict[str, Any]:
    """Apply pending conformance migrations (idempotent; a version table records each one)."""
    from coretelecoms.load import apply_migrations

    applied = apply_migrations(_dsn(settings))
    return {"applied": list(applied)}


def plan_static_loads(settings: Settings, logical_date: date | str) -> dict[str, Any]:
    """Decide which static sources (customers, agents) this run must load.

    A static source loads when its content fingerprint differs from the last snapshot loaded
    into silver (``ops.source_snapshots``), or none was ever loaded. A static source that is not
    there at all is left alone (warned): complaints then quarantine as orphans until it arrives.
    """
    from coretelecoms.extract import source_fingerprint
    from coretelecoms.load import static_source_changed

    day = to_date(logical_date)
    dsn = _dsn(settings)
    entities: dict[str, dict[str, Any]] = {}
    for entity in STATIC_ENTITIES:
        fingerprint = source_fingerprint(settings, entity, day)
        if fingerprint is None:
            log.warning("static source %s is missing on %s; not loading it", entity, day)
            entities[entity] = {"fingerprint": None, "load": False, "reason": "missing"}
            continue
        changed = static_source_changed(dsn, entity, fingerprint)
        entities[entity] = {
            "fingerprint": fingerprint,
            "load": changed,
            "reason": "changed or never loaded" if changed else "unchanged",
        }
    load = [e for e, plan in entities.items() if plan["load"]]
    log.info("static plan for %s: load %s", day, load or "nothing")
    return {"logical_date": day.isoformat(), "load": load, "entities": entities}


# -- bronze ------------------------------------------------------------------------------------


def extract(settings: Settings, entity: str, logical_date: date | str, run_id: str) -> dict:
    """Extract one source for one day into bronze.

    Returns ``status`` ``extracted`` (a new bronze version), ``unchanged`` (that exact content is
    already in bronze) or ``no_data`` (no file/table for the day yet: the DAG skips the channel).

    Raises:
        SourceError: the source is malformed; nothing is published (fix the source, then rerun).
    """
    from coretelecoms.extract import ExtractStatus, extract_entity

    get_contract(entity)  # fail fast on an unknown entity
    day = to_date(logical_date)
    result = extract_entity(settings, entity, day, run_id)
    status = {
        ExtractStatus.EXTRACTED: EXTRACTED,
        ExtractStatus.UNCHANGED: UNCHANGED,
        ExtractStatus.NO_DATA: NO_DATA,
    }[result.status]
    out: dict[str, Any] = {"entity": entity, "logical_date": day.isoformat(), "status": status}
    if result.source_version is not None:
        sv = result.source_version
        out.update(fingerprint=sv.fingerprint, rows=sv.rows, bronze_uri=sv.bronze_path)
    log.info("extract %s %s: %s", entity, day, out)
    return out


# -- silver ------------------------------------------------------------------------------------


def _fault_after(entity: str) -> int | None:
    spec = os.environ.get(FAULT_ENV, "")
    for part in spec.split(","):
        name, _, count = part.partition("=")
        if name.strip() == entity and count.strip().isdigit():
            return int(count)
    return None


def _with_fault(
    settings: Settings, entity: str, day: date, batches: Iterable[TransformedBatch]
) -> Iterable[TransformedBatch]:
    """Wrap ``batches`` with the test-only fault of ``FAULT_ENV`` (a no-op when unset)."""
    after = _fault_after(entity)
    if after is None:
        return batches
    marker = Path(settings.home) / "faults" / f"{entity}_{day.isoformat()}.fired"
    if marker.exists():
        return batches

    def faulty() -> Iterator[TransformedBatch]:
        from coretelecoms.load import TransientLoadError

        for n, batch in enumerate(batches):
            if n == after:
                marker.parent.mkdir(parents=True, exist_ok=True)
                marker.write_text(f"batch {batch.batch_no}\n")
                # The loader lets the batches it already has finish (committed) before failing.
                raise TransientLoadError(
                    f"injected fault ({FAULT_ENV}): {entity} {day} before batch {batch.batch_no}"
                )
            yield batch

    return faulty()


def load(settings: Settings, entity: str, logical_date: date | str, run_id: str) -> dict:
    """Transform the day's bronze version of ``entity`` and load it into silver.

    Resumes at the first batch not committed for that source version, skipping any later one
    that is (a retry after a crash or a timeout loads each row exactly once). Returns the
    reconciliation figures.

    Raises:
        TransientLoadError: the database refused for a reason a retry can fix.
        TerminalLoadError / ReconciliationError: fix the data or the code before rerunning.
    """
    import polars as pl

    from coretelecoms.extract import read_bronze
    from coretelecoms.load import Loader, StateLoader, snapshot_rows
    from coretelecoms.transform.transformer import Transformer

    contract = get_contract(entity)
    day = to_date(logical_date)
    bronze = read_bronze(settings, entity, day)
    if bronze is None:
        log.info("load %s %s: nothing in bronze", entity, day)
        return {"entity": entity, "logical_date": day.isoformat(), "status": NO_DATA}
    source = bronze.source_version
    dsn = _dsn(settings)
    start = StateLoader(dsn).last_committed(entity, source.fingerprint).next_batch
    if start:
        log.info("load %s %s: resuming after committed batch %d", entity, day, start - 1)
    batches = Transformer(settings, contract).batches(source, start_batch=start)
    static = contract.kind is Kind.STATIC
    # A new snapshot stages only the rows that differ from the one loaded before it.
    known = snapshot_rows.reference_hashes(settings, dsn, contract, source) if static else None
    summary = Loader(dsn, contract, run_id, day, connections=settings.load_connections).load(
        _with_fault(settings, entity, day, batches), source=source, known=known
    )
    if static and start == 0 and summary.batches_skipped == 0 and summary.row_hashes:
        snapshot_rows.write_hashes(settings, contract, source, pl.concat(summary.row_hashes))
    return {
        "entity": entity,
        "logical_date": day.isoformat(),
        "status": LOADED,
        "fingerprint": source.fingerprint,
        "resumed_at_batch": start,
        "batches_committed": summary.batches_committed,
        **summary.figures(),
    }


def release_quarantine(settings: Settings, logical_date: date | str, run_id: str) -> dict:
    """Load quarantined orphans whose customer or agent has arrived since; counts per entity."""
    from coretelecoms.load import release_quarantine as release

    day = to_date(logical_date)
    released = release(_dsn(settings), run_id, day)
    return {"logical_date": day.isoformat(), "released": dict(released)}


# -- gold --------------------------------------------------------------------------------------


def load_warehouse(settings: Settings, logical_date: date | str, run_id: str) -> dict:
    """Move silver changes since the warehouse watermark into the warehouse ``raw`` schema.

    The watermark, not the logical date, decides what moves, so a backfill and a day-by-day run
    end with the same warehouse; ``logical_date`` and ``run_id`` only label the result.
    """
    from coretelecoms.warehouse import load_warehouse as move

    result = move(settings, _dsn(settings))
    out = result.as_dict()
    out.update(logical_date=to_date(logical_date).isoformat(), run_id=run_id)
    return out


def build_warehouse(
    settings: Settings, logical_date: date | str, run_id: str, full_refresh: bool = False
) -> dict:
    """``dbt build`` of the dimensional model (models, snapshots-as-models and tests).

    ``full_refresh`` rebuilds every incremental model from raw: once after an upgrade that adds
    a column to one (they fail on a schema change), or to repair gold written outside dbt.

    Raises:
        DbtError: a model or a test failed; ``failed_nodes`` names them.
    """
    from coretelecoms.warehouse import run_dbt

    result = run_dbt(settings, ["build", "--full-refresh"] if full_refresh else ["build"])
    return {
        "logical_date": to_date(logical_date).isoformat(),
        "run_id": run_id,
        "nodes": len(result.nodes),
        "counts": result.counts,
    }


def score_risk(settings: Settings, logical_date: date | str, run_id: str) -> dict:
    """Refit the escalation model when due for this logical date (no model, a new horizon month,
    or ``risk_refit_days`` old), else keep it, and rescore the customers whose features changed
    into ``customer_risk_scores``; ``status`` is ``skipped`` (with a reason) while the features
    hold too few months to train on."""
    from coretelecoms.risk import train_and_score

    day = to_date(logical_date)
    out = train_and_score(settings, logical_date=day)
    out.update(logical_date=day.isoformat(), run_id=run_id)
    return out


def write_report(
    settings: Settings, logical_date: date | str, run_id: str, results: dict[str, Any] | None
) -> dict:
    """Write the run report (JSON + HTML) to ``settings.reports_uri``; returns its locations."""
    from coretelecoms.pipeline.report import write_run_report

    return write_run_report(settings, to_date(logical_date), run_id, results or {})


# -- whole stages for the CLI ------------------------------------------------------------------


def entities_for(entity: str | None) -> tuple[str, ...]:
    """One entity (validated) or all five, parents first."""
    if entity is None:
        return (*STATIC_ENTITIES, *COMPLAINT_ENTITIES)
    get_contract(entity)
    return (entity,)
