"""``run_dbt``: the dbt project in ``warehouse/`` through dbt's Python API.

The target (``duckdb`` or ``snowflake``) follows ``settings.warehouse``; paths and credentials
reach ``profiles.yml`` as environment variables set only for the duration of the call, and the
SLA / escalation knobs as ``--vars``. dbt's telemetry is switched off.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from coretelecoms.config import Settings

log = logging.getLogger(__name__)

PROJECT_DIR_ENV = "CORETELECOMS_DBT_PROJECT_DIR"
_FAILED = {"error", "fail", "runtime error"}


class DbtError(RuntimeError):
    """dbt failed; ``failed_nodes`` names each failing model/test with its message."""

    def __init__(self, message: str, failed_nodes: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.failed_nodes = failed_nodes


@dataclass(frozen=True)
class DbtResult:
    """Outcome of a successful dbt invocation: status per node (``model.x``: ``success``...)."""

    args: tuple[str, ...]
    nodes: dict[str, str] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for status in self.nodes.values():
            out[status] = out.get(status, 0) + 1
        return out


def project_dir() -> Path:
    """The dbt project: ``$CORETELECOMS_DBT_PROJECT_DIR``, else ``warehouse/`` of the repo.

    Raises:
        FileNotFoundError: no ``dbt_project.yml`` in any candidate (installed without the repo).
    """
    candidates = []
    if os.environ.get(PROJECT_DIR_ENV):
        candidates.append(Path(os.environ[PROJECT_DIR_ENV]))
    here = Path(__file__).resolve()
    candidates += [parent / "warehouse" for parent in here.parents[2:5]]
    candidates.append(Path.cwd() / "warehouse")
    for candidate in candidates:
        if (candidate / "dbt_project.yml").is_file():
            return candidate.resolve()
    raise FileNotFoundError(
        f"dbt project not found (looked in {[str(c) for c in candidates]}); "
        f"set {PROJECT_DIR_ENV} to the folder holding dbt_project.yml"
    )


def dbt_env(settings: Settings) -> dict[str, str]:
    """Variables ``profiles.yml`` reads (secrets use dbt's DBT_ENV_SECRET_ prefix: masked)."""
    env = {
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "DO_NOT_TRACK": "1",
        "CORETELECOMS_DUCKDB_PATH": str(settings.duckdb_path),
        "CORETELECOMS_DUCKDB_MEMORY_LIMIT": settings.duckdb_memory_limit,
        "CORETELECOMS_DUCKDB_DISABLED_COMPRESSION": settings.duckdb_disabled_compression,
        "CORETELECOMS_RAW_SCHEMA": "raw",
    }
    if settings.warehouse == "snowflake":
        env.update(
            {
                "CORETELECOMS_RAW_SCHEMA": settings.snowflake_schema,
                "CORETELECOMS_SNOWFLAKE_ACCOUNT": settings.snowflake_account or "",
                "CORETELECOMS_SNOWFLAKE_USER": settings.snowflake_user or "",
                "CORETELECOMS_SNOWFLAKE_DATABASE": settings.snowflake_database,
                "CORETELECOMS_SNOWFLAKE_WAREHOUSE": settings.snowflake_warehouse or "",
                "CORETELECOMS_SNOWFLAKE_ROLE": settings.snowflake_role or "",
                "CORETELECOMS_SNOWFLAKE_HOST": settings.snowflake_host or "",
                "CORETELECOMS_SNOWFLAKE_PORT": str(settings.snowflake_port or 0),
                "CORETELECOMS_SNOWFLAKE_PROTOCOL": settings.snowflake_protocol or "",
                "DBT_ENV_SECRET_SNOWFLAKE_PASSWORD": (
                    settings.snowflake_password.get_secret_value()
                    if settings.snowflake_password
                    else ""
                ),
            }
        )
    return env


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _release_duckdb() -> None:
    """Close the DuckDB database dbt-duckdb keeps open in-process after a run.

    dbt-duckdb caches one environment per process (``DuckDBConnectionManager._ENV``, private);
    left open it holds the file, and a later ``duckdb.connect`` in this process (the next
    ``load_warehouse``, a checksum) fails with "different configuration". No public API exists.
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        env = DuckDBConnectionManager._ENV
        if env is not None:
            env.close()
            DuckDBConnectionManager._ENV = None


def run_dbt(
    settings: Settings, args: list[str], extra_vars: dict[str, object] | None = None
) -> DbtResult:
    """Run ``dbt <args>`` (e.g. ``["build"]``) against the warehouse of ``settings``.

    ``extra_vars`` add to the ``--vars`` taken from settings (``sla_days``,
    ``escalation_window_days``), e.g. ``{"incremental_strategy": "delete+insert"}`` for fakesnow.

    Close every DuckDB connection to ``settings.duckdb_path`` first: DuckDB locks the file.

    Raises:
        DbtError: dbt reported failures (message lists the failing nodes) or could not start.
    """
    from dbt.cli.main import dbtRunner  # heavy import (~2 s)

    project = project_dir()
    if settings.duckdb_path is not None:
        Path(settings.duckdb_path).parent.mkdir(parents=True, exist_ok=True)
    dbt_vars: dict[str, object] = {
        "sla_days": settings.sla_days,
        "escalation_window_days": settings.escalation_window_days,
        **(extra_vars or {}),
    }
    full = [
        *args,
        "--project-dir",
        str(project),
        "--profiles-dir",
        str(project),
        "--target",
        settings.warehouse,
        "--vars",
        json.dumps(dbt_vars),
    ]
    if args and args[0] not in {"deps", "clean", "debug"}:
        full += ["--target-path", str(settings.home / "dbt" / "target")]
    full += ["--log-path", str(settings.home / "dbt" / "logs")]
    log.info("dbt %s (target %s, project %s)", " ".join(args), settings.warehouse, project)
    with _environ(dbt_env(settings)):
        try:
            outcome = dbtRunner().invoke(full)
        finally:
            if settings.warehouse == "duckdb":
                _release_duckdb()
    nodes: dict[str, str] = {}
    failed: list[str] = []
    results = getattr(outcome.result, "results", None) or []
    for res in results:
        node_id = res.node.unique_id
        status = str(getattr(res.status, "value", res.status))
        nodes[node_id] = status
        if status in _FAILED:
            failed.append(f"{node_id}: {(res.message or '').strip()[:300]}")
    if not outcome.success:
        detail = "; ".join(failed) if failed else repr(outcome.exception)
        raise DbtError(f"dbt {' '.join(args)} failed: {detail}", tuple(failed))
    return DbtResult(tuple(args), nodes)
