"""Run the real DAG locally: an embedded Airflow home (SQLite) and ``dag.test()`` per day.

This is how ``coretelecoms run`` and ``coretelecoms demo`` execute the pipeline: the same DAG file
a production Airflow runs, with the same trigger rules, branching, retries and callbacks, only
the tasks run one after another in this process instead of on workers.

Airflow reads its configuration when it is first imported, so ``prepare_airflow`` must run
before anything imports ``airflow`` in this process; it refuses (with the reason) when Airflow
was already configured for another home. The platform settings reach the tasks as
``CORETELECOMS_*`` variables, exactly like on an Airflow worker, for the duration of the run.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from coretelecoms.config import Settings

log = logging.getLogger(__name__)

DAG_ID = "coretelecoms_daily"
DAG_FILE = "coretelecoms_daily.py"
DAGS_FOLDER_ENV = "CORETELECOMS_DAGS_FOLDER"
_MIGRATED_STAMP = ".coretelecoms-db-migrated"


class AirflowSetupError(RuntimeError):
    """The embedded Airflow cannot be prepared (no DAG folder, migration failed, wrong home)."""


@dataclass(frozen=True)
class TaskOutcome:
    task_id: str
    state: str
    try_number: int
    start: datetime | None
    end: datetime | None

    @property
    def seconds(self) -> float | None:
        if self.start is None or self.end is None:
            return None
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True)
class DagRunOutcome:
    """What one ``dag.test()`` run did: its state and every task instance's final state."""

    logical_date: date
    run_id: str
    state: str
    seconds: float
    tasks: dict[str, TaskOutcome] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return self.state == "success"

    def states(self) -> dict[str, str]:
        return {t: o.state for t, o in self.tasks.items()}

    def failed_tasks(self) -> list[str]:
        return [t for t, o in self.tasks.items() if o.state in {"failed", "upstream_failed"}]


def dags_folder() -> Path:
    """The folder holding ``coretelecoms_daily.py``: ``$CORETELECOMS_DAGS_FOLDER``, else ``dags/``
    of the source checkout this package runs from, else ``./dags``.

    Raises:
        AirflowSetupError: none of them holds the DAG file.
    """
    candidates: list[Path] = []
    if os.environ.get(DAGS_FOLDER_ENV):
        candidates.append(Path(os.environ[DAGS_FOLDER_ENV]))
    here = Path(__file__).resolve()
    candidates += [parent / "dags" for parent in here.parents[2:5]]
    candidates.append(Path.cwd() / "dags")
    for folder in candidates:
        if (folder / DAG_FILE).is_file():
            return folder
    raise AirflowSetupError(
        f"{DAG_FILE} not found in {[str(c) for c in candidates]}; set {DAGS_FOLDER_ENV}"
    )


def airflow_environment(airflow_home: Path, dags: Path | None = None) -> dict[str, str]:
    """The Airflow configuration of the embedded home (SQLite, no examples, no telemetry)."""
    airflow_home = airflow_home.absolute()
    return {
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags or dags_folder()),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "AIRFLOW__CORE__ALLOWED_DESERIALIZATION_CLASSES_REGEXP": r"^(airflow|coretelecoms)\..*",
        "SCARF_ANALYTICS": "false",
        "DO_NOT_TRACK": "1",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    }


def settings_environment(settings: Settings) -> dict[str, str]:
    """``CORETELECOMS_*`` variables that rebuild ``settings`` in a task (what a worker gets)."""
    env: dict[str, str] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        env[f"CORETELECOMS_{name.upper()}"] = str(value)
    return env


