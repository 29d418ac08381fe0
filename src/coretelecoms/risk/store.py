# ruff: noqa: S608  (the only identifiers are module constants, quoted)
"""Where the risk model meets storage: features read from and scores written to the warehouse,
the fitted model kept in the lake.

Only the DuckDB warehouse is supported for now: Snowflake would read the same feature table and
write the same score table through its connector, which is not wired up yet.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from coretelecoms.config import Settings
from coretelecoms.warehouse.checksums import GOLD_SCHEMA

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

    from coretelecoms.risk.model import RiskModel

log = logging.getLogger(__name__)

FEATURES_TABLE = "customer_features_monthly"
SCORES_TABLE = "customer_risk_scores"
STAGING_TABLE = "customer_risk_scores__chunks"
KEY_COLUMNS = ("customer_id", "month_start_date")
DUCKDB_MEMORY_LIMIT = "1GB"
"""DuckDB's share of the risk step: the chunk reads are small, the final per-month ranking of all
scores spills to disk beyond it, so the step stays within its budget with the Python side."""


class RiskError(RuntimeError):
    """Something a person must fix first (no warehouse yet, no model trained yet)."""


def _duckdb_path(settings: Settings) -> Path:
    if settings.warehouse != "duckdb":
        raise RiskError("risk scoring supports the DuckDB warehouse only (warehouse=duckdb)")
    path = Path(str(settings.duckdb_path))
    if not path.exists():
        raise RiskError(f"no warehouse at {path}: run the pipeline first")
    return path


def _table(name: str) -> str:
    return f'"{GOLD_SCHEMA}"."{name}"'


@contextmanager
def warehouse(settings: Settings, *, read_only: bool = True) -> Iterator[DuckDBPyConnection]:
    """A connection to the warehouse, capped like the load and dbt so big scans spill.

    Raises:
        RiskError: no warehouse file, or ``customer_features_monthly`` has not been built.
    """
    import duckdb

    conn = duckdb.connect(
        str(_duckdb_path(settings)),
        read_only=read_only,
        config={"memory_limit": DUCKDB_MEMORY_LIMIT},
    )
    try:
        try:
            conn.execute(f"select 1 from {_table(FEATURES_TABLE)} limit 0")
        except duckdb.CatalogException as exc:
            raise RiskError(f"{GOLD_SCHEMA}.{FEATURES_TABLE} is missing: run dbt build") from exc
        yield conn
    finally:
        conn.close()


def _features(
    conn: DuckDBPyConnection, where: str = "true", params: list[Any] | None = None
) -> pl.DataFrame:
    arrow = conn.sql(
        f"select * from {_table(FEATURES_TABLE)} where {where}", params=params
    ).to_arrow_table()
    return pl.from_arrow(arrow)  # type: ignore[return-value]


def horizon(conn: DuckDBPyConnection) -> date | None:
    """The latest feature month: every customer's panel runs up to it."""
    value = conn.execute(
        f"select cast(max(month_start_date) as date) from {_table(FEATURES_TABLE)}"
    ).fetchall()[0][0]
    return value


def customer_count(conn: DuckDBPyConnection) -> int:
    return int(
        conn.execute(
            f"select count(distinct customer_id) from {_table(FEATURES_TABLE)}"
        ).fetchall()[0][0]
    )


def read_features(settings: Settings) -> pl.DataFrame:
    """``customer_features_monthly`` as a frame, whole (tests and small warehouses only).

    Raises:
        RiskError: no warehouse file, or the table has not been built.
    """
    with warehouse(settings) as conn:
        return _features(conn)


def read_customer_features(
    settings: Settings, customer_id: str
) -> tuple[pl.DataFrame, date | None]:
    """One customer's feature rows and the warehouse's horizon (for ``explain``)."""
    with warehouse(settings) as conn:
        return _features(conn, "customer_id = ?", [customer_id]), horizon(conn)


def read_training_features(settings: Settings) -> tuple[pl.DataFrame, date | None, int]:
    """Feature rows of the training sample, the horizon, and how many customers there are.

    The sample is whole customers, the ``risk_train_customers`` smallest by the MD5 of their id:
    it ignores months and labels, is the same on every run over the same customers, and MD5 does
    not change between DuckDB versions (``hash`` may).
    """
    with warehouse(settings) as conn:
        total = customer_count(conn)
        if total <= settings.risk_train_customers:
            return _features(conn), horizon(conn), total
        frame = _features(
            conn,
            f"customer_id in (select customer_id from (select distinct customer_id from "
            f"{_table(FEATURES_TABLE)}) order by md5(customer_id), customer_id limit ?)",
            [settings.risk_train_customers],
        )
        return frame, horizon(conn), total


def read_chunk(conn: DuckDBPyConnection, chunks: int, chunk: int) -> pl.DataFrame:
    """Feature rows of one hash bucket of customers (each customer lands in exactly one)."""
    return _features(conn, "hash(customer_id) % ? = ?", [chunks, chunk])


# -- the scores table, written chunk by chunk, ranked once in SQL --------------------------------


def start_scores(conn: DuckDBPyConnection) -> None:
    """An empty staging table the chunks append their scores to."""
    conn.execute(f'create schema if not exists "{GOLD_SCHEMA}"')
    conn.execute(
        f"create or replace table {_table(STAGING_TABLE)} (customer_id varchar, "
        "month_start_date date, target_month_start_date date, score double)"
    )


