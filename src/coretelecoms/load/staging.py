"""Staging and change application shared by the loader and the quarantine release.

A batch is copied into a temporary table ``_stage`` (columns typed from the contract), then
applied to its conformed table: insert new keys, update only rows whose values differ
(``IS DISTINCT FROM``: an unchanged row is counted, never rewritten, so its ``xmin`` stays), and
append history (complaint status, customer/agent versions) in the same transaction. All dates in
history are business dates (the source's generation date or the logical date of the snapshot),
never the wall clock, so a backfill gives the same history as day-by-day runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl
import psycopg
from psycopg import sql

from coretelecoms.contracts import EntityContract
from coretelecoms.load import schema
from coretelecoms.load.errors import TerminalLoadError

STAGE = "_stage"
DIFF = "_diff"
SOURCE_ROW = "_source_row"
_SEQ = sql.SQL("nextval({})").format(sql.Literal(f"{schema.CONFORMED}.{schema.CHANGE_SEQ}"))


@dataclass(frozen=True)
class Applied:
    """What applying a stage did: rows written (inserted + updated) and rows left unchanged."""

    inserted: int
    updated: int
    unchanged: int
    history: int

    @property
    def loaded(self) -> int:
        return self.inserted + self.updated


def _ids(names: tuple[str, ...] | list[str], prefix: str | None = None) -> sql.Composable:
    if prefix is None:
        return sql.SQL(", ").join(map(sql.Identifier, names))
    return sql.SQL(", ").join(sql.Identifier(prefix, n) for n in names)


def frame_to_csv(frame: pl.DataFrame) -> bytes:
    """CSV bytes for ``COPY ... (FORMAT csv)``: null is an unquoted empty field, an empty string
    is ``""``; quotes, commas, newlines, tabs and backslashes are quoted/escaped CSV-style (COPY's
    CSV mode gives backslashes no special meaning), so every value round-trips unchanged."""
    return frame.write_csv(
        include_header=False,
        null_value="",
        quote_style="necessary",
        datetime_format="%Y-%m-%d %H:%M:%S%.f",
        date_format="%Y-%m-%d",
    ).encode("utf-8")


def copy_frame(
    conn: psycopg.Connection, target: sql.Composable, columns: list[str], frame: pl.DataFrame
) -> None:
    """``COPY target (columns) FROM STDIN`` the frame's ``columns`` (in that order)."""
    if frame.height == 0:
        return
    stmt = sql.SQL("copy {} ({}) from stdin (format csv)").format(target, _ids(columns))
    payload = frame_to_csv(frame.select(columns))
    with conn.cursor() as cur, cur.copy(stmt) as copy:
        view = memoryview(payload)
        step = 8 << 20
        for start in range(0, len(payload), step):
            copy.write(view[start : start + step])


def prepare_session(conn: psycopg.Connection) -> None:
    """Session settings for staging; must run before the session's first temporary table.

    A 100 k-row batch is tens of MB: with the default 8 MB of temp buffers the stage would
    spill to disk on every batch.
    """
    conn.execute("set temp_buffers = '256MB'")


def create_stage(conn: psycopg.Connection, contract: EntityContract) -> None:
    """Create (or recreate) the temporary ``_stage`` table for ``contract`` in this transaction."""
    types = {c.name: c.pg_type for c in contract.silver_columns}
    cols = [
        sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(types[c]))
        for c in schema.data_columns(contract)
    ]
    cols.append(sql.SQL("{} bigint").format(sql.Identifier(SOURCE_ROW)))
    if contract.is_complaint:
        cols.append(
            sql.SQL("{} text generated always as (md5({} || {})) stored").format(
                sql.Identifier(schema.COMPLAINT_KEY),
                sql.Literal(f"{contract.channel}|"),
                sql.Identifier(schema.source_id_column(contract)),
            )
        )
    conn.execute(sql.SQL("drop table if exists {}").format(sql.Identifier("pg_temp", STAGE)))
    conn.execute(sql.SQL("drop table if exists {}").format(sql.Identifier("pg_temp", DIFF)))
    conn.execute(
        sql.SQL("create temp table {} ({}) on commit drop").format(
            sql.Identifier(STAGE), sql.SQL(", ").join(cols)
        )
    )


def stage_clean(conn: psycopg.Connection, contract: EntityContract, clean: pl.DataFrame) -> int:
    """Create ``_stage`` and COPY the batch's clean frame into it; returns the rows staged.

    Raises ``TerminalLoadError`` when the frame lacks a silver column (a transform/contract
    mismatch a retry cannot fix).
    """
    columns = [*schema.data_columns(contract), SOURCE_ROW]
    missing = [c for c in columns if c not in clean.columns]
    if missing:
        raise TerminalLoadError(
            f"{contract.entity}: clean frame lacks silver columns {missing}; got {clean.columns}"
        )
    create_stage(conn, contract)
    copy_frame(conn, sql.Identifier(STAGE), columns, clean)
    return clean.height


