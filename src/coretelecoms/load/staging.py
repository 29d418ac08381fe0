"""Staging and change application shared by the loader and the quarantine release.

A batch is copied into a temporary table ``_stage`` (columns typed from the contract), then
applied to its conformed table: insert new keys, update only rows whose values differ
(``IS DISTINCT FROM``: an unchanged row is counted, never rewritten, so its ``xmin`` stays), and
append history (complaint status, customer/agent versions) in the same transaction. All dates in
history are business dates (the source's generation date or the logical date of the snapshot),
never the wall clock, so a backfill gives the same history as day-by-day runs.

Speed (see docs/decisions/silver-load.md): the conformed table is probed once per batch, by
index, for the keys it already holds; everything after that joins small temporary tables. The
stage is written in the order of the index most of the batch's work walks (the key of a static
entity, the customer of a complaint) so index inserts, parent look-ups and foreign-key checks
touch each page once per batch instead of at random.
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
    spill to disk on every batch, and with the default 4 MB of ``work_mem`` the hash of a batch
    and the rows an insert returns to its history CTE would spill too.
    """
    conn.execute("set temp_buffers = '256MB'")
    conn.execute("set work_mem = '128MB'")


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
            sql.SQL("{} text generated always as ({}) stored").format(
                sql.Identifier(schema.COMPLAINT_KEY), schema.complaint_key_expr(contract)
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
    mismatch a retry cannot fix) or holds a key twice.
    """
    columns = [*schema.data_columns(contract), SOURCE_ROW]
    missing = [c for c in columns if c not in clean.columns]
    if missing:
        raise TerminalLoadError(
            f"{contract.entity}: clean frame lacks silver columns {missing}; got {clean.columns}"
        )
    check_unique_keys(contract, clean)
    create_stage(conn, contract)
    copy_frame(conn, sql.Identifier(STAGE), columns, clean.sort(stage_order(contract)))
    return clean.height


def stage_order(contract: EntityContract) -> str:
    """Column the stage is sorted by: the first parent's (its look-ups, foreign-key checks and
    index dominate a complaint load) or the key (every index of a static entity starts with it)."""
    if contract.parents:
        return contract.parents[0].column
    return schema.key_column(contract)


def check_unique_keys(contract: EntityContract, clean: pl.DataFrame) -> None:
    """A batch must hold each key once (the transform drops duplicates); else fail loudly.

    Checked on the frame (the complaint key is a hash of the source id, so the source id stands
    for it) before anything is written.
    """
    column = schema.source_id_column(contract)
    dupes = clean.height - clean.get_column(column).n_unique()
    if dupes:
        raise TerminalLoadError(
            f"{contract.entity}: {dupes} duplicate keys in one batch; the transform must drop "
            "duplicates before loading"
        )


def apply_stage(
    conn: psycopg.Connection, contract: EntityContract, run_id: str, logical_date: date
) -> Applied:
    """Apply ``_stage`` to the conformed table with history; returns the counts.

    One index probe of the conformed table finds the staged keys it already holds (``_diff``,
    with a flag for the rows whose values differ); only flagged rows are updated. The remaining
    keys are inserted by one statement that also writes their first history row (data-modifying
    CTE), so a first load copies each row once. When no staged key exists yet (a first load) the
    insert reads the stage as it is, with no anti-join. History of a new key is a plain insert (no
    ON CONFLICT: speculative insertion is slower); history already present for a key missing from
    its table means someone deleted rows by hand, and the load stops with a unique violation
    (terminal) rather than guess.
    """
    matched = _create_diff(conn, contract)
    updated = history = 0
    if matched:
        _hash_joins(conn, enabled=False)
        if contract.is_complaint:
            updated, history = _update_complaints(conn, contract, run_id)
        else:
            updated, history = _update_static(conn, contract, run_id, logical_date)
        _hash_joins(conn, enabled=True)
    if contract.is_complaint:
        inserted, new_history = _insert_complaints(conn, contract, run_id, matched > 0)
    else:
        inserted, new_history = _insert_static(conn, contract, run_id, matched > 0)
    return Applied(inserted, updated, matched - updated, history + new_history)


def _probe(target: sql.Composable, key: str) -> sql.Composable:
    """``join lateral``: the row of ``target`` whose unique ``key`` equals the staged one.

    Lateral with ``limit 1`` keeps it a nested loop over the target's unique index: a batch of
    100 k sorted keys walks the index once, where the hash join the planner otherwise prefers
    reads the whole table (2.5 M customers) for every batch.
    """
    return sql.SQL("join lateral (select * from {t} where {k} = s.{k} limit 1) t on true").format(
        t=target, k=sql.Identifier(key)
    )


def _create_diff(conn: psycopg.Connection, contract: EntityContract) -> int:
    """``_diff``: the staged rows whose key is stored, flagged ``_changed`` when the stored row
    differs, with the stored values history needs; returns how many keys were found."""
    key = schema.key_column(contract)
    cols = list(schema.data_columns(contract))
    changed = sql.SQL("row({t}) is distinct from row({s})").format(
        t=_ids(cols, "t"), s=_ids(cols, "s")
    )
    if contract.is_complaint:
        gen = sql.Identifier(contract.generation_date or "generated_date")
        extra = sql.SQL(", s.{key}, t.{status} as _old_status, t.{gen} as _old_generated").format(
            key=sql.Identifier(key), status=sql.Identifier(schema.STATUS_COLUMN), gen=gen
        )
    elif contract.tracked:
        extra = sql.SQL(", row({t}) is distinct from row({s}) as _tracked").format(
            t=_ids(list(contract.tracked), "t"), s=_ids(list(contract.tracked), "s")
        )
    else:
        extra = sql.SQL(", false as _tracked")
    return conn.execute(
        sql.SQL(
            "create temp table {diff} on commit drop as select {scols}{extra}, "
            "{changed} as _changed from {stage} s {probe}"
        ).format(
            diff=sql.Identifier(DIFF),
            scols=_ids(cols, "s"),
            extra=extra,
            changed=changed,
            stage=sql.Identifier(STAGE),
            probe=_probe(schema.table(contract), key),
        )
    ).rowcount


def _hash_joins(conn: psycopg.Connection, *, enabled: bool) -> None:
    """Turn hash and merge joins off or back on for the rest of this transaction.

    The updates join ``_diff`` (the changed rows of one batch, at most a batch) to the
    conformed or version table. Temporary tables have no statistics, so the planner guesses
    tens of thousands of changed rows and picks a hash join that reads the whole table for every
    batch: a day of 1 k changed customers read all 2.5 M customers and their versions 26 times.
    With hash and merge joins off the only plan left is a nested loop over ``_diff`` probing the
    table's unique index, whose cost is bounded by the batch, not by the table.
    """
    value = "on" if enabled else "off"
    conn.execute(
        "select set_config('enable_hashjoin', %s, true), set_config('enable_mergejoin', %s, true)",
        [value, value],
    )


def _assignments(contract: EntityContract) -> sql.Composable:
    key = schema.key_column(contract)
    return sql.SQL(", ").join(
        sql.SQL("{} = d.{}").format(sql.Identifier(c), sql.Identifier(c))
        for c in schema.data_columns(contract)
        if c != key
    )


def _update_changed(
    conn: psycopg.Connection,
    contract: EntityContract,
    run_id: str,
    condition: sql.Composable | None = None,
) -> int:
    """Rewrite the stored rows ``_diff`` flags as changed (and ``condition``); returns how many."""
    key = sql.Identifier(schema.key_column(contract))
    return conn.execute(
        sql.SQL(
            "update {target} t set {assign}, _change_seq = {seq}, _run_id = %s "
            "from {diff} d where d._changed and t.{key} = d.{key} {condition}"
        ).format(
            target=schema.table(contract),
            assign=_assignments(contract),
            seq=_SEQ,
            diff=sql.Identifier(DIFF),
            key=key,
            condition=condition or sql.SQL(""),
        ),
        [run_id],
    ).rowcount


def _update_complaints(
    conn: psycopg.Connection, contract: EntityContract, run_id: str
) -> tuple[int, int]:
    gen = sql.Identifier(contract.generation_date or "generated_date")
    status = sql.Identifier(schema.STATUS_COLUMN)
    # Never move a complaint backwards: an older observation only adds history.
    updated = _update_changed(
        conn, contract, run_id, sql.SQL("and d.{gen} >= t.{gen}").format(gen=gen)
    )
    history = conn.execute(
        sql.SQL(
            "insert into {hist} as h (complaint_key, channel, resolution_status, observed_date, "
            "_run_id) select complaint_key, %s, {status}, {gen}, %s from {diff} "
            "where _changed and (_old_status is distinct from {status} or {gen} < _old_generated) "
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


def _insert_new(
    conn: psycopg.Connection,
    contract: EntityContract,
    run_id: str,
    *,
    existing: bool,
    returning: list[str],
    history: sql.Composable | None,
    params: dict[str, object] | None = None,
) -> tuple[int, int]:
    """Insert the staged keys not in ``_diff`` and, in the same statement, their first history
    rows (``history`` is an ``insert ... select ... from ins``); returns both counts.

    ``existing`` false (no staged key is stored yet) drops the anti-join.
    """
    hist = (
        sql.SQL(", hist as ({} returning 1)").format(history)
        if history is not None
        else sql.SQL(", hist as (select where false)")
    )
    key = sql.Identifier(schema.key_column(contract))
    cols = [schema.COMPLAINT_KEY] if contract.is_complaint else []
    cols += list(schema.data_columns(contract))
    new_only = (
        sql.SQL("where not exists (select from {diff} d where d.{key} = s.{key})").format(
            diff=sql.Identifier(DIFF), key=key
        )
        if existing
        else sql.SQL("")
    )
    row = conn.execute(
        sql.SQL(
            "with ins as (insert into {target} ({cols}, _run_id) select {scols}, %(run)s "
            "from {stage} s {new_only} returning {ret}){hist} "
            "select (select count(*) from ins), (select count(*) from hist)"
        ).format(
            target=schema.table(contract),
            cols=_ids(cols),
            scols=_ids(cols, "s"),
            stage=sql.Identifier(STAGE),
            new_only=new_only,
            ret=_ids(returning),
            hist=hist,
        ),
        {"run": run_id, **(params or {})},
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def _insert_complaints(
    conn: psycopg.Connection, contract: EntityContract, run_id: str, existing: bool
) -> tuple[int, int]:
    gen = contract.generation_date or "generated_date"
    history = sql.SQL(
        "insert into {hist} (complaint_key, channel, resolution_status, observed_date, _run_id) "
        "select complaint_key, %(channel)s, {status}, {gen}, %(run)s from ins"
    ).format(
        hist=sql.Identifier(schema.CONFORMED, schema.STATUS_HISTORY),
        status=sql.Identifier(schema.STATUS_COLUMN),
        gen=sql.Identifier(gen),
    )
    returning = [schema.COMPLAINT_KEY, schema.STATUS_COLUMN, gen]
    return _insert_new(
        conn,
        contract,
        run_id,
        existing=existing,
        returning=returning,
        history=history,
        params={"channel": contract.channel},
    )


def _insert_static(
    conn: psycopg.Connection, contract: EntityContract, run_id: str, existing: bool
) -> tuple[int, int]:
    """Insert new keys; their first version starts at the contract's start column (e.g.
    ``signup_date``) or 1900-01-01."""
    name = schema.versions_table(contract)
    key = schema.key_column(contract)
    if name is None:
        return _insert_new(conn, contract, run_id, existing=existing, returning=[key], history=None)
    vcols = [key, *schema.version_columns(contract)]
    start_col = schema.first_version_start(contract)
    start = (
        sql.SQL("coalesce({}, {})").format(
            sql.Identifier(start_col), sql.Literal(schema.OPEN_START)
        )
        if start_col
        else sql.Literal(schema.OPEN_START)
    )
    history = sql.SQL(
        "insert into {vt} ({vcols}, valid_from, _run_id) select {vcols}, {start}, %(run)s from ins"
    ).format(vt=sql.Identifier(schema.CONFORMED, name), vcols=_ids(vcols), start=start)
    returning = vcols + ([start_col] if start_col else [])
    return _insert_new(
        conn, contract, run_id, existing=existing, returning=returning, history=history
    )


def _update_static(
    conn: psycopg.Connection, contract: EntityContract, run_id: str, logical_date: date
) -> tuple[int, int]:
    """Update changed rows; a tracked change seen in the snapshot of logical date D closes the
    open version at D and opens one at D (a second change on the same D replaces it in place)."""
    key = sql.Identifier(schema.key_column(contract))
    updated = _update_changed(conn, contract, run_id)
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
