"""The DAG's ``score_risk`` step alone, day by day, on warehouse copies taken before the step.

The copies are ``<snapshots>/<YYYY-MM-DD>/warehouse.duckdb`` (and ``models/`` when a model
existed then), taken just before ``score_risk`` of a pipeline run. Each day runs
``train_and_score`` for its logical date in a fresh process on that day's copy, carrying *its own*
scores, scoring state and model from the day before, as the DAG does: before a day, the copy's
``gold.customer_risk_scores`` and ``risk_state`` schema are replaced by the ones the previous
day's run of this code wrote (not timed). So code that changes the scoring state is measured as
it would run day after day. Per day it prints the step's result, wall seconds, CPU seconds
(user + sys of the process), peak RSS and the load average around it.

    .venv/bin/python benchmarks/bench_risk_days.py SNAPSHOTS WORKDIR [--rerun-last] [--start DAY]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb

STEP = """
import json, logging, sys
from datetime import date
logging.basicConfig(level=logging.INFO, format="%(relativeCreated)7.0f ms %(message)s")
from coretelecoms.config import Settings
from coretelecoms.risk import train_and_score
out = train_and_score(Settings(), logical_date=date.fromisoformat(sys.argv[1]))
print("RESULT " + json.dumps(out, default=str))
"""


def carry_state(previous: Path, today: Path) -> None:
    """Replace today's risk outputs and state by the ones the previous day's run wrote."""
    conn = duckdb.connect(str(today))
    try:
        conn.execute(f"attach '{previous}' as prev (read_only)")
        tables = conn.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = 'prev' "
            "and (schema_name = 'risk_state' or (schema_name = 'gold' and "
            "table_name = 'customer_risk_scores'))"
        ).fetchall()
        conn.execute("drop schema if exists risk_state cascade")
        conn.execute("drop table if exists gold.customer_risk_scores")
        for schema, name in tables:
            conn.execute(f'create schema if not exists "{schema}"')
            conn.execute(
                f'create table "{schema}"."{name}" as select * from prev."{schema}"."{name}"'
            )
        conn.execute("detach prev")
    finally:
        conn.close()


def run_day(home: Path, day: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORETELECOMS_")}
    env["CORETELECOMS_HOME"] = str(home)
    env.update({k: v for k, v in os.environ.items() if k.startswith("CORETELECOMS_RISK")})
    load_before = os.getloadavg()
    out_path, err_path = home.parent / "step.out", home.parent / "step.err"
    started = time.perf_counter()
    with out_path.open("w") as out, err_path.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-c", STEP, day], env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own CPU and peak RSS
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    stdout, stderr = out_path.read_text(), err_path.read_text()
    if proc.returncode:
        raise RuntimeError(stderr[-4000:])
    result = json.loads(stdout.split("RESULT ", 1)[1])
    log = [line for line in stderr.splitlines() if " ms " in line and "risk" in line]
    return {
        "day": day,
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),  # KB on Linux
        "load_avg": [round(x, 2) for x in (*load_before, *os.getloadavg())],
        "rescored_customers": result.get("rescored_customers"),
        "rescored_rows": result.get("rescored_rows"),
        "rows": result.get("rows"),
        "model_reused": result.get("model_reused"),
        "log": log,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("snapshots", type=Path)
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--rerun-last", action="store_true", help="Run the last day twice.")
    parser.add_argument("--days", type=int, default=0, help="Only the first N days.")
    parser.add_argument(
        "--start", default="", help="First day (YYYY-MM-DD): its copy's own model and state."
    )
    parser.add_argument("--keep", action="store_true", help="Keep WORKDIR (to compare tables).")
    args = parser.parse_args()
    days = sorted(p.name for p in args.snapshots.iterdir() if (p / "warehouse.duckdb").exists())
    days = [d for d in days if d >= args.start]
    if args.days:
        days = days[: args.days]
    home = args.workdir / "home"
    shutil.rmtree(args.workdir, ignore_errors=True)
    home.mkdir(parents=True)
    results = []
    previous: Path | None = None
    for day in days + ([days[-1]] if args.rerun_last else []):
        target = home / "warehouse.duckdb"
        rerun = previous is not None and results and results[-1]["day"] == day
        if not rerun:
            kept = args.workdir / "previous.duckdb"
            if previous is not None:
                shutil.move(target, kept)
            shutil.copy2(args.snapshots / day / "warehouse.duckdb", target)
            if previous is not None:
                carry_state(kept, target)
                kept.unlink()
            elif (args.snapshots / day / "models").exists():
                shutil.copytree(args.snapshots / day / "models", home / "lake" / "models")
        result = run_day(home, day)
        results.append(result)
        previous = target
        print(json.dumps(result, indent=None), flush=True)
    if not args.keep:
        shutil.rmtree(args.workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
