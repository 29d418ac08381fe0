"""The silver loader on a real Postgres: quarantine, release, history, versions, idempotence,
reconciliation and value fidelity."""

from __future__ import annotations

import json
import logging
import threading
from datetime import date, datetime

import psycopg
import pytest
from load_batches import make_batch

from coretelecoms.contracts import AGENTS, CALL_LOGS, CUSTOMERS, SOCIAL_MEDIA_COMPLAINTS
from coretelecoms.load import (
    Loader,
    ReconciliationError,
    StateLoader,
    TerminalLoadError,
    TransientLoadError,
    release_quarantine,
    static_source_changed,
)
from coretelecoms.load.locks import acquire_entity_lock, hold_writer_lock

pytestmark = pytest.mark.postgres

D1, D2, D3 = date(2025, 11, 20), date(2025, 11, 21), date(2025, 11, 22)
C1 = "11111111-1111-4111-8111-111111111111"
C2 = "22222222-2222-4222-8222-222222222222"
C3 = "33333333-3333-4333-8333-333333333333"


def customer(cid: str, street: str = "1 Main St", **extra: object) -> dict[str, object]:
    row: dict[str, object] = {
        "customer_id": cid,
        "name": "Ann Lee",
        "gender": "F",
        "signup_date": date(2024, 3, 1),
        "email": "ann@gmail.com",
        "street": street,
        "city": "Albany",
        "state_code": "NY",
        "state_name": "New York",
        "zip_code": "12207",
    }
    row.update(extra)
    return row


def call(
    call_id: str, cid: str = C1, agent: int = 1000, status: str = "Backlog", generated: date = D1
) -> dict[str, object]:
    return {
        "call_id": call_id,
        "customer_id": cid,
        "agent_id": agent,
        "complaint_category": "Payments",
        "resolution_status": status,
        "call_started_at": datetime(2025, 5, 1, 9, 30),
        "call_ended_at": None,
        "generated_date": generated,
    }


def load(dsn: str, contract, rows, day: date, run: str = "run", **kw):  # type: ignore[no-untyped-def]
    return Loader(dsn, contract, run, day).load(
        [make_batch(contract, rows, logical_date=day, **kw)]
    )


def seed_parents(dsn: str, customers=(C1,), agents=(1000,)) -> None:  # type: ignore[no-untyped-def]
    load(dsn, CUSTOMERS, [customer(c) for c in customers], D1, fingerprint="cust-seed")
    agent_rows = [
        {"agent_id": a, "name": "Bo", "experience": "Junior", "state": "Ohio"} for a in agents
    ]
    load(dsn, AGENTS, agent_rows, D1, fingerprint="agents-seed")


def rows(dsn: str, query: str, params: list | None = None) -> list[tuple]:  # type: ignore[type-arg]
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchall()


def test_orphans_go_to_quarantine_with_their_original_and_clean_record(silver_dsn: str) -> None:
    seed_parents(silver_dsn)
    summary = load(
        silver_dsn, CALL_LOGS, [call("ok"), call("orph", cid=C2), call("noagent", agent=4242)], D1
    )
    assert summary.figures() == {
        "read": 3,
        "loaded": 1,
        "unchanged": 0,
        "quarantined": 2,
        "duplicates": 0,
    }
    q = rows(
        silver_dsn,
        "select natural_key, reason, detail, record, clean_record, source_row"
        " from ops.quarantine order by natural_key",
    )
    assert [(r[0], r[1]) for r in q] == [("noagent", "unknown_agent"), ("orph", "unknown_customer")]
    assert C2 in q[1][2]
    assert q[1][3]["customeR iD"] == C2 and q[1][3]["call ID"] == "orph"  # raw headers kept
    assert q[1][4]["customer_id"] == C2 and q[1][4]["resolution_status"] == "Backlog"
    assert q[1][5] == 1
    assert rows(silver_dsn, "select call_id from conformed.call_logs") == [("ok",)]


def test_rejects_are_quarantined_with_the_transform_reason(silver_dsn: str) -> None:
    seed_parents(silver_dsn)
    load(
        silver_dsn,
        CALL_LOGS,
        [call("ok")],
        D1,
        rejects=[
            {"reason": "missing_key", "detail": "call ID is empty", "record": {"call ID": ""}}
        ],
    )
    assert rows(silver_dsn, "select reason, detail, record, clean_record from ops.quarantine") == [
        ("missing_key", "call ID is empty", {"call ID": ""}, None)
    ]


