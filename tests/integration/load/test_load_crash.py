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
from load_batches import CRASH_DAY, checksum, crash_complaint_batches, crash_parent_batches

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


def prepare(dsn: str) -> None:
    apply_migrations(dsn)
    for batch in crash_parent_batches(CONTRACTS):
        Loader(dsn, CONTRACTS[batch.source.entity], "crash-run", CRASH_DAY).load([batch])


def committed_batches(dsn: str) -> set[int]:
    with psycopg.connect(dsn) as conn:
        return {
            r[0]
            for r in conn.execute(
                "select batch_no from ops.load_checkpoints where entity = 'call_logs'"
            )
        }


def committed(dsn: str) -> int:
    return len(committed_batches(dsn))


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

    # Batches are applied two at a time: a later batch may have committed before an earlier
    # one, so the resume starts at the first batch missing and skips the committed ones after it.
    state = StateLoader(crash_dsn).last_committed("call_logs", "calls")
    assert state.next_batch == min(set(range(N_BATCHES)) - committed_batches(crash_dsn))
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
