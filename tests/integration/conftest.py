"""A simulated gold warehouse shared by the risk model and report tests (built once per session,
only when a test asks for it)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import sql
from simulated_pipeline import run_simulated_pipeline

from coretelecoms.config import Settings

# Six days at 0.5 % of the real volume: ~12.5 k customers and ~17 k complaints whose request
# dates span ten months. Complaints per customer (what the model learns from) depend on the
# number of days, not the scale, so this is the smallest run where the propensity shows.
SIM_DAYS, SIM_SCALE, SIM_SEED = 6, 0.005, 11


@dataclass(frozen=True)
class SimulatedGold:
    settings: Settings
    run_ids: list[str]


@pytest.fixture(scope="session")
def simulated_gold(
    pg_server_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SimulatedGold]:
    names = {kind: f"{kind}_{uuid.uuid4().hex[:10]}" for kind in ("silver", "source")}
    with psycopg.connect(pg_server_dsn, autocommit=True) as conn:
        for name in names.values():
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))

    def dsn(name: str) -> str:
        info = psycopg.conninfo.conninfo_to_dict(pg_server_dsn)
        info["dbname"] = name
        return psycopg.conninfo.make_conninfo(**info)

    settings = Settings(
        home=tmp_path_factory.mktemp("simulated_gold") / "home",
        pg_dsn=dsn(names["silver"]),
        source_pg_dsn=dsn(names["source"]),
    )
    run_ids = run_simulated_pipeline(settings, SIM_DAYS, SIM_SCALE, SIM_SEED)
    try:
        yield SimulatedGold(settings, run_ids)
    finally:
        with psycopg.connect(pg_server_dsn, autocommit=True) as conn:
            for name in names.values():
                conn.execute(
                    sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
                )
