"""Quarantine: rows that cannot load, kept with their original record, and replayed when the
reason goes away.

Rejects (missing key, unparseable required field) come from the transform with a reason code.
Orphans (unknown customer or agent) are found here, against the conformed parents, in the batch's
transaction; their reason codes come from the contract's ``Parent.reason``. Each quarantined
orphan keeps ``clean_record`` (the cleaned row as JSONB) so ``release_quarantine`` can load it
through the same upsert-and-history path once its parents exist.
"""

from __future__ import annotations

import logging
from datetime import date

import polars as pl
import psycopg
from psycopg import sql

from coretelecoms.contracts import CONTRACTS, EntityContract
from coretelecoms.load import schema
from coretelecoms.load.errors import classify
from coretelecoms.load.locks import acquire_entity_lock, release_lock
from coretelecoms.load.staging import (
    SOURCE_ROW,
    STAGE,
    apply_stage,
    copy_frame,
    create_stage,
    prepare_session,
)
from coretelecoms.postgres import connect
from coretelecoms.transform.batch import TransformedBatch

log = logging.getLogger(__name__)

ORPHANS = "_orphans"
ORIGINALS = "_originals"
RELEASE_FINGERPRINT = "quarantine-release"
_QUARANTINE_META = (
    "run_id",
    "entity",
    "source_uri",
    "source_fingerprint",
    "logical_date",
    "batch_no",
)


def _parent_joins(contract: EntityContract) -> tuple[sql.Composable, list[sql.Composable]]:
    """Per parent, a join that leaves ``p<i>.found`` null for a staged row whose parent is
    unknown (an orphan).

    The stage is sorted by the first parent's id, so that parent is probed per staged row
    (lateral, by index) and the probes walk its index in order; a hash join would read all
    2.5 M customers for every batch instead. Any other parent (the agent) has few distinct ids
    in a batch: each distinct id is probed once and the answer hash-joined back, where a probe
    per row cost a scan of the (one-page) agents table for every complaint.
    """
    joins = []
    missing = []
    for i, parent in enumerate(contract.parents):
        alias = sql.Identifier(f"p{i}")
        fmt = {
            "parent": schema.table(CONTRACTS[parent.entity]),
            "pkey": sql.Identifier(parent.key),
            "col": sql.Identifier(parent.column),
            "stage": sql.Identifier(STAGE),
            "alias": alias,
        }
        if i == 0:
            join = sql.SQL(
                "left join lateral (select true as found from {parent} p "
                "where p.{pkey} = s.{col} limit 1) {alias} on true"
            )
        else:
            join = sql.SQL(
                "left join (select d.{col}, true as found from (select distinct {col} "
                "from {stage}) d where exists (select from {parent} p where p.{pkey} = d.{col})) "
                "{alias} on {alias}.{col} = s.{col}"
            )
        joins.append(join.format(**fmt))
        missing.append(sql.SQL("{}.found is null").format(alias))
    return sql.SQL(" ").join(joins), missing


