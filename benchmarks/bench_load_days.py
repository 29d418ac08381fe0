"""Benchmark of the silver load stage day by day, as the DAG runs it: simulated sources,
extract (not timed), then per entity the load task (transform + load) of each day.

Days after the first are what this measures that ``bench_load.py`` cannot: the conformed tables
are full, complaints change status, customers arrive in a new snapshot. Per day and entity it
prints rows, wall seconds, rows/s, this process's CPU seconds (transform and load client) and the
embedded server's CPU seconds; with ``--statements`` also the server time per loader statement
(wall time spent waiting on each kind of statement, summed over the day's batches and, with
``CORETELECOMS_LOAD_CONNECTIONS`` > 1, over the sessions working at once).

    .venv/bin/python benchmarks/bench_load_days.py --scale 0.2 --days 3 --home /tmp/days
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import resource
import shutil
import sys
import time
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import psycopg

STATEMENTS: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])


def _label(query: object, conn: psycopg.Connection) -> str:
    text = query.as_string(conn) if hasattr(query, "as_string") else str(query)
    text = re.sub(r"\s+", " ", text)
    head = re.sub(r'"[^"]*"\.', "", text)[:70]
    return head


def _instrument() -> None:
    """Time every statement the loader sends (client-side wait = server work for these)."""
    original = psycopg.Connection.execute

    def timed(self, query, params=None, **kwargs):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            return original(self, query, params, **kwargs)
        finally:
            entry = STATEMENTS[_label(query, self)]
            entry[0] += time.perf_counter() - started
            entry[1] += 1

    psycopg.Connection.execute = timed  # type: ignore[method-assign]


def server_cpu() -> float:
    """CPU seconds of the embedded server so far: postmaster, live and reaped backends."""
    import psutil

    from coretelecoms import postgres

    time.sleep(0.3)
    total = 0.0
    for server in list(postgres._servers.values()):
        post = psutil.Process(server.get_pid())  # type: ignore[attr-defined]
        t = post.cpu_times()
        total += t.user + t.system + t.children_user + t.children_system
        for child in post.children():
            with contextlib.suppress(psutil.NoSuchProcess):
                c = child.cpu_times()
                total += c.user + c.system
    return total


def client_cpu() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    return me.ru_utime + me.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.2)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--start", default="2025-11-20")
    parser.add_argument("--home", required=True, help="Fresh directory for the whole run.")
    parser.add_argument("--statements", action="store_true", help="Time loader statements.")
    parser.add_argument("--json", help="Write the figures to this file too.")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    home = Path(args.home)
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True, exist_ok=True)
    os.environ["CORETELECOMS_HOME"] = str(home)
    os.environ.pop("CORETELECOMS_PG_DSN", None)

    from coretelecoms.config import get_settings
    from coretelecoms.pipeline import tasks
    from coretelecoms.simulate import publish_as_of, simulate

    settings = get_settings()
    first = date.fromisoformat(args.start)
    simulate(settings, first, args.days, args.scale, 42)
    tasks.ensure_schema(settings)
    if args.statements:
        _instrument()
    results = []
    for offset in range(args.days):
        day = first + timedelta(days=offset)
        publish_as_of(settings, day)
        run_id = f"bench-{day.isoformat()}"
        for entity in tasks.entities_for(None):
            tasks.extract(settings, entity, day, run_id)
        for entity in tasks.entities_for(None):
            STATEMENTS.clear()
            c0, s0, t0 = client_cpu(), server_cpu(), time.perf_counter()
            out = tasks.load(settings, entity, day, run_id)
            wall = time.perf_counter() - t0
            c1, s1 = client_cpu(), server_cpu()
            row = {
                "day": day.isoformat(),
                "entity": entity,
                "read": out.get("read", 0),
                "loaded": out.get("loaded", 0),
                "unchanged": out.get("unchanged", 0),
                "quarantined": out.get("quarantined", 0),
                "wall_s": round(wall, 2),
                "rows_per_s": round(out.get("read", 0) / wall) if wall else 0,
                "client_cpu_s": round(c1 - c0, 2),
                "server_cpu_s": round(s1 - s0, 2),
            }
            if args.statements:
                row["statements"] = {
                    k: [round(v[0], 3), int(v[1])]
                    for k, v in sorted(STATEMENTS.items(), key=lambda kv: -kv[1][0])[:8]
                }
            results.append(row)
            print(json.dumps(row), flush=True)
        c0, s0, t0 = client_cpu(), server_cpu(), time.perf_counter()
        released = tasks.release_quarantine(settings, day, run_id)["released"]
        wall = time.perf_counter() - t0
        print(
            json.dumps(
                {
                    "day": day.isoformat(),
                    "entity": "release",
                    "released": released,
                    "wall_s": round(wall, 2),
                    "client_cpu_s": round(client_cpu() - c0, 2),
                    "server_cpu_s": round(server_cpu() - s0, 2),
                }
            ),
            flush=True,
        )
    print("per day: wall s / client CPU s / server CPU s (load tasks, release excluded)")
    for offset in range(args.days):
        day = (first + timedelta(days=offset)).isoformat()
        rows = [r for r in results if r["day"] == day]
        print(
            f"{day}: read {sum(r['read'] for r in rows):>9,}  "
            f"wall {sum(r['wall_s'] for r in rows):7.2f}  "
            f"client {sum(r['client_cpu_s'] for r in rows):7.2f}  "
            f"server {sum(r['server_cpu_s'] for r in rows):7.2f}"
        )
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    print(
        f"load connections {settings.load_connections}; load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    from coretelecoms import postgres

    for server in list(postgres._servers.values()):
        server.cleanup_mode = "stop"  # type: ignore[attr-defined]  # the platform keeps it up
        server.cleanup()  # type: ignore[attr-defined]
    return 0


if __name__ == "__main__":
    sys.exit(main())