def test_late_parent_releases_orphans_in_generated_date_order(silver_dsn: str) -> None:
    seed_parents(silver_dsn)
    load(silver_dsn, CALL_LOGS, [call("late", cid=C2, status="Backlog", generated=D1)], D1)
    load(
        silver_dsn,
        CALL_LOGS,
        [call("late", cid=C2, status="Resolved", generated=D2)],
        D2,
        fingerprint="fp-d2",
    )
    assert release_quarantine(silver_dsn, "run-d2", D2)["call_logs"] == 0  # parent still missing
    load(silver_dsn, CUSTOMERS, [customer(C1), customer(C2)], D3, fingerprint="cust-d3")
    released = release_quarantine(silver_dsn, "run-d3", D3)
    assert released == {"call_logs": 2, "social_media_complaints": 0, "web_form_complaints": 0}
    assert rows(
        silver_dsn, "select resolution_status, generated_date from conformed.call_logs"
    ) == [("Resolved", D2)]
    assert rows(
        silver_dsn,
        "select resolution_status, observed_date from conformed.complaint_status_history"
        " order by observed_date",
    ) == [("Backlog", D1), ("Resolved", D2)]
    assert rows(
        silver_dsn, "select count(*) from ops.quarantine where released_run_id = 'run-d3'"
    ) == [(2,)]
    assert release_quarantine(silver_dsn, "run-again", D3)["call_logs"] == 0


def test_status_history_across_three_days_never_moves_backwards(silver_dsn: str) -> None:
    seed_parents(silver_dsn)
    load(silver_dsn, CALL_LOGS, [call("c", status="Backlog", generated=D1)], D1, fingerprint="a")
    load(
        silver_dsn, CALL_LOGS, [call("c", status="In-Progress", generated=D3)], D3, fingerprint="c"
    )
    # D2's file arrives late: it only adds history, the complaint keeps D3's status.
    late = load(
        silver_dsn, CALL_LOGS, [call("c", status="Blocked", generated=D2)], D2, fingerprint="b"
    )
    assert late.loaded == 0 and late.unchanged == 1
    assert rows(
        silver_dsn, "select resolution_status, generated_date from conformed.call_logs"
    ) == [("In-Progress", D3)]
    assert rows(
        silver_dsn,
        "select resolution_status, observed_date, channel from conformed.complaint_status_history"
        " order by observed_date",
    ) == [("Backlog", D1, "call"), ("Blocked", D2, "call"), ("In-Progress", D3, "call")]
    key = rows(silver_dsn, "select complaint_key from conformed.call_logs")[0][0]
    assert key == rows(silver_dsn, "select md5('call|c')")[0][0]


def test_same_status_on_a_later_day_updates_the_row_without_new_history(silver_dsn: str) -> None:
    seed_parents(silver_dsn)
    load(silver_dsn, CALL_LOGS, [call("c", generated=D1)], D1, fingerprint="a")
    later = load(silver_dsn, CALL_LOGS, [call("c", generated=D2)], D2, fingerprint="b")
    assert later.loaded == 1
    assert rows(silver_dsn, "select count(*) from conformed.complaint_status_history") == [(1,)]


def test_changed_address_creates_a_customer_version_on_the_logical_date(silver_dsn: str) -> None:
    load(silver_dsn, CUSTOMERS, [customer(C1), customer(C2)], D1, fingerprint="s1")
    changed = load(
        silver_dsn,
        CUSTOMERS,
        [customer(C1, street="9 Elm St", zip_code="10001"), customer(C2)],
        D3,
        fingerprint="s2",
    )
    assert changed.loaded == 1 and changed.unchanged == 1
    assert rows(
        silver_dsn,
        "select street, zip_code, valid_from, valid_to from conformed.customer_versions"
        " where customer_id = %s order by valid_from",
        [C1],
    ) == [("1 Main St", "12207", date(2024, 3, 1), D3), ("9 Elm St", "10001", D3, None)]
    assert rows(
        silver_dsn, "select count(*) from conformed.customer_versions where customer_id = %s", [C2]
    ) == [(1,)]
    # A non-tracked change (email) updates the row but opens no version.
    load(silver_dsn, CUSTOMERS, [customer(C2, email="new@yahoo.com")], D3, fingerprint="s3")
    assert rows(
        silver_dsn, "select count(*) from conformed.customer_versions where customer_id = %s", [C2]
    ) == [(1,)]