def quarantine_orphans(
    conn: psycopg.Connection, contract: EntityContract, batch: TransformedBatch, run_id: str
) -> int:
    """Move staged rows with an unknown parent to ``ops.quarantine``; returns how many."""
    if not contract.parents:
        return 0
    joins, missing = _parent_joins(contract)
    reason = sql.SQL("case {} end").format(
        sql.SQL(" ").join(
            sql.SQL("when {} then {}").format(m, sql.Literal(p.reason))
            for m, p in zip(missing, contract.parents, strict=True)
        )
    )
    detail = sql.SQL("concat_ws('; ', {})").format(
        sql.SQL(", ").join(
            sql.SQL("case when {m} then {label} || s.{col}::text end").format(
                m=m,
                label=sql.Literal(f"{p.column} not in {schema.CONFORMED}.{p.entity}: "),
                col=sql.Identifier(p.column),
            )
            for m, p in zip(missing, contract.parents, strict=True)
        )
    )
    conn.execute(
        sql.SQL(
            "create temp table {orph} on commit drop as select s.{row} as {row}, "
            "{reason} as reason, {detail} as detail from {stage} s {joins} where {any}"
        ).format(
            orph=sql.Identifier(ORPHANS),
            row=sql.Identifier(SOURCE_ROW),
            reason=reason,
            detail=detail,
            stage=sql.Identifier(STAGE),
            joins=joins,
            any=sql.SQL(" or ").join(missing),
        )
    )
    rows = [
        r[0]
        for r in conn.execute(
            sql.SQL("select {} from {}").format(sql.Identifier(SOURCE_ROW), sql.Identifier(ORPHANS))
        )
    ]
    if not rows:
        conn.execute(sql.SQL("drop table {}").format(sql.Identifier(ORPHANS)))
        return 0
    conn.execute(
        sql.SQL("create temp table {} ({} bigint, record jsonb) on commit drop").format(
            sql.Identifier(ORIGINALS), sql.Identifier(SOURCE_ROW)
        )
    )
    originals = batch.originals
    if SOURCE_ROW in originals.columns and originals.height:
        raw_cols = [c for c in originals.columns if c != SOURCE_ROW]
        picked = originals.filter(pl.col(SOURCE_ROW).is_in(rows)).select(
            pl.col(SOURCE_ROW), pl.struct(raw_cols).struct.json_encode().alias("record")
        )
        copy_frame(conn, sql.Identifier(ORIGINALS), [SOURCE_ROW, "record"], picked)
    else:
        log.warning(
            "%s batch %s: no originals to quarantine orphans with", contract.entity, batch.batch_no
        )
    natural_key = sql.SQL(" || '|' || ").join(
        sql.SQL("s.{}::text").format(sql.Identifier(k)) for k in contract.natural_key
    )
    gen = (
        sql.SQL("s.{}").format(sql.Identifier(contract.generation_date))
        if contract.generation_date
        else sql.SQL("null::date")
    )
    drop = [SOURCE_ROW] + ([schema.COMPLAINT_KEY] if contract.is_complaint else [])
    source = batch.source
    inserted = conn.execute(
        sql.SQL(
            "insert into ops.quarantine ({meta}, source_row, reason, detail, natural_key, "
            "generated_date, record, clean_record) "
            "select %s, %s, %s, %s, %s, %s, s.{row}, o.reason, o.detail, {nk}, {gen}, g.record, "
            "to_jsonb(s) {minus} "
            "from {stage} s join {orph} o using ({row}) left join {orig} g using ({row}) "
            "on conflict (entity, source_fingerprint, source_row) do nothing"
        ).format(
            meta=sql.SQL(", ").join(map(sql.Identifier, _QUARANTINE_META)),
            row=sql.Identifier(SOURCE_ROW),
            nk=natural_key,
            gen=gen,
            minus=sql.SQL(" ").join(sql.SQL("- {}").format(sql.Literal(c)) for c in drop),
            stage=sql.Identifier(STAGE),
            orph=sql.Identifier(ORPHANS),
            orig=sql.Identifier(ORIGINALS),
        ),
        [
            run_id,
            contract.entity,
            source.source_uri,
            source.fingerprint,
            source.logical_date,
            batch.batch_no,
        ],
    ).rowcount
    if inserted != len(rows):
        log.warning(
            "%s batch %s: %d orphans were already quarantined",
            contract.entity,
            batch.batch_no,
            len(rows) - inserted,
        )
    conn.execute(
        sql.SQL("delete from {stage} s using {orph} o where s.{row} = o.{row}").format(
            stage=sql.Identifier(STAGE),
            orph=sql.Identifier(ORPHANS),
            row=sql.Identifier(SOURCE_ROW),
        )
    )
    conn.execute(
        sql.SQL("drop table {}, {}").format(sql.Identifier(ORPHANS), sql.Identifier(ORIGINALS))
    )
    return len(rows)


def quarantine_rejects(
    conn: psycopg.Connection, contract: EntityContract, batch: TransformedBatch, run_id: str
) -> int:
    """COPY the transform's row-level rejects (reason, detail, raw record) into quarantine."""
    rejects = batch.rejects
    if rejects.height == 0:
        return 0
    source = batch.source
    frame = rejects.select(
        pl.lit(run_id).alias("run_id"),
        pl.lit(contract.entity).alias("entity"),
        pl.lit(source.source_uri).alias("source_uri"),
        pl.lit(source.fingerprint).alias("source_fingerprint"),
        pl.lit(source.logical_date).alias("logical_date"),
        pl.lit(batch.batch_no).alias("batch_no"),
        pl.col(SOURCE_ROW).alias("source_row"),
        pl.col("reason"),
        pl.col("detail"),
        pl.col("record"),
    )
    copy_frame(conn, sql.Identifier("ops", "quarantine"), frame.columns, frame)
    return rejects.height


