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
from coretelecoms.risk.dataset import SCORE_INPUTS
from coretelecoms.warehouse.checksums import GOLD_SCHEMA

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

    from coretelecoms.risk.model import RiskModel

log = logging.getLogger(__name__)

FEATURES_TABLE = "customer_features_monthly"
SCORES_TABLE = "customer_risk_scores"
NEW_SCORES_TABLE = "customer_risk_scores__next"
"""The scores table being written, renamed to ``SCORES_TABLE`` in the transaction that writes
it (so it never outlives a crash)."""
LEGACY_STAGING_TABLE = "customer_risk_scores__chunks"
"""Where scores were staged in gold before they moved to a temporary table: dropped if left."""
KEY_COLUMNS = ("customer_id", "month_start_date")


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
        config={"memory_limit": settings.duckdb_memory_limit},
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


def read_horizon(settings: Settings) -> date | None:
    """The warehouse's horizon, on a connection of its own (the refit policy's only query)."""
    with warehouse(settings) as conn:
        return horizon(conn)


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


def read_customers(conn: DuckDBPyConnection, customers: str) -> pl.DataFrame:
    """Feature rows of the customers listed in the temporary table ``customers``."""
    return _features(conn, f"customer_id in (select customer_id from {customers})")


# -- incremental scoring: which customers changed since the last scoring -------------------------

STATE_SCHEMA = "risk_state"
"""Bookkeeping of the scorer, outside gold: it says what was scored, not what the gold says."""
SCORED_TABLE = "scored_customers"
RUN_TABLE = "scoring"
TODO_TABLE = "to_score"
"""The customers being scored: a table, not a temporary one, since a second cursor streams
their features while the first writes the scores."""
SCORING_FORMAT = 1
"""Bump when the panel or the scores change meaning without a new model: forces a full rescore."""


def _state(name: str) -> str:
    return f'"{STATE_SCHEMA}"."{name}"'


def _exists(conn: DuckDBPyConnection, schema: str, name: str) -> bool:
    return bool(
        conn.execute(
            "select count(*) from information_schema.tables where table_schema = ? "
            "and table_name = ?",
            [schema, name],
        ).fetchall()[0][0]
    )


def plan_scoring(
    conn: DuckDBPyConnection, model_key: str | None, horizon: date | None, chunk_customers: int
) -> tuple[int, int, bool]:
    """Fingerprint every customer's feature rows; list the ones to score in ``to_score``.

    A customer's panel rows, hence their scores, are a function of their feature rows, the
    horizon and the model (``model_key``: its fingerprint). So when the model, the horizon and
    the scoring format are those of the last scoring, only customers whose fingerprint is new
    or different are scored; otherwise all are. Each one gets a chunk number
    (``chunk_customers`` customers per chunk, by id). Returns (customers, customers to score,
    whether that is all of them).
    """
    conn.execute(
        "create or replace temp table risk_fingerprints as select customer_id, "
        f"sum(hash({', '.join(SCORE_INPUTS)})) as features_hash "
        f"from {_table(FEATURES_TABLE)} group by customer_id"
    )
    full = True
    if _exists(conn, STATE_SCHEMA, RUN_TABLE) and _exists(conn, GOLD_SCHEMA, SCORES_TABLE):
        last = conn.execute(
            f"select * from {_state(RUN_TABLE)}"  # another layout: another format, full
        ).fetchall()
        full = last != [(model_key, horizon, SCORING_FORMAT)]
    changed = (
        "select customer_id from risk_fingerprints"
        if full
        else "select customer_id from risk_fingerprints except select customer_id from "
        f"{_state(SCORED_TABLE)} s join risk_fingerprints f using (customer_id, features_hash)"
    )
    conn.execute(f'create schema if not exists "{STATE_SCHEMA}"')
    conn.execute(
        f"create or replace table {_state(TODO_TABLE)} as select customer_id, "
        "(row_number() over (order by customer_id) - 1) // ? as chunk "
        f"from ({changed})",
        [chunk_customers],
    )
    total = int(conn.execute("select count(*) from risk_fingerprints").fetchall()[0][0])
    todo = int(conn.execute(f"select count(*) from {_state(TODO_TABLE)}").fetchall()[0][0])
    return total, todo, full


