"""`coretelecoms simulate` rejects bad arguments with one clear line and a non-zero exit."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from coretelecoms.cli import app


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scale", "-1"], "--scale must be greater than 0"),
        (["--scale", "0"], "--scale must be greater than 0"),
        (["--start", "2025-13-01"], "--start '2025-13-01' is not a valid date"),
        (["--start", "yesterday"], "is not a valid date"),
        (["--days", "0"], "--days must be at least 1"),
        (["--seed", "-3"], "--seed must be non-negative"),
        (["--publish-as-of", "2025-02-30"], "--publish-as-of '2025-02-30' is not a valid date"),
    ],
    ids=[
        "negative-scale",
        "zero-scale",
        "bad-month",
        "not-a-date",
        "zero-days",
        "neg-seed",
        "bad-as-of",
    ],
)
def test_bad_arguments_fail_with_one_line(args: list[str], message: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["simulate", *args], env={"CORETELECOMS_HOME": str(tmp_path)})
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1
    assert message in lines[0]
    assert lines[0].startswith("error:")


def test_unwritable_target_fails_before_generating(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = CliRunner().invoke(
        app,
        ["simulate", "--scale", "0.001", "--target", str(blocker / "sources")],
        env={"CORETELECOMS_HOME": str(tmp_path / "home")},
    )
    assert result.exit_code == 2
    assert "cannot simulate into" in result.output
    assert not (tmp_path / "home" / "ground_truth").exists()


def test_publish_without_a_simulation_fails_clearly(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["simulate", "--publish-as-of", "2025-11-22"],
        env={"CORETELECOMS_HOME": str(tmp_path)},
    )
    assert result.exit_code == 2
    assert "no simulation under" in result.output
