"""Benchmark the silver transform: customers and one day of complaints through the Transformer.

Measures the whole transform of a source version, including the whole-version duplicate pass,
the quality pass, and writing the audit (rejects, issues, duplicates, manifest) to a local lake;
the consumer does nothing, so the figure is the transform's own throughput. Each entity runs in a
fresh subprocess so the peak RSS printed is the transform's alone (not the input generator's).

Targets at scale 1 (2 cores): customers (2.5 M rows) >= 1 M rows/s; a full day of complaints
(~379 k calls + ~279 k web forms + ~38 k social, transformed one after the other) >= 2 M rows/s.

The input is synthesised here (vectorised, deterministic, real value shapes and a sprinkle of
every defect), so the benchmark does not depend on the simulator. Peak RSS is the transform
process's own high-water mark (``VmHWM``). Usage::

    .venv/bin/python benchmarks/bench_transform.py --scale 0.02          # quick check
    .venv/bin/python benchmarks/bench_transform.py --scale 1 --batch-size 100000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from coretelecoms.config import Settings
from coretelecoms.contracts import get_contract
from coretelecoms.extract import read_bronze
from coretelecoms.extract.s3 import S3Extractor
from coretelecoms.transform import Transformer
from coretelecoms.transform.batch import SourceVersion

from machine import describe, summary_line

DAY = date(2025, 11, 20)
FULL_ROWS = {
    "customers": 2_500_000,
    "call_logs": 379_000,
    "web_form_complaints": 279_000,
    "social_media_complaints": 38_000,
}
COMPLAINTS = ("call_logs", "web_form_complaints", "social_media_complaints")
TARGETS = {"customers": 1_000_000, "complaints": 2_000_000}


def _pick(rng: np.random.Generator, values: list[str], n: int) -> pl.Series:
    return pl.Series(values).gather(rng.integers(0, len(values), n))


def _sprinkle(rng: np.random.Generator, s: pl.Series, bad: list[str], rate: float) -> pl.Series:
    mask = pl.Series(rng.random(len(s)) < rate)
    return pl.select(pl.when(mask).then(_pick(rng, bad, len(s))).otherwise(s)).to_series()


_HEX_PAIRS = np.array([f"{i:02x}" for i in range(256)])


def _uuids(rng: np.random.Generator, n: int) -> pl.Series:
    raw = rng.integers(0, 256, (n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    # byte -> two hex digits, 16 of them side by side read as one 32-character string (a bytes
    # view would drop trailing zero bytes and make ~0.4 % of the ids invalid)
    hexes = pl.Series(_HEX_PAIRS[raw].view("<U32").ravel())
    h = pl.col("h")
    return (
        pl.DataFrame({"h": hexes})
        .select(
            pl.concat_str(
                h.str.slice(0, 8),
                pl.lit("-"),
                h.str.slice(8, 4),
                pl.lit("-"),
                h.str.slice(12, 4),
                pl.lit("-"),
                h.str.slice(16, 4),
                pl.lit("-"),
                h.str.slice(20, 12),
            )
        )
        .to_series()
    )


def synth_customers(n: int, seed: int = 1) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    first = ["brianna", "brian", "maria", "james", "li", "ana", "omar", "keisha"]
    last = ["schultz", "wagner", "garcia", "smith", "nguyen", "okafor", "lopez", "kim"]
    # about a quarter of the domains misspelt, as in the real export
    domains = ["gmail.com"] * 4 + ["yahoo.com"] * 3 + ["hotmail.com"] * 2
    domains += ["GmaiL.om", "hotmai.com", "hotmaill.com"]
    f, ln = _pick(rng, first, n), _pick(rng, last, n)
    num = pl.Series(rng.integers(1, 9999, n)).cast(pl.String)
    frame = pl.DataFrame({"f": f, "l": ln, "num": num, "d": _pick(rng, domains, n)})
    email = frame.select(
        pl.concat_str(
            pl.col("num"), pl.col("f"), pl.lit("_"), pl.col("l"), pl.lit("@"), pl.col("d")
        )
    ).to_series()
    name = frame.select(pl.concat_str(pl.col("f"), pl.lit(" "), pl.col("l")).str.to_titlecase())
    states = ["NY", "CA", "TX", "PR", "GU", "MP", "VI", "FL", "WA"]
    regular = pl.DataFrame(
        {
            "n": num,
            "l": ln,
            "st": _pick(rng, states, n),
            "z": pl.Series(rng.integers(501, 99950, n)),
        }
    ).select(
        pl.concat_str(
            pl.col("n"),
            pl.lit(" "),
            pl.col("l").str.to_titlecase(),
            pl.lit(" Turnpike\nDarrenland, "),
            pl.col("st"),
            pl.lit(" "),
            pl.col("z").cast(pl.String).str.zfill(5),
        )
    )
    military = pl.DataFrame({"n": num}).select(
        pl.concat_str(pl.lit("PSC "), pl.col("n"), pl.lit(", Box 3666\nAPO AA 12094"))
    )
    is_mil = pl.Series(rng.random(n) < 0.05)
    address = pl.select(
        pl.when(is_mil).then(military.to_series()).otherwise(regular.to_series())
    ).to_series()
    dob = pl.Series(rng.integers(-7305, 13149, n)).cast(pl.Date).cast(pl.String)
    signup = pl.Series(rng.integers(16436, 20391, n)).cast(pl.Date).cast(pl.String)
    ids = _sprinkle(rng, _uuids(rng, n), [""], 0.0005)
    out = pl.DataFrame(
        {
            "customer_id": ids,
            "name": name.to_series(),
            "Gender": _sprinkle(rng, _pick(rng, ["M", "F"], n), ["X", "Unknown"], 0.001),
            "DATE of biRTH": _sprinkle(rng, dob, ["1990-02-30", "unknown"], 0.001),
            "signup_date": signup,
            "email": _sprinkle(rng, email, ["jane.doe.gmail.com"], 0.002),
            "address": _sprinkle(rng, address, ["1 Main St\nTown, ZZ 12345"], 0.001),
        }
    )
    return out


def synth_complaints(entity: str, n: int, customer_ids: pl.Series, seed: int = 2) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    contract = get_contract(entity)
    start = pl.Series(rng.integers(1_735_689_600, 1_761_955_200, n) * 1_000_000).cast(
        pl.Datetime("us")
    )
    minutes = pl.Series(rng.integers(1, 60, n) * 60_000_000).cast(pl.Duration("us"))
    fmt = "%Y-%m-%d %H:%M:%S"
    start_s = start.dt.to_string(fmt)
    end_s = (start + minutes).dt.to_string(fmt)
    ids = pl.Series(rng.integers(10**15, 10**16, n)).cast(pl.String)
    source_id = pl.select(pl.lit("CT" + "x" * 36) + ids).to_series()
    categories = ["Technician Support", "Network Failure", "Router Delivery", "payments"]
    statuses = ["Resolved", "Backlog", "In-Progress", "Blocked"]
    values = {
        contract.natural_key[0]: _sprinkle(rng, source_id, [""], 0.0005),
        "customer_id": customer_ids.gather(rng.integers(0, len(customer_ids), n)),
        "complaint_category": _sprinkle(rng, _pick(rng, categories, n), ["Roaming"], 0.002),
        "agent_id": pl.Series(rng.integers(1000, 1100, n)).cast(pl.String),
        "resolution_status": _sprinkle(rng, _pick(rng, statuses, n), ["Pending"], 0.001),
        "call_started_at": start_s,
        "requested_at": start_s,
        "call_ended_at": end_s,
        "resolved_at": pl.select(
            pl.when(pl.Series(rng.random(n) < 0.3)).then(pl.lit("")).otherwise(end_s)
        ).to_series(),
        "media_channel": _pick(rng, ["Instagram", "Twitter", "Facebook", "LinkedIn"], n),
        "generated_date": pl.Series([DAY.isoformat()] * n),
    }
    frame = pl.DataFrame({f.raw: values[f.name] for f in contract.fields})
    if contract.index_columns:
        index = pl.Series(contract.index_columns[0], np.arange(n)).cast(pl.String)
        frame = frame.insert_column(0, index)
    dup = frame.head(max(1, n // 300))  # ~0.3 % exact duplicates
    return pl.concat([frame, dup])


def _write_source(path: Path, fmt: str, frame: pl.DataFrame) -> None:
    """The source file as its system hands it over: pandas-style CSV, ``COPY ... FORCE_QUOTE *``
    CSV for a Postgres table, or pandas' column-oriented JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        frame.write_csv(path)
    elif fmt == "table":
        frame.write_csv(path, quote_style="always")
    else:
        index = [str(i) for i in range(frame.height)]
        doc = {c: dict(zip(index, frame[c], strict=True)) for c in frame.columns}
        path.write_text(json.dumps(doc))