def scores_unchanged(conn: DuckDBPyConnection, total: int, todo: int, full: bool) -> bool:
    """Whether the scores table already is what this scoring would write: same model, horizon
    and format, no customer to score, and nobody gone from the features. Rewriting it would
    then only re-rank the same scores (~2 us of CPU a row), so the caller skips that."""
    if full or todo:
        return False
    scored = conn.execute(f"select count(*) from {_state(SCORED_TABLE)}").fetchall()[0][0]
    return int(scored) == total  # no new customer (todo is 0), so equal counts: nobody gone


def read_todo(conn: DuckDBPyConnection, batch_rows: int = 200_000) -> Iterator[pl.DataFrame]:
    """Feature rows of the customers to score, one scan ordered by chunk, yielded chunk by chunk
    (a yielded frame holds whole customers: one chunk, or several small ones)."""
    cursor = conn.cursor()
    reader = cursor.sql(
        f"select f.*, t.chunk as _chunk from {_table(FEATURES_TABLE)} f "
        f"join {_state(TODO_TABLE)} t using (customer_id) order by t.chunk"
    ).to_arrow_reader(batch_rows)
    pending: list[pl.DataFrame] = []
    try:
        for batch in reader:
            frame = pl.from_arrow(batch)
            if frame.is_empty():
                continue
            pending.append(frame)  # type: ignore[arg-type]
            last = frame["_chunk"][-1]
            if pending[0]["_chunk"][0] == last:
                continue
            held = pl.concat(pending)
            pending = [held.filter(pl.col("_chunk") == last)]
            yield held.filter(pl.col("_chunk") < last).drop("_chunk")
            del held
        if pending:
            yield pl.concat(pending).drop("_chunk")
    finally:
        cursor.close()


# -- the scores table: new scores staged, ranked once in SQL with the unchanged ones -------------


def start_scores(conn: DuckDBPyConnection) -> None:
    """An empty temporary table the chunks append their scores to."""
    conn.execute(
        "create or replace temp table risk_new_scores (customer_id varchar, "
        "month_start_date date, target_month_start_date date, score double)"
    )


def append_scores(conn: DuckDBPyConnection, scores: pl.DataFrame) -> None:
    conn.register("risk_chunk_frame", scores.to_arrow())
    try:
        conn.execute(
            "insert into risk_new_scores select customer_id, month_start_date, "
            "target_month_start_date, score from risk_chunk_frame"
        )
    finally:
        conn.unregister("risk_chunk_frame")


def _all_scores(full: bool) -> str:
    """New scores plus the kept ones (customers still in the features and not rescored)."""
    if full:
        return "select * from risk_new_scores"
    return (
        "select s.customer_id, s.month_start_date, s.target_month_start_date, s.score "
        f"from {_table(SCORES_TABLE)} s semi join risk_fingerprints using (customer_id) "
        f"anti join {_state(TODO_TABLE)} using (customer_id) "
        "union all select * from risk_new_scores"
    )


def stage_top_decile(conn: DuckDBPyConnection, horizon: date | None, full: bool) -> int:
    """The latest month's decile 1 (its first ceil(n / 10) ranks) in ``risk_top``, with the
    reasons kept from the last scoring where the customer was not rescored; returns how many
    of them still need reasons (listed in ``risk_explain``)."""
    # the kept reasons: one join on the latest month (a correlated lookup per row cost ~3 s of
    # CPU on 1.4 M rows at scale 1)
    kept = (
        "select null::varchar as customer_id, null::varchar as top_reasons limit 0"
        if full
        else f"select customer_id, top_reasons from {_table(SCORES_TABLE)} "
        f"anti join {_state(TODO_TABLE)} using (customer_id) "
        "where month_start_date = $horizon and top_reasons is not null"
    )
    conn.execute(
        f"""create or replace temp table risk_top as
        with latest as (
            select customer_id, month_start_date, score from ({_all_scores(full)})
            where month_start_date = $horizon
        ), kept as ({kept})
        select s.customer_id, s.month_start_date, k.top_reasons
        from latest s left join kept k using (customer_id)
        order by s.score desc, s.customer_id
        limit (select (count(*) + 9) // 10 from latest)""",
        {"horizon": horizon},
    )
    conn.execute(
        "create or replace temp table risk_explain as select customer_id from risk_top "
        "where top_reasons is null"
    )
    return int(conn.execute("select count(*) from risk_explain").fetchall()[0][0])


