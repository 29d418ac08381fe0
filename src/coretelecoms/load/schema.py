"""Names and DDL of the conformed schema, derived from the entity contracts.

The columns of every conformed table come from ``EntityContract.silver_columns``; this module
only adds the metadata columns (``_change_seq``, ``_run_id``), the keys, the foreign keys and the
history tables, so a contract change is the only edit needed to add a column.
"""

from __future__ import annotations

from datetime import date

from psycopg import sql

from coretelecoms.contracts import CONTRACTS, EntityContract

CONFORMED = "conformed"
OPS = "ops"
CHANGE_SEQ = "change_seq"
COMPLAINT_KEY = "complaint_key"
STATUS_HISTORY = "complaint_status_history"
STATUS_COLUMN = "resolution_status"
# First version of a static entity when the source gives no start (the sheet has no hire date).
OPEN_START = date(1900, 1, 1)
# A column derived from a tracked one travels with it into the version table.
_COMPANIONS = {"state_code": ("state_name",)}
# Column of a static entity that dates its first version, when the contract has it.
_FIRST_VERSION_START = "signup_date"


def table(contract: EntityContract) -> sql.Composed:
    """``conformed.<silver_table>`` as a composed identifier."""
    return sql.Identifier(CONFORMED, contract.silver_table)


def source_id_column(contract: EntityContract) -> str:
    """The source's own id (complaints) or the natural key column (static entities)."""
    return contract.natural_key[0]


def key_column(contract: EntityContract) -> str:
    """Primary key column of the conformed table."""
    return COMPLAINT_KEY if contract.is_complaint else contract.natural_key[0]


def complaint_key_expr(contract: EntityContract) -> sql.Composed:
    """``md5('<channel>|' || <source id>)``: the complaint key, computed from the source id."""
    return sql.SQL("md5({} || {})").format(
        sql.Literal(f"{contract.channel}|"), sql.Identifier(source_id_column(contract))
    )


def complaint_key_ddl() -> list[sql.Composable]:
    """Migration 4: each complaint table's key is checked to be the hash of its source id, and
    the unique constraint on the source id is dropped.

    The key is unique (primary key) and now provably a function of the source id, so the source
    id is unique too; its own unique index was a second random-text B-tree written on every
    complaint insert. The check costs an md5 per row and no index. Idempotent; the check is added
    ``not valid`` and then validated, so an existing table is scanned without blocking reads.
    """
    stmts: list[sql.Composable] = []
    for contract in sorted(CONTRACTS.values(), key=lambda c: c.entity):
        if not contract.is_complaint:
            continue
        tbl = table(contract)
        check = sql.Identifier(f"{contract.silver_table}_complaint_key_check")
        stmts += [
            sql.SQL(
                "alter table {} drop constraint if exists {}, drop constraint if exists {}, "
                "add constraint {} check ({} = {}) not valid"
            ).format(
                tbl,
                sql.Identifier(f"{contract.silver_table}_source_id_key"),
                check,
                check,
                sql.Identifier(COMPLAINT_KEY),
                complaint_key_expr(contract),
            ),
            sql.SQL("alter table {} validate constraint {}").format(tbl, check),
        ]
    return stmts


def data_columns(contract: EntityContract) -> tuple[str, ...]:
    """Silver columns that arrive in ``TransformedBatch.clean`` (all but the computed key)."""
    return tuple(c for c in contract.silver_column_names if c != COMPLAINT_KEY)


def versions_table(contract: EntityContract) -> str | None:
    """``customer_versions`` / ``agent_versions`` for static entities with tracked columns."""
    if contract.is_complaint or not contract.tracked:
        return None
    return f"{contract.natural_key[0].removesuffix('_id')}_versions"


def version_columns(contract: EntityContract) -> tuple[str, ...]:
    """Tracked columns plus their companions, in silver-column order."""
    wanted = set(contract.tracked)
    for col in contract.tracked:
        wanted.update(_COMPANIONS.get(col, ()))
    return tuple(c for c in contract.silver_column_names if c in wanted)


def first_version_start(contract: EntityContract) -> str | None:
    """Column giving the first version's ``valid_from`` (null -> ``OPEN_START``), if any."""
    return _FIRST_VERSION_START if _FIRST_VERSION_START in contract.silver_column_names else None


def _pg_type(name: str) -> sql.SQL:
    # Types come from our own contracts (a closed set), never from data.
    return sql.SQL(name)


def _column_defs(contract: EntityContract) -> list[sql.Composable]:
    return [
        sql.SQL("{} {}{}").format(
            sql.Identifier(c.name),
            _pg_type(c.pg_type),
            sql.SQL("" if c.nullable else " not null"),
        )
        for c in contract.silver_columns
    ]


