"""Bronze extraction benchmark: customers at a given scale, then one full day of complaints (all
three channels), each extracted in a fresh subprocess so its peak RSS is its own.

    .venv/bin/python benchmarks/bench_extract.py --scale 1      # the targets: <= 20 s, <= 10 s
    .venv/bin/python benchmarks/bench_extract.py --scale 0.02   # a quick check

Inputs come from the simulator (``coretelecoms.simulate.simulate``, one day) when it is
available, else from a synthetic generator here with the real shapes (multiline quoted
addresses, the call-log CSV's empty index header, pandas' column-oriented JSON, the daily
web-form table loaded with COPY). Postgres: the embedded pgserver under ``--home`` unless
``CORETELECOMS_PG_DSN``/``--pg-dsn`` is given.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

DAY = date(2025, 11, 20)
CUSTOMERS = 2_500_000
CALLS, WEB_FORMS, SOCIAL = 379_000, 279_000, 38_000
TARGETS = {"customers": 20.0, "complaints": 10.0}
PHASES = {
    "customers": ("customers",),
    "complaints": ("call_logs", "social_media_complaints", "web_form_complaints"),
}


def _settings(home: Path, pg_dsn: str | None):
    from coretelecoms.config import Settings

    extra = {"pg_dsn": pg_dsn} if pg_dsn else {}
    return Settings(home=home, **extra)


def _synthesise(settings, scale: float, seed: int) -> str:
    import numpy as np
    import polars as pl
    import psycopg

    from coretelecoms.postgres import source_dsn

    rng = np.random.default_rng(seed)
    src = Path(str(settings.source_uri))

    def ids(n: int, prefix: str) -> pl.Series:
        return prefix + pl.Series(rng.integers(0, 16**12, n)).cast(pl.String).str.zfill(16)

    n = max(10, round(CUSTOMERS * scale))
    i = pl.int_range(0, n, eager=True).cast(pl.String)
    customers = pl.DataFrame(
        {
            "customer_id": ids(n, "3f1c0e2a-9b7d-4c11-"),
            "name": "Customer " + i,
            "Gender": pl.Series(rng.choice(["M", "F"], n)),
            "DATE of biRTH": pl.repeat("1980-01-02", n, eager=True),
            "signup_date": pl.repeat("2020-03-04", n, eager=True),
            "email": "f963" + i + ".wagner016@hotmai.com",
            "address": i + " Paul Turnpike\nDarrenland, NY " + i.str.zfill(5).str.slice(0, 5),
        }
    )
    (src / "customers").mkdir(parents=True, exist_ok=True)
    customers.write_csv(src / "customers" / "customers_dataset.csv")

    def complaints(m: int, id_name: str) -> pl.DataFrame:
        return pl.DataFrame(
            {
                id_name: ids(m, "x" * 40),
                "customeR iD": customers["customer_id"].sample(m, with_replacement=True, seed=seed),
                "COMPLAINT_catego ry": pl.Series(rng.choice(["Payments", "Network Failure"], m)),
                "agent ID": pl.Series(rng.integers(1000, 1100, m)).cast(pl.String),
                "resolutionstatus": pl.Series(rng.choice(["Resolved", "Backlog"], m)),
                "request_date": pl.repeat("2025-03-01 10:00:00", m, eager=True),
                "resolution_date": pl.repeat("", m, eager=True),
            }
        )

    m = max(10, round(CALLS * scale))
    calls = (
        complaints(m, "call ID")
        .with_row_index("", offset=0)
        .with_columns(pl.col("").cast(pl.String))
    )
    (src / "call logs").mkdir(parents=True, exist_ok=True)
    calls.write_csv(src / "call logs" / f"call_logs_day_{DAY}.csv")

    m = max(10, round(SOCIAL * scale))
    social = complaints(m, "complaint_id")
    doc = {c: {str(k): v for k, v in enumerate(social[c].to_list())} for c in social.columns}
    (src / "social_medias").mkdir(parents=True, exist_ok=True)
    (src / "social_medias" / f"media_complaint_day_{DAY}.json").write_text(json.dumps(doc))

    m = max(10, round(WEB_FORMS * scale))
    web = (
        complaints(m, "request_id")
        .with_row_index("Column1")
        .with_columns(pl.col("Column1").cast(pl.String))
    )
    table = f"web_form_request_{DAY.isoformat().replace('-', '_')}"
    cols = ", ".join(f'"{c}"' for c in web.columns)
    with psycopg.connect(source_dsn(settings), autocommit=True) as conn:
        conn.execute("create schema if not exists customer_complaints")
        conn.execute(f"drop table if exists customer_complaints.{table}")
        conn.execute(
            f"create table customer_complaints.{table} ("
            + ", ".join(f'"{c}" text' for c in web.columns)
            + ")"
        )
        with conn.cursor().copy(
            f"copy customer_complaints.{table} ({cols}) from stdin (format csv)"
        ) as copy:
            copy.write(web.write_csv(include_header=False))
    return "synthetic"


def prepare(home: Path, scale: float, seed: int, pg_dsn: str | None, synthetic: bool) -> str:
    """Write the sources once; returns which generator made them."""
    settings = _settings(home, pg_dsn)
    try:
        from coretelecoms.simulate import simulate
    except ImportError:
        simulate = None
    if synthetic:
        simulate = None
    if simulate is not None:
        try:
            simulate(settings, DAY, 1, scale, seed)
            return "simulator"
        except Exception as exc:  # the simulator is optional here: fall back, say why
            sys.stderr.write(f"simulator failed ({exc!r}); synthesising inputs instead\n")
    return _synthesise(settings, scale, seed)


def run_phase(home: Path, phase: str, pg_dsn: str | None) -> dict:
    """Extract the phase's entities (in this process) and report rows, wall time, peak RSS."""
    from coretelecoms.extract import extract_entity
    from coretelecoms.postgres import source_dsn

    settings = _settings(home, pg_dsn)
    source_dsn(settings)  # start/attach the embedded server outside the timed section
    began = time.perf_counter()
    rows = {}
    for entity in PHASES[phase]:
        result = extract_entity(settings, entity, DAY, f"bench-{phase}")
        rows[entity] = result.manifest.current.rows if result.manifest else 0
    wall = time.perf_counter() - began
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"phase": phase, "rows": rows, "wall_s": wall, "peak_rss_mb": peak_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--home", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument("--pg-dsn", default=os.environ.get("CORETELECOMS_PG_DSN"))
    parser.add_argument("--keep", action="store_true", help="keep the temporary home")
    parser.add_argument("--synthetic", action="store_true", help="do not use the simulator")
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase:  # child: one timed phase, JSON on stdout
        print(json.dumps(run_phase(args.home, args.phase, args.pg_dsn)))
        return

    home = args.home or Path(tempfile.mkdtemp(prefix="bench-extract-"))
    try:
        began = time.perf_counter()
        generator = prepare(home, args.scale, args.seed, args.pg_dsn, args.synthetic)
        print(f"inputs: {generator}, scale {args.scale}, {time.perf_counter() - began:.1f} s")
        print(
            f"{'phase':<11} {'rows':>10} {'wall s':>8} {'rows/s':>11} {'peak RSS MB':>12}  target"
        )
        for phase in PHASES:
            shutil.rmtree(home / "lake" / "bronze", ignore_errors=True)
            cmd = [sys.executable, __file__, "--phase", phase, "--home", str(home)]
            if args.pg_dsn:
                cmd += ["--pg-dsn", args.pg_dsn]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            res = json.loads(out.strip().splitlines()[-1])
            rows = sum(res["rows"].values())
            target = TARGETS[phase] * max(args.scale, 0.0)
            verdict = "" if args.scale != 1 else ("ok" if res["wall_s"] <= target else "MISSED")
            print(
                f"{phase:<11} {rows:>10,} {res['wall_s']:>8.2f} {rows / res['wall_s']:>11,.0f}"
                f" {res['peak_rss_mb']:>12.0f}  <= {TARGETS[phase]:.0f} s at scale 1 {verdict}"
            )
            if phase == "complaints":
                print("            " + ", ".join(f"{k}={v:,}" for k, v in res["rows"].items()))
    finally:
        if args.home is None and not args.keep:
            if not args.pg_dsn:
                from coretelecoms.postgres import stop_embedded

                stop_embedded(_settings(home, None))
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
