"""Benchmark of the gold layer: warehouse load (silver -> DuckDB `raw`) + `dbt build`, 4 days.

Silver is synthesised directly in Postgres with ``generate_series`` (the silver loader is not
part of the measurement) the way the silver loader leaves it: day 1 brings the customers
snapshot, the agents and a day of complaints; each later day brings a new day of complaints,
moves 30 % of the previous day's open complaints to Resolved (with status history) and changes
0.1 % of customers' addresses (new customer versions).

Silver is built once and cached: one Postgres database per day (day d+1 is a template copy of
day d, then evolved), in a persistent pgserver under ``--cache-dir``. The cache key hashes the
scale, the day count, this file's synthesis code, the silver migrations and the contracts, so a
schema change rebuilds it. Because the day-d+1 database continues the day-d one (same rows, same
sequence), pointing the warehouse load at each day's database in turn is exactly the daily
pipeline. Only the warehouse part is timed: per day ``load_warehouse`` then one
``run_dbt(["build"])``, both in this process; printed: rows moved, seconds per step, rows/s, and
the peak RSS of this process so far (dbt and DuckDB run in-process; Postgres is excluded).

Scale 1 is the real volume (2.5 M customers, 100 agents, ~379 k calls, ~279 k web forms, ~38 k
social-media complaints a day). Target at scale 1 over 4 days: <= 60 s. The figures are written
to ``benchmarks/results/warehouse_scale<scale>.json``.

    .venv/bin/python benchmarks/bench_warehouse.py --scale 1        # cached silver in .coretelecoms
    .venv/bin/python benchmarks/bench_warehouse.py --scale 0.02 --no-cache
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import logging
import os
import resource
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

from coretelecoms.config import Settings
from coretelecoms.load import apply_migrations
from coretelecoms.warehouse import load_warehouse, run_dbt
from coretelecoms.warehouse.checksums import gold_checksums

from machine import describe, summary_line

FIRST_DAY = date(2025, 11, 20)
FULL = {"customers": 2_500_000, "call": 379_000, "web_form": 279_000, "social_media": 38_000}
AGENTS = 100

_CUSTOMER = "md5('c' || ((({i}) * 7919) %% {n}))::uuid"
_STATUS = "(array['Backlog','In-Progress','Resolved','Blocked'])[1 + ({i}) %% 4]"
_CATEGORY = (
    "(array['Technician Support','Network Failure','Router Delivery','Payments'])[1 + ({i}) %% 4]"
)


def _seed_static(conn: psycopg.Connection, n_customers: int) -> None:
    conn.execute(
        """
        insert into conformed.customers (customer_id, name, gender, date_of_birth, signup_date,
            email, street, city, state_code, state_name, zip_code, _run_id)
        select md5('c' || i)::uuid, 'Customer ' || i, case when i %% 2 = 0 then 'M' else 'F' end,
            date '1960-01-01' + (i %% 15000), date '2019-01-01' + (i %% 1800),
            'c' || i || '@gmail.com', i || ' Main Street', 'Springfield', 'NY', 'New York',
            lpad((i %% 99999)::text, 5, '0'), 'bench-1'
        from generate_series(0, %(n)s - 1) as i
        """,
        {"n": n_customers},
    )
    conn.execute(
        """
        insert into conformed.customer_versions (customer_id, street, city, state_code,
            state_name, zip_code, valid_from, valid_to, _run_id)
        select customer_id, street, city, state_code, state_name, zip_code, signup_date, null,
            'bench-1'
        from conformed.customers
        """
    )
    conn.execute(
        """
        insert into conformed.agents (agent_id, name, experience, state, _run_id)
        select 1000 + i, 'Agent ' || i,
            (array['Intern','Junior','Mid-level','Senior'])[1 + i %% 4], 'Texas', 'bench-1'
        from generate_series(0, %(n)s - 1) as i
        """,
        {"n": AGENTS},
    )
    conn.execute(
        """
        insert into conformed.agent_versions (agent_id, experience, valid_from, _run_id)
        select agent_id, experience, date '1900-01-01', 'bench-1' from conformed.agents
        """
    )


def _new_complaints(conn: psycopg.Connection, day: date, n: dict[str, int], nc: int) -> None:
    run = f"bench-{day}"
    offset = (day - FIRST_DAY).days * 1_000_000_000
    for channel, table, id_col in (
        ("call", "call_logs", "call_id"),
        ("social_media", "social_media_complaints", "complaint_id"),
        ("web_form", "web_form_complaints", "request_id"),
    ):
        i = f"(g::bigint + {offset})"
        common = {
            # silver checks complaint_key = md5('<channel>|' || source id) (migration 4)
            "key": f"md5('{channel}|{channel}-' || {i})",
            "sid": f"'{channel}-' || {i}",
            "customer": _CUSTOMER.format(i=i, n=nc),
            "agent": f"1000 + {i} %% {AGENTS}",
            "category": _CATEGORY.format(i=i),
            "status": _STATUS.format(i=i),
            "start": f"timestamp '2025-01-01' + ({i} %% 300) * interval '1 day' "
            f"+ ({i} %% 86000) * interval '1 second'",
        }
        if channel == "call":
            cols = "call_started_at, call_ended_at"
            vals = f"{common['start']}, {common['start']} + ({i} %% 40) * interval '1 minute'"
        else:
            cols = "requested_at, resolved_at" + (
                ", media_channel" if channel == "social_media" else ""
            )
            vals = (
                f"{common['start']}, case when {common['status']} = 'Resolved' then "
                f"{common['start']} + ({i} %% 9) * interval '1 day' end"
            )
            if channel == "social_media":
                vals += f", (array['Instagram','Twitter','Facebook','LinkedIn'])[1 + {i} %% 4]"
        conn.execute(
            sql.SQL(
                f"insert into {{}} (complaint_key, {id_col}, customer_id, agent_id, "
                f"complaint_category, resolution_status, {cols}, generated_date, _run_id) "
                f"select {common['key']}, {common['sid']}, {common['customer']}, "
                f"{common['agent']}, {common['category']}, {common['status']}, {vals}, "
                f"%(day)s, %(run)s from generate_series(0, %(n)s - 1) as g"
            ).format(sql.Identifier("conformed", table)),
            {"day": day, "run": run, "n": n[channel]},
        )
        conn.execute(
            sql.SQL(
                "insert into conformed.complaint_status_history (complaint_key, channel, "
                "resolution_status, observed_date, _run_id) select complaint_key, %(ch)s, "
                "resolution_status, generated_date, %(run)s from {} where generated_date = %(day)s "
                "on conflict do nothing"
            ).format(sql.Identifier("conformed", table)),
            {"ch": channel, "day": day, "run": run},
        )


def _evolve(conn: psycopg.Connection, day: date) -> None:
    """Resolve 30 % of yesterday's open complaints; move 0.1 % of customers."""
    run = f"bench-{day}"
    for channel, table in (
        ("call", "call_logs"),
        ("social_media", "social_media_complaints"),
        ("web_form", "web_form_complaints"),
    ):
        resolved_at = "" if channel == "call" else ", resolved_at = %(day)s::timestamp"
        conn.execute(
            sql.SQL(
                "update {} set resolution_status = 'Resolved', generated_date = %(day)s, "
                f"_run_id = %(run)s, _change_seq = nextval('conformed.change_seq'){resolved_at} "
                "where generated_date = %(prev)s and resolution_status <> 'Resolved' "
                "and abs(hashtext(complaint_key)) %% 10 < 3"
            ).format(sql.Identifier("conformed", table)),
            {"day": day, "prev": day - timedelta(days=1), "run": run},
        )
        conn.execute(
            sql.SQL(
                "insert into conformed.complaint_status_history (complaint_key, channel, "
                "resolution_status, observed_date, _run_id) select complaint_key, %(ch)s, "
                "'Resolved', %(day)s, %(run)s from {} where generated_date = %(day)s "
                "and _run_id = %(run)s and resolution_status = 'Resolved' "
                "on conflict do nothing"
            ).format(sql.Identifier("conformed", table)),
            {"ch": channel, "day": day, "run": run},
        )
    moved = (
        "select customer_id from conformed.customers "
        "where abs(hashtext(customer_id::text || %(day)s::text)) %% 1000 = 0"
    )
    conn.execute(
        f"update conformed.customer_versions set valid_to = %(day)s, _run_id = %(run)s, "
        f"_change_seq = nextval('conformed.change_seq') where valid_to is null "
        f"and valid_from < %(day)s and customer_id in ({moved})",
        {"day": day, "run": run},
    )
    conn.execute(
        f"insert into conformed.customer_versions (customer_id, street, city, state_code, "
        f"state_name, zip_code, valid_from, _run_id) select customer_id, '1 Moved Avenue', "
        f"'Austin', 'TX', 'Texas', '73301', %(day)s, %(run)s from conformed.customers "
        f"where customer_id in ({moved}) on conflict do nothing",
        {"day": day, "run": run},
    )


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_s() -> float:
    """CPU seconds of this process (dbt + DuckDB): steadier than wall time on a busy machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _cache_key(scale: float, days: int) -> str:
    """Changes when anything that shapes the synthesised silver changes."""
    import coretelecoms.contracts as contracts
    import coretelecoms.load.migrations as migrations
    import coretelecoms.load.schema as schema

    digest = hashlib.sha256(f"{scale}|{days}".encode())
    for fn in (_seed_static, _new_complaints, _evolve):
        digest.update(inspect.getsource(fn).encode())
    for package in (contracts, migrations):
        for path in sorted(Path(package.__file__).parent.glob("*.*")):
            if path.suffix in {".py", ".sql"}:
                digest.update(path.read_bytes())
    digest.update(Path(schema.__file__).read_bytes())
    return digest.hexdigest()[:10]


def _dsn(admin: str, dbname: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(admin)
    info["dbname"] = dbname
    return psycopg.conninfo.make_conninfo(**info)


def _databases(admin: str) -> set[str]:
    with psycopg.connect(admin, autocommit=True) as conn:
        return {r[0] for r in conn.execute("select datname from pg_database").fetchall()}


def build_silver(admin: str, prefix: str, scale: float, days: int) -> list[str]:
    """One silver database per day (``<prefix>_d<N>``), built unless already there.

    A day is built under a ``_building`` name and renamed when complete, so an interrupted build
    is never mistaken for a cached one.
    """
    volumes = {k: max(1, int(v * scale)) for k, v in FULL.items()}
    names = [f"{prefix}_d{d}" for d in range(days)]
    existing = _databases(admin)
    for d, name in enumerate(names):
        if name in existing:
            continue
        started = time.perf_counter()
        building = f"{name}_building"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(building))
            )
            if d == 0:
                conn.execute(sql.SQL("create database {}").format(sql.Identifier(building)))
            else:
                conn.execute(
                    sql.SQL("create database {} template {}").format(
                        sql.Identifier(building), sql.Identifier(names[d - 1])
                    )
                )
        dsn = _dsn(admin, building)
        day = FIRST_DAY + timedelta(days=d)
        if d == 0:
            apply_migrations(dsn)
        with psycopg.connect(dsn) as conn:
            if d == 0:
                _seed_static(conn, volumes["customers"])
            else:
                _evolve(conn, day)
            _new_complaints(conn, day, volumes, volumes["customers"])
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("vacuum analyze")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("alter database {} rename to {}").format(
                    sql.Identifier(building), sql.Identifier(name)
                )
            )
        print(f"silver {day}: built in {time.perf_counter() - started:.0f}s", file=sys.stderr)
    return [_dsn(admin, n) for n in names]


def _slowest_nodes(target: Path, top: int = 8) -> dict[str, float]:
    """Where a build spent its time: the slowest nodes of dbt's run_results.json."""
    results = json.loads((target / "run_results.json").read_text())["results"]
    timed = sorted(((r["execution_time"], r["unique_id"]) for r in results), reverse=True)
    return {node.split(".", 2)[-1]: round(sec, 2) for sec, node in timed[:top]}