def _meta_defs() -> list[sql.Composable]:
    return [
        sql.SQL("_change_seq bigint not null default nextval({})").format(
            sql.Literal(f"{CONFORMED}.{CHANGE_SEQ}")
        ),
        sql.SQL("_run_id text not null"),
    ]


def conformed_ddl() -> list[sql.Composable]:
    """Statements creating the conformed schema (parents before children)."""
    stmts: list[sql.Composable] = [
        sql.SQL("create schema if not exists {}").format(sql.Identifier(CONFORMED)),
        sql.SQL("create sequence if not exists {}").format(sql.Identifier(CONFORMED, CHANGE_SEQ)),
    ]
    ordered = sorted(CONTRACTS.values(), key=lambda c: (bool(c.parents), c.entity))
    for contract in ordered:
        stmts.extend(_entity_ddl(contract))
    stmts.extend(_status_history_ddl())
    return stmts


def _entity_ddl(contract: EntityContract) -> list[sql.Composable]:
    tbl = table(contract)
    key = key_column(contract)
    parts = [*_column_defs(contract), *_meta_defs()]
    parts.append(
        sql.SQL("constraint {} primary key ({})").format(
            sql.Identifier(f"{contract.silver_table}_pkey"), sql.Identifier(key)
        )
    )
    if contract.is_complaint:
        parts.append(
            sql.SQL("constraint {} unique ({})").format(
                sql.Identifier(f"{contract.silver_table}_source_id_key"),
                sql.SQL(", ").join(map(sql.Identifier, contract.natural_key)),
            )
        )
    for parent in contract.parents:
        parent_contract = CONTRACTS[parent.entity]
        parts.append(
            sql.SQL("constraint {} foreign key ({}) references {} ({})").format(
                sql.Identifier(f"{contract.silver_table}_{parent.column}_fkey"),
                sql.Identifier(parent.column),
                table(parent_contract),
                sql.Identifier(parent.key),
            )
        )
    stmts: list[sql.Composable] = [
        sql.SQL("create table if not exists {} ({})").format(tbl, sql.SQL(", ").join(parts))
    ]
    index_cols = [p.column for p in contract.parents] + ["_change_seq"]
    for col in index_cols:
        stmts.append(
            sql.SQL("create index if not exists {} on {} ({})").format(
                sql.Identifier(f"{contract.silver_table}_{col.strip('_')}_idx"),
                tbl,
                sql.Identifier(col),
            )
        )
    vt = versions_table(contract)
    if vt is not None:
        stmts.extend(_versions_ddl(contract, vt))
    return stmts


def _versions_ddl(contract: EntityContract, name: str) -> list[sql.Composable]:
    key = contract.natural_key[0]
    types = {c.name: c for c in contract.silver_columns}
    cols = [
        sql.SQL("{} {} not null").format(sql.Identifier(key), _pg_type(types[key].pg_type)),
        *(
            sql.SQL("{} {}").format(sql.Identifier(c), _pg_type(types[c].pg_type))
            for c in version_columns(contract)
        ),
        sql.SQL("valid_from date not null"),
        sql.SQL("valid_to date"),
        *_meta_defs(),
        sql.SQL("constraint {} primary key ({}, valid_from)").format(
            sql.Identifier(f"{name}_pkey"), sql.Identifier(key)
        ),
        # No foreign key to the entity table: versions are written only by the loader, in the
        # statement that writes their row, and a per-row RI check would halve first-load speed.
        sql.SQL("constraint {} check (valid_to is null or valid_to > valid_from)").format(
            sql.Identifier(f"{name}_validity_check")
        ),
    ]
    tbl = sql.Identifier(CONFORMED, name)
    return [
        sql.SQL("create table if not exists {} ({})").format(tbl, sql.SQL(", ").join(cols)),
        # At most one open (current) version per key.
        sql.SQL("create unique index if not exists {} on {} ({}) where valid_to is null").format(
            sql.Identifier(f"{name}_current_key"), tbl, sql.Identifier(key)
        ),
        sql.SQL("create index if not exists {} on {} (_change_seq)").format(
            sql.Identifier(f"{name}_change_seq_idx"), tbl
        ),
    ]


def _status_history_ddl() -> list[sql.Composable]:
    tbl = sql.Identifier(CONFORMED, STATUS_HISTORY)
    return [
        sql.SQL(
            "create table if not exists {} ("
            "complaint_key text not null, channel text not null, "
            "resolution_status text not null, observed_date date not null, {}, {}, "
            "constraint complaint_status_history_pkey primary key (complaint_key, observed_date))"
        ).format(tbl, *_meta_defs()),
        sql.SQL(
            "create index if not exists complaint_status_history_change_seq_idx on {} (_change_seq)"
        ).format(tbl),
    ]
