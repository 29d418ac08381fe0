"""Benchmark the source simulator: wall time, rows/s and peak RSS for one full simulation.

    .venv/bin/python benchmarks/bench_simulate.py --scale 1      # target: <= 120 s, <= 4 GB
    .venv/bin/python benchmarks/bench_simulate.py --scale 0.05 --days 4

Runs in a fresh temporary CORETELECOMS_HOME (or --home) with the embedded Postgres unless
CORETELECOMS_PG_DSN / CORETELECOMS_SOURCE_PG_DSN point at a server. The embedded server is
started before the clock starts and stopped at the end. Peak RSS is this process's
(``resource.getrusage``); the Postgres server's memory is not included.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from coretelecoms.config import get_settings
from coretelecoms.postgres import source_dsn, stop_embedded
from coretelecoms.simulate import simulate

TARGET_SECONDS_AT_SCALE_1 = 120
TARGET_RSS_GB = 4.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--days", type=int, default=4)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2025, 11, 20))
    parser.add_argument("--home", type=Path, default=None, help="Default: a temporary folder.")
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON.")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench_simulate_") as tmp:
        settings = get_settings(home=args.home or Path(tmp) / "home")
        t0 = time.perf_counter()
        source_dsn(settings)  # start the embedded Postgres outside the measurement
        pg_seconds = time.perf_counter() - t0
        try:
            began = time.perf_counter()
            result = simulate(settings, args.start, args.days, args.scale, args.seed)
            seconds = time.perf_counter() - began
        finally:
            if settings.embedded_postgres:
                stop_embedded(settings)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    by_entity: dict[str, int] = {}
    for written in result.written:
        by_entity[written.entity] = by_entity.get(written.entity, 0) + written.rows
    figures = {
        "scale": args.scale,
        "days": args.days,
        "rows": result.total_rows,
        "rows_by_entity": by_entity,
        "wall_seconds": round(seconds, 2),
        "rows_per_second": round(result.total_rows / seconds),
        "peak_rss_gb": round(peak_gb, 3),
        "postgres_start_seconds": round(pg_seconds, 2),
        "linear_extrapolation_to_scale_1_seconds": round(seconds / args.scale, 1),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for key, value in figures.items():
            print(f"{key:>42}: {value}")
    if args.scale >= 1:
        ok = seconds <= TARGET_SECONDS_AT_SCALE_1 * args.scale and peak_gb <= TARGET_RSS_GB
        print(f"{'target (<= 120 s, <= 4 GB at scale 1)':>42}: {'met' if ok else 'MISSED'}")
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