def append_scores(conn: DuckDBPyConnection, scores: pl.DataFrame) -> None:
    conn.register("risk_chunk_frame", scores.to_arrow())
    try:
        conn.execute(
            f"insert into {_table(STAGING_TABLE)} select customer_id, month_start_date, "
            "target_month_start_date, score from risk_chunk_frame"
        )
    finally:
        conn.unregister("risk_chunk_frame")


def finish_scores(conn: DuckDBPyConnection, reasons: pl.DataFrame, version: str | None) -> int:
    """Rank the staged scores per month, attach the reasons and replace the scores table.

    Rank 1 is the riskiest, ties broken by customer id; decile 1 is the top tenth. Reasons are
    kept for decile-1 rows only. The table is a function of the features and the model, so it is
    replaced whole in one transaction: a rerun or a backfill leaves exactly the same rows.
    """
    conn.register("risk_reasons_frame", reasons.select(*KEY_COLUMNS, "top_reasons").to_arrow())
    try:
        conn.execute("begin")
        conn.execute(
            f"""create or replace table {_table(SCORES_TABLE)} as
            with ranked as (
                select *,
                    row_number() over (
                        partition by month_start_date order by score desc, customer_id
                    ) as risk_rank,
                    count(*) over (partition by month_start_date) as month_rows
                from {_table(STAGING_TABLE)}
            ), deciled as (
                select *, (risk_rank - 1) * 10 // month_rows + 1 as risk_decile from ranked
            )
            select d.customer_id, d.month_start_date, d.target_month_start_date, d.score,
                cast(d.risk_rank as bigint) as risk_rank,
                cast(d.risk_decile as bigint) as risk_decile,
                case when d.risk_decile = 1 then r.top_reasons end as top_reasons,
                cast(? as varchar) as model_version
            from deciled d
            left join risk_reasons_frame r
                on r.customer_id = d.customer_id and r.month_start_date = d.month_start_date
            order by d.month_start_date, d.risk_rank""",
            [version],
        )
        conn.execute(f"drop table {_table(STAGING_TABLE)}")
        conn.execute("commit")
    finally:
        conn.unregister("risk_reasons_frame")
    written = int(conn.execute(f"select count(*) from {_table(SCORES_TABLE)}").fetchall()[0][0])
    log.info("wrote %d risk scores to %s.%s", written, GOLD_SCHEMA, SCORES_TABLE)
    return written


def read_scores(settings: Settings, month: str | None = None) -> pl.DataFrame:
    """Scores of ``month`` (``YYYY-MM-01``; default the latest), riskiest first; empty if none."""
    import duckdb

    path = Path(str(settings.duckdb_path))
    if settings.warehouse != "duckdb" or not path.exists():
        return pl.DataFrame()
    conn = duckdb.connect(str(path), read_only=True)
    try:
        exists = conn.execute(
            "select count(*) from information_schema.tables where table_schema = ? "
            "and table_name = ?",
            [GOLD_SCHEMA, SCORES_TABLE],
        ).fetchall()[0][0]
        if not exists:
            return pl.DataFrame()
        arrow = conn.sql(
            f"select * from {_table(SCORES_TABLE)} where month_start_date = "
            f"coalesce(cast(? as date), (select max(month_start_date) from "
            f"{_table(SCORES_TABLE)})) order by risk_rank",
            params=[month],
        ).to_arrow_table()
    finally:
        conn.close()
    return pl.from_arrow(arrow)


# -- the fitted model in the lake ----------------------------------------------------------------


def model_uris(settings: Settings) -> tuple[str, str]:
    """Model (joblib) and its evaluation (JSON) in ``<lake>/models/risk/``."""
    base = f"{str(settings.lake_uri).rstrip('/')}/models/risk"
    return f"{base}/model.joblib", f"{base}/evaluation.json"


def save_model(settings: Settings, model: RiskModel) -> tuple[str, str]:
    """Write the model and its evaluation; returns their locations."""
    import joblib

    from coretelecoms.extract.base import filesystem

    model_uri, eval_uri = model_uris(settings)
    fs = filesystem(settings, model_uri)
    fs.makedirs(model_uri.rsplit("/", 1)[0], exist_ok=True)
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    with fs.open(model_uri, "wb") as fh:
        fh.write(buffer.getvalue())
    with fs.open(eval_uri, "w") as fh:
        json.dump(model.metadata, fh, indent=2, sort_keys=True, default=str)
    return model_uri, eval_uri


def load_model(settings: Settings) -> RiskModel:
    """The model ``coretelecoms risk train`` saved (the lake is ours: unpickling it is trusted).

    Raises:
        RiskError: no model has been trained yet.
    """
    import joblib

    from coretelecoms.extract.base import filesystem

    model_uri, _ = model_uris(settings)
    fs = filesystem(settings, model_uri)
    if not fs.exists(model_uri):
        raise RiskError(f"no risk model at {model_uri}: run `coretelecoms risk train` first")
    with fs.open(model_uri, "rb") as fh:
        return joblib.load(io.BytesIO(fh.read()))


def load_evaluation(settings: Settings) -> dict[str, Any]:
    """The last training's evaluation, or {} when no model was trained."""
    from coretelecoms.extract.base import filesystem

    _, eval_uri = model_uris(settings)
    fs = filesystem(settings, eval_uri)
    if not fs.exists(eval_uri):
        return {}
    with fs.open(eval_uri, "r") as fh:
        return json.load(fh)