def release_quarantine(
    dsn: str, run_id: str, logical_date: date, lock_timeout_s: float = 600.0
) -> dict[str, int]:
    """Load open orphans whose parents now exist and mark them released by ``run_id``.

    Every run calls this first. Rows replay in ``generated_date`` order through the same
    upsert-and-history path as a fresh load (an older observation only adds history), one
    transaction per entity under the entity's load lock. Returns released counts per entity.
    Raises ``TransientLoadError``/``TerminalLoadError``.
    """
    released: dict[str, int] = {}
    for contract in CONTRACTS.values():
        if not contract.parents:
            continue
        try:
            with connect(dsn, autocommit=True) as conn:
                prepare_session(conn)
                key = acquire_entity_lock(conn, contract.entity, lock_timeout_s)
                try:
                    with conn.transaction():
                        n = _release_entity(conn, contract, run_id, logical_date)
                        if n:
                            conn.execute(
                                "insert into ops.pipeline_runs (run_id, entity, "
                                "source_fingerprint, logical_date, status, rows_released, "
                                "finished_at) values (%s, %s, %s, %s, 'succeeded', %s, now()) "
                                "on conflict (run_id, entity, source_fingerprint) do update "
                                "set rows_released = ops.pipeline_runs.rows_released "
                                "+ excluded.rows_released, finished_at = now()",
                                [run_id, contract.entity, RELEASE_FINGERPRINT, logical_date, n],
                            )
                finally:
                    release_lock(conn, key)
        except psycopg.Error as exc:
            raise classify(exc, f"releasing quarantine of {contract.entity}") from exc
        released[contract.entity] = n
        if n:
            log.info("released %d quarantined %s rows (run %s)", n, contract.entity, run_id)
    return released


def _release_entity(
    conn: psycopg.Connection, contract: EntityContract, run_id: str, logical_date: date
) -> int:
    reasons = [p.reason for p in contract.parents]
    ready = sql.SQL(" and ").join(
        sql.SQL(
            "exists (select 1 from {parent} p where p.{pkey} = (q.clean_record ->> {col})::{typ})"
        ).format(
            parent=schema.table(CONTRACTS[p.entity]),
            pkey=sql.Identifier(p.key),
            col=sql.Literal(p.column),
            typ=sql.SQL(_pg_type(contract, p.column)),
        )
        for p in contract.parents
    )
    conn.execute("drop table if exists pg_temp._release")
    conn.execute(
        sql.SQL(
            "create temp table _release on commit drop as select q.id, q.generated_date, "
            "q.clean_record from ops.quarantine q where q.entity = %s and q.released_at is null "
            "and q.reason = any(%s) and q.clean_record is not null and {ready}"
        ).format(ready=ready),
        [contract.entity, reasons],
    )
    dates = [
        r[0]
        for r in conn.execute(
            "select distinct generated_date from _release order by generated_date nulls first"
        )
    ]
    cols = list(schema.data_columns(contract))
    key = schema.key_column(contract)
    total = 0
    for gen_date in dates:
        create_stage(conn, contract)
        # Latest quarantined observation per key for this date.
        conn.execute(
            sql.SQL(
                "insert into {stage} ({cols}, {row}) select distinct on (r.{natural}) {rcols}, "
                "q.id from _release q, jsonb_populate_record(null::{stage}, q.clean_record) r "
                "where q.generated_date is not distinct from %s order by r.{natural}, q.id desc"
            ).format(
                stage=sql.Identifier("pg_temp", STAGE),
                cols=sql.SQL(", ").join(map(sql.Identifier, cols)),
                row=sql.Identifier(SOURCE_ROW),
                natural=sql.Identifier(contract.natural_key[0] if contract.is_complaint else key),
                rcols=sql.SQL(", ").join(sql.Identifier("r", c) for c in cols),
            ),
            [gen_date],
        )
        apply_stage(conn, contract, run_id, gen_date or logical_date)
        total += conn.execute(
            "update ops.quarantine q set released_at = now(), released_run_id = %s from _release r "
            "where q.id = r.id and r.generated_date is not distinct from %s",
            [run_id, gen_date],
        ).rowcount
    return total


def _pg_type(contract: EntityContract, column: str) -> str:
    for c in contract.silver_columns:
        if c.name == column:
            return c.pg_type
    raise KeyError(f"{contract.entity} has no silver column {column!r}")
