"""The agents Google Sheet: ``gspread`` with a service account in production, the local .xlsx
stand-in (openpyxl) in embedded mode.

Both paths produce the same rows of display text (``FORMATTED_VALUE``, what a person sees), so
the fingerprint, the sha256 of the canonical JSON of those rows, is the same for the same
content whichever path read it. Hashing content rather than file bytes matters for .xlsx: saving
an unchanged workbook rewrites zip timestamps.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import date
from pathlib import Path
from typing import Any

from requests.adapters import HTTPAdapter

from coretelecoms.config import Settings
from coretelecoms.extract import formats
from coretelecoms.extract.base import Extractor, SourceError, StagedSource

log = logging.getLogger(__name__)

SHEETS_API = "https://sheets.googleapis.com"
SCOPES = ("https://www.googleapis.com/auth/spreadsheets.readonly",)


def sheets_client(settings: Settings) -> Any:
    """An authorised gspread client.

    With ``settings.sheets_api_base_url`` set (tests), the client's session routes
    ``https://sheets.googleapis.com`` to that base URL through a transport adapter, so gspread
    itself is not patched.

    Raises:
        SourceError: no service-account file configured.
    """
    import gspread
    from google.auth.transport.requests import AuthorizedSession
    from google.oauth2.service_account import Credentials

    if settings.google_service_account_file is None:
        raise SourceError(
            f"gsheets://{settings.agents_sheet}",
            "CORETELECOMS_GOOGLE_SERVICE_ACCOUNT_FILE is not set",
        )
    creds = Credentials.from_service_account_file(
        str(settings.google_service_account_file), scopes=list(SCOPES)
    )
    session = AuthorizedSession(creds)
    if settings.sheets_api_base_url:
        session.mount(SHEETS_API, RedirectAdapter(SHEETS_API, settings.sheets_api_base_url))
    return gspread.Client(auth=creds, session=session)


class RedirectAdapter(HTTPAdapter):
    """Sends requests for one URL prefix to another base URL (loopback test stand-ins)."""

    def __init__(self, prefix: str, target: str) -> None:
        super().__init__()
        self.prefix = prefix
        self.target = target.rstrip("/")

    def send(self, request: Any, **kwargs: Any) -> Any:
        if request.url and request.url.startswith(self.prefix):
            request.url = self.target + request.url[len(self.prefix) :]
        return super().send(request, **kwargs)


class GoogleSheetsExtractor(Extractor):
    """Extracts one tab (the contract's ``source_location``) of the agents sheet."""

    name = "GoogleSheetsExtractor"

    @property
    def tab(self) -> str:
        return self.contract.source_name()

    def source_uri(self, logical_date: date) -> str:
        if self.settings.agents_sheet_is_local:
            return f"{self.settings.agents_sheet}#{self.tab}"
        return f"gsheets://{self.settings.agents_sheet}/{self.tab}"

    def _rows(self, uri: str) -> tuple[list[list[str]], int] | None:
        """The tab's rows and the bytes read; None when the workbook or tab does not exist."""
        if self.settings.agents_sheet_is_local:
            path = Path(str(self.settings.agents_sheet))
            if not path.is_file():
                return None
            rows = formats.xlsx_rows(path, uri, self.tab)
            if rows is None:
                return None
            return formats.normalise_rows(rows), path.stat().st_size
        import gspread

        client = sheets_client(self.settings)
        try:
            sheet = client.open_by_key(str(self.settings.agents_sheet))
            values = sheet.worksheet(self.tab).get_all_values()
        except gspread.exceptions.WorksheetNotFound:
            return None
        except gspread.exceptions.APIError as exc:
            code = getattr(exc, "code", None)
            if code in (403, 404):  # wrong id or not shared with the service account
                raise SourceError(uri, f"Sheets API refused access ({code}): {exc}") from None
            raise  # 429/5xx: transient, let the task retry
        rows = formats.normalise_rows([list(r) for r in values])
        return rows, len(formats.canonical_rows_bytes(rows))

    def fingerprint(self, logical_date: date) -> str | None:
        got = self._rows(self.source_uri(logical_date))
        if got is None:
            return None
        return hashlib.sha256(formats.canonical_rows_bytes(got[0])).hexdigest()

    def stage(self, logical_date: date, workdir: Path) -> StagedSource | None:
        uri = self.source_uri(logical_date)
        got = self._rows(uri)
        if got is None:
            log.info("agents: no sheet/tab at %s", uri)
            return None
        rows, size = got
        fingerprint = hashlib.sha256(formats.canonical_rows_bytes(rows)).hexdigest()
        columns, table = formats.rows_table(rows, uri)
        return StagedSource(uri, fingerprint, size, columns, lambda: iter(table.to_batches()))
