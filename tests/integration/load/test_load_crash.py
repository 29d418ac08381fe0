"""Crash safety: kill -9 in the middle of a multi-batch load, then rerun."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from load_batches import CRASH_DAY, crash_complaint_batches, crash_parent_batches

from coretelecoms.contracts import CALL_LOGS, CONTRACTS
from coretelecoms.load import Loader, StateLoader, apply_migrations

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

N_BATCHES, ROWS = 12, 2000
TABLES = {
    "conformed.call_logs": "call_id",
    "conformed.complaint_status_history": "complaint_key",
    "ops.quarantine": "entity, source_row",
    "ops.load_checkpoints": "batch_no",
}
# Columns that legitimately differ between two databases (ids, sequence values, wall clock).
VOLATILE = {"_change_seq", "id", "quarantined_at", "committed_at", "released_at"}


def checksum(dsn: str, table: str) -> tuple[int, str]:
    schema, name = table.split(".")
    with psycopg.connect(dsn) as conn:
        cols = [
            r[0]
            for r in conn.execute(
                "select column_name from information_schema.columns where table_schema = %s"
                " and table_name = %s order by ordinal_position",
                [schema, name],
            )
            if r[0] not in VOLATILE
        ]
        row = conn.execute(
            f"select count(*), md5(coalesce(string_agg(t::text, '|' order by t::text), ''))"
            f" from (select {', '.join(cols)} from {table}) t"
        ).fetchone()
    assert row is not None
    return int(row[0]), str(row[1])


def prepare(dsn: str) -> None:
    apply_migrations(dsn)
    for batch in crash_parent_batches(CONTRACTS):
        Loader(dsn, CONTRACTS[batch.source.entity], "crash-run", CRASH_DAY).load([batch])


def committed(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "select count(*) from ops.load_checkpoints where entity = 'call_logs'"
        ).fetchone()[0]  # type: ignore[index]


def test_kill_9_mid_load_then_rerun_equals_a_clean_run(make_database) -> None:
    clean_dsn, crash_dsn = make_database("clean"), make_database("crash")
    prepare(clean_dsn)
    prepare(crash_dsn)
    batches = crash_complaint_batches(CALL_LOGS, N_BATCHES, ROWS)
    Loader(clean_dsn, CALL_LOGS, "crash-run", CRASH_DAY).load(batches)

    script = Path(__file__).with_name("crash_load.py")
    proc = subprocess.Popen(
        [sys.executable, str(script), crash_dsn, str(N_BATCHES), str(ROWS), "0.05"],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    deadline = time.monotonic() + 60
    while committed(crash_dsn) < 3:
        assert proc.poll() is None, "loader finished or died before it could be killed"
        assert time.monotonic() < deadline, "loader made no progress"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    done = committed(crash_dsn)
    assert 3 <= done < N_BATCHES, "the kill must land mid-load"

    state = StateLoader(crash_dsn).last_committed("call_logs", "calls")
    assert state.next_batch == done
    summary = Loader(crash_dsn, CALL_LOGS, "crash-run", CRASH_DAY).load(
        batches[state.next_batch :], source=batches[0].source
    )
    assert summary.batches_committed == N_BATCHES - done
    clean_figures = StateLoader(clean_dsn).last_committed("call_logs", "calls").figures()
    assert summary.figures() == clean_figures
    for table in TABLES:
        assert checksum(crash_dsn, table) == checksum(clean_dsn, table), table
    with psycopg.connect(crash_dsn) as conn:
        dupes = conn.execute(
            "select count(*) from (select complaint_key, observed_date from"
            " conformed.complaint_status_history group by 1, 2 having count(*) > 1) d"
        ).fetchone()
    assert dupes == (0,)
    # A second full rerun changes nothing.
    again = Loader(crash_dsn, CALL_LOGS, "crash-run", CRASH_DAY).load(batches)
    assert again.batches_committed == 0 and again.batches_skipped == N_BATCHES
    assert checksum(crash_dsn, "conformed.call_logs") == checksum(clean_dsn, "conformed.call_logs")
