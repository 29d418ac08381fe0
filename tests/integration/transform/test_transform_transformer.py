"""Transformer on real bronze Parquet files: partition, batching, resume, audit, schema."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import fsspec
import polars as pl
import pyarrow.parquet as pq
import pytest
from transform_bronze import write_bronze_file

from coretelecoms.config import Settings
from coretelecoms.contracts import CALL_LOGS, CUSTOMERS, get_contract
from coretelecoms.contracts.reasons import RejectReason
from coretelecoms.transform import ContractError, Transformer
from coretelecoms.transform import transformer as transformer_module
from coretelecoms.transform.transformer import MANIFEST_NAME, _spans, prefetch

UUID = "{:08x}-d9cb-469f-a165-70867728950e".format


def call(call_id: str, **overrides: str | None) -> dict[str, str | None]:
    row = {
        "Unnamed: 0": "0",
        "call ID": call_id,
        "customeR iD": UUID(1),
        "COMPLAINT_catego ry": "Payments",
        "agent ID": "1001",
        "call_start_time": "2025-03-14 09:26:53",
        "call_end_time": "2025-03-14 09:41:53",
        "resolutionstatus": "Resolved",
        "callLogsGenerationDate": "2025-11-20",
    }
    return {**row, **overrides}


# 14 rows, batch size 4 -> batches of 4, 4, 4, 2. Duplicates cross batch boundaries.
CALL_ROWS = [
    call("C01"),
    call("C02", resolutionstatus="Backlog"),  # conflicting dup of row 9 (kept, later)
    call("C03", **{"Unnamed: 0": "2"}),  # exact dup of row 12 (index differs: still exact)
    call("", **{"agent ID": "1001"}),  # missing key
    call("C05", **{"agent ID": "abc"}),  # invalid required
    call("C06", call_end_time="2025-03-14 09:00:00"),  # end before start: issue
    call("C07", **{"COMPLAINT_catego ry": "network failure"}),  # canonicalised, no issue
    call("C08", resolutionstatus="Closed"),  # unknown status: reject
    call("C09", call_start_time="2025-11-21 10:00:00", call_end_time=""),  # future: reject
    call("C02", resolutionstatus="In-Progress"),  # kept
    call("C10", **{"COMPLAINT_catego ry": "Roaming"}),  # unknown category: issue
    call("C11"),
    call("C03", **{"Unnamed: 0": "11"}),  # kept
    call("C01", **{"Unnamed: 0": "13"}),  # exact dup content of row 1 -> row 1 dropped
]


@pytest.fixture(params=["local", "s3"])
def settings(request: pytest.FixtureRequest) -> Settings:
    return request.getfixturevalue(f"{request.param}_settings")


def read_audit(settings: Settings, transformer: Transformer, source, kind: str) -> pl.DataFrame:
    base = transformer.audit_uri(source)
    fs, _ = fsspec.core.url_to_fs(base, **settings.storage_options())
    frames = []
    for path in sorted(fs.glob(f"{base}/*-{kind}.parquet")):
        with fs.open(path, "rb") as fh:
            frames.append(pl.read_parquet(fh))
    return pl.concat(frames)


def test_every_bronze_row_lands_in_exactly_one_of_clean_rejects_duplicates(settings) -> None:
    source = write_bronze_file(settings, "call_logs", CALL_ROWS)
    transformer = Transformer(settings, CALL_LOGS)
    batches = list(transformer.batches(source))

    assert [b.batch_no for b in batches] == [0, 1, 2, 3]
    assert [b.rows_read for b in batches] == [4, 4, 4, 2]
    for b in batches:
        assert b.rows_read == b.clean.height + b.rejects.height + b.duplicates
        assert b.originals.height == b.rows_read
    clean = pl.concat([b.clean for b in batches])
    rejects = pl.concat([b.rejects for b in batches])
    dups = read_audit(settings, transformer, source, "duplicates")
    placed = [*clean["_source_row"], *rejects["_source_row"], *dups["_source_row"]]
    assert sorted(placed) == list(range(1, 15))  # each row once, none lost

    assert dict(zip(dups["_source_row"], dups["kind"], strict=True)) == {
        1: "exact_duplicate",
        2: "conflicting_duplicate",
        3: "exact_duplicate",
    }
    assert dict(zip(rejects["_source_row"], rejects["reason"], strict=True)) == {
        4: RejectReason.MISSING_KEY,
        5: RejectReason.INVALID_REQUIRED,
        8: RejectReason.INVALID_REQUIRED,
        9: RejectReason.IMPLAUSIBLE_REQUIRED,
    }
    assert clean.filter(pl.col("call_id") == "C02")["resolution_status"].to_list() == [
        "In-Progress"
    ]
    assert clean.columns == [
        "call_id",
        "customer_id",
        "agent_id",
        "complaint_category",
        "resolution_status",
        "call_started_at",
        "call_ended_at",
        "generated_date",
        "_source_row",
    ]
    assert clean.schema["call_started_at"] == pl.Datetime("us")
    assert clean.schema["generated_date"] == pl.Date
    assert clean.schema["agent_id"] == pl.Int32

    summary = transformer.summary
    assert summary is not None
    assert (summary.rows_in, summary.rows_clean) == (14, 7)
    assert (summary.exact_duplicates, summary.conflicting_duplicates) == (2, 1)
    assert summary.rejects_by_reason == {
        "implausible_required": 1,
        "invalid_required": 2,
        "missing_key": 1,
    }
    assert summary.issues_by_rule_field == {
        "end_before_start": {"call_ended_at": 1},
        "unknown_value": {"complaint_category": 1},
    }


def test_audit_keeps_originals_and_manifest_holds_the_summary(settings) -> None:
    source = write_bronze_file(settings, "call_logs", CALL_ROWS)
    transformer = Transformer(settings, CALL_LOGS)
    for _ in transformer.batches(source):
        pass
    base = transformer.audit_uri(source)
    assert base.endswith("quarantine/call_logs/ingest_date=2025-11-20")
    fs, _ = fsspec.core.url_to_fs(base, **settings.storage_options())
    manifest = json.loads(fs.cat_file(f"{base}/{MANIFEST_NAME}"))
    assert manifest["source_fingerprint"] == source.fingerprint
    assert manifest["summary"]["rows_in"] == 14
    assert manifest["summary"]["duplicates"] == 3
    assert len(manifest["files"]["rejects"]) == 4
    assert not [p for p in fs.ls(base, detail=False) if ".tmp" in p]

    rejects = read_audit(settings, transformer, source, "rejects")
    record = json.loads(rejects.filter(pl.col("_source_row") == 5)["record"][0])
    assert record["agent ID"] == "abc" and record["Unnamed: 0"] == "0"
    issues = read_audit(settings, transformer, source, "issues")
    assert issues.filter(pl.col("rule") == "unknown_value")["original_value"].to_list() == [
        "Roaming"
    ]
    assert set(issues["entity"]) == {"call_logs"}
    dups = read_audit(settings, transformer, source, "duplicates")
    assert json.loads(dups["record"][0])["call ID"] == "C01"


def test_batches_are_deterministic_and_resume_skips_committed_batches(local_settings) -> None:
    source = write_bronze_file(local_settings, "call_logs", CALL_ROWS)
    full = list(Transformer(local_settings, CALL_LOGS).batches(source))
    audit = Path(Transformer(local_settings, CALL_LOGS).audit_uri(source))
    first = sorted(audit.glob("*-b00000-*.parquet"))
    stamps = {p: p.stat().st_mtime_ns for p in first}
    missing = sorted(audit.glob("*-b00001-issues.parquet"))[0]
    missing.unlink()

    transformer = Transformer(local_settings, CALL_LOGS)
    resumed = list(transformer.batches(source, start_batch=2))
    assert [b.batch_no for b in resumed] == [2, 3]
    for a, b in zip(full[2:], resumed, strict=True):
        assert a.clean.equals(b.clean)
        assert a.rejects.equals(b.rejects)
        assert a.issues.equals(b.issues)
        assert a.duplicates == b.duplicates
    assert {p: p.stat().st_mtime_ns for p in first} == stamps  # batch 0 not recomputed
    assert missing.exists()  # batch 1's lost audit file was rebuilt
    assert transformer.summary is not None and transformer.summary.rows_clean == 7


@pytest.mark.parametrize("workers", [1, 2])
def test_reading_row_group_by_row_group_gives_what_the_sliced_read_gives(
    local_settings, monkeypatch, workers: int
) -> None:
    """Row groups of 3 rows and batches of 4: every batch but the first is cut from two reads,
    and the duplicates (which cross batches) are known only after the last read."""
    monkeypatch.setattr(transformer_module, "_READ_CHUNK", 1)  # one read per row group
    source = write_bronze_file(local_settings, "call_logs", CALL_ROWS, row_group_size=3)
    assert pq.read_metadata(source.bronze_path).num_row_groups == 5

    def run(in_memory_rows: int) -> tuple[list, dict, dict[str, bytes]]:
        lake = local_settings.home / f"lake-{in_memory_rows}"
        settings = local_settings.model_copy(
            update={"lake_uri": str(lake), "transform_in_memory_rows": in_memory_rows}
        )
        transformer = Transformer(settings, CALL_LOGS, workers=workers)
        batches = list(transformer.batches(source))
        assert transformer.summary is not None
        files = {str(p.relative_to(lake)): p.read_bytes() for p in lake.rglob("*.parquet")}
        return batches, transformer.summary.to_dict(), files

    progressive, sliced = run(len(CALL_ROWS)), run(0)
    assert len(progressive[0]) == 4 and progressive[1] == sliced[1]
    assert progressive[1]["duplicates"] == 3
    for a, b in zip(progressive[0], sliced[0], strict=True):
        assert (a.rows_read, a.duplicates) == (b.rows_read, b.duplicates)
        for frame in ("clean", "rejects", "issues", "originals"):
            assert getattr(a, frame).equals(getattr(b, frame))
    assert progressive[2] == sliced[2] and len(progressive[2]) == 12


@pytest.mark.parametrize("in_memory_rows", [0, 100], ids=["sliced", "in-memory"])
def test_the_cleaned_keys_handed_to_the_check_never_leave_the_transform(
    local_settings, in_memory_rows: int
) -> None:
    """The duplicate pass's cleaned keys ride along with a small version's decoded rows (internal
    columns) and a large version keeps a bit a row of them: neither may reach a batch's frames,
    a reject's or a duplicate's record, or an audit file."""
    rows = [*CALL_ROWS, call(" C12 "), call(" "), call("C13\t"), call("C11")]
    source = write_bronze_file(local_settings, "call_logs", rows)
    lake = local_settings.home / f"lake-{in_memory_rows}"
    settings = local_settings.model_copy(
        update={"lake_uri": str(lake), "transform_in_memory_rows": in_memory_rows}
    )
    transformer = Transformer(settings, CALL_LOGS)
    batches = list(transformer.batches(source))
    raw = ["Unnamed: 0", *CALL_LOGS.raw_columns]
    for b in batches:
        assert b.originals.columns == [*raw, "_source_row"]
        assert b.clean.columns == [*transformer._clean_schema]
        for record in b.rejects["record"]:
            assert list(json.loads(record)) == raw
    for path in lake.rglob("*.parquet"):
        frame = pl.read_parquet(path)
        assert not [c for c in frame.columns if c.startswith("__")], path.name
        for record in frame.get_column("record") if "record" in frame.columns else []:
            assert list(json.loads(record)) == raw
    clean = pl.concat(b.clean for b in batches)
    assert {"C12", "C13"} <= set(clean["call_id"])  # padded keys cleaned, not lost
    assert transformer.summary is not None
    assert transformer.summary.duplicates == 4  # C11 again, besides the three of CALL_ROWS
    assert transformer.summary.rejects_by_reason["missing_key"] == 2


def test_progressive_reads_are_whole_row_groups_of_at_least_the_minimum() -> None:
    groups = [94_200, 93_658, 1, 5_171, 3, 2]
    spans = list(_spans(groups, 20_000))
    assert spans == [(0, 94_200), (94_200, 93_658), (187_858, 5_177)]
    assert list(_spans(groups, 1)) == [(sum(groups[:i]), rows) for i, rows in enumerate(groups)]
    assert list(_spans([], 10)) == []


def test_missing_raw_column_is_a_contract_error_and_nothing_is_produced(local_settings) -> None:
    source = write_bronze_file(local_settings, "call_logs", CALL_ROWS, drop=("agent ID",))
    transformer = Transformer(local_settings, CALL_LOGS)
    with pytest.raises(ContractError, match=r"call_logs source test://.*\['agent ID'\]"):
        transformer.batches(source)
    assert not Path(transformer.audit_uri(source)).exists()


def test_unknown_columns_are_schema_drift_and_index_columns_are_dropped(local_settings) -> None:
    rows = [
        {
            "customer_id": UUID(i),
            "name": "jane doe",
            "Gender": "F",
            "DATE of biRTH": "1990-04-01",
            "signup_date": "2020-01-15",
            "email": "2772jane.doe525@GmaiL.om",
            "address": "PSC 2383, Box 3666\nAPO AA 12094",
        }
        for i in range(5)
    ]
    source = write_bronze_file(
        local_settings, "customers", rows, extra_columns={"loyalty_tier": ["gold"] * 5}
    )
    transformer = Transformer(local_settings, CUSTOMERS)
    batches = list(transformer.batches(source))
    clean = pl.concat([b.clean for b in batches])
    assert "loyalty_tier" not in clean.columns
    assert clean.columns[-1] == "_source_row"
    assert clean["email"].unique().to_list() == ["2772jane.doe525@gmail.com"]
    assert transformer.summary.schema_drift == ["loyalty_tier"]
    assert transformer.summary.issues_by_rule_field == {"email_repaired": {"email": 5}}
    assert "loyalty_tier" in batches[0].originals.columns  # originals stay intact


def test_empty_source_version_yields_no_batches(local_settings) -> None:
    source = write_bronze_file(local_settings, "call_logs", [])
    transformer = Transformer(local_settings, get_contract("call_logs"))
    assert list(transformer.batches(source)) == []
    assert transformer.summary.rows_in == 0


def test_prefetch_computes_one_item_ahead_and_propagates_errors() -> None:
    computed: list[int] = []

    def items():
        for i in range(5):
            computed.append(i)
            yield i
        raise RuntimeError("boom")

    it = prefetch(items())
    assert next(it) == 0
    deadline = time.monotonic() + 10
    while len(computed) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)  # the worker computes item 1 while we hold item 0 ...
    time.sleep(0.2)
    assert computed == [0, 1]  # ... but not item 2
    rest = []
    with pytest.raises(RuntimeError, match="boom"):
        for x in it:
            rest.append(x)
    assert rest == [1, 2, 3, 4]


def test_prefetch_stops_its_worker_when_the_consumer_stops() -> None:
    started = threading.Event()

    def items():
        for i in range(1000):
            started.set()
            yield i

    it = prefetch(items(), name="prefetch-test")
    assert next(it) == 0
    it.close()
    time.sleep(0.1)
    assert not [t for t in threading.enumerate() if t.name == "prefetch-test"]


def test_parallel_batches_come_in_order_and_stop_when_the_consumer_stops(local_settings) -> None:
    source = write_bronze_file(local_settings, "call_logs", CALL_ROWS)
    transformer = Transformer(local_settings, CALL_LOGS, workers=3)
    assert [b.batch_no for b in transformer.batches(source, start_batch=1)] == [1, 2, 3]
    it = Transformer(local_settings, CALL_LOGS, workers=3).batches(source)
    assert next(it).batch_no == 0
    it.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("transform-call_logs")]
