"""Builders of TransformedBatch objects from tiny inline rows (the transform's output shape)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import Any

import polars as pl
import psycopg

from coretelecoms.contracts import EntityContract
from coretelecoms.transform.batch import (
    ISSUE_SCHEMA,
    REJECT_SCHEMA,
    SourceVersion,
    TransformedBatch,
)

_PL_TYPES: dict[str, pl.DataType] = {
    "uuid": pl.String(),
    "text": pl.String(),
    "integer": pl.Int64(),
    "date": pl.Date(),
    "timestamp": pl.Datetime("us"),
}


def clean_schema(contract: EntityContract) -> dict[str, pl.DataType]:
    schema = {
        c.name: _PL_TYPES[c.pg_type] for c in contract.silver_columns if c.name != "complaint_key"
    }
    schema["_source_row"] = pl.Int64()
    return schema


def source_version(
    contract: EntityContract, logical_date: date, fingerprint: str, rows: int
) -> SourceVersion:
    return SourceVersion(
        entity=contract.entity,
        logical_date=logical_date,
        source_uri=f"test://{contract.entity}/{logical_date}",
        fingerprint=fingerprint,
        bronze_path=f"bronze/{contract.entity}/ingest_date={logical_date}",
        rows=rows,
    )


def make_batch(
    contract: EntityContract,
    rows: Sequence[dict[str, Any]],
    *,
    logical_date: date,
    fingerprint: str = "fp-1",
    batch_no: int = 0,
    first_row: int = 0,
    rejects: Sequence[dict[str, Any]] = (),
    issues: Sequence[dict[str, Any]] = (),
    duplicates: int = 0,
    source_rows: int | None = None,
) -> TransformedBatch:
    """One batch; ``_source_row`` numbers clean rows from ``first_row`` then the rejects."""
    schema = clean_schema(contract)
    filled = [
        {**{c: r.get(c) for c in schema if c != "_source_row"}, "_source_row": first_row + i}
        for i, r in enumerate(rows)
    ]
    clean = (
        pl.DataFrame(filled, schema=schema, orient="row") if filled else pl.DataFrame(schema=schema)
    )
    reject_rows = [
        {
            "_source_row": first_row + len(rows) + i,
            "reason": r["reason"],
            "detail": r.get("detail"),
            "record": json.dumps(r["record"]),
        }
        for i, r in enumerate(rejects)
    ]
    rejects_df = (
        pl.DataFrame(reject_rows, schema=REJECT_SCHEMA)
        if reject_rows
        else pl.DataFrame(schema=REJECT_SCHEMA)
    )
    issues_df = (
        pl.DataFrame(list(issues), schema=ISSUE_SCHEMA)
        if issues
        else pl.DataFrame(schema=ISSUE_SCHEMA)
    )
    raw_names = {f.name: f.raw for f in contract.fields}
    originals = clean.select(
        pl.col("_source_row"),
        *(
            (pl.col(name) if name in clean.columns else pl.lit(None)).cast(pl.String).alias(raw)
            for name, raw in raw_names.items()
        ),
    )
    read = clean.height + rejects_df.height + duplicates
    return TransformedBatch(
        source=source_version(
            contract, logical_date, fingerprint, read if source_rows is None else source_rows
        ),
        batch_no=batch_no,
        rows_read=read,
        clean=clean,
        rejects=rejects_df,
        issues=issues_df,
        duplicates=duplicates,
        originals=originals,
    )


CRASH_DAY = date(2025, 11, 21)
CRASH_AGENTS = 5
CRASH_CUSTOMERS = 200


def crash_customer_id(i: int) -> str:
    return f"{i:08d}-0000-4000-8000-{i:012d}"


def crash_parent_batches(contracts: dict[str, EntityContract]) -> list[TransformedBatch]:
    """Customers and agents for the crash test (some customers deliberately missing)."""
    customers = [
        {
            "customer_id": crash_customer_id(i),
            "name": f"N{i}",
            "street": f"{i} Main St",
            "signup_date": date(2024, 1, 1),
            "state_code": "NY",
            "zip_code": f"{i:05d}",
        }
        for i in range(CRASH_CUSTOMERS)
        if i % 17
    ]
    agents = [{"agent_id": 1000 + i, "experience": "Junior"} for i in range(CRASH_AGENTS)]
    return [
        make_batch(contracts["customers"], customers, logical_date=CRASH_DAY, fingerprint="c"),
        make_batch(contracts["agents"], agents, logical_date=CRASH_DAY, fingerprint="a"),
    ]


def crash_complaint_batches(
    contract: EntityContract, n_batches: int, rows_per_batch: int
) -> list[TransformedBatch]:
    """A deterministic multi-batch day of call logs: orphans, rejects and duplicates included."""
    statuses = ("Backlog", "In-Progress", "Blocked", "Resolved")
    total = n_batches * rows_per_batch
    batches = []
    for b in range(n_batches):
        rows = [
            {
                "call_id": f"call-{i:07d}",
                "customer_id": crash_customer_id(i % CRASH_CUSTOMERS),
                "agent_id": 1000 + i % (CRASH_AGENTS + 1),  # one unknown agent
                "complaint_category": "Payments",
                "resolution_status": statuses[i % 4],
                "call_started_at": datetime(2025, 5, 1, 9, i % 60),
                "generated_date": CRASH_DAY,
            }
            for i in range(b * rows_per_batch, (b + 1) * rows_per_batch - 2)
        ]
        batches.append(
            make_batch(
                contract,
                rows,
                logical_date=CRASH_DAY,
                fingerprint="calls",
                batch_no=b,
                first_row=b * rows_per_batch,
                rejects=[{"reason": "missing_key", "record": {"call ID": None}}],
                duplicates=1,
                source_rows=total,
            )
        )
    return batches


def killed_after(*batches: TransformedBatch) -> Iterator[TransformedBatch]:
    """Batches a load gets before its process dies: Ctrl-C, like kill -9, skips the loader's
    failure bookkeeping, leaving the committed batches and a ``running`` run behind."""
    yield from batches
    raise KeyboardInterrupt


# Columns that legitimately differ between two databases (ids, sequence values, wall clock).
VOLATILE = {
    "_change_seq",
    "id",
    "quarantined_at",
    "committed_at",
    "released_at",
    "started_at",
    "finished_at",
    "loaded_at",
}


def checksum(dsn: str, table: str) -> tuple[int, str]:
    """Row count and md5 of a table's rows (``VOLATILE`` columns left out), in a stable order."""
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
