"""Fixtures for the bronze tests: a moto S3 server over HTTP, and source/lake settings that point
either at local folders or at that server (the same tests run against both)."""

from __future__ import annotations

import uuid
from pathlib import Path

import fsspec
import pytest

from coretelecoms.config import Settings


def s3_settings(home: Path, endpoint: str) -> Settings:
    """Settings whose source bucket and lake are two fresh buckets on the moto server."""
    suffix = uuid.uuid4().hex[:10]
    settings = Settings(
        home=home,
        source_uri=f"s3://src-{suffix}/landing",
        lake_uri=f"s3://lake-{suffix}",
        s3_endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    fs = fsspec.filesystem("s3", **settings.storage_options())
    fs.mkdir(f"src-{suffix}")
    fs.mkdir(f"lake-{suffix}")
    return settings


@pytest.fixture(params=["local", "s3"])
def bucket_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings with the source bucket and lake on local folders or on moto's S3 server."""
    if request.param == "local":
        return Settings(home=tmp_path / "home")
    return s3_settings(tmp_path / "home", request.getfixturevalue("moto_endpoint"))
