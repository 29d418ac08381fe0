"""DataCleaner: one expression per rule, on the real value shapes of the sources."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal, assert_series_equal

from coretelecoms.contracts import AGENTS, CALL_LOGS, CUSTOMERS, Rule
from coretelecoms.contracts.base import Field
from coretelecoms.contracts.reference import (
    COMPLAINT_CATEGORIES,
    EMAIL_DOMAIN_FIXES,
    EXPERIENCE_LEVELS,
    RESOLUTION_STATUSES,
)
from coretelecoms.transform import cleaner
from coretelecoms.transform.cleaner import (
    ADDRESS_PARTS,
    DataCleaner,
    DistinctMemo,
    clean_date,
    clean_email,
    clean_enum,
    clean_int_id,
    clean_person_name,
    clean_text_id,
    clean_timestamp,
    clean_us_state_name,
    clean_uuid,
    fix_email_domain,
    fix_email_typos_only,
    format_address,
    parse_address,
    plain_address_stages,
    validate_email,
)


def apply(fn, values: list[str | None], *args) -> pl.Series:
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    return frame.select(fn(pl.col("v"), *args).alias("v")).to_series()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0f8fad5b-d9cb-469f-a165-70867728950e", "0f8fad5b-d9cb-469f-a165-70867728950e"),
        (" 0F8FAD5B-D9CB-469F-A165-70867728950E ", "0f8fad5b-d9cb-469f-a165-70867728950e"),
        ("0f8fad5bd9cb469fa16570867728950e", None),
        ("0f8fad5b-d9cb-469f-a165-70867728950", None),
        ("not-a-uuid", None),
        ("", None),
        ("   ", None),
        (None, None),
    ],
    ids=[
        "canonical",
        "upper-padded",
        "no-hyphens",
        "too-short",
        "garbage",
        "empty",
        "blank",
        "null",
    ],
)
def test_uuid_is_validated_lower_case_text(raw: str | None, expected: str | None) -> None:
    assert apply(clean_uuid, [raw]).to_list() == [expected]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1000", 1000),
        (" 1042 ", 1042),
        ("1000.0", 1000),  # a numeric sheet cell read as text
        ("+7", 7),
        ("-1", None),
        ("10.5", None),
        ("1e3", None),
        ("99999999999", None),  # does not fit Postgres integer
        ("2147483648", None),
        ("2147483647", 2147483647),
        ("", None),
        (None, None),
    ],
)
def test_int_id_parses_integers_that_fit_postgres_integer(raw, expected) -> None:
    out = apply(clean_int_id, [raw])
    assert out.dtype == pl.Int32
    assert out.to_list() == [expected]


def test_text_id_is_kept_verbatim_but_trimmed() -> None:
    long_id = "CL-8a9f0e6b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f"
    out = apply(clean_text_id, [f" {long_id}\t", "", None])
    assert out.to_list() == [long_id, None, None]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Brianna Schultz", "Brianna Schultz"),
        ("  brianna   schultz ", "Brianna Schultz"),
        ("BRIAN WAGNER", "Brian Wagner"),
        ("Ronald McDonald", "Ronald McDonald"),
        ("mary-jane o'neil", "Mary-Jane O'Neil"),
        ("  ", None),
        (None, None),
    ],
)
def test_person_name_trims_collapses_and_title_cases_single_case_names(raw, expected) -> None:
    assert apply(clean_person_name, [raw]).to_list() == [expected]


@pytest.mark.parametrize(
    ("raw", "allowed", "expected"),
    [
        ("intern", EXPERIENCE_LEVELS, "Intern"),
        ("Intern", EXPERIENCE_LEVELS, "Intern"),
        ("MID-LEVEL", EXPERIENCE_LEVELS, "Mid-level"),
        ("mid level", EXPERIENCE_LEVELS, "Mid-level"),
        (" Senior ", EXPERIENCE_LEVELS, "Senior"),
        ("Principal", EXPERIENCE_LEVELS, None),
        ("in-progress", RESOLUTION_STATUSES, "In-Progress"),
        ("Pending", RESOLUTION_STATUSES, None),
        ("network failure", COMPLAINT_CATEGORIES, "Network Failure"),
        ("Billing Dispute", COMPLAINT_CATEGORIES, None),
        ("m", ("M", "F"), "M"),
        ("Unknown", ("M", "F"), None),
        ("", EXPERIENCE_LEVELS, None),
        (None, EXPERIENCE_LEVELS, None),
    ],
)
def test_enum_is_canonicalised_case_insensitively(raw, allowed, expected) -> None:
    assert apply(clean_enum, [raw], allowed).to_list() == [expected]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1990-01-31", dt.date(1990, 1, 31)),
        (" 2024-02-29 ", dt.date(2024, 2, 29)),
        ("2023-02-29", None),  # not a leap year
        ("1990-02-30", None),
        ("31-12-1985", None),
        ("0000-00-00", None),
        ("2001-13-01", None),
        ("unknown", None),
        ("", None),
        (None, None),
    ],
)
def test_date_accepts_only_valid_iso_calendar_dates(raw, expected) -> None:
    out = apply(clean_date, [raw])
    assert out.dtype == pl.Date
    assert out.to_list() == [expected]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2025-03-14 09:26:53", dt.datetime(2025, 3, 14, 9, 26, 53)),
        (" 2025-03-14 09:26:53 ", dt.datetime(2025, 3, 14, 9, 26, 53)),
        ("2025-13-01 10:00:00", None),
        ("2025-02-30 08:15:00", None),
        ("25:61:00", None),
        ("not recorded", None),
        ("2025-03-14", None),
        ("", None),  # unresolved complaints carry resolution_date = ""
        (None, None),
    ],
)
def test_timestamp_accepts_the_sources_one_format(raw, expected) -> None:
    out = apply(clean_timestamp, [raw])
    assert out.dtype == pl.Datetime("us")
    assert out.to_list() == [expected]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2772brianna_schultz525@GmaiL.om", "2772brianna_schultz525@gmail.com"),
        ("f963brian.wagner016@hotmai.com", "f963brian.wagner016@hotmail.com"),
        ("A1B2jane.doe77@HOTMAILL.COM", "a1b2jane.doe77@hotmaill.com".replace("maill", "mail")),
        ("john@gmial.com", "john@gmail.com"),
        ("john@example.om", "john@example.com"),
        ("  Jane.Doe@Yahoo.com ", "jane.doe@yahoo.com"),
        ("jane.doe.gmail.com", None),
        ("jane.doe@@gmail.com", None),
        ("jane.doe at gmail.com", None),
        ("jane.doe@", None),
        ("jane..doe@gmail.com", None),
        ("", None),
        (None, None),
    ],
)
def test_email_is_lowered_repaired_and_validated_keeping_hex_prefixes(raw, expected) -> None:
    assert apply(clean_email, [raw]).to_list() == [expected]


ADDRESS_CASES = [
    (
        "317 Paul Turnpike\nDarrenland, NY 13297",
        ("317 Paul Turnpike", "Darrenland", "NY", "New York", "13297"),
    ),
    (
        "84917 Smith Crossing Apt. 731\r\nNew Michelle, CA 90210-1234",
        ("84917 Smith Crossing Apt. 731", "New Michelle", "CA", "California", "90210"),
    ),
    (
        "PSC 2383, Box 3666\nAPO AA 12094",
        ("PSC 2383, Box 3666", "APO", "AA", "Armed Forces Americas", "12094"),
    ),
    (
        "Unit 0544 Box 3012\nDPO AP 96520",
        ("Unit 0544 Box 3012", "DPO", "AP", "Armed Forces Pacific", "96520"),
    ),
    ("USNS Johnson\nFPO AE 09498", ("USNS Johnson", "FPO", "AE", "Armed Forces Europe", "09498")),
    (
        "12 Beach Rd\nSaipan, MP 96950",
        ("12 Beach Rd", "Saipan", "MP", "Northern Mariana Islands", "96950"),
    ),
    (
        "5 Calle Luna\nSan Juan, PR 00901",
        ("5 Calle Luna", "San Juan", "PR", "Puerto Rico", "00901"),
    ),
    ("1 Harbor Dr\nHagatna, GU 96910", ("1 Harbor Dr", "Hagatna", "GU", "Guam", "96910")),
    (
        "9 King St\nCharlotte Amalie, VI 00802",
        ("9 King St", "Charlotte Amalie", "VI", "U.S. Virgin Islands", "00802"),
    ),
    # one line (no line break): not the sources' shape, so unparseable rather than guessed
    ("317 Paul Turnpike, Darrenland, NY 13297", (None, None, None, None, None)),
    ("   Darrenland, NY 13297\n", (None, None, None, None, None)),
    ("317 Paul Turnpike\nNY 13297", (None, None, None, None, None)),
    ("1 Main St\nTown, ZZ 12345", ("1 Main St", "Town", None, None, "12345")),
    ("somewhere over the rainbow", (None, None, None, None, None)),
    ("317 Paul Turnpike\nDarrenland, NY 1329", (None, None, None, None, None)),
    ("", (None, None, None, None, None)),
    (None, (None, None, None, None, None)),
]


@pytest.mark.parametrize(
    ("raw", "parts"), ADDRESS_CASES, ids=[str(i) for i in range(len(ADDRESS_CASES))]
)
def test_address_is_split_into_street_city_state_zip(raw, parts) -> None:
    frame = pl.DataFrame({"a": [raw]}, schema={"a": pl.String})
    out = frame.select(parse_address(pl.col("a")).struct.unnest())
    expected = pl.DataFrame(
        [dict(zip(ADDRESS_PARTS, parts, strict=True))],
        schema=dict.fromkeys(ADDRESS_PARTS, pl.String),
    )
    assert_frame_equal(out, expected)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("New York", "New York"),
        ("  new   york ", "New York"),
        ("DISTRICT OF COLUMBIA", "District of Columbia"),
        ("NY", "New York"),
        ("Puerto Rico", "Puerto Rico"),
        ("Narnia", None),
        ("", None),
        (None, None),
    ],
)
def test_us_state_name_is_validated_and_canonicalised(raw, expected) -> None:
    assert apply(clean_us_state_name, [raw]).to_list() == [expected]


def test_data_cleaner_dispatches_every_contract_field() -> None:
    frame = pl.DataFrame(
        {
            "iD": ["1003", "x"],
            "NamE": ["JANE DOE", None],
            "experience": ["intern", "Guru"],
            "state": ["texas", "Atlantis"],
        }
    )
    out = frame.select(DataCleaner.clean(f, pl.col(f.raw)).alias(f.name) for f in AGENTS.fields)
    expected = pl.DataFrame(
        {
            "agent_id": [1003, None],
            "name": ["Jane Doe", None],
            "experience": ["Intern", None],
            "state": ["Texas", None],
        },
        schema={
            "agent_id": pl.Int32,
            "name": pl.String,
            "experience": pl.String,
            "state": pl.String,
        },
    )
    assert_frame_equal(out, expected)


def test_every_rule_used_by_a_contract_has_a_cleaner() -> None:
    for contract in (CUSTOMERS, CALL_LOGS, AGENTS):
        for f in contract.fields:
            DataCleaner.clean(f, pl.col(f.raw))  # raises ValueError if a rule is unhandled
    assert {f.rule for f in CUSTOMERS.fields} >= {Rule.EMAIL, Rule.ADDRESS, Rule.GENDER}


# -- properties: cleaning never raises and is idempotent -----------------------------------

TEXT = st.one_of(st.none(), st.text(max_size=40))
EMAILISH = st.one_of(
    TEXT,
    st.builds(
        lambda pre, name, dom: f"{pre}{name}@{dom}",
        st.from_regex(r"[0-9a-f]{0,4}", fullmatch=True),
        st.from_regex(r"[A-Za-z][A-Za-z._]{0,10}[0-9]{0,3}", fullmatch=True),
        st.sampled_from(
            ["GmaiL.om", "gmial.com", "hotmai.com", "hotmaill.com", "yahoo.com", "x.om"]
        ),
    ),
)
VALUES = st.one_of(
    EMAILISH,
    st.uuids().map(str).map(str.upper),
    st.datetimes(dt.datetime(1900, 1, 1), dt.datetime(2100, 1, 1)).map(
        lambda d: d.strftime("%Y-%m-%d %H:%M:%S")
    ),
    st.dates(dt.date(1900, 1, 1), dt.date(2100, 1, 1)).map(dt.date.isoformat),
    st.integers(-10, 2**32).map(str),
    st.sampled_from(["intern", " MID level", "new york", "NY", "JANE   DOE"]),
)
SCALAR_RULES = [
    (clean_uuid, ()),
    (clean_int_id, ()),
    (clean_text_id, ()),
    (clean_person_name, ()),
    (clean_enum, (EXPERIENCE_LEVELS,)),
    (clean_date, ()),
    (clean_timestamp, ()),
    (clean_email, ()),
    (clean_us_state_name, ()),
]


@pytest.mark.parametrize(("fn", "args"), SCALAR_RULES, ids=[f.__name__ for f, _ in SCALAR_RULES])
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=st.lists(VALUES, max_size=8))
def test_cleaning_is_idempotent_and_never_raises(fn, args, values) -> None:
    once = apply(fn, values, *args)
    as_text = once.dt.to_string("%Y-%m-%d %H:%M:%S") if once.dtype == pl.Datetime else once
    twice = apply(fn, as_text.cast(pl.String).to_list(), *args)
    assert_series_equal(once, twice)


ADDRESSES = st.builds(
    lambda street, city, state, zip5, sep: f"{street}{sep}{city}, {state} {zip5}",
    st.from_regex(r"[0-9]{1,5} [A-Z][a-z]{2,8}( Apt\. [0-9]{1,3})?", fullmatch=True),
    st.from_regex(r"[A-Z][a-z]{2,10}( [A-Z][a-z]{2,8})?", fullmatch=True),
    st.sampled_from(["NY", "CA", "PR", "GU", "AA", "AE", "ZZ", "ny"]),
    st.from_regex(r"[0-9]{5}", fullmatch=True),
    st.sampled_from(["\n", "\r\n", ", ", "\n  "]),
)


@settings(max_examples=80, deadline=None)
@given(values=st.lists(st.one_of(ADDRESSES, TEXT), max_size=8))
def test_address_parsing_is_idempotent_and_never_raises(values) -> None:
    frame = pl.DataFrame({"a": values}, schema={"a": pl.String})
    once = frame.select(parse_address(pl.col("a")).alias("p"))
    again = once.select(parse_address(format_address(pl.col("p"))).alias("p"))
    parsed = once.filter(pl.col("p").struct.field("state_code").is_not_null())
    reparsed = again.filter(pl.col("p").struct.field("state_code").is_not_null())
    assert_frame_equal(parsed, reparsed)


# -- fast paths: the same results as the full rules, for less work ---------------------------


@pytest.mark.parametrize(
    ("fn", "args", "values"),
    [
        (clean_enum, (COMPLAINT_CATEGORIES,), ["payments", "Payments", None, "Roaming", "", "x"]),
        (clean_date, (), ["2025-01-05", "2025-02-30", "2025-01-05", None, " 2025-01-05 "]),
        (clean_int_id, (), ["1000", "1000.0", "x", None, "1000", "99999999999"]),
        (clean_person_name, (), ["JANE  DOE", "jane doe", "McDonald", None, "JANE  DOE"]),
    ],
    ids=["enum", "date", "int-id", "person-name"],
)
def test_per_distinct_gives_the_rule_result_for_every_row(fn, args, values) -> None:
    """Also a rule with null results (a bare rule, not the checker's struct): a null looks like
    a missed lookup and is cleaned again, still giving the rule's result."""
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    memo = DistinctMemo({"v": lambda v: fn(v, *args)})
    for _ in range(2):  # first batch: every value new; second: every value remembered
        assert_series_equal(memo.columns(frame)["v"], apply(fn, values, *args))


def test_per_distinct_on_an_empty_column_keeps_the_rule_type() -> None:
    frame = pl.DataFrame({"v": []}, schema={"v": pl.String})
    out = DistinctMemo({"v": clean_int_id}).columns(frame)["v"]
    assert out.dtype == pl.Int32


MEMO_RULES = {
    "v": lambda v: pl.struct(clean_int_id(v).alias("cleaned"), v.is_null().alias("null")),
    "w": lambda v: pl.struct(clean_enum(v, COMPLAINT_CATEGORIES).alias("cleaned")),
}
MEMO_BATCHES = [
    {"v": ["1000", "1000.0", "x"], "w": ["payments", "Payments", "Roaming"]},
    {"v": ["1000", "x", "1000"], "w": ["Payments", "payments", "payments"]},  # all known
    {"v": [None, "7", "1000"], "w": [None, "", "payments"]},  # new values, null among them
    {"v": [], "w": []},
    {"v": ["7", None, "8"], "w": ["Roaming", None, "roaming "]},
]


@pytest.mark.parametrize("most", [100_000, 4, 2], ids=["remembered", "outgrown", "too-many"])
def test_distinct_memo_gives_the_rule_result_for_every_batch(monkeypatch, most) -> None:
    monkeypatch.setattr(cleaner, "MEMO_MAX_VALUES", most)
    memo = DistinctMemo(MEMO_RULES)
    for batch in [*MEMO_BATCHES, *MEMO_BATCHES]:  # twice: the second round is all known
        frame = pl.DataFrame(batch, schema={"v": pl.String, "w": pl.String})
        got = memo.columns(frame)
        for name, rule in MEMO_RULES.items():
            assert_series_equal(got[name], frame.select(rule(pl.col(name)).alias(name))[name])


def test_distinct_memo_shared_by_threads_gives_the_rule_result() -> None:
    memo = DistinctMemo(MEMO_RULES)
    frames = [pl.DataFrame(b, schema={"v": pl.String, "w": pl.String}) for b in MEMO_BATCHES * 20]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(memo.columns, frames))
    for frame, got in zip(frames, results, strict=True):
        for name, rule in MEMO_RULES.items():
            assert_series_equal(got[name], frame.select(rule(pl.col(name)).alias(name))[name])


