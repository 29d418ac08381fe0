"""End-to-end benchmark: simulated capstone volume through the real DAG, one day after another.

Simulates ``--scale`` (1 = the real volume: 2.5 M customers, ~700 k complaints a day) for the four
capstone days, then runs the Airflow DAG (``dag.test()``, as ``coretelecoms run`` does) for the
days in order in one subprocess, publishing each day's static snapshots first (what
``coretelecoms demo`` does; ``coretelecoms.reliability.replay``). While it runs, the benchmark
samples the subprocess's resident memory (children included) every 50 ms and attributes each
sample to the DAG task running at that moment (read from the Airflow metadata database). It
prints a table per day and task: rows, wall seconds, rows/s and peak RSS, then the end-to-end
time (the whole process: start-up, the four DAG runs) and the peak RSS of the whole run.

``--ten-x`` instead simulates one day and multiplies its complaint sources by ten (~7 M
complaint rows at scale 1, every id made unique), then runs that single day: the load tasks'
peak RSS, compared with a normal day's, shows memory is bounded by the batch size
(``CORETELECOMS_BATCH_SIZE``, default 100 000 rows), not by the input size.

Results go to ``benchmarks/results/pipeline-<mode>-scale<scale>-<time>.json``.

    .venv/bin/python benchmarks/bench_pipeline.py --scale 0.02        # quick check
    .venv/bin/python benchmarks/bench_pipeline.py                      # capstone volume
    .venv/bin/python benchmarks/bench_pipeline.py --ten-x              # 10x one day

The source simulation and the 10x amplification are not part of the measured time. The embedded
PostgreSQL server belongs to the benchmark (its memory is not in the figures).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psutil
import psycopg
from psycopg import sql

from coretelecoms.config import Settings
from coretelecoms.contracts import get_contract
from coretelecoms.reliability.chaos import (
    START,
    _environment,
    _ordered_durations,
    airflow_rows,
    create_database,
    postgres_server,
    stage_of,
)

from machine import describe, summary_line

RESULTS = Path(__file__).parent / "results"
TARGET_SECONDS = 180
TARGET_RSS_MB = 3 * 1024


def running_task(airflow_db: Path) -> tuple[str, str] | None:
    """(logical date, task id) of the DAG task in state ``running``, if any."""
    rows = airflow_rows(
        airflow_db,
        "select date(dr.logical_date), ti.task_id from task_instance ti join dag_run dr"
        " on dr.run_id = ti.run_id and dr.dag_id = ti.dag_id where ti.state = 'running'"
        " order by ti.start_date desc limit 1",
        polling=True,
    )
    row = rows[0] if rows else None
    return (str(row[0]), str(row[1])) if row else None


def _tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process, its reaped children and its live children.

    Reaped children's time is in the parent's ``children_*`` fields, so the figure only grows:
    a Postgres backend or a dbt subprocess that ended still counts.
    """
    try:
        root = psutil.Process(pid)
        times = root.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        children = root.children(recursive=True)
    except psutil.Error:
        return 0.0
    for child in children:
        with contextlib.suppress(psutil.Error):
            t = child.cpu_times()
            total += t.user + t.system
    return total