def check_unique_keys(conn: psycopg.Connection, contract: EntityContract) -> None:
    """A batch must hold each key once (the transform drops duplicates); else fail loudly."""
    key = sql.Identifier(schema.key_column(contract))
    row = conn.execute(
        sql.SQL("select count(*) - count(distinct {}) from {}").format(key, sql.Identifier(STAGE))
    ).fetchone()
    if row and row[0]:
        raise TerminalLoadError(
            f"{contract.entity}: {row[0]} duplicate keys in one batch; the transform must drop "
            "duplicates before loading"
        )


def apply_stage(
    conn: psycopg.Connection, contract: EntityContract, run_id: str, logical_date: date
) -> Applied:
    """Apply ``_stage`` to the conformed table with history; returns the counts.

    Changed rows are found first (a join against the stored rows, usually few), then new keys
    are inserted with an anti-join, their first history row written by the same statement
    (data-modifying CTE), so a first load copies each row once and never materialises a diff.
    History of a new key is a plain insert (no ON CONFLICT: speculative insertion is slower);
    history already present for a key missing from its table means someone deleted rows by
    hand, and the load stops with a unique violation (terminal) rather than guess.
    """
    staged = _count(conn, STAGE)
    _create_changed(conn, contract)
    if contract.is_complaint:
        updated, changed_history = _update_complaints(conn, contract, run_id)
        inserted, new_history = _insert_complaints(conn, contract, run_id)
    else:
        updated, changed_history = _update_static(conn, contract, run_id, logical_date)
        inserted, new_history = _insert_static(conn, contract, run_id)
    loaded = inserted + updated
    return Applied(inserted, updated, staged - loaded, changed_history + new_history)


def _count(conn: psycopg.Connection, name: str) -> int:
    row = conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(name))).fetchone()
    return int(row[0]) if row else 0


def _create_changed(conn: psycopg.Connection, contract: EntityContract) -> None:
    """``_diff``: staged rows whose stored row differs, with the stored values history needs."""
    key = sql.Identifier(schema.key_column(contract))
    cols = list(schema.data_columns(contract))
    if contract.is_complaint:
        gen = sql.Identifier(contract.generation_date or "generated_date")
        extra = sql.SQL(", s.{key}, t.{status} as _old_status, t.{gen} as _old_generated").format(
            key=key, status=sql.Identifier(schema.STATUS_COLUMN), gen=gen
        )
    elif contract.tracked:
        extra = sql.SQL(", row({t}) is distinct from row({s}) as _tracked").format(
            t=_ids(list(contract.tracked), "t"), s=_ids(list(contract.tracked), "s")
        )
    else:
        extra = sql.SQL(", false as _tracked")
    conn.execute(
        sql.SQL(
            "create temp table {diff} on commit drop as select {scols}{extra} "
            "from {stage} s join {target} t on t.{key} = s.{key} "
            "where row({tcols}) is distinct from row({scols})"
        ).format(
            diff=sql.Identifier(DIFF),
            scols=_ids(cols, "s"),
            tcols=_ids(cols, "t"),
            extra=extra,
            stage=sql.Identifier(STAGE),
            target=schema.table(contract),
            key=key,
        )
    )


def _assignments(contract: EntityContract) -> sql.Composable:
    key = schema.key_column(contract)
    return sql.SQL(", ").join(
        sql.SQL("{} = d.{}").format(sql.Identifier(c), sql.Identifier(c))
        for c in schema.data_columns(contract)
        if c != key
    )


def _update_complaints(
    conn: psycopg.Connection, contract: EntityContract, run_id: str
) -> tuple[int, int]:
    gen = sql.Identifier(contract.generation_date or "generated_date")
    status = sql.Identifier(schema.STATUS_COLUMN)
    key = sql.Identifier(schema.COMPLAINT_KEY)
    # Never move a complaint backwards: an older observation only adds history.
    updated = conn.execute(
        sql.SQL(
            "update {target} t set {assign}, _change_seq = {seq}, _run_id = %s "
            "from {diff} d where t.{key} = d.{key} and d.{gen} >= t.{gen}"
        ).format(
            target=schema.table(contract),
            assign=_assignments(contract),
            seq=_SEQ,
            diff=sql.Identifier(DIFF),
            key=key,
            gen=gen,
        ),
        [run_id],
    ).rowcount
    history = conn.execute(
        sql.SQL(
            "insert into {hist} as h (complaint_key, channel, resolution_status, observed_date, "
            "_run_id) select complaint_key, %s, {status}, {gen}, %s from {diff} "
            "where _old_status is distinct from {status} or {gen} < _old_generated "
            "{upsert}"
        ).format(
            hist=sql.Identifier(schema.CONFORMED, schema.STATUS_HISTORY),
            status=status,
            gen=gen,
            diff=sql.Identifier(DIFF),
            upsert=_HISTORY_UPSERT,
        ),
        [contract.channel, run_id],
    ).rowcount
    return updated, history


_HISTORY_UPSERT = sql.SQL(
    "on conflict (complaint_key, observed_date) do update set "
    "resolution_status = excluded.resolution_status, _change_seq = {seq}, "
    "_run_id = excluded._run_id "
    "where h.resolution_status is distinct from excluded.resolution_status"
).format(seq=_SEQ)


