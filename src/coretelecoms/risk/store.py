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
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from coretelecoms.config import Settings
from coretelecoms.warehouse.checksums import GOLD_SCHEMA

if TYPE_CHECKING:
    from coretelecoms.risk.model import RiskModel

log = logging.getLogger(__name__)

FEATURES_TABLE = "customer_features_monthly"
SCORES_TABLE = "customer_risk_scores"


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


def read_features(settings: Settings) -> pl.DataFrame:
    """``customer_features_monthly`` as a frame.

    Raises:
        RiskError: no warehouse file, or the table has not been built.
    """
    import duckdb

    conn = duckdb.connect(str(_duckdb_path(settings)), read_only=True)
    try:
        try:
            arrow = conn.sql(f"select * from {_table(FEATURES_TABLE)}").to_arrow_table()
        except duckdb.CatalogException as exc:
            raise RiskError(f"{GOLD_SCHEMA}.{FEATURES_TABLE} is missing: run dbt build") from exc
    finally:
        conn.close()
    return pl.from_arrow(arrow)


def write_scores(settings: Settings, scores: pl.DataFrame) -> int:
    """Replace ``gold.customer_risk_scores`` with ``scores`` in one transaction.

    The table is a function of the current features and model, so it is replaced whole: a rerun
    or a backfill leaves exactly the same rows.
    """
    import duckdb

    conn = duckdb.connect(str(_duckdb_path(settings)))
    try:
        conn.execute("begin")
        conn.execute(f'create schema if not exists "{GOLD_SCHEMA}"')
        conn.register("risk_scores_frame", scores.to_arrow())
        conn.execute(
            f"create or replace table {_table(SCORES_TABLE)} as "
            "select * from risk_scores_frame order by month_start_date, risk_rank"
        )
        conn.unregister("risk_scores_frame")
        conn.execute("commit")
    finally:
        conn.close()
    log.info("wrote %d risk scores to %s.%s", scores.height, GOLD_SCHEMA, SCORES_TABLE)
    return scores.height


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