def write_inputs(workdir: Path, scale: float) -> dict[str, SourceVersion]:
    """Bronze for every entity, written by the pipeline's own extractor from synthetic sources.

    The bronze files are what the transform really reads: ``write_parquet`` of the extractor
    (LZ4, one row group per parsed chunk: ~16 MB of CSV text, or a whole JSON file), not a
    Polars default (zstd, 512 k-row groups), whose decoding costs differ. The Postgres table of
    web forms is staged as the CSV its ``COPY`` would give and read by the bucket extractor:
    the same parser and chunking (``csv_batches``), without a database; the synthetic rows hold
    no nulls, so its ``sql_nulls`` reading would give the same text.
    """
    sources: dict[str, SourceVersion] = {}
    customers = synth_customers(max(10, int(FULL_ROWS["customers"] * scale)))
    frames = {"customers": customers}
    ids = customers["customer_id"].filter(customers["customer_id"] != "")
    for seed, entity in enumerate(COMPLAINTS, start=2):
        frames[entity] = synth_complaints(
            entity, max(10, int(FULL_ROWS[entity] * scale)), ids, seed
        )
    settings = Settings(home=workdir / "home", lake_uri=str(workdir / "lake"))
    for entity, frame in frames.items():
        contract = get_contract(entity)
        if contract.source_format == "table":
            location = contract.source_location.replace(".", "/") + ".csv"
            contract = replace(contract, source_format="csv", source_location=location)
        _write_source(
            Path(str(settings.source_uri)) / contract.source_name(DAY.isoformat()),
            get_contract(entity).source_format,
            frame,
        )
        result = S3Extractor(settings, contract).extract(DAY, "bench")
        assert result.source_version is not None, f"{entity}: nothing extracted"
        sources[entity] = result.source_version
    return sources


