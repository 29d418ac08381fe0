"""Fixtures for the transform tests: settings on a local lake or on a moto S3 server."""

from __future__ import annotations

import uuid
from pathlib import Path

import fsspec
import pytest

from coretelecoms.config import Settings


@pytest.fixture
def local_settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", batch_size=4)


@pytest.fixture
def s3_settings(tmp_path: Path, moto_endpoint: str) -> Settings:
    bucket = f"lake-{uuid.uuid4().hex[:10]}"
    settings = Settings(
        home=tmp_path / "home",
        lake_uri=f"s3://{bucket}",
        s3_endpoint_url=moto_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        batch_size=4,
    )
    fsspec.filesystem("s3", **settings.storage_options()).mkdir(bucket)
    return settings