SCORES_COLUMNS = (
    "customer_id varchar using compression 'uncompressed', month_start_date date, "
    "target_month_start_date date, score double, risk_rank bigint, risk_decile bigint, "
    "top_reasons varchar, model_version varchar"
)
"""The scores table's columns. Its ids are stored uncompressed: every customer appears once a
month and the table is in rank order, so DuckDB's default for them (DICT_FSST) only shrinks
random UUIDs, and took ~7 of the ~9 s of CPU of writing 9 M rows at scale 1 (uncompressed:
~1.3 s, +~160 MB of file)."""


def score_count(conn: DuckDBPyConnection) -> int:
    return int(conn.execute(f"select count(*) from {_table(SCORES_TABLE)}").fetchall()[0][0])


def finish_scores(
    conn: DuckDBPyConnection,
    reasons: pl.DataFrame,
    *,
    version: str | None,
    model_key: str | None,
    horizon: date | None,
    full: bool,
) -> int:
    """Rank every score per month, attach the reasons, replace the scores table and record what
    was scored, in one transaction (a crash leaves the last table and its bookkeeping).

    Rank 1 is the riskiest, ties broken by customer id; decile 1 is the top tenth. Reasons are
    kept for the latest month's decile-1 rows only. The table is a function of the features and
    the model: scoring everything or only the changed customers writes the same rows.
    """
    conn.register("risk_reasons_frame", reasons.select(*KEY_COLUMNS, "top_reasons").to_arrow())
    try:
        conn.execute("begin")
        conn.execute(f'create schema if not exists "{GOLD_SCHEMA}"')
        # built beside the old table (the kept scores are read from it), then swapped in
        conn.execute(f"create or replace table {_table(NEW_SCORES_TABLE)} ({SCORES_COLUMNS})")
        conn.execute(
            f"""insert into {_table(NEW_SCORES_TABLE)}
            with reasons as (
                select * from risk_top where top_reasons is not null
                union all select * from risk_reasons_frame
            ), ranked as (
                select *,
                    row_number() over (
                        partition by month_start_date order by score desc, customer_id
                    ) as risk_rank,
                    count(*) over (partition by month_start_date) as month_rows
                from ({_all_scores(full)})
            )
            select d.customer_id, d.month_start_date, d.target_month_start_date, d.score,
                cast(d.risk_rank as bigint) as risk_rank,
                cast((d.risk_rank - 1) * 10 // d.month_rows + 1 as bigint) as risk_decile,
                r.top_reasons,
                cast(? as varchar) as model_version
            from ranked d
            left join reasons r
                on r.customer_id = d.customer_id and r.month_start_date = d.month_start_date
            order by d.month_start_date, d.risk_rank""",
            [version],
        )
        conn.execute(f"drop table if exists {_table(SCORES_TABLE)}")
        conn.execute(f'alter table {_table(NEW_SCORES_TABLE)} rename to "{SCORES_TABLE}"')
        conn.execute(f"drop table if exists {_table(LEGACY_STAGING_TABLE)}")
        conn.execute(f'create schema if not exists "{STATE_SCHEMA}"')
        conn.execute(
            f"create or replace table {_state(SCORED_TABLE)} as "
            "select customer_id, features_hash from risk_fingerprints"
        )
        conn.execute(
            f"create or replace table {_state(RUN_TABLE)} as select cast(? as varchar) as "
            "model_key, cast(? as date) as horizon, cast(? as integer) as scoring_format",
            [model_key, horizon, SCORING_FORMAT],
        )
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise
    finally:
        conn.unregister("risk_reasons_frame")
    written = score_count(conn)
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
    # the evaluation first, then the model moved into place whole: a crash leaves the old
    # model (which the rerun replaces, evaluation included), never a half-written one
    with fs.open(eval_uri, "w") as fh:
        json.dump(model.metadata, fh, indent=2, sort_keys=True, default=str)
    partial = f"{model_uri}.partial"
    with fs.open(partial, "wb") as fh:
        fh.write(buffer.getvalue())
    fs.mv(partial, model_uri)
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