def bronze_path(workdir: Path, entity: str) -> str:
    """The current bronze file of ``entity`` written by :func:`write_inputs`."""
    settings = Settings(home=workdir / "home", lake_uri=str(workdir / "lake"))
    bronze = read_bronze(settings, entity, DAY)
    assert bronze is not None, f"{entity}: no bronze in {workdir}"
    return bronze.parquet_uri


def peak_rss_mb() -> float:
    """This process's own peak RSS. ``ru_maxrss`` would not do: Linux carries the parent's high
    water mark over fork and exec, so every child would report at least the input generator's."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_one(
    workdir: Path, entities: list[str], batch_size: int, workers: int | None = None
) -> dict[str, object]:
    """Transform the given entities' bronze files (in this process) and report throughput."""

    settings = Settings(
        home=workdir / "home", lake_uri=str(workdir / "lake"), batch_size=batch_size
    )
    if workers is not None:
        settings = settings.model_copy(update={"transform_workers": workers})
    # Where each bronze file is and its row count (what the extractor's manifest hands the
    # transform task) are the harness's lookups, made before the clock starts: the complaint
    # day's rows/s then times the three transforms alone.
    sources = {}
    for entity in entities:
        path = bronze_path(workdir, entity)
        height = pl.scan_parquet(path).select(pl.len()).collect().item()
        sources[entity] = SourceVersion(
            entity, DAY, f"bench://{entity}", f"{entity}-bench", path, height
        )
    rows = 0
    cpu_started = _cpu_seconds()
    started = time.perf_counter()
    summaries = {}
    per_entity = {}
    for entity, source in sources.items():
        entity_started, entity_cpu = time.perf_counter(), _cpu_seconds()
        transformer = Transformer(settings, get_contract(entity))
        entity_rows = 0
        for batch in transformer.batches(source):
            entity_rows += batch.rows_read
        seconds = time.perf_counter() - entity_started
        per_entity[entity] = {
            "rows": entity_rows,
            "seconds": round(seconds, 3),
            "rows_per_s": round(entity_rows / seconds),
            "cpu_us_per_row": round((_cpu_seconds() - entity_cpu) / max(entity_rows, 1) * 1e6, 2),
        }
        rows += entity_rows
        summaries[entity] = transformer.summary.to_dict() if transformer.summary else None
    seconds = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu_started
    return {
        "entities": entities,
        "workers": settings.transform_workers,
        "rows": rows,
        "seconds": round(seconds, 3),
        "rows_per_s": round(rows / seconds),
        "cpu_seconds": round(cpu, 3),
        "cpu_us_per_row": round(cpu / max(rows, 1) * 1e6, 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "per_entity": per_entity,
        "summaries": summaries,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.02, help="1 = real volumes")
    parser.add_argument("--batch-size", type=int, default=100_000)
    parser.add_argument(
        "--workers", type=int, default=None, help="batches at once (default: the setting)"
    )
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--run-one", nargs="+", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--verbose", action="store_true", help="print the transform summaries")
    args = parser.parse_args()

    if args.run_one:
        print(json.dumps(run_one(args.workdir, args.run_one, args.batch_size, args.workers)))
        return

    print(summary_line(describe()))
    with tempfile.TemporaryDirectory(prefix="bench-transform-") as tmp:
        workdir = args.workdir or Path(tmp)
        t0 = time.perf_counter()
        sources = write_inputs(workdir, args.scale)
        print(
            f"input synthesised in {time.perf_counter() - t0:.1f}s at scale {args.scale}: "
            + ", ".join(f"{e}={s.rows:,}" for e, s in sources.items())
        )
        ok = True
        for label, entities in (("customers", ["customers"]), ("complaints", list(COMPLAINTS))):
            cmd = [
                sys.executable,
                __file__,
                "--workdir",
                str(workdir),
                "--batch-size",
                str(args.batch_size),
                *(["--workers", str(args.workers)] if args.workers else []),
                "--run-one",
                *entities,
            ]
            result = json.loads(
                subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            )
            target = TARGETS[label]
            verdict = "meets" if result["rows_per_s"] >= target else "BELOW"
            ok &= result["rows_per_s"] >= target
            print(
                f"{label:<10} workers={result['workers']}  rows={result['rows']:>10,}  "
                f"{result['seconds']:>7.2f}s  "
                f"{result['rows_per_s']:>12,} rows/s  CPU {result['cpu_seconds']:.2f}s "
                f"({result['cpu_us_per_row']:.2f} us/row)  "
                f"peak RSS {result['peak_rss_mb']:>8.1f} MB  "
                f"({verdict} target {target:,} rows/s at scale 1)"
            )
            if len(entities) > 1:
                for entity, figures in result["per_entity"].items():
                    print(
                        f"  {entity:<24} rows={figures['rows']:>9,}  {figures['seconds']:>6.2f}s  "
                        f"{figures['rows_per_s']:>10,} rows/s  "
                        f"CPU {figures['cpu_us_per_row']:.2f} us/row"
                    )
            if args.verbose:
                print(json.dumps(result["summaries"], indent=2))
        if not ok:
            print(
                "note: targets apply at scale 1 on 2 idle cores; wall time depends on machine "
                "load, CPU us/row much less"
            )


if __name__ == "__main__":
    main()
