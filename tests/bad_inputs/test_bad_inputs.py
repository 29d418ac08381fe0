"""The bad-input corpus through the real path: source -> extract (bronze Parquet) -> transform ->
load (Postgres), with the task functions the DAG calls.

One template database holds the migrated schema and the base customers and agents (loaded once
through the same path); each case runs on a copy of it (``CREATE DATABASE ... TEMPLATE``, a file
copy), so cases are isolated and cheap. For every case the test checks the promised outcome and
that nothing else was lost: on failure silver is byte-for-byte what it was and no bronze version
was published by a failing extract; on success every source row is accounted for (loaded,
unchanged, quarantined with the expected reason, or dropped as the expected duplicate kind), the
reconciliation figures recorded in ``ops.pipeline_runs`` say the same, and the silver keys are
exactly the template's plus the rows expected to load.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import psycopg
import pytest
from bad_input_cases import CASES
from bad_input_sources import (
    BASE_DAY,
    CASE_DAY,
    LOADED,
    UNCHANGED,
    Case,
    Fails,
    Loads,
    NoData,
    Row,
    Source,
    Table,
    agent,
    agents_sheet,
    base_customers,
    csv_source,
    xlsx_bytes,
)
from psycopg import sql

from coretelecoms.config import Settings
from coretelecoms.contracts import get_contract
from coretelecoms.extract import read_bronze
from coretelecoms.pipeline import tasks
from coretelecoms.reliability.checksums import silver_checksums

pytestmark = pytest.mark.postgres

BATCH_SIZE = 4  # several batches per case: duplicates and rejects cross batch boundaries


def _dsn_for(server_dsn: str, database: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(server_dsn)
    info["dbname"] = database
    return psycopg.conninfo.make_conninfo(**info)


def _settings(home: Path, dsn: str, source_dsn: str) -> Settings:
    return Settings(home=home, pg_dsn=dsn, source_pg_dsn=source_dsn, batch_size=BATCH_SIZE)


def place(settings: Settings, entity: str, source: Source) -> None:
    """Put ``source`` where the pipeline reads ``entity`` for the case day."""
    if source.missing:
        return
    contract = get_contract(entity)
    if source.table is not None:
        _create_table(settings, contract.source_name(CASE_DAY.isoformat()), source.table)
        return
    assert source.data is not None
    if entity == "agents":
        path = Path(str(settings.agents_sheet))
    else:
        path = Path(str(settings.source_uri)) / contract.source_name(CASE_DAY.isoformat())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(source.data)


def _create_table(settings: Settings, qualified: str, table: Table) -> None:
    schema, name = qualified.split(".")
    columns = [c for c, _ in table.columns]
    with psycopg.connect(settings.source_pg_dsn.get_secret_value(), autocommit=True) as conn:
        conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
        conn.execute(
            sql.SQL("create table {} ({})").format(
                sql.Identifier(schema, name),
                sql.SQL(", ").join(
                    sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in table.columns
                ),
            )
        )
        with conn.cursor() as cur:
            cur.executemany(
                sql.SQL("insert into {} ({}) values ({})").format(
                    sql.Identifier(schema, name),
                    sql.SQL(", ").join(map(sql.Identifier, columns)),
                    sql.SQL(", ").join(sql.Placeholder() * len(columns)),
                ),
                [[r.values.get(c) for c in columns] for r in table.rows],
            )


def source_rows(source: Source) -> list[Row]:
    return source.table.rows if source.table is not None else source.rows


# -- fixtures ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    server_dsn: str
    database: str


@pytest.fixture(scope="module")
def template(pg_server_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Template]:
    """Migrated silver with the base customers and agents, loaded through the real path."""
    database = f"bad_inputs_tmpl_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(database)))
    dsn = _dsn_for(pg_server_dsn, database)
    settings = _settings(tmp_path_factory.mktemp("bad_inputs_base") / "home", dsn, dsn)
    tasks.ensure_schema(settings)
    place(settings, "customers", csv_source("customers", base_customers()))
    place(
        settings,
        "agents",
        Source(data=xlsx_bytes(agents_sheet([Row(agent(n)) for n in range(3)]))),
    )
    for entity in ("customers", "agents"):
        tasks.extract(settings, entity, BASE_DAY, "bad-inputs-base")
        tasks.load(settings, entity, BASE_DAY, "bad-inputs-base")
    try:
        yield Template(pg_server_dsn, database)
    finally:
        with psycopg.connect(pg_server_dsn, autocommit=True) as conn:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(database))
            )


class Databases:
    """Creates databases on the test server and drops them when closed."""

    def __init__(self, server_dsn: str) -> None:
        self.server_dsn = server_dsn
        self.names: list[str] = []

    def create(self, prefix: str, template: str | None = None) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        statement = sql.SQL("create database {}").format(sql.Identifier(name))
        if template is not None:
            statement += sql.SQL(" template {}").format(sql.Identifier(template))
        with psycopg.connect(self.server_dsn, autocommit=True) as conn:
            conn.execute(statement)
        self.names.append(name)
        return _dsn_for(self.server_dsn, name)

    def close(self) -> None:
        with psycopg.connect(self.server_dsn, autocommit=True) as conn:
            for name in self.names:
                conn.execute(
                    sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
                )
        self.names.clear()


@pytest.fixture(scope="module")
def untouched_silver(template: Template) -> Iterator[str]:
    """One copy of the template shared by the cases that must leave silver as it is (failures,
    missing days): each of them compares silver before and after itself, so a case that wrote
    anything would still be caught, by its own check."""
    databases = Databases(template.server_dsn)
    try:
        yield databases.create("bad_input_untouched", template.database)
    finally:
        databases.close()


@pytest.fixture
def case_settings(
    request: pytest.FixtureRequest, template: Template, tmp_path: Path
) -> Iterator[Settings]:
    """Settings for one case: its own copy of the template when the case loads rows (the
    shared untouched copy otherwise), and its own source database for web-form tables."""
    case: Case = request.node.callspec.params["case"]
    databases = Databases(template.server_dsn)
    try:
        if isinstance(case.expect, Loads):
            dsn = databases.create("bad_input", template.database)
        else:
            dsn = request.getfixturevalue("untouched_silver")
        source = databases.create("bad_source") if case.source.table is not None else dsn
        yield _settings(tmp_path / "home", dsn, source)
    finally:
        databases.close()


# -- checks --------------------------------------------------------------------------------------


def _rows(dsn: str, query: sql.Composable | str, params: Any = None) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchall()


def _silver_keys(dsn: str, entity: str) -> set[str]:
    contract = get_contract(entity)
    key = contract.natural_key[0]
    query = sql.SQL("select {}::text from {}").format(
        sql.Identifier(key), sql.Identifier("conformed", contract.silver_table)
    )
    return {r[0] for r in _rows(dsn, query)}


def _raw_key(entity: str, row: Row) -> str:
    contract = get_contract(entity)
    raw = row.values[contract.field(contract.natural_key[0]).raw]
    assert raw is not None
    return str(int(raw)) if contract.field(contract.natural_key[0]).rule == "int_id" else raw


def _audit(settings: Settings, entity: str, kind: str) -> pl.DataFrame:
    folder = Path(str(settings.lake_uri)) / "quarantine" / entity / f"ingest_date={CASE_DAY}"
    files = sorted(folder.glob(f"*-{kind}.parquet"))
    return pl.concat([pl.read_parquet(f) for f in files]) if files else pl.DataFrame()


def _transform_summary(settings: Settings, entity: str) -> dict[str, Any]:
    import json

    path = (
        Path(str(settings.lake_uri))
        / "quarantine"
        / entity
        / f"ingest_date={CASE_DAY}"
        / "_manifest.json"
    )
    return json.loads(path.read_text())["summary"]


def run_case(settings: Settings, case: Case) -> dict[str, Any]:
    """Extract then load the case's entity for the case day, as the DAG's two tasks do."""
    run_id = f"bad_inputs__{case.id}"
    extracted = tasks.extract(settings, case.entity, CASE_DAY, run_id)
    loaded = tasks.load(settings, case.entity, CASE_DAY, run_id)
    return {"extract": extracted, "load": loaded, "run_id": run_id}


def check_failure(settings: Settings, case: Case, expect: Fails, before: dict) -> None:
    dsn = settings.pg_dsn.get_secret_value()
    with pytest.raises(Exception) as raised:
        run_case(settings, case)
    error = raised.value
    assert type(error).__name__ == expect.error, f"{type(error).__name__}: {error}"
    message = str(error)
    assert re.search(expect.match, message), message
    contract = get_contract(case.entity)
    # The message names the source: the file, the table or the sheet tab.
    source_name = contract.source_name(CASE_DAY.isoformat()).split("/")[-1]
    if case.entity == "agents":
        source_name = "agents.xlsx#agents"
    assert source_name in message, message
    if expect.line is not None:
        assert getattr(error, "line", None) == expect.line, message
        assert f"line {expect.line}" in message
    assert tasks.is_terminal(error), "a broken source must not be retried"
    # Nothing else changed: silver (conformed + ops) is exactly as before the run ...
    assert silver_checksums(dsn) == before
    # ... and a failing extraction published no bronze version.
    if expect.error == "SourceError":
        assert read_bronze(settings, case.entity, CASE_DAY) is None


def check_load(settings: Settings, case: Case, expect: Loads, before_keys: set[str]) -> None:
    dsn = settings.pg_dsn.get_secret_value()
    rows = source_rows(case.source)
    result = run_case(settings, case)
    figures = result["load"]
    outcomes = Counter(r.outcome.split(":")[0] for r in rows)
    expected_figures = {
        "read": len(rows),
        "loaded": outcomes[LOADED],
        "unchanged": outcomes[UNCHANGED],
        "quarantined": outcomes["quarantined"],
        "duplicates": outcomes["duplicate"],
    }
    assert result["extract"]["rows"] == len(rows)
    assert {k: figures[k] for k in expected_figures} == expected_figures
    # The reconciliation recorded for the run says the same, and it adds up.
    (recorded,) = _rows(
        dsn,
        "select status, rows_read, rows_loaded, rows_unchanged, rows_quarantined,"
        " rows_duplicates from ops.pipeline_runs where run_id = %s and entity = %s",
        [result["run_id"], case.entity],
    )
    assert recorded == ("succeeded", *expected_figures.values())

    # Quarantine: one row per expected reject, with its reason and source row number.
    quarantine = _rows(
        dsn,
        "select reason, source_row from ops.quarantine where run_id = %s and entity = %s",
        [result["run_id"], case.entity],
    )
    expected_q = sorted(
        (r.outcome.split(":", 1)[1], n)
        for n, r in enumerate(rows, start=1)
        if r.outcome.startswith("quarantined:")
    )
    assert sorted(quarantine) == expected_q

    # Duplicates: the audit names each dropped row and its kind.
    dups = _audit(settings, case.entity, "duplicates")
    got_dups = sorted(dups.select("_source_row", "kind").iter_rows()) if dups.height else []
    expected_dups = sorted(
        (n, r.outcome.split(":", 1)[1])
        for n, r in enumerate(rows, start=1)
        if r.outcome.startswith("duplicate:")
    )
    assert got_dups == expected_dups

    # Silver keys: the template's plus exactly the rows expected to load.
    keys = _silver_keys(dsn, case.entity)
    loaded_keys = {_raw_key(case.entity, r) for r in rows if r.outcome == LOADED}
    unchanged_keys = {_raw_key(case.entity, r) for r in rows if r.outcome == UNCHANGED}
    assert unchanged_keys <= before_keys
    assert keys - before_keys == loaded_keys - before_keys
    assert before_keys <= keys

    # Field-level issues: exactly the expected (field, rule) pairs, on the expected rows.
    issues = _rows(
        dsn,
        "select source_row, field, rule from ops.dq_issues where run_id = %s and entity = %s",
        [result["run_id"], case.entity],
    )
    expected_issues = sorted(
        (n, field, str(rule)) for n, r in enumerate(rows, start=1) for field, rule in r.issues
    )
    assert sorted(issues) == expected_issues

    summary = _transform_summary(settings, case.entity)
    assert summary["schema_drift"] == list(expect.drift)

    contract = get_contract(case.entity)
    for (key, column), value in expect.values.items():
        got = _rows(
            dsn,
            sql.SQL("select {}::text from {} where {}::text = %s").format(
                sql.Identifier(column),
                sql.Identifier("conformed", contract.silver_table),
                sql.Identifier(contract.natural_key[0]),
            ),
            [key],
        )
        assert got == [(value,)], (key, column)


def check_no_data(settings: Settings, case: Case, before: dict) -> None:
    result = run_case(settings, case)
    assert result["extract"]["status"] == tasks.NO_DATA
    assert result["load"]["status"] == tasks.NO_DATA
    assert silver_checksums(settings.pg_dsn.get_secret_value()) == before


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, case_settings: Settings) -> None:
    settings = case_settings
    dsn = settings.pg_dsn.get_secret_value()
    place(settings, case.entity, case.source)
    if isinstance(case.expect, Fails):
        check_failure(settings, case, case.expect, silver_checksums(dsn))
    elif isinstance(case.expect, Loads):
        check_load(settings, case, case.expect, _silver_keys(dsn, case.entity))
    else:
        assert isinstance(case.expect, NoData)
        check_no_data(settings, case, silver_checksums(dsn))


def test_corpus_covers_the_issue_list() -> None:
    """At least 25 cases, and each kind of bad input the issue names has one."""
    assert len(CASES) >= 25
    ids = " ".join(c.id for c in CASES)
    for kind in (
        "truncated",
        "unbalanced-quote",
        "ragged",
        "latin1",
        "bom",
        "crlf",
        "missing-required-column",
        "renamed-header",
        "extra-columns",
        "empty-file",
        "zero-byte",
        "header-only",
        "records-layout",
        "json-invalid",
        "10mb",
        "nul",
        "sql-injection",
        "conflicting-duplicate",
        "other-formats",
        "end-before-start",
        "future-dates",
        "whitespace-only",
        "web-form-table-missing-column",
        "agents-sheet-blank-row",
        "missing-day",
    ):
        assert kind in ids, kind