def _node_seconds(target: Path) -> dict[str, float]:
    """Summed execution time of the build's models and of its data tests (threads overlap them)."""
    results = json.loads((target / "run_results.json").read_text())["results"]
    out = {"models": 0.0, "tests": 0.0}
    for r in results:
        kind = "tests" if r["unique_id"].startswith("test.") else "models"
        out[kind] += r["execution_time"]
    return {k: round(v, 2) for k, v in out.items()}


def measure(silver_dsns: list[str], home: Path) -> list[dict[str, object]]:
    """Per day: warehouse load from that day's silver, then one ``dbt build``."""
    settings = Settings(home=home, pg_dsn=silver_dsns[0])
    per_day: list[dict[str, object]] = []
    for d, dsn in enumerate(silver_dsns):
        cpu0 = _cpu_s()
        t0 = time.perf_counter()
        loaded = load_warehouse(settings, dsn=dsn)
        t1 = time.perf_counter()
        run_dbt(settings, ["build", "--quiet"])
        t2 = time.perf_counter()
        wall = t2 - t0
        cpu = _cpu_s() - cpu0
        per_day.append(
            {
                "day": (FIRST_DAY + timedelta(days=d)).isoformat(),
                "rows_moved": loaded.rows,
                "load_s": round(t1 - t0, 2),
                "dbt_build_s": round(t2 - t1, 2),
                "wall_s": round(wall, 2),
                "rows_per_s": round(loaded.rows / wall),
                "cpu_s": round(cpu, 2),
                "peak_rss_mb": round(_rss_mb()),
                "dbt_node_seconds": _node_seconds(home / "dbt" / "target"),
                "slowest_dbt_nodes_s": _slowest_nodes(home / "dbt" / "target"),
            }
        )
        p = per_day[-1]
        print(
            f"{p['day']}  rows {p['rows_moved']:>10,}  load {p['load_s']:>6.2f}s  "
            f"dbt build {p['dbt_build_s']:>6.2f}s  wall {p['wall_s']:>6.2f}s  cpu {cpu:>6.1f}s  "
            f"{p['rows_per_s']:>9,} rows/s  peak RSS {p['peak_rss_mb']:>6,} MB",
            file=sys.stderr,
        )
    return per_day


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.02)
    parser.add_argument("--days", type=int, default=4)
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(".coretelecoms") / "bench-cache" / "warehouse",
        help="persistent pgserver holding the per-day silver databases",
    )
    parser.add_argument("--no-cache", action="store_true", help="throwaway silver in a temp dir")
    parser.add_argument("--dsn", help="maintenance DSN of a Postgres server (default: pgserver)")
    parser.add_argument(
        "--checksums",
        action="store_true",
        help="after the last day, add the gold table checksums (untimed) to the JSON",
    )
    parser.add_argument(
        "--out", type=Path, help="JSON output (default benchmarks/results/warehouse_scale<S>.json)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import pgserver

    machine = describe()
    print(summary_line(machine), file=sys.stderr)

    key = _cache_key(args.scale, args.days)
    prefix = f"bench_wh_{key}"
    with tempfile.TemporaryDirectory(prefix="bench-warehouse-") as tmp:
        server = None
        if args.dsn:
            admin = args.dsn
        else:
            pgdata = Path(tmp) / "pgdata" if args.no_cache else args.cache_dir / "pgdata"
            pgdata.parent.mkdir(parents=True, exist_ok=True)
            server = pgserver.get_server(pgdata.resolve(), cleanup_mode="stop")
            admin = server.get_uri("postgres")
        try:
            started = time.perf_counter()
            silver = build_silver(admin, prefix, args.scale, args.days)
            silver_s = time.perf_counter() - started
            per_day = measure(silver, Path(tmp) / "home")
            checksums = (
                gold_checksums(Path(tmp) / "home" / "warehouse.duckdb") if args.checksums else None
            )
        finally:
            if args.no_cache or args.dsn:
                for d in range(args.days):
                    with psycopg.connect(admin, autocommit=True) as conn:
                        conn.execute(
                            sql.SQL("drop database if exists {} with (force)").format(
                                sql.Identifier(f"{prefix}_d{d}")
                            )
                        )
            if server is not None:
                server.cleanup()
    total = sum(float(p["wall_s"]) for p in per_day)
    rows = sum(int(p["rows_moved"]) for p in per_day)
    result = {
        "scale": args.scale,
        "days": args.days,
        "volumes_per_day": {k: max(1, int(v * args.scale)) for k, v in FULL.items()},
        "per_day": per_day,
        "rows_moved": rows,
        "warehouse_load_plus_dbt_build_s": round(total, 2),
        "rows_per_s": round(rows / total),
        "cpu_s": round(sum(float(p["cpu_s"]) for p in per_day), 1),
        "peak_rss_mb": round(_rss_mb()),
        "silver_build_or_cache_s": round(silver_s, 1),
        "target_s_at_scale_1": 60,
        "cpu_count": os.cpu_count(),
        "machine_at_start": machine,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }
    if checksums is not None:
        result["gold_checksums"] = {t: list(c) for t, c in checksums.items()}
    out = args.out or Path(__file__).parent / "results" / f"warehouse_scale{args.scale:g}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"{args.days} days: {rows:,} rows, {total:.1f}s wall (load + dbt build), "
        f"peak RSS {result['peak_rss_mb']:,} MB -> {out}",
        file=sys.stderr,
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
