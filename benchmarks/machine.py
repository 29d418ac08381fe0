"""What machine a benchmark ran on, with a fixed reference workload to compare machines by.

The targets are stated for "this 2-core machine", but the development machine differs from
session to session: the same code measured 1.40-1.47 us of CPU per customer row on one and
2.2-2.3 us on another. A figure is only comparable with another if both machines are known, so
every benchmark prints and stores this: the CPU model, the core count, the load average, and
the CPU seconds of a small fixed workload that stresses what the pipeline stresses (a Python
loop, Polars string matching, hashing and sorting). A benchmark figure divided by the ratio of
two machines' reference seconds is a rough cross-machine comparison; figures of one machine
need no correction.

    .venv/bin/python benchmarks/machine.py      # print this machine's line
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl

REFERENCE_ROWS = 3_000_000


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _workload(frame: pl.DataFrame) -> int:
    """Python interpretation plus the Polars kernels the transform and the warehouse lean on."""

    total = 0
    for i in range(1_000_000):
        total += i % 7
    out = frame.select(
        pl.col("text").str.contains(r"^[0-9a-f]{8}-[0-9a-f]{4}-").sum().alias("matches"),
        pl.col("text").str.to_uppercase().n_unique().alias("distinct"),
        pl.col("text").hash().sort().first().alias("smallest"),
    )
    grouped = frame.group_by("group").agg(pl.len()).height
    return total + int(out["matches"][0]) + int(out["distinct"][0]) + grouped


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo ("unknown" elsewhere)."""

    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def usable_cpus() -> int:
    """The cores this process may run on (a container's limit), not the host's count."""

    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def measure(repeats: int = 5) -> dict[str, Any]:
    """This machine, measured in this process: see :func:`describe`."""

    ids = pl.int_range(REFERENCE_ROWS, eager=True)
    frame = pl.DataFrame(
        {
            "text": ids.hash(seed=7).cast(pl.String).str.slice(0, 12) + "-" + ids.cast(pl.String),
            "group": ids % 50_000,
        }
    )
    best = float("inf")
    for _ in range(repeats):
        started = _cpu_seconds()
        _workload(frame)
        best = min(best, _cpu_seconds() - started)
    return {
        "cpu_model": cpu_model(),
        "cpus": usable_cpus(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "reference_cpu_s": round(best, 3),
    }


def describe() -> dict[str, Any]:
    """This machine: CPU model, usable cores, load average, best-of-5 reference CPU seconds.

    Best of several because another job on the machine can only add time; CPU seconds rather
    than wall seconds because they depend much less on that other job. Measured in a child
    process, so the caller's own peak RSS and CPU figures do not include the workload.
    """

    out = subprocess.run(
        [sys.executable, __file__, "--json"], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def summary_line(machine: dict[str, Any]) -> str:
    """One line for a benchmark's printout."""

    load = " ".join(f"{x:.2f}" for x in machine["load_average"])
    return (
        f"machine: {machine['cpu_model']}, {machine['cpus']} cpus, load average {load}, "
        f"reference workload {machine['reference_cpu_s']:.3f} CPU s (benchmarks/machine.py)"
    )


if __name__ == "__main__":
    described = measure()
    if "--json" not in sys.argv:
        print(summary_line(described))
    print(json.dumps(described))
