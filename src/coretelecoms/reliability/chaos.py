"""Crash-anywhere: ``kill -9`` the real pipeline at seeded random moments, rerun until it
succeeds, and compare every layer with a clean run of the same days.

How it works (``python -m coretelecoms.reliability.chaos --help``):

1. One embedded PostgreSQL server (owned by this harness, so a kill never takes the database
   down with the pipeline) and one simulated set of sources (``--scale``, ``--seed``), shared
   read-only by two pipeline homes: ``clean`` and ``chaos``, each with its own silver database,
   lake, DuckDB warehouse and Airflow home.
2. Clean run: ``coretelecoms run --date D`` in a subprocess for each day (static sources
   published as of D first, as the demo does). After each day the harness records the checksums
   of silver (every ``conformed`` and ``ops`` table, quarantine included), gold (every dbt
   table) and the lake (bronze versions, quarantine audit files), and how long each DAG task ran
   (from the Airflow metadata database).
3. Chaos run: the same days, but each day's ``coretelecoms run`` is killed (``SIGKILL`` to its
   process group) at the planned moments: a target task that did real work that day in the
   clean run (an extract, a load -- the transform runs inside the load tasks, streaming batches
   into the loader --, ``load_warehouse``, ``dbt_build``, ``release_quarantine``,
   ``run_report``), plus a seeded delay within that task's clean duration. The harness watches
   the Airflow metadata database to see the target start, so the kill lands in it unless the
   task finishes sooner (then it lands in a later one; where it landed is reported). After each
   kill the day is relaunched, until it succeeds.
4. After each chaos day: the checksums must equal the clean run's after the same day, and no
   conformed table may hold a natural key twice. A trial is one kill; it passes when its day
   recovered to exactly the clean state.

Exit status 0 when every trial passed. ``--json`` writes the results.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from coretelecoms.config import Settings
from coretelecoms.reliability.checksums import (
    duplicate_keys,
    gold_checksums,
    lake_summary,
    silver_checksums,
)

START = date(2025, 11, 20)
# Round-robin order of kill targets: with few kills, the loads and dbt come first.
STAGES = ("load", "dbt", "extract", "warehouse", "release", "report")
_STAGE_OF_TASK = {
    "load_warehouse": "warehouse",
    "dbt_build": "dbt",
    "release_quarantine": "release",
    "run_report": "report",
}
_POLL_S = 0.05
_PIPELINE_ORDER = ("other", "extract", "load", "release", "warehouse", "dbt", "report")


def _rank_stage(task_id: str) -> str:
    stage = stage_of(task_id)
    return stage if stage in _PIPELINE_ORDER else "other"


def stage_of(task_id: str) -> str:
    """The stage a DAG task belongs to (``extract_*``, ``load_*`` -- transform + load)."""
    if task_id in _STAGE_OF_TASK:
        return _STAGE_OF_TASK[task_id]
    if task_id.startswith("extract_"):
        return "extract"
    if task_id.startswith("load_"):
        return "load"
    return "other"


@dataclass(frozen=True)
class Kill:
    """A planned kill: when ``task`` has run ``delay_s`` on ``day``. If ``task`` is never seen
    running (it ended between two polls), the kill lands as soon as one of ``later`` (the tasks
    of later stages) is seen."""

    day: str
    task: str
    delay_s: float
    later: tuple[str, ...] = ()


@dataclass
class Trial:
    kill: Kill
    landed_in: str | None = None  # the task running when the kill landed (None: none)
    killed: bool = False
    passed: bool | None = None


@dataclass
class DayResult:
    day: str
    launches: int
    seconds: float
    identical: bool
    differences: list[str] = field(default_factory=list)


@dataclass
class Home:
    """One pipeline instance: its own home (lake, warehouse, Airflow) and silver database."""

    name: str
    path: Path
    silver_dsn: str

    def settings(self, shared: Settings, batch_size: int) -> Settings:
        return Settings(
            home=self.path,
            pg_dsn=self.silver_dsn,
            source_pg_dsn=shared.source_pg_dsn,
            source_uri=shared.source_uri,
            agents_sheet=shared.agents_sheet,
            batch_size=batch_size,
        )


def _environment(settings: Settings) -> dict[str, str]:
    from coretelecoms.pipeline.airflow_runner import settings_environment

    env = {k: v for k, v in os.environ.items() if not k.startswith(("CORETELECOMS_", "AIRFLOW"))}
    env.update(settings_environment(settings))
    env.update(
        AIRFLOW__COSMOS__ENABLE_TELEMETRY="False",
        DO_NOT_TRACK="1",
        DBT_SEND_ANONYMOUS_USAGE_STATS="False",
    )
    return env


def _cli() -> list[str]:
    exe = Path(sys.executable).with_name("coretelecoms")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "coretelecoms.cli"]


def airflow_rows(
    airflow_db: Path, query: str, params: Sequence[object] = (), *, polling: bool = False
) -> list[tuple[Any, ...]]:
    """Rows from Airflow's SQLite metadata database, opened read-only.

    ``polling`` is for samplers that look while the pipeline writes: a missing file or a locked
    database gives no rows instead of an error, and the wait for the lock is kept short.
    """
    if polling and not airflow_db.exists():
        return []
    try:
        conn = sqlite3.connect(
            f"file:{airflow_db}?mode=ro", uri=True, timeout=0.05 if polling else 5.0
        )
        try:
            return conn.execute(query, list(params)).fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        if polling:
            return []
        raise


def _running_task(airflow_db: Path, since: float) -> str | None:
    """The DAG task in state ``running`` that started after ``since`` (wall clock), if any."""
    rows = airflow_rows(
        airflow_db,
        "select task_id, start_date from task_instance where state = 'running'",
        polling=True,
    )
    for task_id, started in rows:
        if started and _epoch(started) >= since - 1:
            return str(task_id)
    return None


def _epoch(value: str) -> float:
    from datetime import datetime

    parsed = datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        from datetime import UTC

        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def task_durations(airflow_db: Path, day: date) -> dict[str, float]:
    """Seconds each task of ``day``'s run took (only tasks that ran, not skipped ones)."""
    rows = airflow_rows(
        airflow_db,
        "select ti.task_id, ti.start_date, ti.end_date from task_instance ti"
        " join dag_run dr on dr.run_id = ti.run_id and dr.dag_id = ti.dag_id"
        " where date(dr.logical_date) = ? and ti.state = 'success'",
        [day.isoformat()],
    )
    return {t: max(0.0, _epoch(e) - _epoch(s)) for t, s, e in rows if s and e}


