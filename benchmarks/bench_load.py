"""Benchmark of the silver loader: the first load of the customers snapshot and one day of
complaints into Postgres with every constraint and index in place.

Scale 1 is the real volume (2.5 M customers, 100 agents, ~379 k call logs, ~279 k web forms,
~38 k social-media complaints). The batches are synthesised here with Polars (the transform is not
part of the measurement); ~0.5 % of complaints reference an unknown customer so the orphan
quarantine path is exercised too. Prints rows/s per entity next to a bare COPY of the same rows
measured in the same process just before (and the ratio of the two), and the peak RSS of this
process (the Postgres server's memory is not included).

    .venv/bin/python benchmarks/bench_load.py --scale 0.02            # embedded pgserver
    .venv/bin/python benchmarks/bench_load.py --dsn postgresql://...  # an existing server
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import date, datetime

import polars as pl
import psycopg
from psycopg import sql

from coretelecoms.config import DEFAULT_LOAD_CONNECTIONS
from coretelecoms.contracts import CONTRACTS, EntityContract
from coretelecoms.load import Loader, apply_migrations
from coretelecoms.load.schema import data_columns
from coretelecoms.load.staging import copy_frame
from coretelecoms.postgres import configure_embedded
from coretelecoms.transform.batch import (
    ISSUE_SCHEMA,
    REJECT_SCHEMA,
    SourceVersion,
    TransformedBatch,
)

DAY = date(2025, 11, 20)
FULL = {
    "customers": 2_500_000,
    "agents": 100,
    "call_logs": 379_000,
    "web_form_complaints": 279_000,
    "social_media_complaints": 38_000,
}
STATUSES = ["Resolved", "Backlog", "In-Progress", "Blocked"]
CATEGORIES = ["Technician Support", "Network Failure", "Router Delivery", "Payments"]
MEDIA = ["Instagram", "Twitter", "Facebook", "LinkedIn"]
STATES = [("NY", "New York"), ("CA", "California"), ("TX", "Texas"), ("PR", "Puerto Rico")]


def _uuid_expr(i: pl.Expr, salt: str) -> pl.Expr:
    """Deterministic UUID4-shaped text from an integer column (vectorised)."""
    h = (i.cast(pl.String) + pl.lit(salt)).hash(seed=7).cast(pl.String).str.zfill(20)
    hexed = i.cast(pl.String).str.zfill(12)
    return pl.format(
        "{}-{}-4{}-8{}-{}",
        h.str.slice(0, 8),
        h.str.slice(8, 4),
        h.str.slice(12, 3),
        h.str.slice(15, 3),
        hexed,
    )


def customers_frame(n: int) -> pl.DataFrame:
    i = pl.int_range(0, n, dtype=pl.Int64)
    state = i % len(STATES)
    return (
        pl.select(i.alias("_i"))
        .with_columns(
            _uuid_expr(pl.col("_i"), "c").alias("customer_id"),
            pl.format("Customer {}", pl.col("_i")).alias("name"),
            pl.when(pl.col("_i") % 2 == 0).then(pl.lit("M")).otherwise(pl.lit("F")).alias("gender"),
            (pl.lit(date(1960, 1, 1)) + pl.duration(days=pl.col("_i") % 15000)).alias(
                "date_of_birth"
            ),
            (pl.lit(date(2015, 1, 1)) + pl.duration(days=pl.col("_i") % 3000)).alias("signup_date"),
            pl.format("customer{}@gmail.com", pl.col("_i")).alias("email"),
            pl.format("{} Paul Turnpike", pl.col("_i") % 9999).alias("street"),
            pl.lit("Darrenland").alias("city"),
            pl.col("_i")
            .mod(len(STATES))
            .replace_strict(list(range(len(STATES))), [s[0] for s in STATES])
            .alias("state_code"),
            state.replace_strict(list(range(len(STATES))), [s[1] for s in STATES]).alias(
                "state_name"
            ),
            (pl.col("_i") % 99999).cast(pl.String).str.zfill(5).alias("zip_code"),
            pl.col("_i").alias("_source_row"),
        )
        .drop("_i")
    )


def agents_frame(n: int) -> pl.DataFrame:
    i = pl.int_range(0, n, dtype=pl.Int64)
    return pl.select(
        (i + 1000).alias("agent_id"),
        pl.format("Agent {}", i).alias("name"),
        pl.lit("Junior").alias("experience"),
        pl.lit("Ohio").alias("state"),
        i.alias("_source_row"),
    )


def complaints_frame(contract: EntityContract, n: int, customers: int, agents: int) -> pl.DataFrame:
    i = pl.int_range(0, n, dtype=pl.Int64)
    source_id = contract.natural_key[0]
    started = pl.lit(datetime(2025, 3, 1)) + pl.duration(minutes=(i * 7919) % 300_000)
    cust = (i * 2654435761) % customers
    cols: dict[str, pl.Expr] = {
        source_id: pl.format("{}-{}", pl.lit(contract.channel), _uuid_expr(i, contract.entity)),
        # ~0.5 % orphans: an id past the generated customers.
        "customer_id": _uuid_expr(
            pl.when(i % 200 == 0).then(cust + customers).otherwise(cust), "c"
        ),
        "agent_id": 1000 + i % agents,
        "complaint_category": pl.lit(pl.Series(CATEGORIES)).gather(i % 4),
        "resolution_status": pl.lit(pl.Series(STATUSES)).gather(i % 4),
        "generated_date": pl.lit(DAY),
    }
    silver = set(contract.silver_column_names)
    if "call_started_at" in silver:
        cols["call_started_at"] = started
        cols["call_ended_at"] = started + pl.duration(minutes=i % 30 + 1)
    if "requested_at" in silver:
        cols["requested_at"] = started
        cols["resolved_at"] = pl.when(i % 4 == 0).then(started + pl.duration(days=2))
    if "media_channel" in silver:
        cols["media_channel"] = pl.lit(pl.Series(MEDIA)).gather(i % 4)
    frame = pl.select(**cols, _source_row=i)
    return frame.select([*data_columns(contract), "_source_row"])


def batches(
    contract: EntityContract, frame: pl.DataFrame, batch_size: int
) -> Iterator[TransformedBatch]:
    """Batches built lazily (as the transform does), so memory stays at one batch of extras."""
    source = SourceVersion(
        contract.entity, DAY, f"bench://{contract.entity}", uuid.uuid4().hex, "", frame.height
    )
    raw = {f.name: f.raw for f in contract.fields}
    for n, start in enumerate(range(0, frame.height, batch_size)):
        clean = frame.slice(start, batch_size)
        originals = clean.select(
            "_source_row",
            *(pl.col(c).cast(pl.String).alias(raw[c]) for c in clean.columns if c in raw),
        )
        yield (
            TransformedBatch(
                source,
                n,
                clean.height,
                clean,
                pl.DataFrame(schema=REJECT_SCHEMA),
                pl.DataFrame(schema=ISSUE_SCHEMA),
                0,
                originals,
            )
        )


def copy_baseline(dsn: str, contract: EntityContract, frame: pl.DataFrame) -> float:
    """Rows/s of a bare COPY of ``frame`` (same CSV, same column types) into an unindexed
    temporary table: this machine's ceiling at this moment, measured in this process right
    before the loader runs, so the loader's ratio to it survives a busy machine better than the
    absolute figure. The loader adds the stage, keys, foreign keys, indexes and history."""
    types = {c.name: c.pg_type for c in contract.silver_columns}
    cols = list(data_columns(contract))
    with psycopg.connect(dsn) as conn:
        conn.execute(
            sql.SQL("create temp table _baseline ({})").format(
                sql.SQL(", ").join(
                    sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(types[c])) for c in cols
                )
            )
        )
        started = time.perf_counter()
        copy_frame(conn, sql.Identifier("_baseline"), cols, frame)
        return frame.height / (time.perf_counter() - started)


def cpu_seconds(server: object | None) -> tuple[float, float]:
    """CPU seconds (user + system) used so far by this process and by the embedded server (its
    postmaster, live backends and the backends it has reaped); the server's is 0 with --dsn."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    client = me.ru_utime + me.ru_stime
    if server is None:
        return client, 0.0
    import psutil

    time.sleep(0.5)  # let the postmaster reap the backends that just closed
    post = psutil.Process(server.get_pid())  # type: ignore[attr-defined]
    t = post.cpu_times()
    total = t.user + t.system + t.children_user + t.children_system
    for child in post.children():
        with contextlib.suppress(psutil.NoSuchProcess):
            c = child.cpu_times()
            total += c.user + c.system
    return client, total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=100_000)
    parser.add_argument("--dsn", help="Server DSN; a fresh database is created on it.")
    parser.add_argument(
        "--connections",
        type=int,
        default=DEFAULT_LOAD_CONNECTIONS,
        help="Batches applied at once (Loader's connections; 1 = one after the other).",
    )
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON.")
    parser.add_argument(
        "--default-config",
        action="store_true",
        help="Embedded server with PostgreSQL's default settings instead of EMBEDDED_SETTINGS.",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    server = None
    if args.dsn is None:
        import pgserver

        server = pgserver.get_server(tempfile.mkdtemp(prefix="bench_load_"), cleanup_mode="delete")
        if not args.default_config:
            configure_embedded(server)  # the same bulk-load settings as the platform's server
        maintenance = server.get_uri("postgres")
    else:
        maintenance = args.dsn
    database = f"bench_load_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(database)))
    info = psycopg.conninfo.conninfo_to_dict(maintenance)
    info["dbname"] = database
    dsn = psycopg.conninfo.make_conninfo(**info)
    try:
        apply_migrations(dsn)
        n = {e: max(1, round(v * args.scale)) for e, v in FULL.items()}
        n["agents"] = FULL["agents"]
        results = []
        for entity in (
            "customers",
            "agents",
            "call_logs",
            "web_form_complaints",
            "social_media_complaints",
        ):
            contract = CONTRACTS[entity]
            if entity == "customers":
                frame = customers_frame(n[entity])
            elif entity == "agents":
                frame = agents_frame(n[entity])
            else:
                frame = complaints_frame(contract, n[entity], n["customers"], n["agents"])
            baseline = copy_baseline(dsn, contract, frame)
            work = batches(contract, frame, args.batch_size)
            cpu_before = cpu_seconds(server)
            started = time.perf_counter()
            summary = Loader(dsn, contract, "bench", DAY, connections=args.connections).load(work)
            seconds = time.perf_counter() - started
            cpu_after = cpu_seconds(server)
            results.append(
                {
                    "entity": entity,
                    "rows": frame.height,
                    "seconds": round(seconds, 2),
                    "rows_per_s": round(frame.height / seconds),
                    "bare_copy_rows_per_s": round(baseline),
                    "ratio_to_bare_copy": round(frame.height / seconds / baseline, 3),
                    "client_cpu_s": round(cpu_after[0] - cpu_before[0], 2),
                    "server_cpu_s": round(cpu_after[1] - cpu_before[1], 2),
                    **summary.figures(),
                }
            )
        total_rows = sum(r["rows"] for r in results)
        total_s = sum(r["seconds"] for r in results)
        # The bare COPY of everything, timed as the loader is: rows over summed seconds.
        copy_s = sum(r["rows"] / r["bare_copy_rows_per_s"] for r in results)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        report = {
            "scale": args.scale,
            "batch_size": args.batch_size,
            "connections": args.connections,
            "entities": results,
            "total_rows": total_rows,
            "total_seconds": round(total_s, 2),
            "rows_per_s": round(total_rows / total_s),
            "bare_copy_rows_per_s": round(total_rows / copy_s),
            "ratio_to_bare_copy": round(copy_s / total_s, 3),
            "peak_rss_mb": round(peak_mb),
            "client_cpu_s": round(sum(r["client_cpu_s"] for r in results), 2),
            "server_cpu_s": round(sum(r["server_cpu_s"] for r in results), 2),
            "load_average": os.getloadavg(),
        }
        if args.json:
            print(json.dumps(report, indent=2))
        else:
            head = f"{'entity':<26}{'rows':>10}{'seconds':>9}{'rows/s':>10}{'bare COPY/s':>13}"
            print(f"{head}{'ratio':>7}{'quarantined':>13}{'CPU client':>12}{'server':>8}")
            for r in results:
                print(
                    f"{r['entity']:<26}{r['rows']:>10,}{r['seconds']:>9.2f}"
                    f"{r['rows_per_s']:>10,}{r['bare_copy_rows_per_s']:>13,}"
                    f"{r['ratio_to_bare_copy']:>7.2f}{r['quarantined']:>13,}"
                    f"{r['client_cpu_s']:>12.1f}{r['server_cpu_s']:>8.1f}"
                )
            print(
                f"{'total':<26}{total_rows:>10,}{total_s:>9.2f}{report['rows_per_s']:>10,}"
                f"{report['bare_copy_rows_per_s']:>13,}{report['ratio_to_bare_copy']:>7.2f}"
            )
            print(f"connections: {args.connections}")
            print("bare COPY: the same rows and column types into an unindexed temporary table")
            print(f"peak RSS of the loader process: {peak_mb:.0f} MB")
            print(
                f"CPU seconds while loading: client {report['client_cpu_s']:.1f}, "
                f"server {report['server_cpu_s']:.1f} (embedded only); "
                f"load average {' '.join(f'{x:.2f}' for x in report['load_average'])}"
            )
    finally:
        with psycopg.connect(maintenance, autocommit=True) as conn:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(database))
            )
        if server is not None:
            server.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
