"""The bad-input corpus: one case per thing a source can get wrong, with the outcome a data
engineer expects (see docs/reliability.md for the reasoning behind each decision).

Two kinds of outcome:

- ``Fails``: the file is broken as a whole (cannot be parsed, or breaks the entity contract).
  Nothing is loaded; the error names the source and, where it can, the line. Fix the source and
  rerun: the day then loads normally.
- ``Loads``: the file is fine as a whole; each bad row is quarantined with a reason code or
  loads with field-level issues, and every row is accounted for (``Row.outcome``).
"""

from __future__ import annotations

import json

from bad_input_sources import (
    AGENT_IDS,
    CUSTOMER_IDS,
    INJECTIONS,
    LOADED,
    UNCHANGED,
    UNKNOWN_AGENT,
    UNKNOWN_CUSTOMER,
    Case,
    Fails,
    Loads,
    NoData,
    Row,
    Source,
    Table,
    agent,
    agents_sheet,
    base_customers,
    call,
    calls,
    csv_bytes,
    csv_source,
    customer,
    duplicate,
    header_of,
    json_columns_bytes,
    json_records_bytes,
    json_source,
    quarantined,
    social,
    web,
    xlsx_bytes,
)

from coretelecoms.contracts.reasons import DuplicateKind, IssueRule, RejectReason

TEN_MB = 10 * 1024 * 1024
CALL_HEADER = header_of("call_logs")
CUSTOMER_HEADER = header_of("customers")
SOCIAL_HEADER = header_of("social_media_complaints")
WEB_HEADER = header_of("web_form_complaints")


def _replace_once(old: bytes, new: bytes):
    def mutate(data: bytes) -> bytes:
        assert data.count(old) == 1, f"marker {old!r} must occur once"
        return data.replace(old, new)

    return mutate


def _edit_line(line_no: int, edit):
    """Apply ``edit`` to physical line ``line_no`` (1-based) of the file."""

    def mutate(data: bytes) -> bytes:
        lines = data.split(b"\n")
        lines[line_no - 1] = edit(lines[line_no - 1])
        return b"\n".join(lines)

    return mutate


def _renamed(rows: list[Row], old: str, new: str) -> list[Row]:
    return [
        Row({(new if k == old else k): v for k, v in r.values.items()}, r.outcome, r.issues)
        for r in rows
    ]


def _without(header: list[str], column: str) -> list[str]:
    return [c for c in header if c != column]


# -- rows reused by several cases ----------------------------------------------------------------

SIX_CALLS = calls(6)
NEW_CUSTOMERS = [Row(customer(6)), Row(customer(7))]
CRLF_CUSTOMERS = [*base_customers(), *NEW_CUSTOMERS]
INVALID_JSON = json.dumps(
    {c: {str(i): social(i)[c] for i in range(4)} for c in SOCIAL_HEADER}, indent=1
).encode()
_BAD_JSON_AT = INVALID_JSON.index(b'"Twitter"')
INVALID_JSON = INVALID_JSON[:_BAD_JSON_AT] + b"'Twitter'" + INVALID_JSON[_BAD_JSON_AT + 9 :]
INVALID_JSON_LINE = INVALID_JSON[:_BAD_JSON_AT].count(b"\n") + 1


