"""Postgres table sources (the daily web-form table), streamed with ``COPY ... TO STDOUT``.

The table is read in a deterministic order (``"Column1"`` when the table has it, then ``ctid``)
as CSV with every non-null value quoted, so SQL NULL (unquoted empty) and ``''`` (quoted empty)
stay distinct. The stream goes to the staging folder while it is hashed: the fingerprint is the
sha256 of exactly these bytes (header line included), and memory stays bounded whatever the
table size. Session settings that change the text form of values are pinned.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import BinaryIO

import psycopg
from psycopg import sql

from coretelecoms.extract import formats
from coretelecoms.extract.base import Extractor, StagedSource
from coretelecoms.postgres import connect, copy_out, source_dsn

log = logging.getLogger(__name__)

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_SESSION = (
    "set datestyle to 'ISO, YMD'",
    "set intervalstyle to 'postgres'",
    "set extra_float_digits to 1",
    "set bytea_output to 'hex'",
    "set client_encoding to 'UTF8'",
)


def split_table_name(qualified: str) -> tuple[str, str]:
    """``schema.table`` -> (schema, table), both validated as plain identifiers.

    Raises:
        ValueError: a part is not a plain identifier (never composed into SQL).
    """
    schema, _, table = qualified.rpartition(".")
    schema = schema or "public"
    for part in (schema, table):
        if not _IDENT.match(part):
            raise ValueError(f"invalid table identifier {part!r} in {qualified!r}")
    return schema, table


class SQLExtractor(Extractor):
    """Extracts one source table per logical date from the source Postgres."""

    name = "SQLExtractor"

    def _table(self, logical_date: date) -> tuple[str, str]:
        return split_table_name(self.contract.source_name(logical_date.isoformat()))

    def source_uri(self, logical_date: date) -> str:
        schema, table = self._table(logical_date)
        dsn = psycopg.conninfo.conninfo_to_dict(source_dsn(self.settings))
        host = dsn.get("host") or "localhost"
        if str(host).startswith("/"):
            host = "localhost"
        return f"postgresql://{host}/{dsn.get('dbname', '')}/{schema}.{table}"

    def _columns(self, conn: psycopg.Connection, schema: str, table: str) -> list[str] | None:
        rows = conn.execute(
            "select column_name from information_schema.columns"
            " where table_schema = %s and table_name = %s order by ordinal_position",
            [schema, table],
        ).fetchall()
        return [r[0] for r in rows] or None

    def _copy(self, logical_date: date) -> Iterator[bytes | list[str] | None]:
        """Yields the column list (or None when the table is missing), then the CSV stream."""
        schema, table = self._table(logical_date)
        with connect(source_dsn(self.settings), autocommit=True) as conn:
            for statement in _SESSION:
                conn.execute(statement)
            columns = self._columns(conn, schema, table)
            yield columns
            if columns is None:
                return
            order = [sql.Identifier(c) for c in self.contract.index_columns if c in columns]
            query = sql.SQL(
                "copy (select {cols} from {schema}.{table} order by {order}) to stdout"
                " with (format csv, header true, force_quote *)"
            ).format(
                cols=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
                schema=sql.Identifier(schema),
                table=sql.Identifier(table),
                order=sql.SQL(", ").join([*order, sql.SQL("ctid")]),
            )
            yield from copy_out(conn, query.as_bytes(conn))

    def _stream(
        self, logical_date: date, sink: BinaryIO | None
    ) -> tuple[str, int, list[str]] | None:
        stream = self._copy(logical_date)
        columns = next(stream)
        if columns is None:
            stream.close()
            return None
        digest = hashlib.sha256()
        size = 0
        for chunk in stream:
            digest.update(chunk)  # type: ignore[arg-type]
            size += len(chunk)  # type: ignore[arg-type]
            if sink is not None:
                sink.write(chunk)  # type: ignore[arg-type]
        return digest.hexdigest(), size, columns  # type: ignore[return-value]

    def fingerprint(self, logical_date: date) -> str | None:
        streamed = self._stream(logical_date, None)
        return None if streamed is None else streamed[0]

    def stage(self, logical_date: date, workdir: Path) -> StagedSource | None:
        uri = self.source_uri(logical_date)
        local = workdir / "source.csv"
        with local.open("wb") as sink:
            streamed = self._stream(logical_date, sink)
        if streamed is None:
            log.info("%s: no table for %s (%s)", self.contract.entity, logical_date, uri)
            return None
        fingerprint, size, columns = streamed
        return StagedSource(
            uri,
            fingerprint,
            size,
            columns,
            lambda: formats.csv_batches(local, uri, columns, sql_nulls=True),
        )


__all__ = ["SQLExtractor", "split_table_name"]