def test_agent_promotion_opens_a_version_and_first_version_starts_1900(silver_dsn: str) -> None:
    agent = {"agent_id": 1000, "name": "Bo", "experience": "Junior", "state": "Ohio"}
    load(silver_dsn, AGENTS, [agent], D1, fingerprint="a1")
    load(silver_dsn, AGENTS, [{**agent, "experience": "Senior"}], D2, fingerprint="a2")
    assert rows(
        silver_dsn,
        "select experience, valid_from, valid_to from conformed.agent_versions order by valid_from",
    ) == [("Junior", date(1900, 1, 1), D2), ("Senior", D2, None)]


def test_unchanged_rerun_writes_nothing(silver_dsn: str) -> None:
    seed_parents(silver_dsn, customers=(C1, C2))
    batch_rows = [call("a"), call("b", cid=C2, status="Resolved")]
    load(silver_dsn, CALL_LOGS, batch_rows, D1, fingerprint="first")
    snapshot = "select xmin::text, * from {} order by 2"
    tables = [
        "conformed.call_logs",
        "conformed.complaint_status_history",
        "conformed.customers",
        "conformed.customer_versions",
    ]
    before = {t: rows(silver_dsn, snapshot.format(t)) for t in tables}
    # Same content under a new source version (re-extracted file): every row counted unchanged.
    again = load(silver_dsn, CALL_LOGS, batch_rows, D1, run="rerun", fingerprint="second")
    assert again.figures()["unchanged"] == 2 and again.loaded == 0
    load(silver_dsn, CUSTOMERS, [customer(C1), customer(C2)], D2, fingerprint="cust-again")
    # Same source version again: the committed batch is skipped entirely.
    skipped = Loader(silver_dsn, CALL_LOGS, "rerun2", D1).load(
        [make_batch(CALL_LOGS, batch_rows, logical_date=D1, fingerprint="first")]
    )
    assert skipped.batches_skipped == 1 and skipped.figures()["loaded"] == 2
    assert {t: rows(silver_dsn, snapshot.format(t)) for t in tables} == before


def test_reconciliation_is_recorded_per_source_version(silver_dsn: str) -> None:
    seed_parents(silver_dsn)
    loader = Loader(silver_dsn, CALL_LOGS, "run-r", D1)
    batches = [
        make_batch(
            CALL_LOGS,
            [call("a"), call("b", cid=C3)],
            logical_date=D1,
            batch_no=0,
            duplicates=2,
            source_rows=6,
        ),
        make_batch(
            CALL_LOGS,
            [call("c")],
            logical_date=D1,
            batch_no=1,
            first_row=10,
            rejects=[{"reason": "missing_key", "record": {}}],
            source_rows=6,
        ),
    ]
    summary = loader.load(batches)
    assert summary.figures() == {
        "read": 6,
        "loaded": 2,
        "unchanged": 0,
        "quarantined": 2,
        "duplicates": 2,
    }
    assert rows(
        silver_dsn,
        "select status, batches, rows_read, rows_loaded, rows_unchanged,"
        " rows_quarantined, rows_duplicates from ops.pipeline_runs"
        " where run_id = 'run-r'",
    ) == [("succeeded", 2, 6, 2, 0, 2, 2)]


def test_reconciliation_mismatch_fails_with_the_figures(silver_dsn: str) -> None:
    seed_parents(silver_dsn)
    # The source version has 5 rows but the batches account for 1.
    batch = make_batch(CALL_LOGS, [call("a")], logical_date=D1, source_rows=5)
    with pytest.raises(ReconciliationError) as info:
        Loader(silver_dsn, CALL_LOGS, "run-bad", D1).load([batch])
    assert info.value.figures["read"] == 1 and info.value.figures["source_rows"] == 5
    assert rows(
        silver_dsn, "select status, rows_read from ops.pipeline_runs where run_id = 'run-bad'"
    ) == [("failed", 1)]