def _plain_address(values: list[str | None]) -> pl.Series:
    stages, final = plain_address_stages(pl.col("a"), "__p_")
    frame = pl.DataFrame({"a": values}, schema={"a": pl.String})
    for level in stages:
        frame = frame.with_columns(level)
    return frame.select(final.alias("a")).to_series()


def test_plain_address_path_takes_only_the_everyday_shape() -> None:
    everyday = [
        "317 Paul Turnpike\nDarrenland, NY 13297",
        "PSC 2383, Box 3666\nAPO AA 12094",
        " \t317 Paul Turnpike\nDarrenland, NY 13297",  # leading blanks: the street is stripped
    ]
    others = [
        "1 Main\nTown, NY 12345 ",  # trailing blanks: the full parser strips them
        "1 Main\nTown, NY 12345\n",
        " \n1 Main\nTown, NY 12345",  # a blank first line
        "\n",
        "1 Main\n2nd Floor\nTown, NY 12345",  # three lines
        "1 Main\nTown, NY 12345-6789",  # ZIP+4
        "1 Main\nTown, ny 12345",  # lower-case code
        "1 Main\nTown,  NY 12345",  # two spaces
        "1 Main\nTown, ZZ 12345",  # unknown state
        "nowhere",
        None,
    ]
    out = _plain_address(everyday + others)
    assert out.is_not_null().to_list() == [True] * len(everyday) + [False] * len(others)
    full = apply(parse_address, everyday)
    assert_series_equal(out.head(len(everyday)), full, check_names=False)


