"""On simulated sources the checker finds exactly what the simulator says it injected.

One simulated day (all five sources) goes through the real extractors into bronze and then
through the Transformer in several batches; the per-defect counts are compared with the
simulator's ground-truth sidecars (defect definitions: ``coretelecoms.simulate.defects``).
Parent defects (orphans, late parents) are the loader's to find and must load here as clean
rows.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from coretelecoms.config import Settings
from coretelecoms.contracts import CONTRACTS
from coretelecoms.extract import extract_entity
from coretelecoms.simulate import simulate
from coretelecoms.transform import Transformer
from coretelecoms.transform.quality import DataQualityChecker
from coretelecoms.transform.transformer import MANIFEST_NAME

DAY = date(2025, 11, 20)
COMPLAINTS = ("call_logs", "social_media_complaints", "web_form_complaints")


@pytest.fixture(scope="module")
def transformed(tmp_path_factory, make_database_module) -> dict[str, tuple[dict, dict, list]]:
    """entity -> (ground truth, transform summary, batches) for one simulated day."""
    settings = Settings(
        home=tmp_path_factory.mktemp("truth") / "home",
        pg_dsn=make_database_module("silver"),
        source_pg_dsn=make_database_module("source"),
        batch_size=700,
    )
    simulate(settings, DAY, days=1, scale=0.004, seed=11)
    out = {}
    for entity, contract in CONTRACTS.items():
        result = extract_entity(settings, entity, DAY, run_id="truth-test")
        assert result.source_version is not None, entity
        transformer = Transformer(settings, contract)
        batches = list(transformer.batches(result.source_version))
        truth = json.loads((settings.ground_truth_dir / entity / f"{DAY}.json").read_text())
        out[entity] = (truth, transformer.summary.to_dict(), batches)
    return out


pytestmark = pytest.mark.postgres


def test_customers_defects_match_ground_truth(transformed) -> None:
    truth, summary, _ = transformed["customers"]
    d = truth["defects"]
    assert summary["rows_in"] == truth["rows"]
    assert summary["rejects_by_reason"] == (
        {"missing_key": d["missing_key"]} if d["missing_key"] else {}
    )
    issues = summary["issues_by_rule_field"]
    dates = issues.get("invalid_value", {})
    assert issues.get("email_invalid", {}).get("email", 0) == d["invalid_email_unrepairable"]
    assert issues.get("unknown_state", {}).get("address", 0) == d["unknown_state"]
    assert issues.get("unknown_value", {}).get("gender", 0) == d["bad_gender"]
    assert dates.get("date_of_birth", 0) + dates.get("signup_date", 0) == d["unparseable_date"]
    assert issues.get("email_repaired", {}).get("email", 0) == truth["email_domain_fixed"]
    assert set(issues) <= {
        "email_invalid",
        "unknown_state",
        "unknown_value",
        "invalid_value",
        "email_repaired",
    }
    assert summary["duplicates"] == 0
    assert all(v > 0 for v in d.values())  # every defect type was exercised


@pytest.mark.parametrize("entity", COMPLAINTS)
def test_complaint_defects_match_ground_truth(transformed, entity: str) -> None:
    truth, summary, _ = transformed[entity]
    d = truth["defects"]
    assert summary["rows_in"] == truth["rows"]
    assert summary["exact_duplicates"] == d["exact_duplicates"]
    assert summary["conflicting_duplicates"] == d["conflicting_duplicates"]
    expected_rejects = {
        "missing_key": d["missing_key"],
        "invalid_required": d["unknown_status"] + d["unparseable_date"],
    }
    assert summary["rejects_by_reason"] == {k: v for k, v in expected_rejects.items() if v}
    expected_issues = {"unknown_value": {"complaint_category": d["unknown_category"]}}
    if "unknown_channel" in d:
        expected_issues["unknown_value"]["media_channel"] = d["unknown_channel"]
    if "end_before_start" in d:
        expected_issues["end_before_start"] = {"call_ended_at": d["end_before_start"]}
    assert summary["issues_by_rule_field"] == expected_issues


@pytest.mark.parametrize("entity", [*COMPLAINTS, "customers", "agents"])
def test_every_row_of_a_simulated_day_lands_in_exactly_one_place(transformed, entity) -> None:
    truth, summary, batches = transformed[entity]
    placed: list[int] = []
    for b in batches:
        assert b.rows_read == b.clean.height + b.rejects.height + b.duplicates
        placed += b.clean["_source_row"].to_list() + b.rejects["_source_row"].to_list()
    dropped = summary["rows_in"] - len(placed)
    assert dropped == summary["duplicates"]
    assert len(set(placed)) == len(placed)
    all_rows = pl.concat([b.originals.select("_source_row") for b in batches])["_source_row"]
    assert all_rows.n_unique() == summary["rows_in"] == truth["rows"]
    assert set(placed) <= set(all_rows.to_list())


def test_agents_experience_is_canonical(transformed) -> None:
    truth, summary, batches = transformed["agents"]
    assert truth["experience_noncanonical"] > 0  # the sheet's real mixed case is present
    clean = pl.concat([b.clean for b in batches])
    assert set(clean["experience"].drop_nulls()) <= {"Intern", "Junior", "Mid-level", "Senior"}
    assert clean["experience"].null_count() == 0
    assert summary["rejects_by_reason"] == {} and summary["issues_by_rule_field"] == {}


def _audit_files(lake: Path) -> dict[str, pl.DataFrame | dict]:
    out: dict[str, pl.DataFrame | dict] = {}
    for path in sorted(lake.rglob("*")):
        if path.is_file():
            name = str(path.relative_to(lake))
            out[name] = (
                json.loads(path.read_text()) if path.suffix == ".json" else pl.read_parquet(path)
            )
    return out


def _run(tmp_path: Path, source, entity: str, batch_size: int, **settings_update) -> tuple:
    """(batches, summary, audit files) of one transform of ``source`` into its own lake."""
    lake = tmp_path / "-".join(f"{k}{v}" for k, v in settings_update.items())
    settings = Settings(home=tmp_path / "home", lake_uri=str(lake), batch_size=batch_size)
    settings = settings.model_copy(update=settings_update)
    transformer = Transformer(settings, CONTRACTS[entity])
    produced = list(transformer.batches(source))
    return produced, transformer.summary.to_dict(), _audit_files(lake)


def _assert_same_output(first: tuple, second: tuple, batches: int) -> None:
    (seq, seq_summary, seq_audit), (par, par_summary, par_audit) = first, second
    assert [b.batch_no for b in par] == [b.batch_no for b in seq] == list(range(batches))
    for a, b in zip(seq, par, strict=True):
        assert (a.rows_read, a.duplicates) == (b.rows_read, b.duplicates)
        for frame in ("clean", "rejects", "issues", "originals"):
            assert_frame_equal(getattr(a, frame), getattr(b, frame))
    assert par_summary == seq_summary
    assert par_audit.keys() == seq_audit.keys()
    assert any(name.endswith(MANIFEST_NAME) for name in par_audit)
    for name, expected in seq_audit.items():
        if isinstance(expected, dict):
            assert par_audit[name] == expected
        else:
            assert_frame_equal(par_audit[name], expected)


@pytest.mark.parametrize("entity", [*COMPLAINTS, "customers"])
def test_two_workers_produce_exactly_what_one_worker_produces(
    transformed, tmp_path, entity: str
) -> None:
    _, summary, batches = transformed[entity]
    source = batches[0].source
    batch_size = -(-summary["rows_in"] // 6)  # six batches, so two are in flight at once
    one = _run(tmp_path, source, entity, batch_size, transform_workers=1)
    two = _run(tmp_path, source, entity, batch_size, transform_workers=2)
    _assert_same_output(one, two, 6)


@pytest.mark.parametrize("entity", [*COMPLAINTS, "customers"])
def test_reading_bronze_once_or_slice_by_slice_gives_the_same_output(
    transformed, tmp_path, entity: str
) -> None:
    _, summary, batches = transformed[entity]
    source = batches[0].source
    batch_size = -(-summary["rows_in"] // 3)
    rows = summary["rows_in"]
    in_memory = _run(tmp_path, source, entity, batch_size, transform_in_memory_rows=rows)
    sliced = _run(tmp_path, source, entity, batch_size, transform_in_memory_rows=rows - 1)
    _assert_same_output(in_memory, sliced, 3)


@pytest.mark.parametrize("entity", [*COMPLAINTS, "customers", "agents"])
def test_a_checker_remembering_distinct_values_checks_each_batch_as_a_fresh_one(
    transformed, entity: str
) -> None:
    """The checker of a version remembers the cleaned distinct values of its repeating columns
    from batch to batch; every batch of the simulated day must come out as if checked alone."""
    _, _, batches = transformed[entity]
    contract, day = CONTRACTS[entity], batches[0].source.logical_date
    rows = pl.concat([b.originals for b in batches])
    parts = [rows.slice(offset, 97) for offset in range(0, rows.height, 97)]
    shared = DataQualityChecker(contract, day)
    for part in [*parts, *parts]:  # twice: the second time every value is remembered
        remembered = shared.check(part)
        alone = DataQualityChecker(contract, day).check(part)
        for frame in ("clean", "rejects", "issues"):
            assert_frame_equal(getattr(remembered, frame), getattr(alone, frame))