def launch(settings: Settings, day: date, log_path: Path) -> subprocess.Popen[bytes]:
    """``coretelecoms run --date day`` in its own process group (so a kill takes every child)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        log.write(f"\n=== launch {day} at {time.strftime('%H:%M:%S')}\n".encode())
        return subprocess.Popen(
            [*_cli(), "run", "--date", day.isoformat()],
            env=_environment(settings),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def run_with_kill(settings: Settings, day: date, kill: Kill | None, log: Path) -> Trial | int:
    """Launch the day; with ``kill``, SIGKILL it at the planned moment and return the trial,
    otherwise wait and return the exit status."""
    airflow_db = settings.airflow_home / "airflow.db"
    launched = time.time()
    proc = launch(settings, day, log)
    if kill is None:
        return proc.wait()
    trial = Trial(kill)
    armed_at: float | None = None
    last_seen: str | None = None
    while proc.poll() is None:
        running = _running_task(airflow_db, launched)
        last_seen = running or last_seen
        if armed_at is None and running == kill.task:
            armed_at = time.monotonic()
        elif armed_at is None and running in kill.later:
            armed_at = time.monotonic() - kill.delay_s  # missed the target: kill now
        if armed_at is not None and time.monotonic() - armed_at >= kill.delay_s:
            kill_group(proc)
            # the task running at the kill (the last one seen if the database was busy)
            trial.landed_in = _running_task(airflow_db, launched) or last_seen
            trial.killed = True
            return trial
        time.sleep(_POLL_S)
    return trial  # finished before the target ran (e.g. the task was skipped on this rerun)


def snapshot(settings: Settings, ignore: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Everything two runs must agree on after a day (``ignore``: silver columns to leave out,
    see :func:`~coretelecoms.reliability.checksums.silver_checksums`)."""
    dsn = settings.pg_dsn.get_secret_value()  # type: ignore[union-attr]
    return {
        "silver": silver_checksums(dsn, ignore=ignore),
        "gold": gold_checksums(settings) if Path(settings.duckdb_path).exists() else {},
        "lake": lake_summary(Path(str(settings.lake_uri))),
    }


def differences(clean: dict[str, Any], chaos: dict[str, Any]) -> list[str]:
    out = []
    for layer in ("silver", "gold", "lake"):
        a, b = clean[layer], chaos[layer]
        for name in sorted(set(a) | set(b)):
            if a.get(name) != b.get(name):
                out.append(f"{layer} {name}: clean {a.get(name)} != chaos {b.get(name)}")
    return out