FAST_FIELDS = [CUSTOMERS.field("address"), CUSTOMERS.field("customer_id")]


@pytest.mark.parametrize("field", FAST_FIELDS, ids=[f.name for f in FAST_FIELDS])
def test_clean_column_equals_the_full_rule_on_real_and_odd_shapes(field: Field) -> None:
    values = [raw for raw, _ in ADDRESS_CASES] + [
        "0f8fad5b-d9cb-469f-a165-70867728950e",
        " 0F8FAD5B-D9CB-469F-A165-70867728950E ",
        "0f8fad5b-d9cb-469f-a165-70867728950e",
        "1 Main St \r\nTown, NY 12345",
        "1 Main St\n  Town , NY 12345",
        "\t1 Main St\nTown, NY 12345 ",
        " \n1 Main\nTown, NY 12345",
        "1 Main\nTown, NY 12345\n",
        "  \n  ",
        "\n",
        "",
        None,
    ]
    column = pl.Series(field.raw, values, dtype=pl.String)
    expected = (
        column.to_frame()
        .select(DataCleaner.clean(field, pl.col(field.raw)).alias(field.raw))
        .to_series()
    )
    # a fast path, or stages that take the everyday shape apart from the full rule
    assert DataCleaner.has_fast_path(field) or DataCleaner.stages(field, pl.col("x"), "_")[0]
    assert_series_equal(DataCleaner.clean_column(field, column), expected)


