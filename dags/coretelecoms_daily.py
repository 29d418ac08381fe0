"""
# CoreTelecoms daily complaint pipeline

Sources -> bronze (Parquet + manifests) -> silver (Postgres, enforced keys, quarantine, history)
-> gold (dbt dimensional model). One run per logical date; each task calls one function of
`coretelecoms.pipeline.tasks` keyed by entity, logical date and run id, so any task can be
cleared and rerun.

**Graph**

1. `ensure_schema` applies pending silver migrations.
2. `plan_static_loads` (branch) compares the content fingerprint of the customers file and the
   agents sheet with the last snapshot loaded into silver and follows only the ones that changed
   or were never loaded (`static_sources_unchanged` when neither).
3. `extract_<static>` -> `load_<static>` in parallel.
4. `static_sources_ready` (gate, `none_failed_min_one_success`): complaint loads wait here, so
   parents are in silver before their complaints. It only holds them on days a static source
   (re)loads: the first day and the days a new snapshot arrived.
5. The three channels in parallel: `extract_<channel>` (starts right after the schema, it does not
   need parents) -> `load_<channel>` (transform + load; a retry resumes after the last committed
   batch). A channel with no file or table for the day ends **skipped**.
6. `release_quarantine` (orphans whose parent arrived) -> `load_warehouse` (silver changes since
   the watermark) -> `dbt_build` -> `score_risk` (refit the escalation model when due for the
   logical date: no model, a new horizon month or `CORETELECOMS_RISK_REFIT_DAYS` old; rescore
   the customers whose features changed into `customer_risk_scores`; a no-op while there are
   too few months) -> `run_report`
   (JSON + self-contained HTML with charts in `<lake>/reports/`).
   A day where nothing at all arrived skips 6 down to the report, which records "no data".

Retries with exponential backoff on every task; Slack notification of every run outcome when
`CORETELECOMS_SLACK_WEBHOOK_URL` is set. Configuration comes from `CORETELECOMS_*` variables on
the workers (see the README); nothing is read at parse time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import TriggerRule, dag, task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from coretelecoms.contracts import COMPLAINT_ENTITIES, STATIC_ENTITIES
from coretelecoms.pipeline import tasks
from coretelecoms.pipeline.notify import SlackWebhookNotifier

DAG_ID = "coretelecoms_daily"
UNCHANGED_TASK = "static_sources_unchanged"

default_args: dict[str, Any] = {
    "owner": "coretelecoms",
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=10),
    "execution_timeout": timedelta(hours=2),
}


def _call(fn: Callable[..., dict], *args: Any) -> dict:
    """Run a task function with the worker's settings; errors a retry cannot fix fail the task
    at once (no retries spent), transient ones are retried with backoff."""
    try:
        return fn(tasks.resolve_settings(), *args)
    except Exception as exc:
        if tasks.is_terminal(exc):
            raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc
        raise


@dag(
    dag_id=DAG_ID,
    schedule="@daily",
    start_date=pendulum.datetime(2025, 11, 20, tz="UTC"),
    catchup=True,
    max_active_runs=1,
    default_args=default_args,
    doc_md=__doc__,
    tags=["coretelecoms", "medallion"],
    on_success_callback=SlackWebhookNotifier("success"),
    on_failure_callback=SlackWebhookNotifier("failure"),
)
def coretelecoms_daily() -> None:
    @task
    def ensure_schema() -> dict:
        return _call(tasks.ensure_schema)

    @task.branch
    def plan_static_loads(ds: str | None = None) -> list[str]:
        plan = _call(tasks.plan_static_loads, ds)
        return [f"extract_{entity}" for entity in plan["load"]] or [UNCHANGED_TASK]

    @task
    def extract_source(entity: str, ds: str | None = None, run_id: str | None = None) -> dict:
        result = _call(tasks.extract, entity, ds, run_id)
        if result["status"] == tasks.NO_DATA:
            raise AirflowSkipException(f"{entity}: no data yet for {ds}")
        return result

    @task
    def load_source(entity: str, ds: str | None = None, run_id: str | None = None) -> dict:
        return _call(tasks.load, entity, ds, run_id)

    @task(trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
    def release_quarantine(ds: str | None = None, run_id: str | None = None) -> dict:
        return _call(tasks.release_quarantine, ds, run_id)

    @task
    def load_warehouse(ds: str | None = None, run_id: str | None = None) -> dict:
        return _call(tasks.load_warehouse, ds, run_id)

    @task
    def dbt_build(ds: str | None = None, run_id: str | None = None) -> dict:
        return _call(tasks.build_warehouse, ds, run_id)

    @task
    def score_risk(ds: str | None = None, run_id: str | None = None) -> dict:
        return _call(tasks.score_risk, ds, run_id)

    @task(trigger_rule=TriggerRule.NONE_FAILED)
    def run_report(
        results: dict[str, Any], ds: str | None = None, run_id: str | None = None
    ) -> dict:
        report = _call(tasks.write_report, ds, run_id, results)
        if not any(results.get(f"load_{e}") for e in (*STATIC_ENTITIES, *COMPLAINT_ENTITIES)):
            raise AirflowSkipException(f"no data yet for {ds}; report at {report['json']}")
        return report

    schema = ensure_schema()
    plan = plan_static_loads()
    schema >> plan
    unchanged = EmptyOperator(task_id=UNCHANGED_TASK)
    gate = EmptyOperator(
        task_id="static_sources_ready", trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS
    )
    plan >> unchanged >> gate

    loads: dict[str, Any] = {}
    for entity in STATIC_ENTITIES:
        extracted = extract_source.override(task_id=f"extract_{entity}")(entity)
        loads[entity] = load_source.override(task_id=f"load_{entity}")(entity)
        plan >> extracted >> loads[entity] >> gate
    for entity in COMPLAINT_ENTITIES:
        extracted = extract_source.override(task_id=f"extract_{entity}")(entity)
        loads[entity] = load_source.override(task_id=f"load_{entity}")(entity)
        schema >> extracted >> loads[entity]
        gate >> loads[entity]

    released = release_quarantine()
    for loaded in loads.values():
        loaded >> released
    warehouse = load_warehouse()
    built = dbt_build()
    scored = score_risk()
    released >> warehouse >> built >> scored
    results = {f"load_{entity}": out for entity, out in loads.items()}
    results.update(
        release_quarantine=released, load_warehouse=warehouse, dbt_build=built, score_risk=scored
    )
    run_report(results)


daily_dag = coretelecoms_daily()
