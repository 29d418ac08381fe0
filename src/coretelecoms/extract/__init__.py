"""Bronze: raw source rows as all-text Parquet with lineage manifests (see ``base``).

Entry points used by the pipeline tasks and the CLI:

- ``extract_entity(settings, entity, logical_date, run_id) -> ExtractResult``
- ``source_fingerprint(settings, entity, logical_date) -> str | None``
- ``read_bronze(settings, entity, logical_date) -> BronzeVersion | None``
"""

from __future__ import annotations

from datetime import date

from coretelecoms.config import Settings
from coretelecoms.contracts import get_contract
from coretelecoms.contracts.base import SourceSystem
from coretelecoms.extract.base import (
    MANIFEST_NAME,
    SOURCE_ROW,
    BronzeVersion,
    Extractor,
    ExtractResult,
    ExtractStatus,
    Manifest,
    SourceError,
    VersionRecord,
    partition_uri,
    polars_storage_options,
    read_manifest,
)
from coretelecoms.extract.s3 import S3Extractor
from coretelecoms.extract.sheets import GoogleSheetsExtractor
from coretelecoms.extract.sql import SQLExtractor

_EXTRACTORS: dict[SourceSystem, type[Extractor]] = {
    SourceSystem.BUCKET: S3Extractor,
    SourceSystem.POSTGRES: SQLExtractor,
    SourceSystem.SHEETS: GoogleSheetsExtractor,
}


def get_extractor(settings: Settings, entity: str) -> Extractor:
    """The extractor for ``entity``'s source system (raises ValueError for unknown entities)."""
    contract = get_contract(entity)
    return _EXTRACTORS[contract.source](settings, contract)


def extract_entity(
    settings: Settings, entity: str, logical_date: date, run_id: str
) -> ExtractResult:
    """Extract ``entity``'s source for ``logical_date`` into bronze (idempotent, atomic).

    Static entities (customers, agents) are extracted under the run's logical date.

    Raises:
        SourceError: the source is malformed; nothing is published.
    """
    return get_extractor(settings, entity).extract(logical_date, run_id)


def source_fingerprint(settings: Settings, entity: str, logical_date: date) -> str | None:
    """sha256 of the source's current content (streamed), or None when there is no data."""
    return get_extractor(settings, entity).fingerprint(logical_date)


def read_bronze(
    settings: Settings, entity: str, logical_date: date, version: int | None = None
) -> BronzeVersion | None:
    """The current (or given) bronze version for ``logical_date``; None when none published."""
    manifest = read_manifest(settings, entity, logical_date)
    if manifest is None:
        return None
    if version is not None and version != manifest.current_version:
        if all(v.version != version for v in manifest.versions):
            raise ValueError(f"{entity} {logical_date} has no bronze version {version}")
        manifest = Manifest(
            manifest.entity,
            manifest.logical_date,
            manifest.partition_uri,
            version,
            manifest.versions,
        )
    return BronzeVersion(manifest, manifest.parquet_uri, settings)


__all__ = [
    "MANIFEST_NAME",
    "SOURCE_ROW",
    "BronzeVersion",
    "ExtractResult",
    "ExtractStatus",
    "Extractor",
    "GoogleSheetsExtractor",
    "Manifest",
    "S3Extractor",
    "SQLExtractor",
    "SourceError",
    "VersionRecord",
    "extract_entity",
    "get_extractor",
    "partition_uri",
    "polars_storage_options",
    "read_bronze",
    "source_fingerprint",
]