@settings(max_examples=80, deadline=None)
@given(values=st.lists(st.one_of(ADDRESSES, st.uuids().map(str), VALUES), max_size=12))
def test_clean_column_fast_paths_never_change_the_result(values) -> None:
    for field in FAST_FIELDS:
        column = pl.Series(field.raw, values, dtype=pl.String)
        expected = column.to_frame().select(
            DataCleaner.clean(field, pl.col(field.raw)).alias(field.raw)
        )
        assert_series_equal(DataCleaner.clean_column(field, column), expected.to_series())


def test_clean_column_without_a_fast_path_is_clean() -> None:
    field = CALL_LOGS.field("call_started_at")
    column = pl.Series(field.raw, ["2025-03-14 09:26:53", "later", None])
    assert not DataCleaner.has_fast_path(field)
    assert_series_equal(
        DataCleaner.clean_column(field, column),
        apply(clean_timestamp, column.to_list()).alias(field.raw),
    )


STAGED_FIELDS = [CALL_LOGS.field("call_id"), CALL_LOGS.field("call_started_at")]
ODD_STAGED = [
    "2025-03-14 09:26:53",
    " 2025-03-14 09:26:53\t",
    "2025-01- 5 01:02:03",  # Polars' parser takes it, the pattern does not
    "-025-01-05 01:02:03",
    "2025-02-30 08:15:00",
    "",
    "   ",
    None,
    "  C01 ",
    "é" * 200,  # 400 bytes, 200 characters: still an id
    "x" * 256,
    "x" * 257,
    "é" * 257,
]