@contextlib.contextmanager
def patched_environ(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of the block, then restore the old ones."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _airflow_imported() -> bool:
    return "airflow" in sys.modules and "airflow.configuration" in sys.modules


def prepare_airflow(settings: Settings) -> Path:
    """Point Airflow at the embedded home and migrate its SQLite database once.

    When Airflow is already configured in this process (pytest, a second call), the existing
    configuration is kept as long as its DAG folder is ours.

    Raises:
        AirflowSetupError: no DAG folder, Airflow configured elsewhere, or the migration failed.
    """
    folder = dags_folder()
    if _airflow_imported():
        configured = os.environ.get("AIRFLOW__CORE__DAGS_FOLDER")
        if configured and Path(configured).resolve() != folder.resolve():
            raise AirflowSetupError(
                f"Airflow is already configured in this process with DAGs folder {configured}"
            )
        home = Path(os.environ.get("AIRFLOW_HOME", settings.airflow_home))
    else:
        home = settings.airflow_home
        os.environ.update(airflow_environment(home, folder))
    home.mkdir(parents=True, exist_ok=True)
    migrate_metadata_db(home)
    return home


def migrate_metadata_db(airflow_home: Path) -> None:
    """``airflow db migrate`` in a subprocess, once per home and Airflow version (~10 s)."""
    import importlib.metadata

    version = importlib.metadata.version("apache-airflow")
    stamp = airflow_home / _MIGRATED_STAMP
    if stamp.exists() and stamp.read_text().strip() == version:
        return
    log.info("migrating the Airflow metadata database in %s", airflow_home)
    env = {**os.environ, **airflow_environment(airflow_home, dags_folder())}
    airflow_bin = Path(sys.executable).with_name("airflow")
    cmd = [str(airflow_bin)] if airflow_bin.exists() else [sys.executable, "-m", "airflow"]
    proc = subprocess.run(
        [*cmd, "db", "migrate"], env=env, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise AirflowSetupError(f"airflow db migrate failed:\n{proc.stderr[-3000:]}")
    stamp.write_text(version + "\n")


def load_dag(folder: Path | None = None) -> Any:
    """Import the DAG file and return the DAG object (call after ``prepare_airflow``)."""
    path = (folder or dags_folder()) / DAG_FILE
    spec = importlib.util.spec_from_file_location("coretelecoms_daily_dag", path)
    if spec is None or spec.loader is None:
        raise AirflowSetupError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.daily_dag


def _as_utc_midnight(day: date) -> datetime:
    import pendulum

    return pendulum.datetime(day.year, day.month, day.day, tz="UTC")


def _outcome(dag_run: Any, day: date, seconds: float) -> DagRunOutcome:
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = dag_run.get_task_instances(session=session)
        tasks = {
            ti.task_id: TaskOutcome(
                ti.task_id,
                str(ti.state.value if hasattr(ti.state, "value") else ti.state),
                int(ti.try_number or 0),
                ti.start_date,
                ti.end_date,
            )
            for ti in tis
        }
    state = dag_run.state.value if hasattr(dag_run.state, "value") else str(dag_run.state)
    return DagRunOutcome(day, dag_run.run_id, state, round(seconds, 2), tasks)


class _TaskListener:
    """Airflow listener forwarding task state changes (in-process with ``dag.test()``) to a
    callback: the CLI's progress display follows the tasks as they run."""

    def __init__(self, callback: Callable[[str, str], None]) -> None:
        self.callback = callback

    def _tell(self, task_instance: Any, state: str) -> None:
        try:
            self.callback(task_instance.task_id, state)
        except Exception:  # a display problem must never fail a task
            log.debug("task progress callback failed", exc_info=True)

    def on_task_instance_running(self, previous_state: Any, task_instance: Any) -> None:
        self._tell(task_instance, "running")

    def on_task_instance_success(self, previous_state: Any, task_instance: Any) -> None:
        self._tell(task_instance, "success")

    def on_task_instance_failed(self, previous_state: Any, task_instance: Any, error: Any) -> None:
        self._tell(task_instance, "failed")

    def on_task_instance_skipped(self, previous_state: Any, task_instance: Any) -> None:
        self._tell(task_instance, "skipped")


@contextlib.contextmanager
def _listening(on_task: Callable[[str, str], None] | None) -> Iterator[None]:
    if on_task is None:
        yield
        return
    from airflow.sdk._shared.listeners import hookimpl
    from airflow.sdk.listener import get_listener_manager

    listener = _TaskListener(on_task)
    for name in (
        "on_task_instance_running",
        "on_task_instance_success",
        "on_task_instance_failed",
        "on_task_instance_skipped",
    ):
        hookimpl(getattr(listener, name).__func__)
    manager = get_listener_manager()
    manager.add_listener(listener)
    try:
        yield
    finally:
        manager.pm.unregister(listener)


def run_days(
    settings: Settings,
    days: list[date],
    *,
    before_day: Callable[[date], None] | None = None,
    after_day: Callable[[DagRunOutcome], None] | None = None,
    on_task: Callable[[str, str], None] | None = None,
    retry_delay: timedelta | None = None,
    stop_on_failure: bool = True,
) -> list[DagRunOutcome]:
    """Run the DAG once per day, in order, through ``dag.test()`` (one run at a time, as
    ``max_active_runs=1`` does in a scheduler).

    ``before_day`` runs before each day (the demo publishes that day's static snapshots);
    ``on_task(task_id, state)`` hears each task start and finish (progress displays);
    ``retry_delay`` overrides the tasks' retry delay (tests: retry in a second, not minutes).
    Stops after a failed day unless ``stop_on_failure`` is False.
    """
    prepare_airflow(settings)
    dag = load_dag()
    if retry_delay is not None:
        for task in dag.tasks:
            task.retry_delay = retry_delay
            task.retry_exponential_backoff = 0
    outcomes: list[DagRunOutcome] = []
    with patched_environ(settings_environment(settings)), _listening(on_task):
        for day in days:
            if before_day is not None:
                before_day(day)
            started = time.perf_counter()
            log.info("running %s for %s", DAG_ID, day)
            dag_run = dag.test(logical_date=_as_utc_midnight(day))
            outcome = _outcome(dag_run, day, time.perf_counter() - started)
            outcomes.append(outcome)
            if after_day is not None:
                after_day(outcome)
            if stop_on_failure and not outcome.succeeded:
                log.error("%s %s ended %s: %s", DAG_ID, day, outcome.state, outcome.failed_tasks())
                break
    return outcomes


def date_range(start: date, end: date) -> list[date]:
    """Every day from ``start`` to ``end`` inclusive."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


@contextlib.contextmanager
def output_to_file(path: Path) -> Iterator[None]:
    """Send everything written to file descriptors 1 and 2 (Airflow's task logs, dbt's output)
    to ``path`` for the duration of the block, so the CLI can show a clean progress display on a
    duplicate of the original stdout."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with path.open("ab") as fh:
        os.dup2(fh.fileno(), 1)
        os.dup2(fh.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def use_airflow_home(airflow_home: Path) -> Path:
    """Configure this process's Airflow for ``airflow_home`` unless Airflow is already imported
    (then its existing home is kept and returned). Test suites call this before importing the
    DAG so every test in the process shares one metadata database."""
    if not _airflow_imported():
        os.environ.update(airflow_environment(airflow_home))
    return Path(os.environ["AIRFLOW_HOME"])
