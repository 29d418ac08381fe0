"""Settings: one place for every location, DSN and knob, read from the environment and `.env`.

Embedded defaults put everything under ``CORETELECOMS_HOME`` (default ``./.coretelecoms``) so a
laptop with no cloud account runs the whole platform. Production swaps in ``s3://`` URIs, DSNs,
a Google service account and a Snowflake account purely by configuration.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

AGENTS_SHEET_TITLE = "CORETELECOMMS AGENTS"
AGENTS_SHEET_TAB = "agents"
SOURCE_DATABASE = "coretelecoms_source"
CONFORMANCE_DATABASE = "coretelecoms"
# Batches the silver loader applies at once (Settings.load_connections; Loader's default).
DEFAULT_LOAD_CONNECTIONS = 2
_COMPRESSION_METHODS = re.compile(r"^([a-z_]+(,[a-z_]+)*)?$")


def compression_methods(value: str) -> str:
    """``value`` as DuckDB's ``disabled_compression_methods`` list: lower case, no blanks.

    Checked when settings are read, so a typo fails the run at start-up rather than at the
    warehouse load after extract and transform, and the loader and dbt get the same value.

    Raises:
        ValueError: not a comma-separated list of method names.
    """
    methods = re.sub(r"\s+", "", value).lower()
    if not _COMPRESSION_METHODS.match(methods):
        raise ValueError(f"not a list of DuckDB compression methods: {value!r}")
    return methods


class Settings(BaseSettings):
    """Resolved configuration of one platform instance.

    Every field maps to ``CORETELECOMS_<FIELD>``. Locations left unset derive from ``home``.
    """

    model_config = SettingsConfigDict(
        env_prefix="CORETELECOMS_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    home: Path = Field(default=Path(".coretelecoms"), description="Root of all local state.")

    # sources
    source_uri: str | None = Field(
        default=None, description="Source bucket: a local folder or s3://bucket/prefix."
    )
    agents_sheet: str | None = Field(
        default=None,
        description="Agents sheet: a Google Sheet id (production) or a local .xlsx path.",
    )
    google_service_account_file: Path | None = None
    sheets_api_base_url: str | None = Field(
        default=None, description="Override of https://sheets.googleapis.com (tests only)."
    )
    source_pg_dsn: SecretStr | None = Field(
        default=None, description="DSN of the web-form source database (defaults to pg_dsn)."
    )

    # silver
    pg_dsn: SecretStr | None = Field(
        default=None,
        description="DSN of the conformance database; unset means an embedded pgserver.",
    )
    pg_data_dir: Path | None = None

    # bronze
    lake_uri: str | None = Field(default=None, description="Lake root: a folder or s3:// URI.")

    # S3 (production or moto in tests); credentials fall back to the usual AWS chain.
    s3_endpoint_url: str | None = None
    aws_access_key_id: SecretStr | None = None
    aws_secret_access_key: SecretStr | None = None
    aws_region: str = "us-east-1"

    # gold
    warehouse: Literal["duckdb", "snowflake"] = "duckdb"
    duckdb_path: Path | None = None
    duckdb_memory_limit: str = Field(
        default="2GB",
        description="Cap on DuckDB's buffer pool for the warehouse load and dbt; larger work "
        "spills to disk instead of growing the process (DuckDB's own default is 80% of RAM).",
    )
    duckdb_disabled_compression: str = Field(
        default="fsst,dict_fsst",
        description="DuckDB compression methods the warehouse writers skip (comma-separated; "
        "empty: DuckDB's choice). Choosing and applying FSST to every string column was about "
        "60% of the CPU of writing a table (docs/warehouse.md, round 4); without it the file "
        "is ~3x larger and scans are no slower.",
    )
    risk_train_customers: int = Field(
        default=200_000,
        gt=0,
        description="Customers the risk model trains on: a fixed hash-based sample of whole "
        "customers (all of them when fewer), so training memory does not grow with the base.",
    )
    risk_score_chunk_customers: int = Field(
        default=100_000,
        gt=0,
        description="Customers scored per chunk: the scoring panel is built one chunk at a time.",
    )
    risk_refit_days: int = Field(
        default=7,
        gt=0,
        description="The DAG refits the risk model when it is this many logical days old (or "
        "when there is none, or the feature horizon month changed); on other days it keeps the "
        "model and rescores only the customers whose features changed.",
    )
    risk_threads: int = Field(
        default=1,
        gt=0,
        description="Threads the risk model fits and predicts with. One by default: on a "
        "busy 2-core worker OpenMP's spinning threads cost ~8x the CPU for a slower fit.",
    )
    snowflake_account: str | None = None
    snowflake_user: str | None = None
    snowflake_password: SecretStr | None = None
    snowflake_database: str = "CORETELECOMS"
    snowflake_schema: str = "RAW"
    snowflake_warehouse: str | None = None
    snowflake_role: str | None = None
    snowflake_host: str | None = Field(default=None, description="Override (fakesnow tests).")
    snowflake_port: int | None = None
    snowflake_protocol: str | None = None
    snowflake_upload: Literal["auto", "stage", "insert"] = Field(
        default="auto",
        description="Snowflake upload: stage (PUT + COPY INTO), insert (batched INSERT, for "
        "fakesnow), auto (insert for a loopback host).",
    )

    # processing
    batch_size: int = Field(default=100_000, gt=0)
    transform_workers: int = Field(
        default_factory=lambda: min(2, os.cpu_count() or 1),
        gt=0,
        description="Batches the silver transform computes at once (memory: workers + 1 batches).",
    )
    transform_in_memory_rows: int = Field(
        default=1_000_000,
        ge=0,
        description="Source versions of at most this many rows (a day of complaints) are read "
        "from bronze once and batched in memory; larger ones (customers) are read slice by slice.",
    )
    load_connections: int = Field(
        default=DEFAULT_LOAD_CONNECTIONS,
        gt=0,
        description="Batches the silver loader applies at once, each on its own Postgres "
        "session (plus the one holding the entity lock). The server process applying a batch "
        "is a load's ceiling; 2 uses both cores of a 2-core host. 1 applies them one by one.",
    )
    sla_days: int = Field(default=5, gt=0)
    escalation_window_days: int = Field(default=7, gt=0)

    # notifications
    slack_webhook_url: SecretStr | None = None

    @field_validator("duckdb_disabled_compression")
    @classmethod
    def _compression_methods(cls, value: str) -> str:
        return compression_methods(value)

    @model_validator(mode="after")
    def _derive_locations(self) -> Settings:
        home = self.home.expanduser().absolute()
        object.__setattr__(self, "home", home)
        if self.source_uri is None:
            object.__setattr__(self, "source_uri", str(home / "sources"))
        if self.agents_sheet is None:
            object.__setattr__(self, "agents_sheet", str(home / "sheets" / "agents.xlsx"))
        if self.lake_uri is None:
            object.__setattr__(self, "lake_uri", str(home / "lake"))
        if self.pg_data_dir is None:
            object.__setattr__(self, "pg_data_dir", home / "pgdata")
        if self.duckdb_path is None:
            object.__setattr__(self, "duckdb_path", home / "warehouse.duckdb")
        return self

    @property
    def embedded_postgres(self) -> bool:
        """True when no DSN is configured and an embedded pgserver provides Postgres."""
        return self.pg_dsn is None

    @property
    def agents_sheet_is_local(self) -> bool:
        """A path ending in .xlsx is the embedded stand-in; anything else is a Google Sheet id."""
        return str(self.agents_sheet).lower().endswith(".xlsx")

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @property
    def reports_uri(self) -> str:
        return f"{str(self.lake_uri).rstrip('/')}/reports"

    @property
    def ground_truth_dir(self) -> Path:
        """Simulator sidecars live outside the source locations; the pipeline never reads them."""
        return self.home / "ground_truth"

    def storage_options(self) -> dict[str, Any]:
        """fsspec/s3fs options for s3:// URIs (endpoint and keys when configured)."""
        opts: dict[str, Any] = {}
        if self.s3_endpoint_url:
            opts["client_kwargs"] = {"endpoint_url": self.s3_endpoint_url}
        if self.aws_access_key_id and self.aws_secret_access_key:
            opts["key"] = self.aws_access_key_id.get_secret_value()
            opts["secret"] = self.aws_secret_access_key.get_secret_value()
        return opts

    def public_dict(self) -> dict[str, Any]:
        """Resolved settings safe to print: secrets masked, DSN passwords replaced by ***."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                raw = value.get_secret_value()
                value = mask_dsn(raw) if "://" in raw else "***"
            elif isinstance(value, Path):
                value = str(value)
            out[name] = value
        out["embedded_postgres"] = self.embedded_postgres
        out["airflow_home"] = str(self.airflow_home)
        out["reports_uri"] = self.reports_uri
        return out


_DSN_PASSWORD = re.compile(r"(?P<prefix>://[^:/@]+:)(?P<password>[^@]*)@")


def mask_dsn(dsn: str) -> str:
    """Hide a DSN's password (URI form ``user:pass@`` or keyword form ``password=...``)."""
    masked = _DSN_PASSWORD.sub(r"\g<prefix>***@", dsn)
    return re.sub(r"(password=)\S+", r"\1***", masked)


def get_settings(**overrides: Any) -> Settings:
    """Build settings from the environment, with explicit overrides (CLI flags, tests)."""
    return Settings(**overrides)