@pytest.mark.parametrize("field", STAGED_FIELDS, ids=[f.name for f in STAGED_FIELDS])
@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.one_of(VALUES, st.sampled_from(ODD_STAGED)), max_size=12))
def test_staged_rules_equal_the_plain_rule(field: Field, values) -> None:
    column = pl.Series(field.raw, [*ODD_STAGED, *values], dtype=pl.String)
    expected = column.to_frame().select(DataCleaner.clean(field, pl.col(field.raw)))
    assert DataCleaner.stages(field, pl.col(field.raw), "__s_")[0]  # really staged
    assert_series_equal(DataCleaner.clean_column(field, column), expected.to_series())


UNPADDED_IDS = [
    "CT-01",
    "",
    " ",
    "\u3000\t",
    None,
    "x" * 256,
    "x" * 257,
    "é" * 200,
    "é" * 257,
    "a b",
]
"""Text ids the strip leaves as they are, or blank: blank ones and ids too long clean to null
all the same, and the raw column is kept (shared, not copied)."""


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(
        st.one_of(
            st.sampled_from(UNPADDED_IDS),
            st.text(max_size=300).filter(lambda v: v == v.strip() or not v.strip()),
        ),
        max_size=12,
    ),
    padded=st.sampled_from([None, " CT-02", "CT-03\t", "\u00a0CT-04\n"]),
)
def test_a_text_id_column_is_its_own_cleaned_value_only_where_no_value_is_padded(
    values, padded
) -> None:
    field = CALL_LOGS.field("call_id")
    column = pl.Series(field.raw, [*UNPADDED_IDS, *values, padded], dtype=pl.String)
    expected = column.to_frame().select(DataCleaner.clean(field, pl.col(field.raw)))
    assert_series_equal(DataCleaner.clean_column(field, column), expected.to_series())
    kept = cleaner._text_id_kept(column)
    assert (kept is None) == (padded is not None)