def _insert_new_sql(contract: EntityContract, returning: list[str]) -> sql.Composable:
    key = sql.Identifier(schema.key_column(contract))
    cols = [schema.COMPLAINT_KEY] if contract.is_complaint else []
    cols += list(schema.data_columns(contract))
    return sql.SQL(
        "insert into {target} ({cols}, _run_id) select {scols}, %(run)s from {stage} s "
        "where not exists (select from {target} t where t.{key} = s.{key}) returning {ret}"
    ).format(
        target=schema.table(contract),
        cols=_ids(cols),
        scols=_ids(cols, "s"),
        stage=sql.Identifier(STAGE),
        key=key,
        ret=_ids(returning),
    )


def _insert_complaints(
    conn: psycopg.Connection, contract: EntityContract, run_id: str
) -> tuple[int, int]:
    gen = contract.generation_date or "generated_date"
    ins = _insert_new_sql(contract, [schema.COMPLAINT_KEY, schema.STATUS_COLUMN, gen])
    row = conn.execute(
        sql.SQL(
            "with ins as ({ins}), hist as (insert into {hist} as h (complaint_key, channel, "
            "resolution_status, observed_date, _run_id) select complaint_key, %(channel)s, "
            "{status}, {gen}, %(run)s from ins returning 1) "
            "select (select count(*) from ins), (select count(*) from hist)"
        ).format(
            ins=ins,
            hist=sql.Identifier(schema.CONFORMED, schema.STATUS_HISTORY),
            status=sql.Identifier(schema.STATUS_COLUMN),
            gen=sql.Identifier(gen),
        ),
        {"run": run_id, "channel": contract.channel},
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def _insert_static(
    conn: psycopg.Connection, contract: EntityContract, run_id: str
) -> tuple[int, int]:
    """Insert new keys; their first version starts at the contract's start column (e.g.
    ``signup_date``) or 1900-01-01."""
    name = schema.versions_table(contract)
    key = schema.key_column(contract)
    if name is None:
        cur = conn.execute(_insert_new_sql(contract, [key]), {"run": run_id})
        return cur.rowcount, 0
    vcols = [key, *schema.version_columns(contract)]
    start_col = schema.first_version_start(contract)
    start = (
        sql.SQL("coalesce({}, {})").format(
            sql.Identifier(start_col), sql.Literal(schema.OPEN_START)
        )
        if start_col
        else sql.Literal(schema.OPEN_START)
    )
    ins = _insert_new_sql(contract, vcols + ([start_col] if start_col else []))
    row = conn.execute(
        sql.SQL(
            "with ins as ({ins}), ver as (insert into {vt} ({vcols}, valid_from, _run_id) "
            "select {vcols}, {start}, %(run)s from ins returning 1) "
            "select (select count(*) from ins), (select count(*) from ver)"
        ).format(
            ins=ins,
            vt=sql.Identifier(schema.CONFORMED, name),
            vcols=_ids(vcols),
            start=start,
        ),
        {"run": run_id},
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def _update_static(
    conn: psycopg.Connection, contract: EntityContract, run_id: str, logical_date: date
) -> tuple[int, int]:
    """Update changed rows; a tracked change seen in the snapshot of logical date D closes the
    open version at D and opens one at D (a second change on the same D replaces it in place)."""
    key = sql.Identifier(schema.key_column(contract))
    updated = conn.execute(
        sql.SQL(
            "update {target} t set {assign}, _change_seq = {seq}, _run_id = %s "
            "from {diff} d where t.{key} = d.{key}"
        ).format(
            target=schema.table(contract),
            assign=_assignments(contract),
            seq=_SEQ,
            diff=sql.Identifier(DIFF),
            key=key,
        ),
        [run_id],
    ).rowcount
    name = schema.versions_table(contract)
    if name is None or updated == 0:
        return updated, 0
    vt = sql.Identifier(schema.CONFORMED, name)
    vcols = list(schema.version_columns(contract))
    closed = conn.execute(
        sql.SQL(
            "update {vt} v set valid_to = %s, _change_seq = {seq}, _run_id = %s from {diff} d "
            "where d._tracked and v.{key} = d.{key} and v.valid_to is null and v.valid_from < %s"
        ).format(vt=vt, seq=_SEQ, diff=sql.Identifier(DIFF), key=key),
        [logical_date, run_id, logical_date],
    ).rowcount
    opened = conn.execute(
        sql.SQL(
            "insert into {vt} ({cols}, valid_from, _run_id) select {cols}, %s, %s "
            "from {diff} where _tracked "
            "on conflict ({key}, valid_from) do update set {assign}, valid_to = null, "
            "_change_seq = {seq}, _run_id = excluded._run_id"
        ).format(
            vt=vt,
            cols=_ids([schema.key_column(contract), *vcols]),
            diff=sql.Identifier(DIFF),
            key=key,
            assign=sql.SQL(", ").join(
                sql.SQL("{} = excluded.{}").format(sql.Identifier(c), sql.Identifier(c))
                for c in vcols
            ),
            seq=_SEQ,
        ),
        [logical_date, run_id],
    ).rowcount
    return updated, closed + opened
