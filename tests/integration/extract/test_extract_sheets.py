"""The agents sheet to bronze: the local .xlsx (embedded mode) and gspread against a loopback
stand-in of the Sheets v4 endpoints it calls (plus the OAuth token endpoint of the service
account), reached through the client's transport adapter."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import openpyxl
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from coretelecoms.config import Settings
from coretelecoms.extract import ExtractStatus, extract_entity, read_bronze, source_fingerprint

DAY = date(2025, 11, 20)
SHEET_ID = "1AbCdEfGhIjKlMnOp"
AGENT_ROWS: list[list[Any]] = [
    ["iD", "NamE", "experience", "state"],
    [1003, "Zoë O'Brien", "intern", "New York"],
    [1000, "Al\nBert", "Mid-level", ""],
    [1001, "007", "Senior", "Texas"],
]
AGENT_TEXT = [[str(v) for v in row] for row in AGENT_ROWS]


class FakeSheets:
    """Serves the token endpoint and the Sheets v4 calls gspread makes, from in-memory tabs."""

    def __init__(self) -> None:
        self.tabs: dict[str, list[list[str]]] = {"agents": AGENT_TEXT}
        self.requests: list[str] = []
        self.authorised: list[str | None] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: dict) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path == "/token":
                    self._send(200, {"access_token": "tok", "expires_in": 3600})
                else:
                    self._send(404, {"error": {"code": 404, "message": "no", "status": "NF"}})

            def do_GET(self) -> None:
                fake.requests.append(self.path)
                fake.authorised.append(self.headers.get("Authorization"))
                parts = urlparse(self.path).path.split("/")  # /v4/spreadsheets/<id>[/values/<r>]
                if len(parts) < 4 or parts[3] != SHEET_ID:
                    self._send(404, {"error": {"code": 404, "message": "nf", "status": "NF"}})
                elif len(parts) == 4:
                    sheets = [
                        {"properties": {"sheetId": i, "title": t, "index": i}}
                        for i, t in enumerate(fake.tabs)
                    ]
                    self._send(
                        200,
                        {
                            "spreadsheetId": SHEET_ID,
                            "properties": {"title": "CORETELECOMMS AGENTS"},
                            "sheets": sheets,
                        },
                    )
                else:
                    tab = unquote(parts[5]).strip("'")
                    self._send(
                        200,
                        {
                            "range": f"{tab}!A1:D9",
                            "majorDimension": "ROWS",
                            "values": fake.tabs[tab],
                        },
                    )

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def fake_sheets() -> Iterator[FakeSheets]:
    fake = FakeSheets()
    yield fake
    fake.server.shutdown()


def _service_account(path: Path, token_uri: str) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "test",
                "private_key_id": "k1",
                "private_key": pem,
                "client_email": "etl@test.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": token_uri,
            }
        )
    )
    return path


def _write_xlsx(path: Path, rows: list[list[Any]], tab: str = "agents") -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = tab
    for row in rows:
        sheet.append(row)
    book.save(path)


def test_local_xlsx_round_trip_as_text(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", agents_sheet=str(tmp_path / "agents.xlsx"))
    _write_xlsx(tmp_path / "agents.xlsx", AGENT_ROWS)

    result = extract_entity(settings, "agents", DAY, "run-1")

    assert result.status is ExtractStatus.EXTRACTED
    assert result.manifest.current.rows == len(AGENT_ROWS) - 1
    assert result.manifest.current.extractor == "GoogleSheetsExtractor"
    out = read_bronze(settings, "agents", DAY).scan().collect()
    assert out.columns == [*AGENT_TEXT[0], "_source_row"]
    assert [[r[c] for c in AGENT_TEXT[0]] for r in out.to_dicts()] == AGENT_TEXT[1:]
    assert out["_source_row"].to_list() == [1, 2, 3]


def test_local_xlsx_resave_is_unchanged_and_a_promotion_is_a_new_version(tmp_path: Path) -> None:
    path = tmp_path / "agents.xlsx"
    settings = Settings(home=tmp_path / "home", agents_sheet=str(path))
    _write_xlsx(path, AGENT_ROWS)
    first = extract_entity(settings, "agents", DAY, "run-1")
    _write_xlsx(path, AGENT_ROWS)  # same content, new zip timestamps

    assert extract_entity(settings, "agents", DAY, "run-2").status is ExtractStatus.UNCHANGED

    promoted = [row[:] for row in AGENT_ROWS]
    promoted[1][2] = "Junior"
    _write_xlsx(path, promoted)
    changed = extract_entity(settings, "agents", DAY, "run-3")
    assert changed.status is ExtractStatus.EXTRACTED
    assert changed.manifest.current_version == 2
    assert changed.manifest.versions[0] == first.manifest.current


def test_missing_workbook_or_tab_is_no_data(tmp_path: Path) -> None:
    path = tmp_path / "agents.xlsx"
    settings = Settings(home=tmp_path / "home", agents_sheet=str(path))
    assert extract_entity(settings, "agents", DAY, "run-1").status is ExtractStatus.NO_DATA
    _write_xlsx(path, AGENT_ROWS, tab="other")
    assert extract_entity(settings, "agents", DAY, "run-1").status is ExtractStatus.NO_DATA


def test_gspread_through_the_loopback_stand_in(tmp_path: Path, fake_sheets: FakeSheets) -> None:
    account = _service_account(tmp_path / "sa.json", f"{fake_sheets.url}/token")
    settings = Settings(
        home=tmp_path / "home",
        agents_sheet=SHEET_ID,
        google_service_account_file=account,
        sheets_api_base_url=fake_sheets.url,
    )

    result = extract_entity(settings, "agents", DAY, "run-1")

    assert result.status is ExtractStatus.EXTRACTED
    assert result.manifest.current.source_uri == f"gsheets://{SHEET_ID}/agents"
    out = read_bronze(settings, "agents", DAY).scan().collect()
    assert [[r[c] for c in AGENT_TEXT[0]] for r in out.to_dicts()] == AGENT_TEXT[1:]
    assert any("/values/" in p for p in fake_sheets.requests)
    assert set(fake_sheets.authorised) == {"Bearer tok"}

    # the same content read from the local workbook has the same fingerprint
    _write_xlsx(tmp_path / "agents.xlsx", AGENT_ROWS)
    local = Settings(home=tmp_path / "home2", agents_sheet=str(tmp_path / "agents.xlsx"))
    assert source_fingerprint(local, "agents", DAY) == result.manifest.current.source_fingerprint


def test_gspread_missing_tab_is_no_data(tmp_path: Path, fake_sheets: FakeSheets) -> None:
    fake_sheets.tabs = {"other": AGENT_TEXT}
    account = _service_account(tmp_path / "sa.json", f"{fake_sheets.url}/token")
    settings = Settings(
        home=tmp_path / "home",
        agents_sheet=SHEET_ID,
        google_service_account_file=account,
        sheets_api_base_url=fake_sheets.url,
    )

    assert extract_entity(settings, "agents", DAY, "run-1").status is ExtractStatus.NO_DATA
