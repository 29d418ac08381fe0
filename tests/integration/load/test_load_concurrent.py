"""Batches applied on several connections at once (``Loader(connections=...)``): the same silver
as one connection, a failing batch stops the load as it does on one, and a resume after batches
committed out of order loads exactly the missing ones."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl
import psycopg
import pytest
from load_batches import (
    CRASH_DAY,
    checksum,
    crash_complaint_batches,
    crash_parent_batches,
    killed_after,
    make_batch,
)

from coretelecoms.contracts import CALL_LOGS, CONTRACTS, CUSTOMERS
from coretelecoms.load import (
    Loader,
    StateLoader,
    TerminalLoadError,
    TransientLoadError,
    apply_migrations,
)
from coretelecoms.load.locks import holder_pid, lock_key
from coretelecoms.transform.batch import TransformedBatch

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

N_BATCHES, ROWS = 10, 300
D2 = CRASH_DAY + timedelta(days=1)
TABLES = (
    "conformed.customers",
    "conformed.customer_versions",
    "conformed.agents",
    "conformed.call_logs",
    "conformed.complaint_status_history",
    "ops.quarantine",
    "ops.load_checkpoints",
    "ops.pipeline_runs",
    "ops.source_snapshots",
)


def customers_snapshot(day: date, fingerprint: str, n_batches: int) -> list[TransformedBatch]:
    """400 customers in ``n_batches``; the second snapshot moves every third customer (a new
    version each) and adds 40 new ones."""
    second = fingerprint != "cust-1"
    ids = range(440 if second else 400)
    rows = [
        {
            "customer_id": f"{i:08d}-0000-4000-8000-{i:012d}",
            "name": f"N{i}",
            "street": f"{i} {'Oak' if second and i % 3 == 0 else 'Main'} St",
            "signup_date": date(2024, 1, 1),
            "state_code": "NY",
            "zip_code": f"{i:05d}",
        }
        for i in ids
    ]
    size = -(-len(rows) // n_batches)
    return [
        make_batch(
            CUSTOMERS,
            rows[b * size : (b + 1) * size],
            logical_date=day,
            fingerprint=fingerprint,
            batch_no=b,
            first_row=b * size,
            source_rows=len(rows),
        )
        for b in range(n_batches)
    ]


def calls_day2() -> list[TransformedBatch]:
    """The next day's call logs: every complaint of day 1 again, half with a new status (an
    update and a status history row each), in batches of another size."""
    total = N_BATCHES * ROWS
    size = 700
    batches = []
    for b in range(-(-total // size)):
        rows: list[dict[str, Any]] = [
            {
                "call_id": f"call-{i:07d}",
                "customer_id": f"{i % 400:08d}-0000-4000-8000-{i % 400:012d}",
                "agent_id": 1000 + i % 5,
                "complaint_category": "Payments",
                "resolution_status": "Resolved" if i % 2 else "Backlog",
                "call_started_at": datetime(2025, 5, 1, 9, i % 60),
                "generated_date": D2,
            }
            for i in range(b * size, min(total, (b + 1) * size))
        ]
        batches.append(
            make_batch(
                CALL_LOGS,
                rows,
                logical_date=D2,
                fingerprint="calls-2",
                batch_no=b,
                first_row=b * size,
                source_rows=total,
            )
        )
    return batches


def load_days(dsn: str, connections: int) -> list[Any]:
    """Two days of every kind of batch work: first loads, orphans, rejects, duplicates, updates,
    customer versions, status history; returns the figures of each load and, for the static
    ones, the row hashes collected (what ``snapshot_rows.write_hashes`` publishes)."""
    apply_migrations(dsn)
    figures: list[Any] = []

    def load(contract: Any, batches: list[TransformedBatch], day: date) -> None:
        summary = Loader(dsn, contract, f"run-{day}", day, connections=connections).load(batches)
        figures.append(summary.figures())
        if summary.row_hashes:
            figures.append(pl.concat(summary.row_hashes).sort().to_list())

    load(CUSTOMERS, customers_snapshot(CRASH_DAY, "cust-1", 4), CRASH_DAY)
    load(CONTRACTS["agents"], crash_parent_batches(CONTRACTS)[1:], CRASH_DAY)
    load(CALL_LOGS, crash_complaint_batches(CALL_LOGS, N_BATCHES, ROWS), CRASH_DAY)
    load(CUSTOMERS, customers_snapshot(D2, "cust-2", 5), D2)
    load(CALL_LOGS, calls_day2(), D2)
    return figures


def test_two_connections_give_the_silver_of_one(make_database) -> None:
    one, two = make_database("one"), make_database("two")
    figures_one = load_days(one, connections=1)
    figures_two = load_days(two, connections=2)
    assert figures_two == figures_one
    assert [len(f) for f in figures_two if isinstance(f, list)] == [400, 5, 440]
    for table in TABLES:
        assert checksum(two, table) == checksum(one, table), table
    # the scenario did exercise updates, versions and status history
    with psycopg.connect(two) as conn:
        versions = conn.execute(
            "select count(*) filter (where valid_to is not null) from conformed.customer_versions"
        ).fetchone()
        history = conn.execute(
            "select count(distinct observed_date) from conformed.complaint_status_history"
        ).fetchone()
    assert versions is not None and versions[0] > 100
    assert history == (2,)


def prepare(dsn: str) -> None:
    apply_migrations(dsn)
    for batch in crash_parent_batches(CONTRACTS):
        Loader(dsn, CONTRACTS[batch.source.entity], "parents", CRASH_DAY).load([batch])


def plant_history(dsn: str, key: str) -> None:
    """Status history for a complaint the table does not hold: rows deleted by hand. The batch
    that brings the complaint then fails on the history's primary key (a real constraint)."""
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "insert into conformed.complaint_status_history (complaint_key, channel,"
            " resolution_status, observed_date, _run_id) values (%s, 'call_logs', 'Backlog',"
            " %s, 'by-hand')",
            [key, CRASH_DAY],
        )


