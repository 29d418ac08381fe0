"""Migrations and the conformed schema on a real Postgres."""

from __future__ import annotations

import hashlib
import threading
import uuid

import psycopg
import pytest

from coretelecoms.contracts import CONTRACTS
from coretelecoms.load import apply_migrations
from coretelecoms.load.migrations import MIGRATIONS

pytestmark = pytest.mark.postgres


def _key(entity: str, source_id: str) -> str:
    return hashlib.md5(f"{CONTRACTS[entity].channel}|{source_id}".encode()).hexdigest()


def _columns(dsn: str, schema: str, table: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        return [
            r[0]
            for r in conn.execute(
                "select column_name from information_schema.columns"
                " where table_schema = %s and table_name = %s order by ordinal_position",
                [schema, table],
            )
        ]


def test_migrations_apply_once_then_are_a_no_op(pg_dsn: str) -> None:
    first = apply_migrations(pg_dsn)
    assert len(first) == len(MIGRATIONS)
    assert apply_migrations(pg_dsn) == []
    with psycopg.connect(pg_dsn) as conn:
        versions = [r[0] for r in conn.execute("select version from ops.schema_migrations")]
    assert sorted(versions) == [m.version for m in MIGRATIONS]


def test_concurrent_migrations_apply_each_version_exactly_once(pg_dsn: str) -> None:
    results: list[list[str]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        barrier.wait()
        try:
            results.append(apply_migrations(pg_dsn))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    applied = [label for r in results for label in r]
    assert len(applied) == len(MIGRATIONS)  # no version applied twice
    assert sum(1 for r in results if r) == 1


def test_conformed_tables_have_exactly_the_contract_columns_plus_metadata(silver_dsn: str) -> None:
    for contract in CONTRACTS.values():
        assert _columns(silver_dsn, "conformed", contract.silver_table) == [
            *contract.silver_column_names,
            "_change_seq",
            "_run_id",
        ]
    assert _columns(silver_dsn, "conformed", "customer_versions") == [
        "customer_id",
        "street",
        "city",
        "state_code",
        "state_name",
        "zip_code",
        "valid_from",
        "valid_to",
        "_change_seq",
        "_run_id",
    ]
    assert _columns(silver_dsn, "conformed", "agent_versions") == [
        "agent_id",
        "experience",
        "valid_from",
        "valid_to",
        "_change_seq",
        "_run_id",
    ]
    assert _columns(silver_dsn, "conformed", "complaint_status_history") == [
        "complaint_key",
        "channel",
        "resolution_status",
        "observed_date",
        "_change_seq",
        "_run_id",
    ]
    assert {"record", "clean_record", "released_run_id"} <= set(
        _columns(silver_dsn, "ops", "quarantine")
    )


@pytest.mark.parametrize("entity", ["call_logs", "social_media_complaints", "web_form_complaints"])
def test_database_rejects_a_complaint_with_unknown_customer(silver_dsn: str, entity: str) -> None:
    contract = CONTRACTS[entity]
    with psycopg.connect(silver_dsn) as conn:
        conn.execute(
            "insert into conformed.agents (agent_id, experience, _run_id)"
            " values (1000, 'Junior', 't')"
        )
        source_id = contract.natural_key[0]
        time_col = next(
            c.name for c in contract.silver_columns if c.pg_type == "timestamp" and not c.nullable
        )
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute(
                f"insert into conformed.{entity} (complaint_key, {source_id}, customer_id, "
                f"agent_id, resolution_status, {time_col}, generated_date, _run_id) "
                "values (%s, 'id', %s, 1000, 'Backlog', now(), current_date, 't')",
                [_key(entity, "id"), uuid.uuid4()],
            )


def test_database_rejects_a_complaint_with_unknown_agent(silver_dsn: str) -> None:
    customer = uuid.uuid4()
    with psycopg.connect(silver_dsn) as conn:
        conn.execute(
            "insert into conformed.customers (customer_id, _run_id) values (%s, 't')", [customer]
        )
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute(
                "insert into conformed.call_logs (complaint_key, call_id, customer_id, agent_id,"
                " resolution_status, call_started_at, generated_date, _run_id)"
                " values (%s, 'c', %s, 4242, 'Backlog', now(), current_date, 't')",
                [_key("call_logs", "c"), customer],
            )


def test_complaint_key_must_hash_its_source_id_so_source_ids_stay_unique(
    silver_dsn: str,
) -> None:
    customer = uuid.uuid4()
    insert = (
        "insert into conformed.call_logs (complaint_key, call_id, customer_id, agent_id,"
        " resolution_status, call_started_at, generated_date, _run_id)"
        " values (%s, %s, %s, 1000, 'Backlog', now(), current_date, 't')"
    )
    with psycopg.connect(silver_dsn, autocommit=True) as conn:
        conn.execute(
            "insert into conformed.customers (customer_id, _run_id) values (%s, 't')", [customer]
        )
        conn.execute(
            "insert into conformed.agents (agent_id, experience, _run_id)"
            " values (1000, 'Junior', 't')"
        )
        conn.execute(insert, [_key("call_logs", "CALL-1"), "CALL-1", customer])
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(insert, ["another key", "CALL-1", customer])
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(insert, [_key("call_logs", "CALL-1"), "CALL-1", customer])


def test_roles_grant_the_analyst_read_only_access(silver_dsn: str) -> None:
    with psycopg.connect(silver_dsn) as conn:
        row = conn.execute(
            "select has_table_privilege('coretelecoms_analyst', 'conformed.call_logs', 'select'),"
            " has_table_privilege('coretelecoms_analyst', 'conformed.call_logs', 'insert'),"
            " has_table_privilege('coretelecoms_analyst', 'ops.quarantine', 'select'),"
            " has_table_privilege('coretelecoms_writer', 'conformed.call_logs', 'insert'),"
            " has_table_privilege('coretelecoms_writer', 'ops.load_checkpoints', 'update')"
        ).fetchone()
    assert row == (True, False, False, True, True)


def test_migrating_a_second_database_tolerates_existing_roles(make_database) -> None:
    first, second = make_database("silver"), make_database("silver")
    apply_migrations(first)
    assert len(apply_migrations(second)) == len(MIGRATIONS)
