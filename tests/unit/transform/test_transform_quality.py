"""DataQualityChecker: rejects, field-level issues, plausibility and duplicates."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from coretelecoms.contracts import AGENTS, CALL_LOGS, CUSTOMERS, SOCIAL_MEDIA_COMPLAINTS
from coretelecoms.contracts.base import EntityContract
from coretelecoms.contracts.reasons import DuplicateKind, IssueRule, RejectReason
from coretelecoms.transform.batch import ISSUE_SCHEMA
from coretelecoms.transform.quality import DataQualityChecker

DAY = dt.date(2025, 11, 20)
UUIDS = [f"{i:08x}-d9cb-469f-a165-70867728950e" for i in range(10)]


def raw_frame(contract: EntityContract, rows: list[dict[str, str | None]]) -> pl.DataFrame:
    """Bronze-shaped rows: every raw header as text, defaults for fields a row leaves out."""
    defaults = {
        "customers": {
            "customer_id": UUIDS[0],
            "name": "Brianna Schultz",
            "Gender": "F",
            "DATE of biRTH": "1990-04-01",
            "signup_date": "2020-01-15",
            "email": "brianna.schultz@gmail.com",
            "address": "317 Paul Turnpike\nDarrenland, NY 13297",
        },
        "call_logs": {
            "call ID": "CALL-0001",
            "customeR iD": UUIDS[0],
            "COMPLAINT_catego ry": "Payments",
            "agent ID": "1001",
            "call_start_time": "2025-03-14 09:26:53",
            "call_end_time": "2025-03-14 09:41:53",
            "resolutionstatus": "Resolved",
            "callLogsGenerationDate": "2025-11-20",
        },
        "social_media_complaints": {
            "complaint_id": "SM-0001",
            "customeR iD": UUIDS[0],
            "COMPLAINT_catego ry": "Payments",
            "agent ID": "1001",
            "resolutionstatus": "Resolved",
            "request_date": "2025-03-14 09:26:53",
            "resolution_date": "2025-03-15 10:00:00",
            "media_channel": "Twitter",
            "MediaComplaintGenerationDate": "2025-11-20",
        },
        "agents": {"iD": "1001", "NamE": "Jane Doe", "experience": "Senior", "state": "Texas"},
    }[contract.entity]
    data = [{**defaults, **row} for row in rows]
    frame = pl.DataFrame(data, schema=dict.fromkeys(contract.raw_columns, pl.String))
    return frame.with_row_index("_source_row").with_columns(pl.col("_source_row").cast(pl.Int64))


def check(contract: EntityContract, rows: list[dict[str, str | None]]):
    return DataQualityChecker(contract, DAY).check(raw_frame(contract, rows))


def issues_of(result) -> list[tuple[int, str, str, str | None, str | None]]:
    return [
        (r["_source_row"], r["field"], r["rule"], r["original_value"], r["cleaned_value"])
        for r in result.issues.to_dicts()
    ]


@pytest.mark.parametrize(
    ("row", "reason", "detail"),
    [
        ({"customer_id": ""}, RejectReason.MISSING_KEY, "customer_id: missing"),
        ({"customer_id": None}, RejectReason.MISSING_KEY, "customer_id: missing"),
        ({"customer_id": "12345"}, RejectReason.INVALID_KEY, 'invalid customer_id: "12345"'),
    ],
    ids=["empty-key", "null-key", "invalid-key"],
)
def test_customer_without_a_valid_key_is_rejected(row, reason, detail) -> None:
    result = check(CUSTOMERS, [row, {"customer_id": UUIDS[1]}])
    assert result.rejects["reason"].to_list() == [reason.value]
    assert result.rejects["detail"].to_list() == [detail]
    assert result.clean["customer_id"].to_list() == [UUIDS[1]]
    record = json.loads(result.rejects["record"][0])
    assert record["customer_id"] == row["customer_id"]
    assert record["DATE of biRTH"] == "1990-04-01"  # original record, raw headers


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"agent ID": ""}, RejectReason.MISSING_REQUIRED),
        ({"customeR iD": "nope"}, RejectReason.INVALID_REQUIRED),
        ({"resolutionstatus": "Pending"}, RejectReason.INVALID_REQUIRED),
        ({"call_start_time": "not recorded"}, RejectReason.INVALID_REQUIRED),
        ({"callLogsGenerationDate": "2025-11-21"}, RejectReason.IMPLAUSIBLE_REQUIRED),
        ({"call_start_time": "2025-11-21 00:00:00"}, RejectReason.IMPLAUSIBLE_REQUIRED),
        ({"call ID": " "}, RejectReason.MISSING_KEY),
        ({"call ID": "", "agent ID": "x"}, RejectReason.MISSING_KEY),  # first reason wins
    ],
)
def test_complaint_that_cannot_load_is_rejected_with_its_reason(row, reason) -> None:
    result = check(CALL_LOGS, [row])
    assert result.rejects["reason"].to_list() == [reason.value]
    assert result.clean.height == 0
    assert result.issues.height == 0  # a rejected row raises no field issues


def test_customer_field_issues_keep_original_and_cleaned_values() -> None:
    rows = [
        {"customer_id": UUIDS[0], "email": "2772brianna_schultz525@GmaiL.om"},
        {"customer_id": UUIDS[1], "email": "brianna.gmail.com"},
        {"customer_id": UUIDS[2], "Gender": "Unknown"},
        {"customer_id": UUIDS[3], "address": "1 Main St\nTown, ZZ 12345"},
        {"customer_id": UUIDS[4], "address": "nowhere"},
        {"customer_id": UUIDS[5], "DATE of biRTH": "1990-02-30"},
        {"customer_id": UUIDS[6], "DATE of biRTH": "1880-01-01"},
        {"customer_id": UUIDS[7], "signup_date": "2025-11-21"},
        {"customer_id": UUIDS[8], "Gender": "f", "email": "Jane.Doe@Yahoo.com"},  # no issue
        {"customer_id": UUIDS[9], "DATE of biRTH": "", "email": "  "},  # missing: no issue
    ]
    result = check(CUSTOMERS, rows)
    assert result.rejects.height == 0
    assert issues_of(result) == [
        (
            0,
            "email",
            IssueRule.EMAIL_REPAIRED,
            rows[0]["email"],
            "2772brianna_schultz525@gmail.com",
        ),
        (1, "email", IssueRule.EMAIL_INVALID, "brianna.gmail.com", None),
        (2, "gender", IssueRule.UNKNOWN_VALUE, "Unknown", None),
        (
            3,
            "address",
            IssueRule.UNKNOWN_STATE,
            "1 Main St\nTown, ZZ 12345",
            "1 Main St\nTown, 12345",
        ),
        (4, "address", IssueRule.ADDRESS_UNPARSEABLE, "nowhere", None),
        (5, "date_of_birth", IssueRule.INVALID_VALUE, "1990-02-30", None),
        (6, "date_of_birth", IssueRule.IMPLAUSIBLE_BIRTH_DATE, "1880-01-01", None),
        (7, "signup_date", IssueRule.FUTURE_DATE, "2025-11-21", None),
    ]
    assert result.issues["natural_key"].to_list()[:2] == UUIDS[:2]
    assert result.issues.schema == pl.Schema(ISSUE_SCHEMA)
    clean = result.clean.sort("_source_row")
    assert clean["email"].to_list()[:2] == ["2772brianna_schultz525@gmail.com", None]
    assert clean["state_code"][3] is None and clean["zip_code"][3] == "12345"
    assert clean["gender"][8] == "F" and clean["email"][8] == "jane.doe@yahoo.com"


def test_clean_customer_row_has_typed_split_address() -> None:
    result = check(CUSTOMERS, [{"address": "PSC 2383, Box 3666\nAPO AA 12094"}])
    expected = pl.DataFrame(
        {
            "_source_row": [0],
            "customer_id": [UUIDS[0]],
            "name": ["Brianna Schultz"],
            "gender": ["F"],
            "date_of_birth": [dt.date(1990, 4, 1)],
            "signup_date": [dt.date(2020, 1, 15)],
            "email": ["brianna.schultz@gmail.com"],
            "street": ["PSC 2383, Box 3666"],
            "city": ["APO"],
            "state_code": ["AA"],
            "state_name": ["Armed Forces Americas"],
            "zip_code": ["12094"],
        }
    )
    assert_frame_equal(result.clean, expected)


def test_call_ending_before_it_starts_loads_with_end_nulled() -> None:
    result = check(
        CALL_LOGS,
        [
            {"call_end_time": "2025-03-14 09:20:00"},
            {"call ID": "CALL-0002", "call_end_time": ""},
            {"call ID": "CALL-0003", "call_end_time": "2025-11-21 08:00:00"},
            {"call ID": "CALL-0004", "COMPLAINT_catego ry": "SIM Swap"},
            {"call ID": "CALL-0005", "COMPLAINT_catego ry": "network failure"},
        ],
    )
    assert result.rejects.height == 0
    assert issues_of(result) == [
        (0, "call_ended_at", IssueRule.END_BEFORE_START, "2025-03-14 09:20:00", None),
        (2, "call_ended_at", IssueRule.FUTURE_DATE, "2025-11-21 08:00:00", None),
        (3, "complaint_category", IssueRule.UNKNOWN_VALUE, "SIM Swap", None),
    ]
    assert result.clean["call_ended_at"].to_list()[:3] == [None, None, None]
    assert result.clean["complaint_category"].to_list()[3:] == [None, "Network Failure"]
    assert result.clean["agent_id"].dtype == pl.Int32


def test_social_resolution_before_request_is_nulled_and_unknown_channel_recorded() -> None:
    result = check(
        SOCIAL_MEDIA_COMPLAINTS,
        [
            {"resolution_date": "2025-03-13 00:00:00"},
            {"complaint_id": "SM-2", "media_channel": "TikTok", "resolution_date": ""},
        ],
    )
    assert issues_of(result) == [
        (0, "resolved_at", IssueRule.END_BEFORE_START, "2025-03-13 00:00:00", None),
        (1, "media_channel", IssueRule.UNKNOWN_VALUE, "TikTok", None),
    ]
    assert result.clean["resolved_at"].to_list() == [None, None]


def test_agent_state_code_is_expanded_and_recorded() -> None:
    result = check(AGENTS, [{"state": "TX"}, {"iD": "1002", "state": "Atlantis"}])
    assert issues_of(result) == [
        (0, "state", IssueRule.STATE_CODE_EXPANDED, "TX", "Texas"),
        (1, "state", IssueRule.UNKNOWN_STATE, "Atlantis", None),
    ]


def test_duplicates_keep_the_last_occurrence_and_split_exact_from_conflicting() -> None:
    rows = [
        {"call ID": "A", "resolutionstatus": "Backlog"},  # 0 conflicting (differs from 4)
        {"call ID": "B"},  # 1 exact duplicate of 3
        {"call ID": "C"},  # 2 unique
        {"call ID": "B"},  # 3 kept
        {"call ID": "A", "resolutionstatus": "Resolved"},  # 4 kept
        {"call ID": "", "agent ID": "1"},  # 5 rejected: never a duplicate
        {"call ID": "", "agent ID": "1"},  # 6 rejected: never a duplicate
        {"call ID": "A", "resolutionstatus": "Pending"},  # 7 rejected (invalid status)
    ]
    dups = DataQualityChecker(CALL_LOGS, DAY).find_duplicates(raw_frame(CALL_LOGS, rows).lazy())
    expected = pl.DataFrame(
        {
            "_source_row": [0, 1],
            "natural_key": ["A", "B"],
            "kind": [DuplicateKind.CONFLICTING.value, DuplicateKind.EXACT.value],
            "kept_source_row": [4, 3],
        }
    )
    assert_frame_equal(dups, expected)


def test_duplicate_keys_compare_cleaned_keys() -> None:
    rows = [{"customer_id": UUIDS[0].upper()}, {"customer_id": f" {UUIDS[0]} "}]
    dups = DataQualityChecker(CUSTOMERS, DAY).find_duplicates(raw_frame(CUSTOMERS, rows).lazy())
    assert dups["_source_row"].to_list() == [0]
    assert dups["kind"].to_list() == [DuplicateKind.CONFLICTING.value]  # raw content differs


def test_duplicates_found_across_key_slices_whatever_the_number_of_threads(monkeypatch) -> None:
    import coretelecoms.transform.quality as quality

    rows = [
        {"call ID": f"C{i % 7}", "resolutionstatus": ["Backlog", "Resolved"][i % 3 % 2]}
        for i in range(30)
    ]
    monkeypatch.setattr(quality, "_KEY_SLICE", 4)  # 8 slices: twins sit in other slices
    lf = raw_frame(CALL_LOGS, rows).lazy()
    one = DataQualityChecker(CALL_LOGS, DAY).find_duplicates(lf, workers=1)
    three = DataQualityChecker(CALL_LOGS, DAY).find_duplicates(lf, workers=3)
    assert one.height == 30 - 7  # the last occurrence of each of the 7 keys is kept
    assert_frame_equal(one, three)


ODD_KEYS = {
    "customers": [
        UUIDS[1],
        f"  {UUIDS[2]} ",
        UUIDS[3].upper(),
        "12345",
        "",
        "   ",
        "\u3000",
        None,
        f"{UUIDS[4]}\n",
    ],
    "social_media_complaints": [
        "SM-0002",
        "  SM-0003 ",
        "",
        " \t",
        None,
        "x" * 256,
        " " + "x" * 257,
        "é" * 200,
        "\u00a0SM-0004",
    ],
}


@pytest.mark.parametrize("entity", sorted(ODD_KEYS))
def test_a_check_handed_the_cleaned_keys_equals_the_check_that_cleans_them(entity: str) -> None:
    """The duplicate pass hands its cleaned keys to the check: as they are (a small version) or
    as a bit a row, raw key == cleaned key (a large one); every shape of key gives the check's
    own result, and the raw column is left as it was."""
    contract = {"customers": CUSTOMERS, "social_media_complaints": SOCIAL_MEDIA_COMPLAINTS}[entity]
    field = contract.field(contract.natural_key[0])
    frame = raw_frame(contract, [{field.raw: key} for key in ODD_KEYS[entity]])
    before = frame.clone()
    checker = DataQualityChecker(contract, DAY)
    keys = checker.clean_keys(frame)
    unchanged = checker.unchanged_keys(frame, keys)
    # the first key (and the long text ids that still fit) are their own cleaned values
    assert unchanged.to_series().sum() == {"customers": 1, "social_media_complaints": 3}[entity]
    rebuilt = checker.keys_from_unchanged(frame, unchanged)
    assert_frame_equal(rebuilt, keys)
    assert_frame_equal(frame, before)  # the rebuilt keys are never written into the raw column

    alone = DataQualityChecker(contract, DAY).check(frame)
    for handed in (keys, rebuilt):
        result = checker.check(frame, handed)
        for part in ("clean", "rejects", "issues"):
            assert_frame_equal(getattr(result, part), getattr(alone, part))
    assert alone.rejects.height >= 4  # blank, null and invalid keys among them


def test_the_check_takes_the_handed_keys_instead_of_cleaning_them_again() -> None:
    """Handed keys are used as they are (so the check does not clean them a second time)."""
    frame = raw_frame(CUSTOMERS, [{"customer_id": UUIDS[1]}, {"customer_id": UUIDS[2]}])
    checker = DataQualityChecker(CUSTOMERS, DAY)
    keys = checker.clean_keys(frame).with_columns(pl.lit(UUIDS[9]).alias(checker.key_columns[0]))
    assert checker.check(frame, keys).clean["customer_id"].to_list() == [UUIDS[9]] * 2
    with pytest.raises(ValueError, match="1 cleaned keys for 2 rows"):
        checker.check(frame, keys.head(1))
