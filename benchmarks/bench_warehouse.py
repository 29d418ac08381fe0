"""Benchmark of the gold layer: warehouse load (silver -> DuckDB `raw`) + `dbt build`, 4 days.

Silver is synthesised directly in Postgres with ``generate_series`` (the silver loader is not
part of the measurement) the way the silver loader leaves it: day 1 brings the customers
snapshot, the agents and a day of complaints; each later day brings a new day of complaints,
moves 30 % of the previous day's open complaints to Resolved (with status history) and changes
0.1 % of customers' addresses (new customer versions). After each day the benchmark runs
``load_warehouse`` then ``run_dbt(["build"])`` and reports wall time per step, the total, and
the peak RSS of this process (dbt and DuckDB run in-process; the Postgres server is excluded).

Scale 1 is the real volume (2.5 M customers, 100 agents, ~379 k calls, ~279 k web forms, ~38 k
social-media complaints a day). Target at scale 1 over 4 days: <= 60 s.

    .venv/bin/python benchmarks/bench_warehouse.py --scale 0.02            # embedded pgserver
    .venv/bin/python benchmarks/bench_warehouse.py --dsn postgresql://...  # an existing server
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

from coretelecoms.config import Settings
from coretelecoms.load import apply_migrations
from coretelecoms.warehouse import load_warehouse, run_dbt

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
            "key": f"md5('{channel}|' || {i})",
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


def run(dsn: str, scale: float, days: int, home: Path) -> dict[str, object]:
    apply_migrations(dsn)
    volumes = {k: max(1, int(v * scale)) for k, v in FULL.items()}
    settings = Settings(home=home, pg_dsn=dsn)
    per_day = []
    started = time.perf_counter()
    for d in range(days):
        day = FIRST_DAY + timedelta(days=d)
        with psycopg.connect(dsn) as conn:
            if d == 0:
                _seed_static(conn, volumes["customers"])
            else:
                _evolve(conn, day)
            _new_complaints(conn, day, volumes, volumes["customers"])
        t0 = time.perf_counter()
        loaded = load_warehouse(settings)
        t1 = time.perf_counter()
        run_dbt(settings, ["build", "--quiet"])
        t2 = time.perf_counter()
        per_day.append(
            {
                "day": day.isoformat(),
                "rows_moved": loaded.rows,
                "load_s": round(t1 - t0, 2),
                "dbt_build_s": round(t2 - t1, 2),
            }
        )
        print(json.dumps(per_day[-1]), file=sys.stderr)
    measured = sum(p["load_s"] + p["dbt_build_s"] for p in per_day)
    return {
        "scale": scale,
        "days": days,
        "volumes_per_day": volumes,
        "per_day": per_day,
        "warehouse_load_plus_dbt_build_s": round(measured, 2),
        "wall_including_silver_synthesis_s": round(time.perf_counter() - started, 2),
        "peak_rss_mb": round(_rss_mb(), 1),
        "target_s_at_scale_1": 60,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.02)
    parser.add_argument("--days", type=int, default=4)
    parser.add_argument("--dsn", help="maintenance DSN of a Postgres server (default: pgserver)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bench-warehouse-") as tmp:
        server = None
        if args.dsn:
            admin = args.dsn
        else:
            import pgserver

            server = pgserver.get_server(Path(tmp) / "pgdata", cleanup_mode="stop")
            admin = server.get_uri("postgres")
        name = f"bench_wh_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        info = psycopg.conninfo.conninfo_to_dict(admin)
        info["dbname"] = name
        try:
            result = run(
                psycopg.conninfo.make_conninfo(**info), args.scale, args.days, Path(tmp) / "home"
            )
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
                )
            if server is not None:
                server.cleanup()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