def failed_run(dsn: str) -> tuple[Any, ...]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "select status, batches, rows_read, rows_loaded, rows_quarantined, detail"
            " from ops.pipeline_runs where run_id = 'fail-run'"
        ).fetchone()
    assert row is not None
    return tuple(row)


def test_an_error_in_one_batch_fails_a_concurrent_load_cleanly(make_database) -> None:
    clean, fail_one, fail_two = (make_database(n) for n in ("clean", "failone", "failtwo"))
    batches = crash_complaint_batches(CALL_LOGS, N_BATCHES, ROWS)
    prepare(clean)
    Loader(clean, CALL_LOGS, "fail-run", CRASH_DAY).load(batches)
    with psycopg.connect(clean) as conn:
        key = conn.execute(
            "select complaint_key from conformed.call_logs where call_id = 'call-0000906'"
        ).fetchone()[0]  # type: ignore[index]  # batch 3 (rows 900-1199)

    errors = {}
    for dsn, connections in ((fail_one, 1), (fail_two, 2)):
        prepare(dsn)
        plant_history(dsn, key)
        with pytest.raises(TerminalLoadError, match="UniqueViolation") as info:
            Loader(dsn, CALL_LOGS, "fail-run", CRASH_DAY, connections=connections).load(batches)
        errors[connections] = str(info.value)
    # Classified and worded as with one connection: the failing batch's source and the
    # constraint it broke.
    assert errors[2] == errors[1]
    assert "test://call_logs" in errors[2] and "complaint_status_history_pkey" in errors[2]

    status, n_batches, read, loaded, quarantined, detail = failed_run(fail_two)
    assert status == "failed" and detail == errors[2]
    with psycopg.connect(fail_two) as conn:
        done = {
            r[0]
            for r in conn.execute(
                "select batch_no from ops.load_checkpoints where entity = 'call_logs'"
            )
        }
        stored = conn.execute(
            "select count(*), count(*) filter (where call_id between 'call-0000900' and"
            " 'call-0001199') from conformed.call_logs"
        ).fetchone()
        held = conn.execute(
            "select count(*), count(*) filter (where source_row between 900 and 1199)"
            " from ops.quarantine where entity = 'call_logs'"
        ).fetchone()
    # The failed batch left nothing; every batch that committed did so whole, with its figures.
    assert 3 not in done and len(done) == n_batches
    assert stored == (loaded, 0)
    assert held == (quarantined, 0)
    assert read == len(done) * ROWS

    # Once the cause is gone, a rerun loads what is missing and ends as a clean load did.
    with psycopg.connect(fail_two) as conn:
        conn.execute("delete from conformed.complaint_status_history where _run_id = 'by-hand'")
    summary = Loader(fail_two, CALL_LOGS, "fail-run", CRASH_DAY, connections=2).load(batches)
    assert (summary.batches_committed, summary.batches_skipped) == (
        N_BATCHES - len(done),
        len(done),
    )
    for table in ("conformed.call_logs", "conformed.complaint_status_history", "ops.quarantine"):
        assert checksum(fail_two, table) == checksum(clean, table), table


