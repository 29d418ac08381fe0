"""Customers snapshots: the CSV the CRM overwrites, with messy emails and multiline addresses.

A snapshot is a Polars frame with the raw columns (exact source spellings) plus private
columns prefixed ``_`` that the writer drops: ``_defect`` (the injected defect, or null),
``_messy_email``, ``_repairable_email`` (see ``simulate.defects``) and ``_propensity`` (the
latent escalation propensity, ground truth only).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from coretelecoms.contracts.reference import (
    MILITARY_CITIES,
    MILITARY_STATES,
    US_STATES,
    US_TERRITORIES,
)
from coretelecoms.simulate import vocabulary as vocab
from coretelecoms.simulate.defects import EMAIL_SYNTAX, DefectRates, clean_email, defect_count
from coretelecoms.simulate.randomness import (
    block_assign,
    choice_idx,
    digit_strings,
    format_dates,
    hex_strings,
    pick,
    uuid4_strings,
)

RAW_COLUMNS = ("customer_id", "name", "Gender", "DATE of biRTH", "signup_date", "email", "address")
CUSTOMER_DEFECTS = (
    "missing_key",
    "invalid_email_unrepairable",
    "unknown_state",
    "bad_gender",
    "unparseable_date",
)

_STATES = tuple(US_STATES)
_TERRITORIES = tuple(US_TERRITORIES)
_MILITARY = tuple(MILITARY_STATES)
_STREET_NAMES = (*vocab.LAST_NAMES, *vocab.FIRST_NAMES)
_DOB_RANGE = (-7305, 13149)  # 1950-01-01 .. 2005-12-31 in days since epoch
_SIGNUP_RANGE = (16436, 20392)  # 2015-01-01 .. 2025-10-31 (exclusive end)


def _city(rng: np.random.Generator, n: int) -> pl.Series:
    first = pick(vocab.FIRST_NAMES, choice_idx(rng, n, len(vocab.FIRST_NAMES)))
    last = pick(vocab.LAST_NAMES, choice_idx(rng, n, len(vocab.LAST_NAMES)))
    suffix = pick(vocab.CITY_SUFFIXES, choice_idx(rng, n, len(vocab.CITY_SUFFIXES)))
    prefix = pick(vocab.CITY_PREFIXES, choice_idx(rng, n, len(vocab.CITY_PREFIXES)))
    style = pl.Series(rng.integers(0, 2, size=n))
    return (
        pl.DataFrame({"f": first, "l": last, "s": suffix, "p": prefix, "k": style})
        .select(
            pl.when(pl.col("k") == 0)
            .then(pl.concat_str([pl.col("f"), pl.col("s")]))
            .otherwise(pl.concat_str([pl.col("p"), pl.col("l")], separator=" "))
        )
        .to_series()
    )


def regular_addresses(rng: np.random.Generator, n: int, codes: tuple[str, ...]) -> pl.Series:
    """``317 Paul Turnpike [Apt. 12]\\nDarrenland, NY 13297`` with state codes from ``codes``."""
    frame = pl.DataFrame(
        {
            "num": pl.Series(rng.integers(1, 99999, size=n)).cast(pl.String),
            "street": pick(_STREET_NAMES, choice_idx(rng, n, len(_STREET_NAMES))),
            "suffix": pick(vocab.STREET_SUFFIXES, choice_idx(rng, n, len(vocab.STREET_SUFFIXES))),
            "unit_kind": pick(("", " Apt. ", " Suite "), choice_idx(rng, n, 3, (0.7, 0.2, 0.1))),
            "unit": pl.Series(rng.integers(1, 999, size=n)).cast(pl.String),
            "city": _city(rng, n),
            "st": pick(codes, choice_idx(rng, n, len(codes))),
            "zip": digit_strings(rng, n, 5, low=501),
        }
    )
    unit = (
        pl.when(pl.col("unit_kind") == "")
        .then(pl.lit(""))
        .otherwise(pl.concat_str([pl.col("unit_kind"), pl.col("unit")]))
    )
    return frame.select(
        pl.concat_str(
            [
                pl.col("num"),
                pl.lit(" "),
                pl.col("street"),
                pl.lit(" "),
                pl.col("suffix"),
                unit,
                pl.lit("\n"),
                pl.col("city"),
                pl.lit(", "),
                pl.col("st"),
                pl.lit(" "),
                pl.col("zip"),
            ]
        )
    ).to_series()


def military_addresses(rng: np.random.Generator, n: int) -> pl.Series:
    """``PSC 2383, Box 3666\\nAPO AA 12094``, ``Unit 1234 Box 5678\\nDPO AE ...``, ``USNS X``."""
    frame = pl.DataFrame(
        {
            "kind": pl.Series(rng.integers(0, 3, size=n)),
            "a": digit_strings(rng, n, 4, low=1000),
            "b": digit_strings(rng, n, 4, low=1000),
            "ship": pick(vocab.MILITARY_UNITS, choice_idx(rng, n, len(vocab.MILITARY_UNITS))),
            "last": pick(vocab.LAST_NAMES, choice_idx(rng, n, len(vocab.LAST_NAMES))),
            "city": pick(MILITARY_CITIES, choice_idx(rng, n, len(MILITARY_CITIES))),
            "st": pick(_MILITARY, choice_idx(rng, n, len(_MILITARY))),
            "zip": digit_strings(rng, n, 5, low=9000),
        }
    )
    first_line = (
        pl.when(pl.col("kind") == 0)
        .then(pl.concat_str([pl.lit("PSC "), pl.col("a"), pl.lit(", Box "), pl.col("b")]))
        .when(pl.col("kind") == 1)
        .then(pl.concat_str([pl.lit("Unit "), pl.col("a"), pl.lit(" Box "), pl.col("b")]))
        .otherwise(pl.concat_str([pl.col("ship"), pl.col("last")], separator=" "))
    )
    return frame.select(
        pl.concat_str(
            [
                first_line,
                pl.lit("\n"),
                pl.col("city"),
                pl.lit(" "),
                pl.col("st"),
                pl.lit(" "),
                pl.col("zip"),
            ]
        )
    ).to_series()


def addresses(rng: np.random.Generator, n: int) -> pl.Series:
    """Valid addresses: ~95% states, ~2% territories, ~3% military (APO/FPO/DPO AA/AE/AP)."""
    kind = choice_idx(rng, n, 3, (0.95, 0.02, 0.03))
    sizes = np.bincount(kind, minlength=3)
    parts = pl.concat(
        [
            regular_addresses(rng, int(sizes[0]), _STATES),
            regular_addresses(rng, int(sizes[1]), _TERRITORIES),
            military_addresses(rng, int(sizes[2])),
        ]
    )
    # Row i takes the next unused address of its kind: a stable sort of the kinds gives, for
    # each position in ``parts``, the row it belongs to.
    order = np.argsort(kind, kind="stable")
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    return parts.gather(pl.Series(position, dtype=pl.UInt32))


def _emails(
    rng: np.random.Generator, first: pl.Series, last: pl.Series, messy_rate: float
) -> tuple[pl.Series, np.ndarray]:
    """Emails from names; about ``messy_rate`` get prefix/suffix/case/typo-domain mess."""
    n = len(first)
    messy = rng.random(n) < messy_rate
    prefix_on = messy & (rng.random(n) < 0.6)
    suffix_on = messy & (rng.random(n) < 0.7)
    case_on = messy & (rng.random(n) < 0.4)
    typo_on = messy & (rng.random(n) < 0.35)
    # A messy email shows at least one kind of mess.
    none = messy & ~(prefix_on | suffix_on | case_on | typo_on)
    prefix_on |= none
    frame = pl.DataFrame(
        {
            "first": first.str.to_lowercase(),
            "last": last.str.to_lowercase(),
            "sep": pick((".", "_", ""), choice_idx(rng, n, 3)),
            "hex": hex_strings(rng, n, 3, 4),
            "dig": digit_strings(rng, n, 4),
            "suffix": digit_strings(rng, n, 3),
            "domain": pick(vocab.EMAIL_DOMAINS, choice_idx(rng, n, 6, vocab.EMAIL_DOMAIN_WEIGHTS)),
            "typo": pick(vocab.TYPO_DOMAINS, choice_idx(rng, n, len(vocab.TYPO_DOMAINS))),
            "cased": pick(vocab.CASED_DOMAINS, choice_idx(rng, n, len(vocab.CASED_DOMAINS))),
            "case_kind": pl.Series(rng.integers(0, 3, size=n)),
            "coin": pl.Series(rng.random(n)),
            "prefix_on": prefix_on,
            "suffix_on": suffix_on,
            "case_on": case_on,
            "typo_on": typo_on,
        }
    )
    local = pl.concat_str([pl.col("first"), pl.col("sep"), pl.col("last")])
    pre = (
        pl.when(~pl.col("prefix_on"))
        .then(pl.lit(""))
        .when(pl.col("coin") < 0.5)
        .then(pl.col("hex"))
        .otherwise(pl.col("dig"))
    )
    suf = pl.when(pl.col("suffix_on")).then(pl.col("suffix")).otherwise(pl.lit(""))
    local = pl.concat_str([pre, local, suf])
    local = (
        pl.when(~pl.col("case_on"))
        .then(local)
        .when(pl.col("case_kind") == 0)
        .then(local.str.to_uppercase())
        .when(pl.col("case_kind") == 1)
        .then(local.str.to_titlecase())
        .otherwise(local)
    )
    domain = (
        pl.when(pl.col("typo_on"))
        .then(pl.col("typo"))
        .when(pl.col("case_on") & (pl.col("case_kind") == 2))
        .then(pl.col("cased"))
        .otherwise(pl.col("domain"))
    )
    email = frame.select(pl.concat_str([local, pl.lit("@"), domain])).to_series()
    return email, messy


def _break_emails(rng: np.random.Generator, emails: pl.Series) -> pl.Series:
    """Emails beyond repair: no ``@``, ``@@``, `` at `` or no domain at all."""
    kind = pl.Series(rng.integers(0, 4, size=len(emails)))
    e = pl.col("e")
    return (
        pl.DataFrame({"e": emails, "k": kind})
        .select(
            pl.when(pl.col("k") == 0)
            .then(e.str.replace("@", ".", literal=True))
            .when(pl.col("k") == 1)
            .then(e.str.replace("@", "@@", literal=True))
            .when(pl.col("k") == 2)
            .then(e.str.replace("@", " at ", literal=True))
            .otherwise(e.str.replace(r"@.*$", "@"))
        )
        .to_series()
    )


def generate_customers(
    rng: np.random.Generator, n: int, rates: DefectRates, as_of: date
) -> pl.DataFrame:
    """A fresh customers frame of n rows with defects injected at ``rates`` (exact counts).

    Sign-up dates fall in 2015 .. Oct 2025 and always before ``as_of`` (the snapshot date).
    """
    signup_high = min(_SIGNUP_RANGE[1], (as_of - date(1970, 1, 1)).days)
    signup_low = min(_SIGNUP_RANGE[0], signup_high - 365)
    first = pick(vocab.FIRST_NAMES, choice_idx(rng, n, len(vocab.FIRST_NAMES)))
    last = pick(vocab.LAST_NAMES, choice_idx(rng, n, len(vocab.LAST_NAMES)))
    email, messy = _emails(rng, first, last, rates.messy_email)
    columns: dict[str, pl.Series] = {
        "customer_id": uuid4_strings(rng, n),
        "name": pl.DataFrame({"f": first, "l": last})
        .select(pl.concat_str([pl.col("f"), pl.col("l")], separator=" "))
        .to_series(),
        "Gender": pick(("M", "F"), choice_idx(rng, n, 2)),
        "DATE of biRTH": format_dates(rng.integers(*_DOB_RANGE, size=n)),
        "signup_date": format_dates(rng.integers(signup_low, signup_high, size=n)),
        "email": email,
        "address": addresses(rng, n),
    }
    counts = [
        defect_count(rates.missing_key, n),
        defect_count(rates.invalid_email, n),
        defect_count(rates.unknown_state, n),
        defect_count(rates.bad_gender, n),
        defect_count(rates.unparseable_date, n),
    ]
    codes, _ = block_assign(rng, n, counts)
    for k, name in enumerate(CUSTOMER_DEFECTS, start=1):
        rows = np.flatnonzero(codes == k)
        if not len(rows):
            continue
        m = len(rows)
        if name == "missing_key":
            columns["customer_id"].scatter(rows, None)
        elif name == "invalid_email_unrepairable":
            columns["email"].scatter(rows, _break_emails(rng, columns["email"].gather(rows)))
        elif name == "unknown_state":
            columns["address"].scatter(rows, regular_addresses(rng, m, vocab.BAD_STATE_CODES))
        elif name == "bad_gender":
            columns["Gender"].scatter(rows, pick(vocab.BAD_GENDERS, choice_idx(rng, m, 4)))
        else:
            field = "DATE of biRTH" if rng.random() < 0.5 else "signup_date"
            bad = pick(vocab.BAD_DATES, choice_idx(rng, m, len(vocab.BAD_DATES)))
            columns[field].scatter(rows, bad)
    defect = pl.Series([None, *CUSTOMER_DEFECTS], dtype=pl.String).gather(
        pl.Series(codes, dtype=pl.UInt32)
    )
    email, cleaned = pl.col("email"), pl.col("_cleaned")
    valid = cleaned.str.contains(EMAIL_SYNTAX).fill_null(False)
    return (
        pl.DataFrame(columns)
        .with_columns(_cleaned=clean_email(email))  # once: eager frames skip CSE
        .with_columns(
            _defect=defect,
            _messy_email=pl.Series(messy),
            _repairable_email=valid & (cleaned != email),
            _domain_fixed_email=valid & (cleaned != email.str.strip_chars().str.to_lowercase()),
            _propensity=pl.Series(rng.beta(0.5, 2.5, size=n)),
        )
        .drop("_cleaned")
    )


def evolve_customers(
    rng: np.random.Generator, previous: pl.DataFrame, rates: DefectRates, as_of: date
) -> tuple[pl.DataFrame, dict[str, int]]:
    """The next snapshot: ~``address_change`` of clean customers move, new customers join.

    Only rows without a defect move, and their new address is valid, so the previous
    snapshot's defect counts carry over unchanged for old rows. Returns (frame, changes).
    """
    n = previous.height
    clean = np.flatnonzero(previous["_defect"].is_null().to_numpy())
    moves = rng.choice(
        clean, size=min(len(clean), defect_count(rates.address_change, n)), replace=False
    )
    moves.sort()
    address = previous["address"].clone()
    address.scatter(moves, addresses(rng, len(moves)))
    changed = int((address != previous["address"]).sum())
    moved = previous.with_columns(address=address)
    newcomers = generate_customers(rng, defect_count(rates.new_customers, n), rates, as_of)
    frame = pl.concat([moved, newcomers], how="vertical")
    return frame, {"address_changes": changed, "new_customers": newcomers.height}