def plan_kills(
    timings: dict[str, dict[str, float]], kills: int, rng: random.Random
) -> dict[str, list[Kill]]:
    """``kills`` kills spread round-robin over ``STAGES``, each on a random day where that
    stage did real work in the clean run, ordered within a day as the tasks ran (so each kill
    hits work not yet done that day)."""
    plan: dict[str, list[Kill]] = {day: [] for day in timings}
    for n in range(kills):
        stage = STAGES[n % len(STAGES)]
        options = [
            (day, task, seconds)
            for day, durations in timings.items()
            for task, seconds in durations.items()
            if stage_of(task) == stage and seconds > 0.05
        ]
        if not options:
            continue
        day, task, seconds = rng.choice(options)
        # tasks of later stages (parallel branches of one stage may run in another order)
        rank = _PIPELINE_ORDER.index(stage)
        later = tuple(t for t in timings[day] if _PIPELINE_ORDER.index(_rank_stage(t)) > rank)
        plan[day].append(Kill(day, task, round(rng.uniform(0.0, seconds * 0.95), 3), later))
    order = {day: list(durations) for day, durations in timings.items()}
    for day, day_kills in plan.items():
        day_kills.sort(key=lambda k: (order[day].index(k.task), k.delay_s))
    return plan


@contextmanager
def postgres_server(root: Path) -> Iterator[str]:
    """An embedded PostgreSQL for the harness (stopped at the end); yields its maintenance DSN."""
    import pgserver

    root.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(root / "pgdata", cleanup_mode="stop")
    try:
        yield server.get_uri("postgres")
    finally:
        server.cleanup()


