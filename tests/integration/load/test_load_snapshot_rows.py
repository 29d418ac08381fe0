"""A new static snapshot stages only the rows that differ from the snapshot loaded before it
(row hashes in the lake), with the same silver and the same figures as comparing every row."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import psycopg
import pytest
from load_batches import killed_after, make_batch
from test_load_loader import C1, C2, C3, customer

from coretelecoms.config import Settings
from coretelecoms.contracts import CUSTOMERS
from coretelecoms.load import (
    Loader,
    LoadSummary,
    TerminalLoadError,
    apply_migrations,
    snapshot_rows,
)

pytestmark = pytest.mark.postgres

D1, D3 = date(2025, 11, 20), date(2025, 11, 22)
C4 = "44444444-4444-4444-8444-444444444444"
FIRST = [customer(C1), customer(C2), customer(C3)]
# C1 moves, C2 changes a non-tracked column, C3 is unchanged, C4 is new.
SECOND = [
    customer(C1, street="9 Elm St", zip_code="10001"),
    customer(C2, email="new@yahoo.com"),
    customer(C3),
    customer(C4),
]
TABLES = ("conformed.customers", "conformed.customer_versions")


def rows(dsn: str, query: str) -> list[tuple]:  # type: ignore[type-arg]
    with psycopg.connect(dsn) as conn:
        return conn.execute(query).fetchall()


def snapshot(dsn: str) -> dict[str, list[tuple]]:  # type: ignore[type-arg]
    """Every row with its xmin (a rewritten row gets a new one)."""
    return {t: rows(dsn, f"select xmin::text, * from {t} order by 2, 3") for t in TABLES}


def load_snapshot(
    settings: Settings, dsn: str, data: list[dict], day: date, fingerprint: str
) -> LoadSummary:
    """What ``tasks.load`` does for a static entity: hashes of the last snapshot in, its own out."""
    batch = make_batch(CUSTOMERS, data, logical_date=day, fingerprint=fingerprint)
    known = snapshot_rows.reference_hashes(settings, dsn, CUSTOMERS, batch.source)
    summary = Loader(dsn, CUSTOMERS, f"run-{fingerprint}", day).load(
        [batch], batch.source, known=known
    )
    snapshot_rows.write_hashes(settings, CUSTOMERS, batch.source, pl.concat(summary.row_hashes))
    return summary


def migrated(make_database: callable, prefix: str) -> str:
    dsn = make_database(prefix)
    apply_migrations(dsn)
    return dsn


@pytest.fixture
def lake(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


def test_second_snapshot_skips_unchanged_rows_with_the_same_outcome(
    lake: Settings, make_database: callable
) -> None:
    compared, skipping = migrated(make_database, "compare_all"), migrated(make_database, "skip")
    Loader(compared, CUSTOMERS, "run-s1", D1).load(
        [make_batch(CUSTOMERS, FIRST, logical_date=D1, fingerprint="s1")]
    )
    full = Loader(compared, CUSTOMERS, "run-s2", D3).load(
        [make_batch(CUSTOMERS, SECOND, logical_date=D3, fingerprint="s2")]
    )
    load_snapshot(lake, skipping, FIRST, D1, "s1")
    before = snapshot(skipping)
    known = snapshot_rows.reference_hashes(
        lake, skipping, CUSTOMERS, make_batch(CUSTOMERS, SECOND, logical_date=D3).source
    )
    assert known is not None and known.hashes.size == 3
    diffed = load_snapshot(lake, skipping, SECOND, D3, "s2")

    assert diffed.figures() == full.figures()
    assert diffed.figures() == {
        "read": 4,
        "loaded": 3,
        "unchanged": 1,
        "quarantined": 0,
        "duplicates": 0,
    }
    strip = "select {} from {} order by 1, 2"
    for table, cols in (
        ("conformed.customers", "customer_id, street, email"),
        ("conformed.customer_versions", "customer_id, valid_from, valid_to, street, zip_code"),
    ):
        query = strip.format(cols, table)
        assert rows(skipping, query) == rows(compared, query)
    # The unchanged customer and its version were not rewritten.
    after = snapshot(skipping)
    for table in TABLES:
        assert [r for r in after[table] if r[1] == C3] == [r for r in before[table] if r[1] == C3]
    assert rows(
        skipping, "select rows_unchanged from ops.load_checkpoints where source_fingerprint = 's2'"
    ) == [(1,)]


def test_no_reference_when_another_version_committed_batches_after_it(
    lake: Settings, silver_dsn: str
) -> None:
    load_snapshot(lake, silver_dsn, FIRST, D1, "s1")
    # Version s2 commits its first batch and fails on the second: silver holds some s2 rows
    # that the hashes of s1 do not describe.
    good = make_batch(
        CUSTOMERS,
        [customer(C1, street="9 Elm St")],
        logical_date=D3,
        fingerprint="s2",
        source_rows=3,
    )
    bad = make_batch(
        CUSTOMERS,
        [customer(C2), customer(C2)],
        logical_date=D3,
        fingerprint="s2",
        batch_no=1,
        first_row=1,
        source_rows=3,
    )
    with pytest.raises(TerminalLoadError):
        Loader(silver_dsn, CUSTOMERS, "run-s2", D3).load([good, bad])
    third = make_batch(CUSTOMERS, FIRST, logical_date=D3, fingerprint="s3").source
    assert snapshot_rows.reference_hashes(lake, silver_dsn, CUSTOMERS, third) is None
    # Resuming s2 itself may still use s1's hashes: its own committed batches hold other keys.
    assert snapshot_rows.reference_hashes(lake, silver_dsn, CUSTOMERS, good.source) is not None
    # So a full load of s3 compares every row and puts C1 back.
    summary = Loader(silver_dsn, CUSTOMERS, "run-s3", D3).load(
        [make_batch(CUSTOMERS, FIRST, logical_date=D3, fingerprint="s3")], known=None
    )
    assert summary.loaded == 1 and summary.unchanged == 2


def test_no_reference_without_its_file_or_for_the_same_version(
    lake: Settings, silver_dsn: str
) -> None:
    first = make_batch(CUSTOMERS, FIRST, logical_date=D1, fingerprint="s1")
    Loader(silver_dsn, CUSTOMERS, "run-s1", D1).load([first])  # no hashes written
    second = make_batch(CUSTOMERS, SECOND, logical_date=D3, fingerprint="s2").source
    assert snapshot_rows.reference_hashes(lake, silver_dsn, CUSTOMERS, second) is None
    hashes = snapshot_rows.row_hashes(CUSTOMERS, first.clean)
    snapshot_rows.write_hashes(lake, CUSTOMERS, first.source, hashes)
    assert snapshot_rows.reference_hashes(lake, silver_dsn, CUSTOMERS, first.source) is None
    assert snapshot_rows.reference_hashes(lake, silver_dsn, CUSTOMERS, second) is not None


def test_hashes_read_before_another_snapshot_loaded_are_not_used(
    lake: Settings, silver_dsn: str
) -> None:
    load_snapshot(lake, silver_dsn, FIRST, D1, "s1")
    again = make_batch(CUSTOMERS, FIRST, logical_date=D3, fingerprint="s2")
    stale = snapshot_rows.reference_hashes(lake, silver_dsn, CUSTOMERS, again.source)
    assert stale is not None and stale.fingerprint == "s1"
    # Another run loads a snapshot that moves C1 before this one takes the lock.
    moved = [customer(C1, street="7 Oak St")]
    Loader(silver_dsn, CUSTOMERS, "run-s3", D3).load(
        [make_batch(CUSTOMERS, moved, logical_date=D3, fingerprint="s3")]
    )
    summary = Loader(silver_dsn, CUSTOMERS, "run-s2", D3).load([again], again.source, known=stale)
    assert summary.loaded == 1 and summary.unchanged == 2
    query = f"select street from conformed.customers where customer_id = '{C1}'"
    assert rows(silver_dsn, query) == [("1 Main St",)]


def test_an_unreadable_hash_file_means_comparing_every_row(lake: Settings, silver_dsn: str) -> None:
    load_snapshot(lake, silver_dsn, FIRST, D1, "s1")
    second = make_batch(CUSTOMERS, SECOND, logical_date=D3, fingerprint="s2").source
    Path(snapshot_rows.state_uri(lake, CUSTOMERS, "s1")).write_bytes(b"not parquet")
    assert snapshot_rows.reference_hashes(lake, silver_dsn, CUSTOMERS, second) is None


def test_rerunning_an_older_snapshot_does_not_make_its_hashes_the_reference(
    lake: Settings, silver_dsn: str
) -> None:
    """s1 loads with hashes; s2 changes C1 in a resumed load (no hashes of its own); s1 runs
    again (a backfill: every batch already committed, nothing written). Silver holds s2's C1,
    so s1's hashes must not let a snapshot equal to s1 skip C1."""
    load_snapshot(lake, silver_dsn, FIRST, D1, "s1")
    moved = [customer(C1, street="9 Elm St"), customer(C2), customer(C3)]
    first, rest = (
        make_batch(CUSTOMERS, moved[:1], logical_date=D3, fingerprint="s2", source_rows=3),
        make_batch(
            CUSTOMERS,
            moved[1:],
            logical_date=D3,
            fingerprint="s2",
            batch_no=1,
            first_row=1,
            source_rows=3,
        ),
    )

    with pytest.raises(KeyboardInterrupt):
        Loader(silver_dsn, CUSTOMERS, "run-s2", D3).load(killed_after(first))
    Loader(silver_dsn, CUSTOMERS, "run-s2b", D3).load([rest], first.source)  # resumed
    again = Loader(silver_dsn, CUSTOMERS, "run-s1-again", D1).load(
        [make_batch(CUSTOMERS, FIRST, logical_date=D1, fingerprint="s1")]
    )
    assert again.batches_committed == 0
    later = make_batch(CUSTOMERS, FIRST, logical_date=date(2025, 11, 23), fingerprint="s3")
    assert snapshot_rows.reference_hashes(lake, silver_dsn, CUSTOMERS, later.source) is None
    summary = load_snapshot(lake, silver_dsn, FIRST, date(2025, 11, 23), "s3")
    assert summary.loaded == 1 and summary.unchanged == 2
    query = f"select street from conformed.customers where customer_id = '{C1}'"
    assert rows(silver_dsn, query) == [("1 Main St",)]
