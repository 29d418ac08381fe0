"""Gold: silver -> warehouse `raw` loading and the dbt project invocation.

``load_warehouse(settings)`` moves silver changes into the warehouse (DuckDB or Snowflake);
``run_dbt(settings, ["build"])`` builds the dimensional model in ``warehouse/``.
"""

from __future__ import annotations

from coretelecoms.warehouse.checksums import gold_checksums
from coretelecoms.warehouse.dbt_runner import DbtError, DbtResult, project_dir, run_dbt
from coretelecoms.warehouse.loader import TableLoad, WarehouseLoadResult, load_warehouse
from coretelecoms.warehouse.silver import SilverNotReadyError
from coretelecoms.warehouse.tables import RAW_TABLES

__all__ = [
    "RAW_TABLES",
    "DbtError",
    "DbtResult",
    "SilverNotReadyError",
    "TableLoad",
    "WarehouseLoadResult",
    "gold_checksums",
    "load_warehouse",
    "project_dir",
    "run_dbt",
]