def postmaster_pid(pgdata: Path) -> int | None:
    """The embedded server's postmaster (first line of ``postmaster.pid``), if it runs."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    return None


class Sampler(threading.Thread):
    """Samples a process tree: peak RSS every 50 ms and CPU seconds every 0.5 s per (day,
    running DAG task), plus the Postgres server's CPU in the same intervals.

    CPU against wall shows how many of the machine's cores a task keeps busy, which is what
    decides whether running tasks side by side could help. Each CPU sample walks /proc for two
    process trees (~1.5 ms each), so it is taken every tenth RSS sample: on a CPU-bound 2-core
    run, every 50 ms would cost the pipeline ~5 % of the machine.
    """

    CPU_EVERY = 10

    def __init__(self, pid: int, airflow_db: Path, server_pid: int | None) -> None:
        super().__init__(daemon=True)
        self.pid, self.airflow_db, self.server_pid = pid, airflow_db, server_pid
        self.peak_by_task: dict[tuple[str, str], int] = {}
        self.cpu_by_task: dict[tuple[str, str], list[float]] = {}
        self.peak = 0
        self.cpu = [0.0, 0.0]  # pipeline, server: over the whole run
        self.stop = threading.Event()

    def _rss(self) -> int:
        try:
            root = psutil.Process(self.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return 0
        total = 0
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                total += proc.memory_info().rss
        return total

    def _cpu(self) -> tuple[float, float]:
        server = _tree_cpu(self.server_pid) if self.server_pid else 0.0
        return _tree_cpu(self.pid), server

    def _charge_cpu(
        self, task: tuple[str, str] | None, before: tuple[float, float]
    ) -> tuple[float, float]:
        """Add the CPU spent since ``before`` to the run and to ``task``; returns the new
        reading (the next call's ``before``)."""
        now = self._cpu()
        # the pipeline's tree can lose a child's time between samples (not yet reaped)
        delta = [max(0.0, a - b) for a, b in zip(now, before, strict=True)]
        self.cpu = [c + d for c, d in zip(self.cpu, delta, strict=True)]
        if task is not None:
            spent = self.cpu_by_task.setdefault(task, [0.0, 0.0])
            spent[0] += delta[0]
            spent[1] += delta[1]
        return now

    def run(self) -> None:
        task = None
        before = self._cpu()
        n = 0
        while not self.stop.is_set():
            rss = self._rss()
            current = running_task(self.airflow_db) or task
            if current != task:
                # the CPU since the last sample belongs to the task that was running: charged
                # now, not at the next tenth sample (a short task took its predecessor's share)
                before = self._charge_cpu(task, before)
                task = current
            self.peak = max(self.peak, rss)
            if task is not None:
                self.peak_by_task[task] = max(self.peak_by_task.get(task, 0), rss)
            n += 1
            if n % self.CPU_EVERY == 0:
                before = self._charge_cpu(task, before)
            time.sleep(0.05)
        self._charge_cpu(task, before)


def task_rows(airflow_db: Path, day: date) -> dict[str, int]:
    """Rows each task handled, from the task results Airflow kept (XCom return values)."""
    rows = airflow_rows(
        airflow_db,
        "select x.task_id, x.value from xcom x join dag_run dr on dr.id = x.dag_run_id"
        " where date(dr.logical_date) = ? and x.key = 'return_value' order by x.timestamp",
        [day.isoformat()],
    )
    out: dict[str, int] = {}
    for task_id, value in rows:
        try:
            result = json.loads(value)
            if isinstance(result, str):
                result = json.loads(result)
        except (TypeError, ValueError):
            continue
        if not isinstance(result, dict):
            continue
        if "read" in result:  # load_<entity>: rows read from bronze
            out[task_id] = int(result["read"])
        elif "rows" in result:  # extract_<entity> (rows) / load_warehouse (rows moved)
            out[task_id] = int(result["rows"])
        elif "released" in result:
            out[task_id] = sum(int(v) for v in result["released"].values())
    return out


def amplify_complaints(settings: Settings, day: date, factor: int) -> dict[str, int]:
    """Multiply the day's complaint sources by ``factor``, every copy with new source ids."""
    import polars as pl

    out: dict[str, int] = {}
    # call logs: single-line CSV records; the id is the second field
    path = Path(str(settings.source_uri)) / get_contract("call_logs").source_name(day.isoformat())
    header, *lines = path.read_text().splitlines()
    with path.open("w") as fh:
        fh.write(header + "\n")
        for k in range(factor):
            for line in lines:
                index, call_id, rest = line.split(",", 2)
                fh.write(f"{index},{call_id}-x{k},{rest}\n")
    out["call_logs"] = len(lines) * factor
    # social media: pandas column layout
    contract = get_contract("social_media_complaints")
    path = Path(str(settings.source_uri)) / contract.source_name(day.isoformat())
    doc = json.loads(path.read_text())
    n = len(doc["complaint_id"])
    amplified: dict[str, dict[str, Any]] = {}
    for column, cells in doc.items():
        values = list(cells.values())
        if column == "complaint_id":
            frame = pl.DataFrame(
                {"v": values * factor, "k": [k for k in range(factor) for _ in values]}
            )
            values = frame.select(pl.format("{}-x{}", "v", "k")).to_series().to_list()
        else:
            values = values * factor
        amplified[column] = {str(i): v for i, v in enumerate(values)}
    path.write_text(json.dumps(amplified))
    out["social_media_complaints"] = n * factor
    # web forms: one table in the source Postgres
    schema, table = get_contract("web_form_complaints").source_name(day.isoformat()).split(".")
    target = sql.Identifier(schema, table)
    with psycopg.connect(settings.source_pg_dsn.get_secret_value(), autocommit=True) as conn:
        cols = [
            r[0]
            for r in conn.execute(
                "select column_name from information_schema.columns where table_schema = %s"
                " and table_name = %s order by ordinal_position",
                [schema, table],
            )
        ]
        n = conn.execute(sql.SQL("select count(*) from {}").format(target)).fetchone()[0]
        select = [
            sql.SQL("{} || '-x' || k").format(sql.Identifier(c))
            if c == "request_id"
            else sql.SQL("{} + k * {}").format(sql.Identifier(c), sql.Literal(n))
            if c == "Column1"
            else sql.Identifier(c)
            for c in cols
        ]
        conn.execute(
            sql.SQL(
                "insert into {} ({}) select {} from {} cross join generate_series(1, {}) k"
            ).format(
                target,
                sql.SQL(", ").join(map(sql.Identifier, cols)),
                sql.SQL(", ").join(select),
                target,
                sql.Literal(factor - 1),
            )
        )
    out["web_form_complaints"] = n * factor
    return out


def run_days(
    settings: Settings, dates: list[date], log: Path, pgdata: Path
) -> tuple[float, Sampler, list]:
    """The days through the DAG in one measured subprocess; (seconds, the sampler, per day)."""
    airflow_db = settings.airflow_home / "airflow.db"
    command = [
        sys.executable,
        "-m",
        "coretelecoms.reliability.replay",
        "--start",
        dates[0].isoformat(),
        "--days",
        str(len(dates)),
    ]
    started = time.perf_counter()
    with log.open("ab") as out:
        proc = subprocess.Popen(
            command, env=_environment(settings), stdout=out, stderr=subprocess.STDOUT
        )
    sampler = Sampler(proc.pid, airflow_db, postmaster_pid(pgdata))
    sampler.start()
    status = proc.wait()
    seconds = time.perf_counter() - started
    sampler.stop.set()
    sampler.join()
    if status != 0:
        raise RuntimeError(f"the pipeline failed (exit {status}); see {log}")
    days = []
    for day in dates:
        durations = _ordered_durations(airflow_db, day)
        rows = task_rows(airflow_db, day)
        tasks = []
        for task, wall in durations.items():
            n = rows.get(task)
            peak = sampler.peak_by_task.get((day.isoformat(), task))
            cpu, server_cpu = sampler.cpu_by_task.get((day.isoformat(), task), (0.0, 0.0))
            tasks.append(
                {
                    "task": task,
                    "rows": n,
                    "seconds": round(wall, 2),
                    "rows_per_s": round(n / wall) if n and wall > 0 else None,
                    # None: the task ended between two samples
                    "peak_rss_mb": None if peak is None else round(peak / 2**20),
                    "cpu_s": round(cpu, 2),
                    "server_cpu_s": round(server_cpu, 2),
                }
            )
        stages: dict[str, dict[str, Any]] = {}
        for t in tasks:
            stage = stages.setdefault(
                stage_of(t["task"]),
                {"rows": 0, "seconds": 0.0, "peak_rss_mb": None, "cpu_s": 0.0, "server_cpu_s": 0.0},
            )
            stage["rows"] += t["rows"] or 0
            for field in ("seconds", "cpu_s", "server_cpu_s"):
                stage[field] = round(stage[field] + t[field], 2)
            if t["peak_rss_mb"] is not None:
                stage["peak_rss_mb"] = max(stage["peak_rss_mb"] or 0, t["peak_rss_mb"])
        for stage in stages.values():
            stage["rows_per_s"] = (
                round(stage["rows"] / stage["seconds"])
                if stage["rows"] and stage["seconds"]
                else None
            )
        day_peaks = [v for (d, _), v in sampler.peak_by_task.items() if d == day.isoformat()]
        days.append(
            {
                "day": day.isoformat(),
                "dag_seconds": round(sum(t["seconds"] for t in tasks), 1),
                "peak_rss_mb": round(max(day_peaks, default=0) / 2**20),
                "stages": stages,
                "tasks": tasks,
            }
        )
    return seconds, sampler, days


CPU_HEADER = f"{'CPU s':>8}{'server s':>10}{'cores':>7}"


def _cpu_cells(row: dict[str, Any]) -> str:
    """CPU of the pipeline process tree and of the Postgres server while the row ran, and the
    cores both kept busy on average (CPU / wall)."""
    wall = row["seconds"]
    cores = (row["cpu_s"] + row["server_cpu_s"]) / wall if wall > 0.2 else None
    shown = "" if cores is None else f"{cores:.2f}"
    return f"{row['cpu_s']:>8.1f}{row['server_cpu_s']:>10.1f}{shown:>7}"


def print_stages(results: list[dict[str, Any]]) -> None:
    """Per stage and day: the load stage is transform + load (the transform streams batches
    into the loader inside the load tasks)."""
    print(
        f"\n  {'day':<12}{'stage':<11}{'rows':>11}{'wall s':>9}{'rows/s':>12}{'peak RSS MB':>13}"
        f"{CPU_HEADER}"
    )
    for result in results:
        for name, st in result["stages"].items():
            rows = f"{st['rows']:,}" if st["rows"] else ""
            rate = "" if st["rows_per_s"] is None else f"{st['rows_per_s']:,}"
            rss = "" if st["peak_rss_mb"] is None else f"{st['peak_rss_mb']:,}"
            print(
                f"  {result['day']:<12}{name:<11}{rows:>11}{st['seconds']:>9.2f}{rate:>12}{rss:>13}"
                f"{_cpu_cells(st)}"
            )


def print_day(result: dict[str, Any]) -> None:
    print(
        f"\n{result['day']}: tasks {result['dag_seconds']:.1f}s,"
        f" peak RSS {result['peak_rss_mb']:,} MB"
    )
    print(f"  {'task':<34}{'rows':>11}{'wall s':>9}{'rows/s':>12}{'peak RSS MB':>13}{CPU_HEADER}")
    for t in result["tasks"]:
        rows = "" if t["rows"] is None else f"{t['rows']:,}"
        rate = "" if t["rows_per_s"] is None else f"{t['rows_per_s']:,}"
        rss = "" if t["peak_rss_mb"] is None else f"{t['peak_rss_mb']:,}"
        print(f"  {t['task']:<34}{rows:>11}{t['seconds']:>9.2f}{rate:>12}{rss:>13}{_cpu_cells(t)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1 = the capstone volume.")
    parser.add_argument("--days", type=int, default=4, help="Days from 2025-11-20.")
    parser.add_argument("--ten-x", action="store_true", help="One day, complaints x10.")
    parser.add_argument("--batch-size", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--root", type=Path, help="Work folder (default: a temporary one).")
    args = parser.parse_args()
    from coretelecoms.pipeline.airflow_runner import migrate_metadata_db

    machine = describe()
    print(summary_line(machine))
    from coretelecoms.simulate import simulate

    root = args.root or Path(tempfile.mkdtemp(prefix="coretelecoms-bench-"))
    days = 1 if args.ten_x else args.days
    dates = [START + timedelta(days=n) for n in range(days)]
    mode = "10x-one-day" if args.ten_x else f"{days}-days"
    print(f"bench_pipeline: {mode} at scale {args.scale}, batch size {args.batch_size:,}; {root}")
    with postgres_server(root) as maintenance:
        source_dsn = create_database(maintenance, "source")
        settings = Settings(
            home=root / "home",
            pg_dsn=create_database(maintenance, "silver"),
            source_pg_dsn=source_dsn,
            batch_size=args.batch_size,
        )
        t0 = time.perf_counter()
        simulated = simulate(settings, START, days, args.scale, args.seed)
        amplified = amplify_complaints(settings, START, 10) if args.ten_x else None
        settings.airflow_home.mkdir(parents=True, exist_ok=True)
        migrate_metadata_db(settings.airflow_home)  # once per Airflow home, like an install
        setup_s = time.perf_counter() - t0
        print(
            f"simulated {simulated.total_rows:,} source rows and migrated Airflow's database"
            f" in {setup_s:.0f}s (not measured)"
        )
        if amplified:
            print(f"complaints x10: {amplified} ({sum(amplified.values()):,} rows)")
        seconds, sampler, results = run_days(
            settings, dates, root / "pipeline.log", root / "pgdata"
        )
        peak = round(sampler.peak / 2**20)
        for result in results:
            print_day(result)
        print_stages(results)
    end_to_end = seconds
    rows = sum(
        t["rows"] or 0
        for r in results
        for t in r["tasks"]
        if t["task"].startswith("load_") and t["task"] != "load_warehouse"
    )
    print(
        f"\nend to end: {end_to_end:.1f}s for {len(results)} day(s) in one process (start-up"
        f" included), {rows:,} source rows loaded"
        f" ({rows / end_to_end:,.0f} rows/s); peak RSS {peak:,} MB"
    )
    cpu, server_cpu = sampler.cpu
    print(
        f"CPU: pipeline {cpu:,.0f} s + Postgres server {server_cpu:,.0f} s ="
        f" {(cpu + server_cpu) / end_to_end:.2f} of {psutil.cpu_count()} cores busy on average"
    )
    if args.scale == 1 and not args.ten_x:
        verdict = "met" if end_to_end <= TARGET_SECONDS and peak <= TARGET_RSS_MB else "NOT met"
        print(f"target (<= {TARGET_SECONDS}s, <= {TARGET_RSS_MB:,} MB): {verdict}")
    report = {
        "mode": mode,
        "scale": args.scale,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "machine": {**machine, "load_avg_at_end": list(psutil.getloadavg())},
        "amplified": amplified,
        "end_to_end_seconds": round(end_to_end, 1),
        "rows_loaded": rows,
        "peak_rss_mb": peak,
        "cpu_s": round(sampler.cpu[0], 1),
        "server_cpu_s": round(sampler.cpu[1], 1),
        "days": results,
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"pipeline-{mode}-scale{args.scale:g}-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