def create_database(maintenance_dsn: str, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(maintenance_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    info = psycopg.conninfo.conninfo_to_dict(maintenance_dsn)
    info["dbname"] = name
    return psycopg.conninfo.make_conninfo(**info)


def _migrate_airflow_once(first: Path, *others: Path) -> None:
    """Migrate one empty Airflow metadata database and copy it (with its stamp) to the other
    homes: one ``airflow db migrate`` instead of one per home."""
    import shutil

    from coretelecoms.pipeline.airflow_runner import migrate_metadata_db

    first.mkdir(parents=True, exist_ok=True)
    migrate_metadata_db(first)
    for home in others:
        home.mkdir(parents=True, exist_ok=True)
        for item in first.iterdir():  # not airflow.cfg: it names its own home's folders
            if item.is_file() and item.name.startswith(("airflow.db", ".coretelecoms-db")):
                shutil.copy2(item, home / item.name)


def _ordered_durations(airflow_db: Path, day: date) -> dict[str, float]:
    durations = task_durations(airflow_db, day)
    starts = dict(
        airflow_rows(
            airflow_db,
            "select ti.task_id, ti.start_date from task_instance ti join dag_run dr"
            " on dr.run_id = ti.run_id and dr.dag_id = ti.dag_id"
            " where date(dr.logical_date) = ?",
            [day.isoformat()],
        )
    )
    return dict(sorted(durations.items(), key=lambda kv: str(starts.get(kv[0]))))


def run_chaos(
    *,
    root: Path,
    days: int = 4,
    kills: int = 20,
    scale: float = 0.002,
    seed: int = 7,
    sim_seed: int = 42,
    batch_size: int = 150,
    max_launches: int = 50,
    echo: Any = print,
) -> dict[str, Any]:
    """Run the clean and the chaos runs under ``root``; returns the results (see the module
    docstring). ``seed`` drives the kill plan, ``sim_seed`` the simulated sources."""
    from coretelecoms.simulate import publish_as_of, simulate

    started = time.perf_counter()
    root.mkdir(parents=True, exist_ok=True)
    dates = [START + timedelta(days=n) for n in range(days)]
    rng = random.Random(seed)
    with postgres_server(root) as maintenance:
        shared = Settings(home=root / "sources", source_pg_dsn=create_database(maintenance, "src"))
        shared = shared.model_copy(update={"pg_dsn": shared.source_pg_dsn})
        simulate(shared, START, days, scale, sim_seed)
        homes = {
            name: Home(name, root / name, create_database(maintenance, f"silver_{name}"))
            for name in ("clean", "chaos")
        }
        clean_settings = homes["clean"].settings(shared, batch_size)
        chaos_settings = homes["chaos"].settings(shared, batch_size)
        _migrate_airflow_once(clean_settings.airflow_home, chaos_settings.airflow_home)

        # 1. the clean run, one day at a time
        reference: dict[str, dict[str, Any]] = {}
        timings: dict[str, dict[str, float]] = {}
        for day in dates:
            publish_as_of(shared, day)
            t0 = time.perf_counter()
            status = run_with_kill(clean_settings, day, None, root / "clean.log")
            if status != 0:
                raise RuntimeError(f"the clean run of {day} failed (exit {status}); see clean.log")
            reference[day.isoformat()] = snapshot(clean_settings)
            timings[day.isoformat()] = _ordered_durations(
                clean_settings.airflow_home / "airflow.db", day
            )
            echo(f"clean {day}: {time.perf_counter() - t0:.0f}s")

        # 2. the chaos run
        plan = plan_kills(timings, kills, rng)
        trials: list[Trial] = []
        day_results: list[DayResult] = []
        for day in dates:
            key = day.isoformat()
            publish_as_of(shared, day)
            t0 = time.perf_counter()
            launches = 0
            day_trials = []
            for kill in plan[key]:
                launches += 1
                trial = run_with_kill(chaos_settings, day, kill, root / "chaos.log")
                assert isinstance(trial, Trial)
                day_trials.append(trial)
                echo(
                    f"chaos {day}: kill at {kill.task}+{kill.delay_s:.2f}s "
                    + (f"landed in {trial.landed_in}" if trial.killed else "(run ended first)")
                )
            while True:  # rerun until the day succeeds
                launches += 1
                if launches > max_launches:
                    raise RuntimeError(f"{day} did not succeed in {max_launches} launches")
                if run_with_kill(chaos_settings, day, None, root / "chaos.log") == 0:
                    break
                echo(f"chaos {day}: a rerun failed; rerunning (see chaos.log)")
            got = snapshot(chaos_settings)
            diff = differences(reference[key], got)
            silver_dsn = chaos_settings.pg_dsn.get_secret_value()  # type: ignore[union-attr]
            dups = {t: n for t, n in duplicate_keys(silver_dsn).items() if n}
            if dups:
                diff.append(f"duplicate natural keys: {dups}")
            for trial in day_trials:
                trial.passed = not diff
            trials.extend(day_trials)
            day_results.append(
                DayResult(key, launches, round(time.perf_counter() - t0, 1), not diff, diff)
            )
            echo(
                f"chaos {day}: {launches} launch(es), "
                + ("identical to the clean run" if not diff else f"{len(diff)} DIFFERENCES")
            )
            for line in diff[:20]:
                echo(f"  {line}")

    killed = [t for t in trials if t.killed]
    by_stage: dict[str, int] = {}
    for t in killed:
        stage = stage_of(t.landed_in) if t.landed_in else "between tasks"
        by_stage[stage] = by_stage.get(stage, 0) + 1
    return {
        "days": days,
        "scale": scale,
        "seed": seed,
        "kills_planned": sum(len(v) for v in plan.values()),
        "kills_landed": len(killed),
        "kills_by_stage": by_stage,
        "trials_passed": sum(1 for t in killed if t.passed),
        "trials_total": len(killed),
        "days_identical": sum(1 for d in day_results if d.identical),
        "seconds": round(time.perf_counter() - started, 1),
        "trials": [
            {
                "day": t.kill.day,
                "task": t.kill.task,
                "delay_s": t.kill.delay_s,
                "landed_in": t.landed_in,
                "killed": t.killed,
                "passed": t.passed,
            }
            for t in trials
        ],
        "day_results": [asdict(d) for d in day_results],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Crash-anywhere test of the daily pipeline.")
    parser.add_argument("--kills", type=int, default=20, help="Kills across all days (N).")
    parser.add_argument("--days", type=int, default=4, help="Days from 2025-11-20.")
    parser.add_argument("--scale", type=float, default=0.002, help="Simulated volume.")
    parser.add_argument("--seed", type=int, default=7, help="Seed of the kill plan.")
    parser.add_argument("--batch-size", type=int, default=150, help="Rows per load batch.")
    parser.add_argument("--root", type=Path, help="Work folder (default: a temporary one).")
    parser.add_argument("--json", type=Path, help="Write the results here.")
    args = parser.parse_args(argv)
    root = args.root or Path(tempfile.mkdtemp(prefix="coretelecoms-chaos-"))
    print(
        f"chaos: {args.kills} kills over {args.days} day(s) at scale {args.scale}; work in {root}"
    )
    result = run_chaos(
        root=root,
        days=args.days,
        kills=args.kills,
        scale=args.scale,
        seed=args.seed,
        batch_size=args.batch_size,
    )
    print(
        f"kills landed {result['kills_landed']}/{result['kills_planned']} by stage "
        f"{result['kills_by_stage']}; days identical to the clean run "
        f"{result['days_identical']}/{args.days}"
    )
    print(
        f"trials passed: {result['trials_passed']}/{result['trials_total']}"
        f" in {result['seconds']:.0f}s"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    ok = result["trials_passed"] == result["trials_total"] and result["days_identical"] == args.days
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
