"""DataCleaner: one pure Polars expression per cleaning rule.

Every function takes an expression over a raw text column (bronze keeps every value as text) and
returns the cleaned expression; nothing here does I/O or raises on bad data. A value that cannot
be cleaned becomes null; the DataQualityChecker compares the raw and cleaned values to decide
whether that null is an issue (the row loads) or a reject (the row cannot load).

All rules treat an empty or whitespace-only string as null, so ``resolution_date = ""`` (how the
sources spell "unresolved") is simply missing. Cleaning is idempotent: cleaning a cleaned value
returns it unchanged (a property test holds this).

Reference facts (allowed values, state codes, email typo domains) come from
:mod:`coretelecoms.contracts`; this module only says how to apply them.

Speed without changing a result: columns that repeat few values are cleaned once per distinct
value (:class:`DistinctMemo`, :data:`REPEATING_RULES`); UUIDs, timestamps and ids take a
cheap path for their everyday shape, the full rule only on the other values
(:meth:`DataCleaner.stages`), and addresses the full rule once per distinct other value
(:meth:`DataCleaner.clean_column`).
Tests hold all of them equal to the plain rules.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

import polars as pl

from coretelecoms.contracts.base import Field, Rule
from coretelecoms.contracts.reference import (
    EMAIL_DOMAIN_FIXES,
    STATE_CODES,
    US_STATES,
    US_TERRITORIES,
)

INT32_MAX = 2**31 - 1

_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_INT = r"^\+?[0-9]{1,10}(?:\.0+)?$"
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_TIMESTAMP = r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$"
# The local part is runs of non-dot characters joined by single dots: no leading, trailing or
# doubled dot (the domain's labels cannot be empty, so ".." can only be in the local part).
_EMAIL = (
    r"^[a-z0-9_%+\-](?:\.?[a-z0-9_%+\-])*"
    r"@(?:[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?\.)+[a-z]{2,}$"
)
# The last line of an address: "Darrenland, NY 13297", "APO AA 12094", "San Juan, PR 00901".
# Not anchored at the start, so the regex engine's fast search finds the last line and only
# that short span is captured.
_ADDRESS_LAST_LINE = (
    r"\n[ \t]*(?P<city>[^\r\n,]*[^\r\n, \t]),?[ \t]+(?P<state>[A-Za-z]{2})[ \t]+"
    r"(?P<zip>[0-9]{5})(?:-[0-9]{4})?[ \t]*$"
)
ADDRESS_PARTS = ("street", "city", "state_code", "state_name", "zip_code")
"""Columns an ADDRESS field is split into (the customers contract's silver columns)."""


Stages = tuple[list[list[pl.Expr]], pl.Expr]
"""``(stages, final)``: helper columns to add with ``with_columns``, level by level, then the
result. Polars evaluates a sub-expression once per use inside one expression, so a rule that
uses a part several times computes it once as a helper column instead."""


def _key(expr: pl.Expr) -> pl.Expr:
    """Case-, space- and punctuation-insensitive lookup key: 'in progress' ~ 'In-Progress'."""
    return expr.str.to_lowercase().str.replace_all(r"[^a-z0-9]", "")


def _lookup_key(value: str) -> str:
    return re.sub(r"[^a-z0-9]", "", value.lower())


def blank_to_null(expr: pl.Expr) -> pl.Expr:
    """Strip surrounding whitespace; empty or whitespace-only -> null."""
    stripped = expr.str.strip_chars()
    return pl.when(stripped.str.len_bytes() > 0).then(stripped)


def has_text(expr: pl.Expr) -> pl.Expr:
    """Has a non-blank character (false for null). A strip and a length rather than a ``\\S``
    search: the same set of blanks (Unicode White_Space, checked on every code point), and
    over the mostly-null columns the checker asks about it costs a quarter."""
    return (expr.str.strip_chars().str.len_bytes() > 0).fill_null(False)


def _distinct_table(
    frame: pl.DataFrame, name: str, rule: Callable[[pl.Expr], pl.Expr]
) -> pl.LazyFrame:
    """The distinct values of column ``name`` (null included) and their cleaned values
    (``__new``)."""
    values = frame.lazy().select(pl.col(name).unique())
    return values.with_columns(rule(pl.col(name)).alias("__new"))


def _looked_up(expr: pl.Expr, table: pl.DataFrame, name: str) -> pl.Expr:
    """``expr`` mapped through ``table`` (of :func:`_distinct_table`); null where a value is
    not in it (null is a value there like any other)."""
    mapped = table.get_column("__new")
    return expr.replace_strict(
        table.get_column(name), mapped, default=None, return_dtype=mapped.dtype
    )


MEMO_MAX_VALUES = 100_000
"""Most distinct values :class:`DistinctMemo` remembers of one column; a column with more is
not a repeating one in this source, and is cleaned batch by batch instead."""


class DistinctMemo:
    """``rules[name](pl.col(name))`` per column, evaluated once per distinct value, remembering
    the cleaned distinct values from batch to batch of one source version.

    Most columns repeat a handful of values (a batch of 100 000 call logs has five spellings of
    the category and a hundred agent ids), so the regex and parsing work scales with the
    distinct values rather than the rows; what remains per row is one hash lookup. Each rule
    must be value-wise (its result for a value depends on that value alone), as every cleaning
    rule is. On a column of mostly distinct values (ids, emails) it costs more than the rule
    itself: use it for :data:`REPEATING_RULES`. A rule should give a non-null result (the
    checker wraps its rules in a struct): a null result looks like a lookup that missed, which
    stays correct but cleans that value again in every batch.

    Finding a batch's distinct values is a hash pass over every row (about as much as the
    lookup itself), and the repeating columns of one version keep the same few values in every
    batch. So once a column's values are known, a batch is only looked up; the rows whose value
    was not known (a lookup misses: null there) are few, and only their distinct values are
    cleaned and added. The rules are value-wise, so a value's cleaned value is the same
    whichever batch first met it: the results do not depend on the batch order or on which
    thread got there first. Safe to share between threads.
    """

    def __init__(self, rules: dict[str, Callable[[pl.Expr], pl.Expr]]) -> None:
        self._rules = rules
        self._tables: dict[str, pl.DataFrame] = {}
        self._per_batch: set[str] = set()  # columns with too many values to remember
        self._lock = threading.Lock()

    def columns(self, frame: pl.DataFrame) -> dict[str, pl.Series]:
        """``rules[name](pl.col(name))`` evaluated on ``frame``, one Series per column."""
        with self._lock:
            tables = dict(self._tables)
            per_batch = set(self._per_batch)
        fresh = [n for n in self._rules if n not in tables or n in per_batch]
        for name, table in zip(
            fresh,
            pl.collect_all(
                (_distinct_table(frame, n, self._rules[n]) for n in fresh), engine="in-memory"
            ),
            strict=True,
        ):
            tables[name] = table
        looked = frame.select(
            _looked_up(pl.col(n), tables[n], n).alias(n) for n in self._rules
        ).get_columns()
        out = {s.name: s for s in looked}
        # Lookups that missed: values this batch has that the remembered tables lack.
        missed = [n for n in self._rules if n not in fresh and out[n].null_count()]
        added = pl.collect_all(
            (
                _distinct_table(frame.filter(out[n].is_null()).select(n), n, self._rules[n])
                for n in missed
            ),
            engine="in-memory",
        )
        for name, extra in zip(missed, added, strict=True):
            miss = pl.lit(out[name]).is_null()
            out[name] = frame.select(
                pl.when(miss)
                .then(_looked_up(pl.col(name), extra, name))
                .otherwise(pl.lit(out[name]))
                .alias(name)
            ).to_series()
            tables[name] = pl.concat([tables[name], extra])
        self._remember({n: tables[n] for n in [*fresh, *missed]})
        return out

    def _remember(self, tables: dict[str, pl.DataFrame]) -> None:
        with self._lock:
            for name, table in tables.items():
                if name in self._per_batch:
                    continue
                known = self._tables.get(name)
                # another thread may have added some of the same values meanwhile
                merged = (
                    table
                    if known is None
                    else pl.concat([known, table]).unique(name, keep="first", maintain_order=True)
                )
                if merged.height > MEMO_MAX_VALUES:
                    self._per_batch.add(name)
                    self._tables.pop(name, None)
                else:
                    self._tables[name] = merged


def _through_stages(
    frame: pl.DataFrame, stages: list[list[pl.Expr]], *select: pl.Expr
) -> pl.LazyFrame:
    """``frame`` with each level of staged columns added in turn, then ``select``."""
    lf = frame.lazy()
    for level in stages:
        lf = lf.with_columns(level)
    return lf.select(*select)


def clean_uuid(expr: pl.Expr) -> pl.Expr:
    """A UUID as validated lower-case canonical text (8-4-4-4-12 hex); anything else -> null."""
    value = expr.str.strip_chars().str.to_lowercase()  # "" fails the pattern: no blank check
    return pl.when(value.str.contains(_UUID)).then(value)


def uuid_stages(expr: pl.Expr, prefix: str) -> Stages:
    """:func:`clean_uuid` for less work: a value already in canonical form (how every source
    writes them) is its own cleaned value after one match, without the strip and lower-case
    copies; only the other values (null elsewhere, so nearly free) take the full rule."""
    plain, odd = pl.col(f"{prefix}plain"), pl.col(f"{prefix}odd")
    return (
        _plain_stages(expr, prefix, _UUID),
        # fill_null rather than otherwise: no copy when every value is plain (the usual batch)
        pl.when(plain).then(expr).fill_null(clean_uuid(odd)),
    )


def clean_int_id(expr: pl.Expr) -> pl.Expr:
    """A non-negative integer id that fits Postgres ``integer`` (``'1000.0'`` from a sheet is
    1000); anything else -> null. Returns Int32."""
    value = expr.str.strip_chars()  # "" fails the pattern below
    number = value.str.replace(r"\.0+$", "").str.replace(r"^\+", "").cast(pl.Int64, strict=False)
    ok = value.str.contains(_INT) & (number <= INT32_MAX)
    return pl.when(ok).then(number).cast(pl.Int32)


MAX_TEXT_ID_CHARS = 256
"""Longest source id accepted (real ids are 50-56 characters). Longer values are not ids, and a
unique index cannot hold them (a Postgres btree entry is limited to about 2.7 kB)."""


def clean_text_id(expr: pl.Expr) -> pl.Expr:
    """A source id kept verbatim apart from surrounding whitespace; blank or longer than
    ``MAX_TEXT_ID_CHARS`` -> null."""
    value = blank_to_null(expr)
    return pl.when(value.str.len_chars() <= MAX_TEXT_ID_CHARS).then(value)


def text_id_of_stripped(stripped: pl.Expr) -> pl.Expr:
    """:func:`clean_text_id` of a value already stripped: as one expression ``clean_text_id``
    strips four times (Polars evaluates a sub-expression once per use), so the checker stages
    the stripped value as a column and finishes here."""
    size = stripped.str.len_bytes()
    # characters counted only where the bytes are too many (a character is 1-4 bytes): the
    # count is a scan of the value, the byte length is not
    chars = pl.when(size > MAX_TEXT_ID_CHARS).then(stripped).str.len_chars()
    fits = (size <= MAX_TEXT_ID_CHARS) | (chars <= MAX_TEXT_ID_CHARS)
    return pl.when((size > 0) & fits).then(stripped)


def _text_id_kept(column: pl.Series) -> pl.Series | None:
    """:func:`clean_text_id` of a column in which the strip changes no value but blank ones,
    as the raw values themselves (null where blank or too long); None if some id has
    surrounding whitespace (then the stripped values are needed: the caller runs the rule).

    Why: ``strip_chars`` writes every value anew, and so do ``fill_null``, ``otherwise`` and
    ``coalesce``, while ``when/then`` with no ``otherwise`` shares the raw column's string
    buffers. A day's ~380 k call ids are ~27 MB of fresh memory when copied, and in a fresh
    process every fresh page is a fault (~3 us on the development machine): the copy cost ~90
    ns an id there, this path ~20 (a strip whose copy is dropped at once, for the lengths).
    """
    name = column.name
    col, stripped, size = pl.col(name), pl.col("__stripped"), pl.col("__size")
    frame = column.to_frame().with_columns(
        col.str.strip_chars().str.len_bytes().alias("__stripped"),
        col.str.len_bytes().alias("__size"),
    )
    if frame.select(((stripped != size) & (stripped > 0)).any()).item():
        return None
    # the value is its own stripped value, or blank: as in text_id_of_stripped
    chars = pl.when(size > MAX_TEXT_ID_CHARS).then(col).str.len_chars()
    fits = (size <= MAX_TEXT_ID_CHARS) | (chars <= MAX_TEXT_ID_CHARS)
    return frame.select(pl.when((stripped > 0) & fits).then(col).alias(name)).to_series()


def collapse_name(expr: pl.Expr) -> pl.Expr:
    """Stage 1 of name cleaning: trimmed, inner whitespace collapsed, blank -> null."""
    return blank_to_null(expr).str.replace_all(r"\s+", " ")


def title_case_name(value: pl.Expr) -> pl.Expr:
    """Stage 2: title-case a collapsed name written all upper or all lower case."""
    one_case = ~(value.str.contains(r"\p{Ll}") & value.str.contains(r"\p{Lu}"))
    return pl.when(one_case).then(value.str.to_titlecase()).otherwise(value)


def clean_person_name(expr: pl.Expr) -> pl.Expr:
    """Trim, collapse inner whitespace, title-case names written all upper or all lower case.

    Mixed-case names are kept as written, so 'McDonald' or 'DeShawn' are not flattened.
    """
    return title_case_name(collapse_name(expr))


def clean_enum(expr: pl.Expr, allowed: tuple[str, ...]) -> pl.Expr:
    """Canonical spelling from ``allowed``, matched ignoring case, spaces and punctuation
    (``intern``/``Intern`` -> ``Intern``, ``in progress`` -> ``In-Progress``); unknown -> null."""
    mapping = {_lookup_key(v): v for v in allowed}
    # "" has the key "", which no allowed value has: blank -> null without a separate check
    return _key(expr).replace_strict(mapping, default=None, return_dtype=pl.String)


def clean_date(expr: pl.Expr) -> pl.Expr:
    """Exactly ``YYYY-MM-DD`` -> pl.Date; other shapes and impossible dates (02-30) -> null.

    Strict on purpose: every source writes this one shape, so anything else is a defect to
    record, not a format to guess.
    """
    value = expr.str.strip_chars()  # "" fails the pattern
    return pl.when(value.str.contains(_DATE)).then(value).str.to_date("%Y-%m-%d", strict=False)


_TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"


def _parse_timestamp(value: pl.Expr) -> pl.Expr:
    # cache=False: the parse cache is a hash lookup per value, and times are nearly all distinct
    return value.str.to_datetime(_TIMESTAMP_FORMAT, strict=False, time_unit="us", cache=False)


def clean_timestamp(expr: pl.Expr) -> pl.Expr:
    """Exactly ``YYYY-MM-DD HH:MM:SS`` (how every source writes times) -> pl.Datetime('us');
    other shapes and impossible times -> null.

    The pattern check stays in front of the parse: Polars' parser also accepts shapes the
    sources never write (``2025-01- 5 01:02:03``, ``-025-01-05 ...``)."""
    value = expr.str.strip_chars()  # "" fails the pattern
    return _parse_timestamp(pl.when(value.str.contains(_TIMESTAMP)).then(value))


def _plain_stages(expr: pl.Expr, prefix: str, pattern: str) -> list[list[pl.Expr]]:
    """Stage columns ``plain`` (the raw value matches ``pattern`` as it is) and ``odd`` (the
    other raw values, null where plain: no copy when every value is plain)."""
    plain = pl.col(f"{prefix}plain")
    return [
        [expr.str.contains(pattern).fill_null(False).alias(f"{prefix}plain")],
        [pl.when(~plain).then(expr).alias(f"{prefix}odd")],
    ]


def timestamp_stages(expr: pl.Expr, prefix: str) -> Stages:
    """:func:`clean_timestamp` for less work: a raw value already in the one shape (no padding)
    is checked and parsed as it is, without the strip copy and without masking text; only the
    other values (blank, padded, garbage: null elsewhere, so nearly free) take the full rule."""
    plain, odd = pl.col(f"{prefix}plain"), pl.col(f"{prefix}odd")
    return (
        _plain_stages(expr, prefix, _TIMESTAMP),
        pl.when(plain).then(_parse_timestamp(expr)).otherwise(clean_timestamp(odd)),
    )


# Leftmost-first matching: "@gmail.om\0" (starting at the "@") wins over the generic ".om\0".
_EMAIL_FIXES = {
    **{f"@{bad}\x00": f"@{good}\x00" for bad, good in EMAIL_DOMAIN_FIXES.items()},
    ".om\x00": ".com\x00",
}


def lower_email(expr: pl.Expr) -> pl.Expr:
    """Stage 1 of email cleaning: trimmed and lower-cased ("" stays "" and fails validation).

    The checker compares the repaired value with this stage (the form a repair is measured
    against) instead of normalising the raw value again.
    """
    return expr.str.strip_chars().str.to_lowercase()


def fix_email_domain(lowered: pl.Expr) -> pl.Expr:
    """Stage 2: known domain typos of a lower-cased email repaired.

    The typo table is applied with one Aho-Corasick pass (``str.replace_many``) on the value
    with a NUL sentinel appended, so ``@gmail.co`` only matches a whole domain (never the start
    of ``@gmail.com``); a capturing regex or split would be several times slower.
    """
    return (lowered + "\x00").str.replace_many(_EMAIL_FIXES).str.strip_suffix("\x00")


# A lower-cased value the typo table changes, sentinel left out: it ends in one of the misspelt
# domains or in ".om" (every key of the table ends in the sentinel). Anchored at the end only, so
# the regex engine searches backwards from the end of the value, not through the local part.
_EMAIL_TYPO_END = "(?:@(?:" + "|".join(re.escape(b) for b in EMAIL_DOMAIN_FIXES) + r")|\.om)$"


def fix_email_typos_only(lowered: pl.Expr) -> pl.Expr:
    """:func:`fix_email_domain` run only on the values that end in a known typo; the others
    (three in four on the CRM export) are kept as they are.

    Equal to :func:`fix_email_domain` on every value without a NUL character. A value with a
    NUL inside can differ (the table's keys end in the NUL sentinel, so ``x.om\\0y@a.b`` is
    changed before its end), but such a value fails :func:`validate_email` either way and the
    repair keeps the NUL, so :func:`clean_email` is equal on every value (a property test holds
    this). Per row a backward match and a masked copy (~40 ns); the sentinel copy, Aho-Corasick
    pass and strip (~120 ns) only on the typo rows.
    """
    return fix_email_domain(pl.when(lowered.str.contains(_EMAIL_TYPO_END)).then(lowered)).fill_null(
        lowered
    )


def repair_email(expr: pl.Expr) -> pl.Expr:
    """Stages 1 and 2 of email cleaning: lower-cased, trimmed, known domain typos repaired."""
    return fix_email_domain(lower_email(expr))


def validate_email(email: pl.Expr) -> pl.Expr:
    """Stage 2: the repaired email if it is syntactically valid, else null.

    One pattern: "no ``..``" is part of it rather than a second search and a boolean and
    (the staged email rule ~10-15 ns a row less on the CRM export)."""
    return pl.when(email.str.contains(_EMAIL)).then(email)


def clean_email(expr: pl.Expr) -> pl.Expr:
    """Lower-case, repair known domain typos (``gmail.om``, ``hotmai.com``, any ``.om``), and
    keep only syntactically valid addresses. The hex/digit prefix and suffix around the name
    (``2772brianna_schultz525``) are part of the real local part and are kept."""
    return validate_email(repair_email(expr))


def address_value(expr: pl.Expr) -> pl.Expr:
    """Stage 1 of address parsing: trimmed text, blank -> null. (Windows ``\r\n`` line breaks
    are handled by the stage-2 patterns rather than rewritten: one allocation fewer.)"""
    return blank_to_null(expr)


def address_last_line(value: pl.Expr) -> pl.Expr:
    """Stage 2: struct (city, state, zip) of the last line, null when it is not one."""
    return value.str.extract_groups(_ADDRESS_LAST_LINE)


def address_street(value: pl.Expr) -> pl.Expr:
    """Stage 2: everything before the last line, lines joined with ", " (meaningless, and
    discarded by :func:`assemble_address`, when there is no last line)."""
    return (
        value.str.replace(r"[ \t]*\r?\n[^\n]*$", "")
        .str.strip_chars()
        .str.replace_all(r"[ \t]*\r?\n\s*", ", ")
    )


def assemble_address(last_line: pl.Expr, street: pl.Expr) -> pl.Expr:
    """Stage 3: the struct of ``ADDRESS_PARTS`` from the stage-2 results."""
    city = last_line.struct.field("city")
    ok = city.is_not_null() & (street.str.len_bytes() > 0)
    code = last_line.struct.field("state").str.to_uppercase()
    name = code.replace_strict(STATE_CODES, default=None, return_dtype=pl.String)
    return pl.struct(
        pl.when(ok).then(street).alias("street"),
        pl.when(ok).then(city).alias("city"),
        pl.when(ok & name.is_not_null()).then(code).alias("state_code"),
        pl.when(ok).then(name).alias("state_name"),
        pl.when(ok).then(last_line.struct.field("zip")).alias("zip_code"),
    )


def parse_address(expr: pl.Expr) -> pl.Expr:
    """Split a US postal address into a struct of ``ADDRESS_PARTS``.

    The last line is ``City, ST 12345`` (or ``APO AA 12094`` for military mail: ``PSC``/
    ``Unit``/``USNS`` street lines with ``APO``/``FPO``/``DPO`` and ``AA``/``AE``/``AP``);
    territories (``PR``, ``GU``, ``MP``, ``VI``, ...) are ordinary state codes. Everything before
    the last line is the street (several lines are joined with ", "). An address without a line
    break, or whose last line does not end in a state code and a ZIP, is unparseable: all parts
    null. An unknown state code gives null state_code and state_name but keeps street, city and
    zip. ZIP+4 is cut to the five-digit ZIP (text, so leading zeros survive).

    As one expression Polars evaluates the shared sub-expressions once per use; the checker
    runs the everyday shape through :func:`plain_address_stages` and only the other values
    through this parser, staged as columns (:meth:`DataCleaner.clean_column`).
    """
    value = address_value(expr)
    return assemble_address(address_last_line(value), address_street(value))


# The everyday last line, "Darrenland, NY 13297" or "APO AA 12094": one space before the state
# code and the ZIP, an upper-case code, no ZIP+4, no stray whitespace.
_PLAIN_LAST_LINE = r"^[^\s,](?:[^\r\n,]*[^\s,])?,? [A-Z]{2} [0-9]{5}$"


def plain_address_stages(expr: pl.Expr, prefix: str) -> Stages:
    """:func:`parse_address` for the everyday shape, two lines ending ``City, ST 12345`` (or
    ``APO AA 12094``); null for any other shape and for unknown state codes.

    Where it is not null it equals :func:`parse_address`, at a third of the cost: one split,
    one short anchored match and fixed-width slices from the end instead of a capturing regex
    (:meth:`DataCleaner.clean_column` sends the other shapes to the full parser). The raw
    value is split as it is, without the full parser's strip (a copy of every value): leading
    blanks go with the street's own strip, and trailing ones fail the anchored match, so such a
    value takes the full parser.
    """
    lines, street, last, code = (f"{prefix}{n}" for n in ("lines", "street", "last", "code"))
    split = pl.col(lines).struct
    name = pl.col(code).replace_strict(STATE_CODES, default=None, return_dtype=pl.String)
    plain = (
        pl.col(last).str.contains(_PLAIN_LAST_LINE)
        & (pl.col(street).str.len_bytes() > 0)
        & name.is_not_null()
    )
    final = pl.when(plain).then(
        pl.struct(
            pl.col(street).alias("street"),
            pl.col(last).str.head(-9).str.strip_suffix(",").alias("city"),
            pl.col(code).alias("state_code"),
            name.alias("state_name"),
            pl.col(last).str.tail(5).alias("zip_code"),
        )
    )
    return (
        [
            [expr.str.splitn("\n", 2).alias(lines)],
            [
                split.field("field_0").str.strip_chars().alias(street),
                split.field("field_1").alias(last),
            ],
            [pl.col(last).str.slice(-8, 2).alias(code)],
        ],
        final,
    )


def format_address(parts: pl.Expr) -> pl.Expr:
    """The cleaned address as one text value, ``street\ncity, ST zip`` (for the audit's
    ``cleaned_value``); a nulled state code is left out, a fully unparsed address is null."""
    f = parts.struct.field
    state = pl.concat_str([f("state_code"), pl.lit(" ")])
    text = pl.concat_str(
        [f("street"), pl.lit("\n"), f("city"), pl.lit(", "), state, f("zip_code")],
        ignore_nulls=True,
    )
    return pl.when(f("street").is_not_null()).then(text)


_STATE_NAMES = {**US_STATES, **US_TERRITORIES}
_STATE_NAME_LOOKUP = {
    **{_lookup_key(n): n for n in _STATE_NAMES.values()},
    **{code.lower(): n for code, n in _STATE_NAMES.items()},
}


def clean_us_state_name(expr: pl.Expr) -> pl.Expr:
    """A full US state (or territory) name in canonical spelling, matched ignoring case and
    spacing; a postal code ('NY') is expanded to its name. Unknown -> null."""
    return _key(expr).replace_strict(_STATE_NAME_LOOKUP, default=None, return_dtype=pl.String)


def is_state_code(expr: pl.Expr) -> pl.Expr:
    """True where a state-name field holds a two-letter postal code instead of a name."""
    return blank_to_null(expr).str.to_lowercase().is_in(list(_STATE_NAME_LOOKUP)) & (
        blank_to_null(expr).str.len_chars() == 2
    )


_VALUE_RULES: dict[Rule, Callable[[pl.Expr], pl.Expr]] = {
    Rule.UUID: clean_uuid,
    Rule.INT_ID: clean_int_id,
    Rule.TEXT_ID: clean_text_id,
    Rule.PERSON_NAME: clean_person_name,
    Rule.DATE: clean_date,
    Rule.TIMESTAMP: clean_timestamp,
    Rule.EMAIL: clean_email,
    Rule.ADDRESS: parse_address,
    Rule.US_STATE_NAME: clean_us_state_name,
}
_ENUM_RULES = (Rule.GENDER, Rule.ENUM)
_FAST_PATHS: dict[Rule, Callable[[pl.Expr, str], Stages]] = {
    Rule.ADDRESS: plain_address_stages,
}

REPEATING_RULES = frozenset(
    {Rule.PERSON_NAME, Rule.GENDER, Rule.ENUM, Rule.INT_ID, Rule.DATE, Rule.US_STATE_NAME}
)
"""Rules whose columns repeat few values in every source (names are drawn from a first- and a
last-name list, dates from days, ids from a hundred agents): the checker cleans them once per
distinct value (:class:`DistinctMemo`). Ids, timestamps, emails and addresses are nearly all
distinct and are cleaned per row."""


class DataCleaner:
    """Applies the contract's rule of a field: ``DataCleaner.clean(field, pl.col(field.raw))``.

    For ``Rule.ADDRESS`` the result is a struct of ``ADDRESS_PARTS``; every other rule returns a
    scalar expression of the field's silver type (text, Int32, Date, Datetime('us')).
    """

    @staticmethod
    def stages(field: Field, expr: pl.Expr, prefix: str) -> tuple[list[list[pl.Expr]], pl.Expr]:
        """The same cleaning as :meth:`clean`, split into helper-column stages.

        Returns ``(stages, final)``: apply each stage with ``with_columns`` in order (helper
        columns are named ``prefix + ...``), then ``final``. Rules whose single expression
        would recompute shared parts (EMAIL, ADDRESS, TEXT_ID) are staged; for EMAIL the stage
        column :meth:`email_lowered` holds the trimmed, lower-cased value. TIMESTAMP and UUID
        are staged to take the everyday shape without copies (:func:`timestamp_stages`,
        :func:`uuid_stages`). The other rules have no stages (the checker cleans
        :data:`REPEATING_RULES` with :class:`DistinctMemo`).
        """
        if field.rule is Rule.EMAIL:
            lowered = DataCleaner.email_lowered(prefix)
            return (
                [
                    [lower_email(expr).alias(lowered)],
                    [fix_email_typos_only(pl.col(lowered)).alias(prefix)],
                ],
                validate_email(pl.col(prefix)),
            )
        if field.rule is Rule.TEXT_ID:
            stripped = f"{prefix}stripped"
            return [[expr.str.strip_chars().alias(stripped)]], text_id_of_stripped(pl.col(stripped))
        if field.rule is Rule.TIMESTAMP:
            return timestamp_stages(expr, prefix)
        if field.rule is Rule.UUID:
            return uuid_stages(expr, prefix)
        if field.rule is not Rule.ADDRESS:
            return [], DataCleaner.clean(field, expr)
        value, line, street = f"{prefix}value", f"{prefix}line", f"{prefix}street"
        return (
            [
                [address_value(expr).alias(value)],
                [
                    address_last_line(pl.col(value)).alias(line),
                    address_street(pl.col(value)).alias(street),
                ],
            ],
            assemble_address(pl.col(line), pl.col(street)),
        )

    @staticmethod
    def staged_presence(field: Field, prefix: str) -> pl.Expr | None:
        """Whether the raw value has a non-blank character, read off the columns of
        :meth:`stages` (``prefix`` as given there) where that is cheaper than searching the raw
        value; None for the other rules."""
        if field.rule is Rule.TEXT_ID:
            return (pl.col(f"{prefix}stripped").str.len_bytes() > 0).fill_null(False)  # has_text
        if field.rule in (Rule.TIMESTAMP, Rule.UUID):
            return pl.col(f"{prefix}plain") | has_text(pl.col(f"{prefix}odd"))
        return None

    @staticmethod
    def has_fast_path(field: Field) -> bool:
        """True when :meth:`clean_column` has a cheaper path for the usual shape of values."""
        return field.rule in _FAST_PATHS

    @staticmethod
    def clean_column(field: Field, column: pl.Series) -> pl.Series:
        """The cleaned values of a whole column (eager), equal to :meth:`clean` on it.

        Rules with a fast path (ADDRESS) clean the usual shape of value cheaply on every row,
        and the full rule runs once per distinct remaining value (a few per batch: defects,
        military or multi-line addresses); other rules run :meth:`stages`.
        """
        name = column.name
        col = pl.col(name)
        if field.rule is Rule.TEXT_ID:
            kept = _text_id_kept(column)
            if kept is not None:
                return kept
        fast_rule = _FAST_PATHS.get(field.rule)
        if fast_rule is None:
            stages, final = DataCleaner.stages(field, col, "__staged_")
            staged = _through_stages(column.to_frame(), stages, final.alias(name))
            return staged.collect(engine="in-memory").to_series()
        stages, final = fast_rule(col, "__fast_")
        fast = _through_stages(column.to_frame(), stages, col, final.alias("__fast")).collect(
            engine="streaming"  # both cores
        )
        is_fast = pl.col("__fast").is_not_null()
        values = fast.filter(~is_fast).get_column(name).unique()
        full_stages, full_final = DataCleaner.stages(field, col, "__full_")
        odd = _through_stages(values.to_frame(), full_stages, full_final)
        mapped = odd.collect(engine="in-memory").to_series()
        # Only the other rows are looked up: the fast rows are null here, which costs no hash.
        full = (
            pl.when(~is_fast)
            .then(col)
            .replace_strict(values, mapped, default=None, return_dtype=mapped.dtype)
        )
        return fast.select(pl.when(is_fast).then(pl.col("__fast")).otherwise(full).alias(name))[
            name
        ]

    @staticmethod
    def email_lowered(prefix: str) -> str:
        """Name of the EMAIL stage column holding the trimmed, lower-cased raw value."""
        return f"{prefix}lowered"

    @staticmethod
    def clean(field: Field, expr: pl.Expr) -> pl.Expr:
        """The cleaned value of ``expr`` under ``field.rule``.

        Raises:
            ValueError: the rule has no implementation (a contract declares a new Rule), or an
                enum-like field declares no allowed values.
        """
        if field.rule in _ENUM_RULES:
            if not field.allowed:
                raise ValueError(f"field {field.name!r} ({field.rule}) declares no allowed values")
            return clean_enum(expr, field.allowed)
        rule = _VALUE_RULES.get(field.rule)
        if rule is None:
            raise ValueError(f"no cleaner for rule {field.rule!r} (field {field.name!r})")
        return rule(expr)


__all__ = [
    "ADDRESS_PARTS",
    "REPEATING_RULES",
    "DataCleaner",
    "DistinctMemo",
    "blank_to_null",
    "clean_date",
    "clean_email",
    "clean_enum",
    "clean_int_id",
    "clean_person_name",
    "clean_text_id",
    "clean_timestamp",
    "clean_us_state_name",
    "clean_uuid",
    "fix_email_typos_only",
    "format_address",
    "has_text",
    "is_state_code",
    "parse_address",
    "plain_address_stages",
    "text_id_of_stripped",
    "timestamp_stages",
    "uuid_stages",
]