def test_batch_whose_parts_do_not_add_up_is_refused(silver_dsn: str) -> None:
    seed_parents(silver_dsn)
    batch = make_batch(CALL_LOGS, [call("a")], logical_date=D1)
    batch.rows_read = 3
    with pytest.raises(ReconciliationError):
        Loader(silver_dsn, CALL_LOGS, "run", D1).load([batch])
    assert rows(silver_dsn, "select count(*) from conformed.call_logs") == [(0,)]


TRICKY = [
    "quote \" and 'single'",
    "back\\slash \\N \\. \\\\",
    "tab\there",
    "new\nline and \r\n crlf",
    "unicode: é ü 漢字 😀 \u200b",
    "'); drop table conformed.customers; --",
    "",
    " leading and trailing ",
    "comma, separated",
    "NULL",
]


def test_tricky_values_round_trip_unchanged(silver_dsn: str) -> None:
    cids = [f"{i:08d}-0000-4000-8000-000000000000" for i in range(len(TRICKY))]
    batch_rows = [customer(c, name=v, street=v, email=v) for c, v in zip(cids, TRICKY, strict=True)]
    batch_rows.append(customer("99999999-0000-4000-8000-000000000000", name=None, street=None))
    load(silver_dsn, CUSTOMERS, batch_rows, D1)
    got = dict(rows(silver_dsn, "select customer_id::text, name from conformed.customers"))
    for cid, value in zip(cids, TRICKY, strict=True):
        assert got[cid] == value
    assert got["99999999-0000-4000-8000-000000000000"] is None  # null stays null, not ''
    assert rows(
        silver_dsn,
        "select street from conformed.customer_versions where customer_id = %s",
        [cids[1]],
    ) == [(TRICKY[1],)]


def test_tricky_values_survive_quarantine_and_release(silver_dsn: str) -> None:
    seed_parents(silver_dsn)
    row = {
        "complaint_id": TRICKY[5],
        "customer_id": C2,
        "agent_id": 1000,
        "complaint_category": None,
        "resolution_status": "Backlog",
        "requested_at": datetime(2025, 5, 1, 9),
        "resolved_at": None,
        "media_channel": TRICKY[3],
        "generated_date": D1,
    }
    load(silver_dsn, SOCIAL_MEDIA_COMPLAINTS, [row], D1)
    record = rows(silver_dsn, "select record from ops.quarantine")[0][0]
    assert record["complaint_id"] == TRICKY[5] and record["media_channel"] == TRICKY[3]
    load(silver_dsn, CUSTOMERS, [customer(C2)], D2, fingerprint="c2")
    release_quarantine(silver_dsn, "r2", D2)
    assert rows(
        silver_dsn,
        "select complaint_id, media_channel, complaint_category"
        " from conformed.social_media_complaints",
    ) == [(TRICKY[5], TRICKY[3], None)]


def test_dq_issues_are_recorded_with_the_batch(silver_dsn: str) -> None:
    issue = {
        "_source_row": 0,
        "natural_key": C1,
        "field": "email",
        "rule": "email",
        "original_value": "X@GmaiL.om",
        "cleaned_value": "x@gmail.com",
    }
    load(silver_dsn, CUSTOMERS, [customer(C1)], D1, issues=[issue])
    assert rows(
        silver_dsn,
        "select entity, field, original_value, cleaned_value, logical_date from ops.dq_issues",
    ) == [("customers", "email", "X@GmaiL.om", "x@gmail.com", D1)]


def test_state_loader_and_static_source_fingerprints(silver_dsn: str) -> None:
    assert static_source_changed(silver_dsn, "customers", "s1")
    assert StateLoader(silver_dsn).last_committed("customers", "s1").next_batch == 0
    load(silver_dsn, CUSTOMERS, [customer(C1)], D1, fingerprint="s1")
    state = StateLoader(silver_dsn).last_committed("customers", "s1")
    assert (state.last_batch, state.next_batch, state.read) == (0, 1, 1)
    assert not static_source_changed(silver_dsn, "customers", "s1")
    assert static_source_changed(silver_dsn, "customers", "s2")


def test_duplicate_keys_in_a_batch_are_a_terminal_error(silver_dsn: str) -> None:
    with pytest.raises(TerminalLoadError, match="duplicate keys"):
        load(silver_dsn, CUSTOMERS, [customer(C1), customer(C1)], D1)


