"""Pure parts of the silver loader: CSV encoding for COPY, schema names, error classification."""

from __future__ import annotations

import csv
import io

import polars as pl
import pytest
from psycopg import errors as pg_errors

from coretelecoms.contracts import AGENTS, CALL_LOGS, CUSTOMERS
from coretelecoms.load import schema
from coretelecoms.load.errors import TerminalLoadError, TransientLoadError, classify
from coretelecoms.load.locks import lock_key
from coretelecoms.load.staging import frame_to_csv


def test_csv_distinguishes_null_from_empty_string() -> None:
    text = frame_to_csv(pl.DataFrame({"a": [None, "", "x"], "b": [1, 2, None]})).decode()
    # COPY csv: an unquoted empty field is NULL, a quoted empty field is ''.
    assert text.splitlines() == [",1", '"",2', "x,"]


def test_csv_quotes_separators_newlines_and_quotes() -> None:
    values = ["a,b", 'say "hi"', "two\nlines", "tab\tx", "back\\slash"]
    text = frame_to_csv(pl.DataFrame({"v": values})).decode()
    assert [row[0] for row in csv.reader(io.StringIO(text))] == values


@pytest.mark.parametrize(
    ("contract", "key", "versions", "columns"),
    [
        (
            CUSTOMERS,
            "customer_id",
            "customer_versions",
            ("street", "city", "state_code", "state_name", "zip_code"),
        ),
        (AGENTS, "agent_id", "agent_versions", ("experience",)),
        (CALL_LOGS, "complaint_key", None, ()),
    ],
    ids=["customers", "agents", "call_logs"],
)
def test_schema_names_come_from_the_contract(contract, key, versions, columns) -> None:  # type: ignore[no-untyped-def]
    assert schema.key_column(contract) == key
    assert schema.versions_table(contract) == versions
    if versions:
        assert schema.version_columns(contract) == columns
    assert "complaint_key" not in schema.data_columns(contract)


def test_first_version_starts_at_signup_date_for_customers_only() -> None:
    assert schema.first_version_start(CUSTOMERS) == "signup_date"
    assert schema.first_version_start(AGENTS) is None


def test_lock_keys_are_stable_and_distinct_per_entity() -> None:
    assert lock_key("load:customers") == lock_key("load:customers")
    assert lock_key("load:customers") != lock_key("load:agents")
    assert -(2**63) <= lock_key("load:agents") < 2**63


def test_retryable_database_errors_are_transient() -> None:
    assert isinstance(classify(pg_errors.SerializationFailure("x"), "ctx"), TransientLoadError)
    assert isinstance(classify(pg_errors.LockNotAvailable("x"), "ctx"), TransientLoadError)
    terminal = classify(pg_errors.NotNullViolation("x"), "loading call_logs batch 3")
    assert isinstance(terminal, TerminalLoadError)
    assert "loading call_logs batch 3" in str(terminal)
