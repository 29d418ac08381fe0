"""Building blocks of the bad-input corpus: valid base rows per source, writers for each source
format, and the per-row expectations the harness checks.

A case's source is built from rows, and every row says what must become of it (``Row.outcome``):
loaded, unchanged, quarantined with a reason, or dropped as a duplicate, plus the field-level
issues it must raise. The harness derives the expected reconciliation figures, the silver keys,
the quarantine reasons and the issue counts from those rows, so "nothing else was lost" is checked
row by row, not just in total.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from coretelecoms.contracts import get_contract
from coretelecoms.contracts.reasons import DuplicateKind, IssueRule, RejectReason

BASE_DAY = date(2025, 11, 20)  # the template database holds customers and agents of this day
CASE_DAY = date(2025, 11, 21)  # every case runs for this logical date

CUSTOMER_IDS = (
    "0b6f2d4e-8a1c-4f3e-9b2d-1a2b3c4d5e6f",
    "1c7e3f5a-9b2d-4a4f-8c3e-2b3c4d5e6f70",
    "2d8f4a6b-ac3e-4b5a-9d4f-3c4d5e6f7081",
    "3e9a5b7c-bd4f-4c6b-ae5a-4d5e6f708192",
    "4fab6c8d-ce5a-4d7c-bf6b-5e6f708192a3",
    "5abc7d9e-df6b-4e8d-8a7c-6f708192a3b4",
)
UNKNOWN_CUSTOMER = "9f9f9f9f-0000-4000-8000-000000000000"
AGENT_IDS = (1000, 1001, 1002)
UNKNOWN_AGENT = 4242

# One string per classic injection pattern; every text field of the injection cases gets one.
INJECTIONS = (
    "'; DROP TABLE conformed.call_logs; --",
    "Robert'); DROP TABLE conformed.customers;--",
    '" OR "1"="1',
    "1; DELETE FROM ops.quarantine WHERE 1=1",
    "$$; TRUNCATE conformed.agents CASCADE; $$",
    "\\'; COPY conformed.customers TO PROGRAM 'id'; --",
)

LOADED = "loaded"
UNCHANGED = "unchanged"


def quarantined(reason: RejectReason | str) -> str:
    return f"quarantined:{reason}"


def duplicate(kind: DuplicateKind) -> str:
    return f"duplicate:{kind}"


@dataclass(frozen=True)
class Row:
    """One source row (raw header -> text) and what the pipeline must do with it."""

    values: dict[str, str | None]
    outcome: str = LOADED
    issues: tuple[tuple[str, IssueRule], ...] = ()  # (silver field, rule) expected on this row


# -- valid base rows -----------------------------------------------------------------------------


def customer(n: int, **raw: str | None) -> dict[str, str | None]:
    """Customer ``n`` (0..5 are the template's customers) as the CRM export spells it."""
    values: dict[str, str | None] = {
        "customer_id": CUSTOMER_IDS[n] if n < len(CUSTOMER_IDS) else _new_uuid(n),
        "name": f"Customer Number{n}",
        "Gender": "MF"[n % 2],
        "DATE of biRTH": f"19{70 + n:02d}-0{1 + n % 9}-1{n % 9}",
        "signup_date": f"2020-0{1 + n % 9}-0{1 + n % 9}",
        "email": f"{n}abc.customer{n}@gmail.com",
        "address": f"{100 + n} Paul Turnpike\nDarrenland, NY 1329{n % 10}",
    }
    values.update(raw)
    return values


def _new_uuid(n: int) -> str:
    return f"{n:08x}-aaaa-4bbb-8ccc-{n:012x}"


def agent(n: int, **raw: str | None) -> dict[str, str | None]:
    values: dict[str, str | None] = {
        "iD": str(AGENT_IDS[n] if n < len(AGENT_IDS) else 1000 + n),
        "NamE": f"Agent Number{n}",
        "experience": ("Intern", "Junior", "Senior")[n % 3],
        "state": ("Texas", "Ohio", "New York")[n % 3],
    }
    values.update(raw)
    return values


def call(n: int, **raw: str | None) -> dict[str, str | None]:
    """Call-log row ``n`` of the case day: valid, parents known."""
    values: dict[str, str | None] = {
        "": str(n),
        "call ID": f"call-{n:04d}-b7d1c0ffee5a11f0a1e20242ac120002deadbeef",
        "customeR iD": CUSTOMER_IDS[n % len(CUSTOMER_IDS)],
        "COMPLAINT_catego ry": "Payments",
        "agent ID": str(AGENT_IDS[n % len(AGENT_IDS)]),
        "call_start_time": f"2025-06-{1 + n % 28:02d} 10:{n % 60:02d}:00",
        "call_end_time": f"2025-06-{1 + n % 28:02d} 11:{n % 60:02d}:00",
        "resolutionstatus": "Resolved",
        "callLogsGenerationDate": CASE_DAY.isoformat(),
    }
    values.update(raw)
    return values


def social(n: int, **raw: str | None) -> dict[str, str | None]:
    values: dict[str, str | None] = {
        "complaint_id": f"sm-{n:04d}-5c0ffee5a11f0a1e20242ac120002deadbeefcafe",
        "customeR iD": CUSTOMER_IDS[n % len(CUSTOMER_IDS)],
        "COMPLAINT_catego ry": "Network Failure",
        "agent ID": str(AGENT_IDS[n % len(AGENT_IDS)]),
        "resolutionstatus": "Backlog",
        "request_date": f"2025-07-{1 + n % 28:02d} 09:00:00",
        "resolution_date": "",
        "media_channel": "Twitter",
        "MediaComplaintGenerationDate": CASE_DAY.isoformat(),
    }
    values.update(raw)
    return values


def web(n: int, **raw: str | None) -> dict[str, str | None]:
    values: dict[str, str | None] = {
        "Column1": str(n),
        "request_id": f"wf-{n:04d}-3c0ffee5a11f0a1e20242ac120002deadbeefcafe",
        "customeR iD": CUSTOMER_IDS[n % len(CUSTOMER_IDS)],
        "COMPLAINT_catego ry": "Router Delivery",
        "agent ID": str(AGENT_IDS[n % len(AGENT_IDS)]),
        "resolutionstatus": "In-Progress",
        "request_date": f"2025-08-{1 + n % 28:02d} 08:30:00",
        "resolution_date": "",
        "webFormGenerationDate": CASE_DAY.isoformat(),
    }
    values.update(raw)
    return values


def calls(count: int, start: int = 0) -> list[Row]:
    return [Row(call(n)) for n in range(start, start + count)]


def base_customers() -> list[Row]:
    """The template's customers as rows of a later snapshot: unchanged."""
    return [Row(customer(n), UNCHANGED) for n in range(len(CUSTOMER_IDS))]


# -- source formats ------------------------------------------------------------------------------


def header_of(entity: str) -> list[str]:
    contract = get_contract(entity)
    index = {"call_logs": [""], "web_form_complaints": ["Column1"]}.get(entity, [])
    return [*index, *contract.raw_columns]


def csv_bytes(
    rows: list[Row] | list[dict[str, str | None]],
    header: list[str],
    *,
    newline: str = "\n",
    encoding: str = "utf-8",
) -> bytes:
    """A pandas-style CSV (minimal quoting, multiline values quoted); missing cells are ""."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator=newline, quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    for row in rows:
        values = row.values if isinstance(row, Row) else row
        writer.writerow(["" if values.get(c) is None else values.get(c) for c in header])
    return out.getvalue().encode(encoding)


def json_columns_bytes(rows: list[Row], header: list[str]) -> bytes:
    """pandas ``to_json()`` default layout: ``{column: {"0": value, ...}}``."""
    doc = {c: {str(i): r.values.get(c) for i, r in enumerate(rows)} for c in header}
    return json.dumps(doc).encode()


def json_records_bytes(rows: list[Row], header: list[str]) -> bytes:
    """``to_json(orient="records")``: a list of row objects (not the contract's layout)."""
    return json.dumps([{c: r.values.get(c) for c in header} for r in rows]).encode()


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    """A workbook whose tab ``agents`` holds ``rows`` (header first)."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "agents"
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def agents_sheet(rows: list[Row], header: list[str] | None = None) -> list[list[Any]]:
    header = header or header_of("agents")
    return [header, *([r.values.get(c) for c in header] for r in rows)]


@dataclass(frozen=True)
class Table:
    """A web-form source table: ``columns`` are (name, Postgres type); rows by column name."""

    columns: tuple[tuple[str, str], ...]
    rows: list[Row]

    @classmethod
    def of(cls, rows: list[Row], header: list[str] | None = None) -> Table:
        header = header or header_of("web_form_complaints")
        types = {"Column1": "bigint", "agent ID": "bigint"}
        return cls(tuple((c, types.get(c, "text")) for c in header), rows)


Mutation = Callable[[bytes], bytes]


@dataclass(frozen=True)
class Source:
    """What a case puts where the pipeline reads ``entity`` for the case day.

    Exactly one of ``data`` (a file in the bucket or the agents workbook), ``table`` (the day's
    web-form table) or ``missing=True`` (nothing at all for the day).
    """

    data: bytes | None = None
    table: Table | None = None
    missing: bool = False
    rows: list[Row] = field(default_factory=list)  # what the data holds, for the expectations


def csv_source(
    entity: str,
    rows: list[Row],
    *,
    header: list[str] | None = None,
    mutate: Mutation | None = None,
    **options: Any,
) -> Source:
    data = csv_bytes(rows, header or header_of(entity), **options)
    return Source(data=mutate(data) if mutate else data, rows=rows)


def json_source(rows: list[Row], *, mutate: Mutation | None = None) -> Source:
    data = json_columns_bytes(rows, header_of("social_media_complaints"))
    return Source(data=mutate(data) if mutate else data, rows=rows)


# -- what must happen ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Fails:
    """The run must stop with ``error`` whose message names the source (and ``line``), and
    leave silver exactly as it was (and publish no bronze when extraction fails)."""

    error: str  # "SourceError" (extract) or "ContractError" (transform, before any load)
    match: str  # regex the message must contain
    line: int | None = None


@dataclass(frozen=True)
class Loads:
    """The run must succeed; figures, keys, quarantine and issues follow from the rows.

    ``drift``: unknown source columns that must be reported and dropped. ``values``: silver
    values that must be stored exactly (natural key, column) -> value.
    """

    drift: tuple[str, ...] = ()
    values: dict[tuple[str, str], Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NoData:
    """Nothing for the day: extraction and load both report ``no_data``, silver untouched."""


@dataclass(frozen=True)
class Case:
    id: str
    entity: str
    source: Source
    expect: Fails | Loads | NoData
    why: str  # the outcome a data engineer expects, and why