def test_a_bad_batch_fails_in_its_turn_after_the_earlier_batches_commit(silver_dsn: str) -> None:
    # The next batch is prepared in the background while the current one loads; its error must
    # still surface only when its own turn comes.
    good = make_batch(CUSTOMERS, [customer(C1)], logical_date=D1, source_rows=3)
    bad = make_batch(
        CUSTOMERS,
        [customer(C2), customer(C2)],
        logical_date=D1,
        batch_no=1,
        first_row=1,
        source_rows=3,
    )
    with pytest.raises(TerminalLoadError, match="duplicate keys"):
        Loader(silver_dsn, CUSTOMERS, "run", D1).load([good, bad])
    assert rows(silver_dsn, "select customer_id::text from conformed.customers") == [(C1,)]
    assert rows(silver_dsn, "select batch_no from ops.load_checkpoints") == [(0,)]


def test_same_entity_loads_serialise_and_time_out_as_transient(
    silver_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    with psycopg.connect(silver_dsn, autocommit=True) as holder:
        acquire_entity_lock(holder, "customers", 5)
        caplog.set_level(logging.WARNING, logger="coretelecoms.load.locks")
        with pytest.raises(TransientLoadError, match="waiting for another load"):
            Loader(silver_dsn, CUSTOMERS, "r", D1, lock_timeout_s=0.5).load(
                [make_batch(CUSTOMERS, [customer(C1)], logical_date=D1)]
            )
        assert "another load of the same entity" in caplog.text
        # A different entity is not blocked.
        load(silver_dsn, AGENTS, [{"agent_id": 1000}], D1)


def test_a_new_load_waits_for_batches_of_a_dead_load_still_writing(silver_dsn: str) -> None:
    """A batch transaction of an earlier load may outlive the session that held the entity
    lock (its process was killed after sending COMMIT); the next load must not start until it
    ended, or it would load that batch a second time."""
    with psycopg.connect(silver_dsn) as old_batch:
        hold_writer_lock(old_batch, "customers")  # in an open transaction, as a worker does
        with pytest.raises(TransientLoadError, match="batches of an earlier load"):
            Loader(silver_dsn, CUSTOMERS, "r", D1, lock_timeout_s=0.5).load(
                [make_batch(CUSTOMERS, [customer(C1)], logical_date=D1)]
            )
        assert rows(silver_dsn, "select count(*) from conformed.customers") == [(0,)]
        old_batch.commit()
    load(silver_dsn, CUSTOMERS, [customer(C1)], D1)
    assert rows(silver_dsn, "select count(*) from conformed.customers") == [(1,)]


def test_parallel_loads_of_two_entities_both_succeed(silver_dsn: str) -> None:
    errors: list[BaseException] = []

    def run(contract, rows_):  # type: ignore[no-untyped-def]
        try:
            load(silver_dsn, contract, rows_, D1)
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(CUSTOMERS, [customer(C1)])),
        threading.Thread(target=run, args=(AGENTS, [{"agent_id": 1000}])),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert json.dumps(rows(silver_dsn, "select count(*) from conformed.agents")) == "[[1]]"


def test_two_loads_of_the_same_source_at_once_commit_each_batch_once(silver_dsn: str) -> None:
    seed_parents(silver_dsn, customers=(C1, C2))
    batches = [
        make_batch(
            CALL_LOGS,
            [call(f"b{b}-{i}", cid=(C1, C2)[i % 2], status="Backlog") for i in range(50)],
            logical_date=D1,
            batch_no=b,
            first_row=b * 50,
            source_rows=200,
        )
        for b in range(4)
    ]
    summaries = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait()
        try:
            summaries.append(Loader(silver_dsn, CALL_LOGS, "same", D1).load(batches))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted((s.batches_committed, s.batches_skipped) for s in summaries) == [(0, 4), (4, 0)]
    assert all(s.figures()["loaded"] == 200 for s in summaries)
    assert rows(
        silver_dsn, "select count(*), count(distinct call_id) from conformed.call_logs"
    ) == [(200, 200)]
    assert rows(silver_dsn, "select count(*) from conformed.complaint_status_history") == [(200,)]