EMAIL = CUSTOMERS.field("email")
ODD_EMAILS = [
    *(f"jane.doe{i}@{bad}" for i, bad in enumerate(EMAIL_DOMAIN_FIXES)),
    *(f"JANE@{bad.upper()}" for bad in EMAIL_DOMAIN_FIXES),
    *(f"jane@{good}" for good in set(EMAIL_DOMAIN_FIXES.values())),
    "john@example.om",
    "john@example.om.om",
    "john@gmail.om.co",
    "john@sub.gmail.om",  # ".om", not the "@gmail.om" typo
    "john@xgmail.om",
    "john@gmail.comm",
    "john@.om",
    "@gmail.om",
    ".om",
    "om",
    "jane.doe.gmail.om",  # no "@"
    "jane.doe.gmail.com",
    "jane@doe@gmail.om",  # several "@"
    "jane@gmail.om@gmail.om",
    "jane@@gmail.om",
    "jane@",
    "@",
    "  Jane.Doe@GMAIL.OM\t",
    "jane@gmail.om\nx",
    "jane@gmail.om\n",
    "ÉLODIE@GMAIL.OM",
    "jane.om\x00x@gmail.com",  # NUL inside: the sentinel table reaches into the value
    "jane@gmail.om\x00",
    "\x00@gmail.om",
    "jane@gmail.co\x00m",
    "",
    "   ",
    None,
]
EMAILS = st.builds(
    lambda local, at, domain, pad: f"{pad}{local}{at}{domain}{pad}",
    st.from_regex(r"[A-Za-z0-9._@\x00é]{0,8}", fullmatch=True),
    st.sampled_from(["@", "", "@@", "@x@"]),
    st.one_of(
        st.sampled_from([*EMAIL_DOMAIN_FIXES, *EMAIL_DOMAIN_FIXES.values(), "x.om", ".om"]),
        st.from_regex(r"[A-Za-z.\x00]{0,6}(\.om|\.co|om)?", fullmatch=True),
    ).map(lambda d: d.upper() if len(d) % 3 == 0 else d),
    st.sampled_from(["", " ", "\t"]),
)