CASES: list[Case] = [
    # -- broken CSV files: fail as a whole, naming the source and the line ----------------------
    Case(
        "csv-truncated-mid-row",
        "call_logs",
        csv_source("call_logs", SIX_CALLS, mutate=lambda b: b[:-40]),
        Fails("SourceError", r"ragged row: expected 9 fields, got [1-8]", line=7),
        "An upload cut short: the last record has too few fields. Loading the rest would hide "
        "that the file is incomplete, so the whole file fails and names the line.",
    ),
    Case(
        "csv-truncated-inside-quoted-address",
        "customers",
        csv_source("customers", [*base_customers(), Row(customer(6))], mutate=lambda b: b[:-12]),
        Fails("SourceError", r"unbalanced quote", line=14),
        "Cut inside a quoted multiline address: the quote never closes; the error names the "
        "line where that record starts.",
    ),
    Case(
        "csv-unbalanced-quote",
        "call_logs",
        csv_source(
            "call_logs",
            [Row(call(n, **({"COMPLAINT_catego ry": "MARK"} if n == 2 else {}))) for n in range(6)],
            mutate=_replace_once(b"MARK", b'"Payments'),
        ),
        Fails("SourceError", r"unbalanced quote|malformed CSV", line=4),
        "A quoted field that never closes would swallow every later row into one value.",
    ),
    Case(
        "csv-stray-quote-inside-field",
        "call_logs",
        csv_source(
            "call_logs",
            [Row(call(n, **({"COMPLAINT_catego ry": "MARK"} if n == 3 else {}))) for n in range(6)],
            mutate=_replace_once(b"MARK", b'Pay"ments'),
        ),
        Fails("SourceError", r"unbalanced quote", line=5),
        "A lone quote inside an unquoted value: readers disagree on what it means, so the "
        "file is refused and the line named rather than guessed.",
    ),
    Case(
        "csv-ragged-row-extra-field",
        "call_logs",
        csv_source("call_logs", SIX_CALLS, mutate=_edit_line(5, lambda line: line + b",surprise")),
        Fails("SourceError", r"ragged row: expected 9 fields, got 10", line=5),
        "A row wider than the header: its values cannot be assigned to columns.",
    ),
    Case(
        "csv-ragged-row-missing-field",
        "call_logs",
        csv_source(
            "call_logs", SIX_CALLS, mutate=_edit_line(3, lambda line: line.rsplit(b",", 1)[0])
        ),
        Fails("SourceError", r"ragged row: expected 9 fields, got 8", line=3),
        "A row narrower than the header.",
    ),
    Case(
        "csv-latin1-bytes",
        "customers",
        csv_source(
            "customers",
            [*base_customers(), Row(customer(6, name="José Müller"))],
            encoding="latin-1",
        ),
        Fails("SourceError", r"not UTF-8 encoded", line=14),
        "The sources are UTF-8; a latin-1 byte means another writer. Guessing an encoding "
        "would silently mangle names when the guess is wrong, so the file fails at the first "
        "bad line (re-export as UTF-8, or transcode with iconv, and rerun).",
    ),
    Case(
        "csv-utf16-file",
        "call_logs",
        csv_source("call_logs", SIX_CALLS, encoding="utf-16"),
        Fails("SourceError", r"not UTF-8 encoded", line=1),
        "A UTF-16 export (Excel's 'Unicode text'): refused at line 1, not read as garbage.",
    ),
    Case(
        "csv-nul-byte",
        "call_logs",
        csv_source(
            "call_logs",
            [Row(call(n, **({"COMPLAINT_catego ry": "MARK"} if n == 2 else {}))) for n in range(6)],
            mutate=_replace_once(b"MARK", b"Pay\x00ments"),
        ),
        Fails("SourceError", r"NUL byte", line=4),
        "NUL bytes are what a zero-filled, partially written file looks like, and Postgres text "
        "cannot hold them: the file fails naming the line instead of dropping or mangling bytes.",
    ),
    Case(
        "csv-duplicate-header",
        "call_logs",
        csv_source("call_logs", SIX_CALLS, header=[*CALL_HEADER[:2], "call ID", *CALL_HEADER[2:]]),
        Fails("SourceError", r"duplicate column 'call ID'", line=1),
        "Two columns with one name: which one is the call id is unknowable.",
    ),
    Case(
        "csv-empty-file",
        "call_logs",
        Source(data=b"\n \n\n"),
        Fails("SourceError", r"empty file"),
        "Blank lines only: no header, so not even 'zero rows' can be claimed.",
    ),
    Case(
        "csv-zero-byte-file",
        "call_logs",
        Source(data=b""),
        Fails("SourceError", r"empty file \(0 bytes\)"),
        "A zero-byte object is an upload that never happened, not a day without complaints.",
    ),
    # -- contract breaks: the file parses but lacks what the entity needs -----------------------
    Case(
        "csv-missing-required-column",
        "call_logs",
        csv_source("call_logs", SIX_CALLS, header=_without(CALL_HEADER, "call_start_time")),
        Fails("ContractError", r"lacks required column\(s\) \['call_start_time'\]"),
        "A required column is gone: every row would be rejected, so the contract break is "
        "reported once, before anything loads.",
    ),
    Case(
        "csv-renamed-header",
        "customers",
        csv_source(
            "customers",
            _renamed([*base_customers(), *NEW_CUSTOMERS], "customer_id", "Customer ID"),
            header=["Customer ID", *CUSTOMER_HEADER[1:]],
        ),
        Fails("ContractError", r"lacks required column\(s\) \['customer_id'\].*Customer ID"),
        "A renamed header is a contract change: the error lists the missing and the found "
        "columns so the contract (or the export) can be fixed deliberately.",
    ),
    Case(
        "web-form-table-missing-column",
        "web_form_complaints",
        Source(
            table=Table.of([Row(web(n)) for n in range(4)], _without(WEB_HEADER, "request_date"))
        ),
        Fails(
            "ContractError",
            r"web_form_request_2025_11_21.*lacks required column\(s\) "
            r"\['request_date'\]",
        ),
        "The day's web-form table was created without a column.",
    ),
    # -- files that load: accepted variations --------------------------------------------------
    Case(
        "csv-utf8-bom",
        "customers",
        csv_source("customers", CRLF_CUSTOMERS, mutate=lambda b: b"\xef\xbb\xbf" + b),
        Loads(values={(CUSTOMER_IDS[0], "name"): "Customer Number0"}),
        "A BOM is Excel's UTF-8 marker, not part of the first column's name.",
    ),
    Case(
        "csv-crlf-line-ends-customers",
        "customers",
        csv_source("customers", CRLF_CUSTOMERS, mutate=lambda b: b.replace(b"\n", b"\r\n")),
        Loads(
            values={
                (customer(6)["customer_id"], "street"): "106 Paul Turnpike",
                (customer(6)["customer_id"], "city"): "Darrenland",
                (customer(6)["customer_id"], "zip_code"): "13296",
            }
        ),
        "Windows line ends, also inside the quoted multiline addresses: no stray \\r anywhere.",
    ),
    Case(
        "csv-crlf-line-ends-call-logs",
        "call_logs",
        csv_source("call_logs", SIX_CALLS, newline="\r\n"),
        Loads(values={(call(5)["call ID"], "generated_date"): "2025-11-21"}),
        "The last column of a CRLF file must not keep the \\r (it is a date).",
    ),
    Case(
        "csv-extra-columns",
        "call_logs",
        csv_source(
            "call_logs",
            [Row({**call(n), "priority": "high", "agent notes": "x, y"}) for n in range(5)],
            header=[*CALL_HEADER, "priority", "agent notes"],
        ),
        Loads(drift=("priority", "agent notes")),
        "New columns are schema drift: reported and dropped, the contract's columns load.",
    ),
    Case(
        "csv-header-only",
        "call_logs",
        csv_source("call_logs", []),
        Loads(),
        "A header and no rows is a valid day with zero complaints.",
    ),
    Case(
        "json-utf8-bom",
        "social_media_complaints",
        json_source([Row(social(n)) for n in range(4)], mutate=lambda b: b"\xef\xbb\xbf" + b),
        Loads(),
        "A BOM before the JSON document is tolerated, as for CSV.",
    ),
    Case(
        "agents-sheet-blank-row",
        "agents",
        Source(
            data=xlsx_bytes(
                [
                    header_of("agents"),
                    list(agent(0).values()),
                    [None, None, None, None],
                    list(agent(1).values()),
                    ["", "  ", "", ""],
                    list(agent(2).values()),
                    list(agent(3).values()),
                ]
            ),
            rows=[Row(agent(n), UNCHANGED) for n in range(3)] + [Row(agent(3))],
        ),
        Loads(values={("1003", "name"): "Agent Number3"}),
        "A blank row in a spreadsheet separates rows, it is not an agent: skipped (as blank "
        "CSV lines are), not quarantined as a row without an id.",
    ),
    # -- files that load with bad rows quarantined or fields repaired ---------------------------
    Case(
        "csv-huge-field-10mb-in-key",
        "call_logs",
        csv_source(
            "call_logs",
            [
                Row(call(0)),
                Row(call(1, **{"call ID": "K" * TEN_MB}), quarantined(RejectReason.INVALID_KEY)),
                Row(call(2)),
                Row(call(3)),
            ],
        ),
        Loads(),
        "A 10 MB id is not an id (and would not fit a Postgres index): the row is quarantined "
        "as an invalid key; the other rows load.",
    ),
    Case(
        "csv-huge-field-10mb-in-text",
        "call_logs",
        csv_source(
            "call_logs",
            [
                Row(call(0)),
                Row(
                    call(1, **{"COMPLAINT_catego ry": "C" * TEN_MB}),
                    issues=(("complaint_category", IssueRule.UNKNOWN_VALUE),),
                ),
                Row(call(2)),
            ],
        ),
        Loads(),
        "A 10 MB category is not a category: nulled and recorded; the row loads.",
    ),
    Case(
        "sql-injection-every-text-field-call-logs",
        "call_logs",
        csv_source(
            "call_logs",
            [
                Row(call(0, **{"call ID": INJECTIONS[0]})),
                Row(
                    call(1, **{"COMPLAINT_catego ry": INJECTIONS[1]}),
                    issues=(("complaint_category", IssueRule.UNKNOWN_VALUE),),
                ),
                Row(
                    call(2, resolutionstatus=INJECTIONS[2]),
                    quarantined(RejectReason.INVALID_REQUIRED),
                ),
                Row(
                    call(3, **{"customeR iD": INJECTIONS[3]}),
                    quarantined(RejectReason.INVALID_REQUIRED),
                ),
                Row(
                    call(4, **{"agent ID": INJECTIONS[4]}),
                    quarantined(RejectReason.INVALID_REQUIRED),
                ),
                Row(
                    call(5, call_start_time=INJECTIONS[5]),
                    quarantined(RejectReason.INVALID_REQUIRED),
                ),
                Row(
                    call(6, call_end_time=INJECTIONS[0]),
                    issues=(("call_ended_at", IssueRule.INVALID_VALUE),),
                ),
                Row(
                    call(7, callLogsGenerationDate=INJECTIONS[1]),
                    quarantined(RejectReason.INVALID_REQUIRED),
                ),
                Row(call(8, **{"": INJECTIONS[2]})),
            ],
        ),
        Loads(values={(INJECTIONS[0], "call_id"): INJECTIONS[0]}),
        "Injection strings are data: stored verbatim where the field accepts free text, "
        "rejected by the field's rule elsewhere; no statement is ever built from them.",
    ),
    Case(
        "sql-injection-every-text-field-customers",
        "customers",
        csv_source(
            "customers",
            [
                *base_customers(),
                Row(customer(6, name=INJECTIONS[1])),
                Row(customer(7, email=INJECTIONS[0]), issues=(("email", IssueRule.EMAIL_INVALID),)),
                Row(
                    customer(8, address=INJECTIONS[3]),
                    issues=(("address", IssueRule.ADDRESS_UNPARSEABLE),),
                ),
                Row(
                    customer(9, Gender=INJECTIONS[2]),
                    issues=(("gender", IssueRule.UNKNOWN_VALUE),),
                ),
                Row(
                    customer(10, **{"DATE of biRTH": INJECTIONS[4]}),
                    issues=(("date_of_birth", IssueRule.INVALID_VALUE),),
                ),
                Row(customer(11, customer_id=INJECTIONS[5]), quarantined(RejectReason.INVALID_KEY)),
            ],
        ),
        Loads(values={(customer(6)["customer_id"], "name"): INJECTIONS[1]}),
        "As above, for the customers snapshot (name stored verbatim, the rest rejected by rule).",
    ),
    Case(
        "sql-injection-web-form-table-and-column-name",
        "web_form_complaints",
        Source(
            table=Table.of(
                [
                    Row({**web(0, request_id=INJECTIONS[0]), 'x"); DROP TABLE t; --': "1"}),
                    Row(
                        {**web(1, **{"COMPLAINT_catego ry": INJECTIONS[1]})},
                        issues=(("complaint_category", IssueRule.UNKNOWN_VALUE),),
                    ),
                    Row(
                        web(2, resolutionstatus=INJECTIONS[2]),
                        quarantined(RejectReason.INVALID_REQUIRED),
                    ),
                    Row(web(3)),
                ],
                [*WEB_HEADER, 'x"); DROP TABLE t; --'],
            )
        ),
        Loads(
            drift=('x"); DROP TABLE t; --',),
            values={(INJECTIONS[0], "request_id"): INJECTIONS[0]},
        ),
        "A hostile column name in the source database is quoted as an identifier when read, "
        "then dropped as drift.",
    ),
    Case(
        "conflicting-duplicate-ids",
        "call_logs",
        csv_source(
            "call_logs",
            [
                *SIX_CALLS[:2],
                Row(call(2), duplicate(DuplicateKind.CONFLICTING)),
                *SIX_CALLS[3:],
                Row(call(2, **{"": "6", "resolutionstatus": "Blocked"})),
            ],
        ),
        Loads(values={(call(2)["call ID"], "resolution_status"): "Blocked"}),
        "Same call id, different content: the last row in the file wins (the source appends), "
        "the earlier one is dropped as a conflicting duplicate and kept in the audit.",
    ),
    Case(
        "exact-duplicate-rows",
        "call_logs",
        csv_source(
            "call_logs",
            [
                Row(call(0)),
                Row(call(1), duplicate(DuplicateKind.EXACT)),
                Row(call(2)),
                Row(call(3)),
                Row(call(4)),
                Row(call(1, **{"": "5"})),
            ],
        ),
        Loads(),
        "An exact repeat (even in another batch, with another index) loads once.",
    ),
    Case(
        "dates-in-other-formats-call-logs",
        "call_logs",
        csv_source(
            "call_logs",
            [
                Row(
                    call(0, call_start_time="2025/06/01 10:00:00"),
                    quarantined(RejectReason.INVALID_REQUIRED),
                ),
                Row(
                    call(1, call_start_time="01/06/2025 10:01"),
                    quarantined(RejectReason.INVALID_REQUIRED),
                ),
                Row(
                    call(2, call_start_time="2025-06-03T10:02:00"),
                    quarantined(RejectReason.INVALID_REQUIRED),
                ),
                Row(
                    call(3, call_end_time="2025-06-04T11:03:00Z"),
                    issues=(("call_ended_at", IssueRule.INVALID_VALUE),),
                ),
                Row(
                    call(4, callLogsGenerationDate="21-11-2025"),
                    quarantined(RejectReason.INVALID_REQUIRED),
                ),
                Row(call(5)),
            ],
        ),
        Loads(values={(call(3)["call ID"], "call_ended_at"): None}),
        "Every source writes one shape; another shape is a defect, not a format to guess (is "
        "01/06 January or June?). A required time rejects the row, an optional one is nulled.",
    ),
    Case(
        "dates-in-other-formats-customers",
        "customers",
        csv_source(
            "customers",
            [
                *base_customers(),
                Row(
                    customer(6, **{"DATE of biRTH": "11/20/1990"}),
                    issues=(("date_of_birth", IssueRule.INVALID_VALUE),),
                ),
                Row(
                    customer(7, signup_date="2020.01.07"),
                    issues=(("signup_date", IssueRule.INVALID_VALUE),),
                ),
            ],
        ),
        Loads(values={(customer(6)["customer_id"], "date_of_birth"): None}),
        "Optional dates in another shape are nulled with the original kept in dq_issues.",
    ),
    Case(
        "end-before-start-calls",
        "call_logs",
        csv_source(
            "call_logs",
            [
                Row(call(0)),
                Row(
                    call(1, call_end_time="2025-06-02 09:00:00"),
                    issues=(("call_ended_at", IssueRule.END_BEFORE_START),),
                ),
                Row(call(2, call_end_time=call(2)["call_start_time"])),  # zero length is fine
            ],
        ),
        Loads(values={(call(1)["call ID"], "call_ended_at"): None}),
        "A call cannot end before it starts: the end is nulled, the complaint still counts.",
    ),
    Case(
        "end-before-start-social",
        "social_media_complaints",
        json_source(
            [
                Row(social(0)),
                Row(
                    social(1, resolutionstatus="Resolved", resolution_date="2025-07-01 08:00:00"),
                    # The checker records every "not before" violation under one rule.
                    issues=(("resolved_at", IssueRule.END_BEFORE_START),),
                ),
            ]
        ),
        Loads(values={(social(1)["complaint_id"], "resolved_at"): None}),
        "Resolved before it was requested: the resolution time is nulled and recorded.",
    ),
    Case(
        "future-dates",
        "call_logs",
        csv_source(
            "call_logs",
            [
                Row(call(0)),
                Row(
                    call(1, call_start_time="2026-01-01 10:00:00"),
                    quarantined(RejectReason.IMPLAUSIBLE_REQUIRED),
                ),
                Row(
                    call(2, call_end_time="2025-11-22 00:00:00"),
                    issues=(("call_ended_at", IssueRule.FUTURE_DATE),),
                ),
                Row(
                    call(3, callLogsGenerationDate="2025-11-22"),
                    quarantined(RejectReason.IMPLAUSIBLE_REQUIRED),
                ),
                Row(call(4, call_end_time="2025-11-21 23:59:59")),  # the logical day itself
            ],
        ),
        Loads(values={(call(2)["call ID"], "call_ended_at"): None}),
        "Dates after the logical date cannot have been observed yet (the bound is the run's "
        "business date, never the wall clock, so a rerun decides the same way).",
    ),
    Case(
        "future-dates-customers",
        "customers",
        csv_source(
            "customers",
            [
                *base_customers(),
                Row(
                    customer(6, signup_date="2030-01-01"),
                    issues=(("signup_date", IssueRule.FUTURE_DATE),),
                ),
                Row(
                    customer(7, **{"DATE of biRTH": "2026-05-05"}),
                    issues=(("date_of_birth", IssueRule.IMPLAUSIBLE_BIRTH_DATE),),
                ),
            ],
        ),
        Loads(),
        "Future signup and birth dates are nulled and recorded; the customers load.",
    ),
    Case(
        "whitespace-only-values",
        "call_logs",
        csv_source(
            "call_logs",
            [
                Row(call(0, **{"call ID": "   "}), quarantined(RejectReason.MISSING_KEY)),
                Row(call(1, **{"COMPLAINT_catego ry": "  "})),
                Row(call(2, resolutionstatus="\t"), quarantined(RejectReason.MISSING_REQUIRED)),
                Row(call(3, **{"customeR iD": "  "}), quarantined(RejectReason.MISSING_REQUIRED)),
                Row(call(4, call_end_time=" ")),
                Row(call(5, **{"agent ID": " \t "}), quarantined(RejectReason.MISSING_REQUIRED)),
            ],
        ),
        Loads(values={(call(1)["call ID"], "complaint_category"): None}),
        "Whitespace is missing, not a value: a missing key or required field rejects the row, "
        "a missing optional field is simply null (no issue: nothing was changed).",
    ),
    Case(
        "unknown-customer-and-agent",
        "call_logs",
        csv_source(
            "call_logs",
            [
                Row(call(0)),
                Row(
                    call(1, **{"customeR iD": UNKNOWN_CUSTOMER}),
                    quarantined(RejectReason.UNKNOWN_CUSTOMER),
                ),
                Row(
                    call(2, **{"agent ID": str(UNKNOWN_AGENT)}),
                    quarantined(RejectReason.UNKNOWN_AGENT),
                ),
            ],
        ),
        Loads(),
        "Orphans wait in quarantine (and are released when the parent arrives).",
    ),
    Case(
        "web-form-sql-nulls",
        "web_form_complaints",
        Source(
            table=Table.of(
                [
                    Row(web(0)),
                    Row(web(1, request_date=None), quarantined(RejectReason.MISSING_REQUIRED)),
                    Row(web(2, resolution_date=None)),
                    Row(web(3, **{"COMPLAINT_catego ry": None})),
                ]
            )
        ),
        Loads(),
        "SQL NULL is missing, like the empty string the files use.",
    ),
    # -- JSON files that fail -----------------------------------------------------------------
    Case(
        "json-records-layout",
        "social_media_complaints",
        Source(data=json_records_bytes([Row(social(n)) for n in range(3)], SOCIAL_HEADER)),
        Fails("SourceError", r"top level is a list; expected column-oriented"),
        "orient='records' is another contract: refused with the expected layout named, "
        "rather than silently accepting whatever shape arrives.",
    ),
    Case(
        "json-index-layout",
        "social_media_complaints",
        Source(
            data=json.dumps(
                {str(n): {c: social(n)[c] for c in SOCIAL_HEADER} for n in range(3)}
            ).encode()
        ),
        Fails("SourceError", r"row keys of '0' are not row indexes"),
        "orient='index' (rows as the outer keys): refused.",
    ),
    Case(
        "json-invalid",
        "social_media_complaints",
        Source(data=INVALID_JSON),
        Fails("SourceError", r"invalid JSON", line=INVALID_JSON_LINE),
        "Not JSON (single quotes): the parser's line is reported.",
    ),
    Case(
        "json-nul-escape",
        "social_media_complaints",
        json_source(
            [Row(social(0)), Row(social(1, media_channel="MARK"))],
            mutate=_replace_once(b'"MARK"', b'"Twit\\u0000ter"'),
        ),
        Fails("SourceError", r"NUL"),
        "An escaped NUL in JSON is the same corruption as a raw NUL byte.",
    ),
    Case(
        "agents-sheet-not-a-workbook",
        "agents",
        Source(data=b"PK\x03\x04 this is not a zip archive"),
        Fails("SourceError", r"not a readable \.xlsx workbook"),
        "A corrupt workbook fails; the agents in silver stay as they were.",
    ),
    # -- nothing there --------------------------------------------------------------------------
    Case(
        "missing-day-call-logs",
        "call_logs",
        Source(missing=True),
        NoData(),
        "No file for the day yet is 'no data', not a failure (the DAG skips the channel).",
    ),
    Case(
        "missing-day-web-form-table",
        "web_form_complaints",
        Source(missing=True),
        NoData(),
        "No table for the day yet, likewise.",
    ),
]

# Sanity of the corpus itself (a typo here would weaken a test silently).
assert len({c.id for c in CASES}) == len(CASES)
assert json_columns_bytes and csv_bytes and agents_sheet and AGENT_IDS and LOADED
