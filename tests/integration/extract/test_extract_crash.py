"""A real ``kill -9`` of an extracting process leaves nothing published and the next run works."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from coretelecoms.config import Settings
from coretelecoms.extract import ExtractStatus, extract_entity, read_bronze
from coretelecoms.extract.base import partition_uri

DAY = date(2025, 11, 20)
ROWS = 400_000
SCRIPT = """
import sys
from datetime import date
from pathlib import Path
from coretelecoms.config import Settings
from coretelecoms.extract import extract_entity
extract_entity(Settings(home=Path(sys.argv[1])), "customers", date(2025, 11, 20), "doomed")
"""


@pytest.fixture(scope="module")
def customers_csv(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A customers CSV big enough (~50 MB) that extraction takes a moment to be killed in."""
    i = pl.int_range(0, ROWS, eager=True).cast(pl.String)
    frame = pl.DataFrame(
        {
            "customer_id": "c-" + i,
            "name": pl.repeat("Ann O'Neil", ROWS, eager=True),
            "Gender": pl.repeat("F", ROWS, eager=True),
            "DATE of biRTH": pl.repeat("1980-01-02", ROWS, eager=True),
            "signup_date": pl.repeat("2020-03-04", ROWS, eager=True),
            "email": i + "ann@GmaiL.om",
            "address": "PSC " + i + ', Box "3666"\nAPO AA 12094',
        }
    )
    path = tmp_path_factory.mktemp("crash") / "customers.csv"
    frame.write_csv(path)
    return path.read_bytes()


def _kill_mid_write(home: Path) -> None:
    """Start an extraction in a subprocess and SIGKILL it while it writes the Parquet file."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[3] / "src")}
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(home)], env=env)
    staging = home / "tmp" / "extract"
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if any(p.stat().st_size > 0 for p in staging.glob(f"{proc.pid}-*/data.parquet")):
                break
            assert proc.poll() is None, "extraction finished before it could be killed"
            time.sleep(0.005)
        else:
            pytest.fail("extraction never started writing Parquet")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL


def _published_parquet(settings: Settings) -> list[str]:
    part = Path(partition_uri(settings, "customers", DAY))
    return sorted(p.name for p in part.glob("*.parquet")) if part.exists() else []


def test_kill_9_mid_write_publishes_nothing_and_next_run_succeeds(
    tmp_path: Path, customers_csv: bytes
) -> None:
    settings = Settings(home=tmp_path / "home")
    source = Path(str(settings.source_uri)) / "customers" / "customers_dataset.csv"
    source.parent.mkdir(parents=True)
    source.write_bytes(customers_csv)

    _kill_mid_write(settings.home)

    assert read_bronze(settings, "customers", DAY) is None
    assert _published_parquet(settings) == []
    result = extract_entity(settings, "customers", DAY, "rerun")
    assert result.status is ExtractStatus.EXTRACTED
    assert result.manifest.current.rows == ROWS
    assert _published_parquet(settings) == [result.manifest.current.parquet_file]
    assert list((settings.home / "tmp" / "extract").iterdir()) == []  # leftovers swept


def test_kill_9_while_writing_a_new_version_keeps_the_old_one(
    tmp_path: Path, customers_csv: bytes
) -> None:
    settings = Settings(home=tmp_path / "home")
    source = Path(str(settings.source_uri)) / "customers" / "customers_dataset.csv"
    source.parent.mkdir(parents=True)
    header_and_ten = b"\n".join(customers_csv.split(b"\n")[:21]) + b"\n"  # 2 lines a record
    source.write_bytes(header_and_ten)
    v1 = extract_entity(settings, "customers", DAY, "run-1").manifest
    assert v1.current.rows == 10
    source.write_bytes(customers_csv)

    _kill_mid_write(settings.home)

    bronze = read_bronze(settings, "customers", DAY)
    assert bronze.manifest == v1
    assert bronze.scan().collect().height == v1.current.rows
    assert _published_parquet(settings) == [v1.current.parquet_file]
    assert extract_entity(settings, "customers", DAY, "run-2").manifest.current_version == 2
