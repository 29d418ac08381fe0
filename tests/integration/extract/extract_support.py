"""Helpers shared by the bronze integration tests (source objects and lake listings)."""

from __future__ import annotations

from pathlib import Path

import fsspec

from coretelecoms.config import Settings


def put_source(settings: Settings, relative: str, data: bytes) -> str:
    """Write a source object (local file or S3 object); returns its URI."""
    uri = f"{str(settings.source_uri).rstrip('/')}/{relative}"
    if uri.startswith("s3://"):
        fs = fsspec.filesystem("s3", **settings.storage_options())
        fs.pipe_file(uri, data)
    else:
        Path(uri).parent.mkdir(parents=True, exist_ok=True)
        Path(uri).write_bytes(data)
    return uri


def lake_listing(settings: Settings) -> dict[str, object]:
    """Every object under the lake with a change marker (mtime or ETag)."""
    lake = str(settings.lake_uri)
    if lake.startswith("s3://"):
        fs = fsspec.filesystem("s3", **settings.storage_options())
        fs.invalidate_cache()
        return {p: info.get("ETag") for p, info in fs.find(lake, detail=True).items()}
    root = Path(lake)
    return {str(p): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
