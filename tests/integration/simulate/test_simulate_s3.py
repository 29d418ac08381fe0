"""The simulator writes the bucket sources to S3 (moto's server on loopback) with the same bytes
it writes to a local folder."""

from __future__ import annotations

import hashlib
import socket
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest
import s3fs
from psycopg import sql

from coretelecoms.config import Settings
from coretelecoms.simulate import publish_as_of, simulate

pytestmark = pytest.mark.postgres


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def source_dsns(pg_server_dsn: str) -> Iterator[list[str]]:
    names = [f"sims3_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    with psycopg.connect(pg_server_dsn, autocommit=True) as conn:
        for name in names:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    info = psycopg.conninfo.conninfo_to_dict(pg_server_dsn)
    yield [psycopg.conninfo.make_conninfo(**{**info, "dbname": n}) for n in names]
    with psycopg.connect(pg_server_dsn, autocommit=True) as conn:
        for name in names:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )


def test_s3_target_gets_the_same_bytes_as_a_local_folder(
    s3_endpoint: str, source_dsns: list[str], tmp_path: Path
) -> None:
    fs = s3fs.S3FileSystem(
        key="testing", secret="testing", client_kwargs={"endpoint_url": s3_endpoint}
    )
    fs.mkdir("raw-sources")
    remote = Settings(
        home=tmp_path / "s3home",
        source_uri="s3://raw-sources/landing",
        s3_endpoint_url=s3_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        pg_dsn=source_dsns[0],
        source_pg_dsn=source_dsns[0],
    )
    local = Settings(
        home=tmp_path / "localhome", pg_dsn=source_dsns[1], source_pg_dsn=source_dsns[1]
    )
    simulate(remote, date(2025, 11, 20), 3, 0.001, seed=3)
    simulate(local, date(2025, 11, 20), 3, 0.001, seed=3)
    assert publish_as_of(remote, date(2025, 11, 22)) == ["customers", "agents"]
    publish_as_of(local, date(2025, 11, 22))

    fs.invalidate_cache()
    remote_files = sorted(fs.find("raw-sources/landing"))
    local_root = Path(str(local.source_uri))
    local_files = sorted(p for p in local_root.rglob("*") if p.is_file())
    assert [f.removeprefix("raw-sources/landing/") for f in remote_files] == [
        str(p.relative_to(local_root)) for p in local_files
    ]
    assert any("call logs/call_logs_day_2025-11-22.csv" in f for f in remote_files)
    for remote_file, local_file in zip(remote_files, local_files, strict=True):
        assert (
            hashlib.sha256(fs.cat_file(remote_file)).hexdigest()
            == hashlib.sha256(local_file.read_bytes()).hexdigest()
        )


def test_missing_bucket_is_reported_before_generating(tmp_path: Path, s3_endpoint: str) -> None:
    settings = Settings(
        home=tmp_path / "home",
        source_uri="s3://no-such-bucket/x",
        s3_endpoint_url=s3_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with pytest.raises(OSError, match="no-such-bucket"):
        simulate(settings, date(2025, 11, 20), 1, 0.001, seed=1)
    assert not (tmp_path / "home" / "ground_truth").exists()