@settings(max_examples=150, deadline=None)
@given(values=st.lists(st.one_of(EMAILS, st.sampled_from(ODD_EMAILS)), max_size=12))
def test_staged_email_equals_the_plain_rule(values) -> None:
    column = pl.Series(EMAIL.raw, [*ODD_EMAILS, *values], dtype=pl.String)
    expected = column.to_frame().select(clean_email(pl.col(EMAIL.raw)))
    assert DataCleaner.stages(EMAIL, pl.col(EMAIL.raw), "__s_")[0]  # really staged
    assert_series_equal(DataCleaner.clean_column(EMAIL, column), expected.to_series())
    # and the repair stage itself, on every value without a NUL
    lowered = column.filter(~column.str.contains("\x00", literal=True)).str.to_lowercase()
    assert_series_equal(
        apply(fix_email_typos_only, lowered.to_list()), apply(fix_email_domain, lowered.to_list())
    )


def test_email_typos_only_leaves_nul_values_unvalidated() -> None:
    # where the repair stages differ (a NUL inside), both fail validation
    values = ["jane.om\x00x@gmail.com", "a@b.com\x00"]
    assert (
        apply(fix_email_typos_only, values).to_list() != apply(fix_email_domain, values).to_list()
    )
    assert apply(clean_email, values).to_list() == [None, None]


# validate_email before the "no .." search was folded into its pattern
_EMAIL_BEFORE = (
    r"^[a-z0-9_%+\-](?:[a-z0-9._%+\-]*[a-z0-9_%+\-])?"
    r"@(?:[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?\.)+[a-z]{2,}$"
)


def _validate_before(email: pl.Expr) -> pl.Expr:
    return pl.when(
        email.str.contains(_EMAIL_BEFORE) & ~email.str.contains("..", literal=True)
    ).then(email)


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(
        st.one_of(
            st.text(alphabet="ab.@-_%+Z0 é\n", max_size=14),
            st.from_regex(r"[a.\-_]{0,4}@[a.\-]{0,5}\.[a-z.]{0,4}", fullmatch=True),
            st.sampled_from(
                [
                    "a..b@x.com",
                    ".a@x.com",
                    "a.@x.com",
                    "a@x..com",
                    "a@.x.com",
                    "a@x.com.",
                    "a.b@x.co",
                ]
            ),
        ),
        max_size=12,
    )
)
def test_email_validation_in_one_pattern_equals_the_former_two_checks(values) -> None:
    values = [*values, *ODD_EMAILS, "a..b@x.com", "a.b.c@x-y.z.com", "a@x..com", "a@-x.com"]
    assert_series_equal(apply(validate_email, values), apply(_validate_before, values))
