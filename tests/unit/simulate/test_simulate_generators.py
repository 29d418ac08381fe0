"""Generators: value shapes, exact defect counts, snapshot evolution."""

from __future__ import annotations

import re
import uuid
from datetime import date

import numpy as np
import polars as pl
import pytest

from coretelecoms.contracts.reference import EXPERIENCE_LEVELS, STATE_CODES
from coretelecoms.simulate import DefectRates, clean_email, email_is_valid
from coretelecoms.simulate import agents as agents_mod
from coretelecoms.simulate import customers as customers_mod
from coretelecoms.simulate.defects import defect_count
from coretelecoms.simulate.randomness import gapped_index, hex_strings, rng_for, uuid4_strings


def test_uuid4_strings_are_version_4() -> None:
    for value in uuid4_strings(rng_for(1), 200).to_list():
        assert uuid.UUID(value).version == 4
        assert str(uuid.UUID(value)) == value


def test_complaint_id_lengths_between_50_and_56() -> None:
    lengths = hex_strings(rng_for(1), 2000, 50, 56).str.len_chars()
    assert lengths.min() == 50
    assert lengths.max() == 56


def test_gapped_index_starts_at_zero_increases_and_has_gaps() -> None:
    index = gapped_index(rng_for(3), 5000)
    assert index[0] == 0
    assert np.all(np.diff(index) >= 1)
    assert index[-1] > 4999


def test_defect_count_is_ceil_and_zero_for_zero_rate() -> None:
    assert defect_count(0.001, 758) == 1
    assert defect_count(0.01, 1000) == 10
    assert defect_count(0.0, 1000) == 0


def test_rates_out_of_range_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown_state"):
        DefectRates(unknown_state=1.5)


@pytest.fixture(scope="module")
def customers() -> pl.DataFrame:
    return customers_mod.generate_customers(rng_for(42, 1), 4000, DefectRates(), date(2025, 11, 20))


def test_customer_defect_flags_have_exact_counts(customers: pl.DataFrame) -> None:
    counts = dict(customers.group_by("_defect").len().drop_nulls().rows())
    assert counts == {name: 4 for name in customers_mod.CUSTOMER_DEFECTS} | {
        "missing_key": 2,
        "invalid_email_unrepairable": 8,
    }


def test_clean_rows_have_valid_emails_and_known_state_codes(customers: pl.DataFrame) -> None:
    clean = customers.filter(pl.col("_defect").is_null())
    assert clean.select(email_is_valid(pl.col("email")).all()).item()
    codes = clean["address"].str.extract(r"([A-Z]{2}) \d{5}$", 1)
    assert codes.is_in(list(STATE_CODES)).all()
    assert clean["address"].str.contains("\n").all()


def test_unrepairable_emails_fail_even_after_cleaning(customers: pl.DataFrame) -> None:
    broken = customers.filter(pl.col("_defect") == "invalid_email_unrepairable")
    assert not broken.select(email_is_valid(pl.col("email")).any()).item()


def test_clean_email_fixes_case_and_typo_domains() -> None:
    frame = pl.DataFrame(
        {"e": ["2772Brianna_Schultz525@GmaiL.om", "f963brian.wagner016@hotmai.com"]}
    )
    cleaned = frame.select(clean_email(pl.col("e")).alias("e"))["e"].to_list()
    assert cleaned == ["2772brianna_schultz525@gmail.com", "f963brian.wagner016@hotmail.com"]


def test_about_half_of_emails_are_messy(customers: pl.DataFrame) -> None:
    emails = customers["email"]
    messy = emails.str.contains(r"^[0-9a-f]{3,4}[a-z]|[0-9]@|[A-Z]") | ~emails.str.contains(
        r"@(gmail|yahoo|hotmail|outlook|aol|icloud)\.com$"
    )
    assert 0.4 < messy.mean() < 0.6


def test_addresses_include_military_and_territories(customers: pl.DataFrame) -> None:
    address = customers["address"]
    assert address.str.contains(r"^(PSC \d{4}, Box \d{4}|Unit \d{4} Box \d{4}|US\w+ \w+)\n").any()
    assert address.str.contains(r"\n(APO|FPO|DPO) (AA|AE|AP) \d{5}$").any()
    assert address.str.contains(r", (PR|GU|VI|MP|AS|FM|MH|PW) \d{5}$").any()


def test_evolved_customers_move_one_percent_and_add_new(customers: pl.DataFrame) -> None:
    later, changes = customers_mod.evolve_customers(
        rng_for(42, 3), customers, DefectRates(), date(2025, 11, 22)
    )
    assert changes == {"address_changes": 40, "new_customers": 16}
    old = later.head(customers.height)
    assert (old["address"] != customers["address"]).sum() == 40
    assert old["customer_id"].equals(customers["customer_id"])


def test_agents_ids_from_1000_unsorted_with_mixed_case_experience() -> None:
    sheet = agents_mod.generate_agents(rng_for(42, 2), 100)
    ids = sheet["iD"].to_list()
    assert sorted(ids) == list(range(1000, 1100))
    assert ids != sorted(ids)
    assert set(sheet["experience"].str.to_lowercase()) <= {e.lower() for e in EXPERIENCE_LEVELS}
    assert not sheet["experience"].is_in(EXPERIENCE_LEVELS).all()
    later, changes = agents_mod.evolve_agents(rng_for(42, 4), sheet, DefectRates())
    assert changes == {"promotions": 10, "new_agents": 5}
    merged = sheet.join(later, on="iD", suffix="_later")
    assert (merged["_level"] != merged["_level_later"]).sum() == 10
    assert re.fullmatch(r"\d+", str(later["iD"].max()))
