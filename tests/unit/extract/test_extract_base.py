"""The bronze base: manifest shape, error context, storage options, publish naming."""

from __future__ import annotations

import pickle

from coretelecoms.config import Settings
from coretelecoms.extract import Manifest, SourceError, VersionRecord, polars_storage_options


def _record(version: int) -> VersionRecord:
    return VersionRecord(
        version=version,
        source_uri="s3://src/call logs/call_logs_day_2025-11-20.csv",
        source_fingerprint=f"{version:064x}",
        rows=3,
        columns=["", "call ID"],
        bytes=42,
        parquet_file=f"part-v{version:04d}-{version:012x}.parquet",
        parquet_sha256="ab" * 32,
        run_id=f"run-{version}",
        logical_date="2025-11-20",
        extracted_at="2025-11-21T00:00:00+00:00",
        extractor="S3Extractor",
        extractor_version="1.0.0",
    )


def test_manifest_round_trips_and_puts_the_current_version_on_top() -> None:
    part = "s3://lake/bronze/call_logs/ingest_date=2025-11-20"
    manifest = Manifest("call_logs", "2025-11-20", part, 2, [_record(1), _record(2)])

    data = manifest.to_dict()

    assert data["version"] == data["current_version"] == 2
    assert data["run_id"] == "run-2"
    assert data["parquet_uri"] == f"{part}/part-v0002-000000000002.parquet"
    assert [v["version"] for v in data["versions"]] == [1, 2]
    assert Manifest.from_dict(data, part) == manifest


def test_source_error_names_source_and_line_and_survives_pickling() -> None:
    err = SourceError("s3://b/x.csv", "ragged row", line=7)

    clone = pickle.loads(pickle.dumps(err))

    assert str(err) == "s3://b/x.csv, line 7: ragged row"
    assert (clone.source_uri, clone.problem, clone.line, str(clone)) == (
        "s3://b/x.csv",
        "ragged row",
        7,
        str(err),
    )


def test_polars_storage_options_translate_endpoint_and_keys() -> None:
    settings = Settings(
        s3_endpoint_url="http://127.0.0.1:9000",
        aws_access_key_id="AK",
        aws_secret_access_key="SK",
        aws_region="eu-west-1",
    )

    assert polars_storage_options(settings) == {
        "aws_region": "eu-west-1",
        "aws_endpoint_url": "http://127.0.0.1:9000",
        "aws_allow_http": "true",
        "aws_access_key_id": "AK",
        "aws_secret_access_key": "SK",
    }