def test_a_resume_after_out_of_order_commits_loads_only_the_missing_batches(
    make_database,
) -> None:
    clean, resumed = make_database("clean"), make_database("resumed")
    batches = crash_complaint_batches(CALL_LOGS, 6, 200)
    prepare(clean)
    Loader(clean, CALL_LOGS, "run", CRASH_DAY).load(batches)

    prepare(resumed)
    # What a crash of a concurrent load can leave: batches 1 and 3 committed, 0 and 2 not.
    with pytest.raises(KeyboardInterrupt):
        Loader(resumed, CALL_LOGS, "run", CRASH_DAY).load(killed_after(batches[1], batches[3]))
    state = StateLoader(resumed).last_committed("call_logs", "calls")
    assert (state.next_batch, state.last_batch, state.batches) == (0, 3, 2)
    summary = Loader(resumed, CALL_LOGS, "run", CRASH_DAY).load(
        batches[state.next_batch :], source=batches[0].source
    )
    assert (summary.batches_committed, summary.batches_skipped) == (4, 2)
    state = StateLoader(resumed).last_committed("call_logs", "calls")
    assert (state.next_batch, state.last_batch, state.batches) == (6, 5, 6)
    for table in ("conformed.call_logs", "conformed.complaint_status_history", "ops.quarantine"):
        assert checksum(resumed, table) == checksum(clean, table), table


def test_workers_stop_when_the_load_session_loses_its_lock(make_database) -> None:
    dsn = make_database("lost")
    prepare(dsn)
    batches = crash_complaint_batches(CALL_LOGS, N_BATCHES, ROWS)

    def then_lose_the_lock() -> Any:
        yield from batches[:2]
        # e.g. an administrator's pg_terminate_backend or idle_session_timeout on the idle
        # session that holds the entity lock
        with psycopg.connect(dsn, autocommit=True) as admin:
            pid = holder_pid(admin, lock_key("load:call_logs"))
            admin.execute("select pg_terminate_backend(%s)", [pid])
            # termination is asynchronous: the lock goes when that backend has exited
            deadline = time.monotonic() + 10
            while holder_pid(admin, lock_key("load:call_logs")) == pid:
                assert time.monotonic() < deadline, "the terminated session kept the lock"
                time.sleep(0.01)
        yield from batches[2:]

    with pytest.raises(TransientLoadError, match="no longer holds the entity lock"):
        Loader(dsn, CALL_LOGS, "lost", CRASH_DAY, connections=2).load(then_lose_the_lock())
    with psycopg.connect(dsn) as conn:
        done = conn.execute(
            "select count(*) from ops.load_checkpoints where entity = 'call_logs'"
        ).fetchone()
    assert done is not None and done[0] <= 2
