"""The run report renders: written from a real simulated warehouse, opened in headless Chromium,
and its charts actually drew (their colours cover real areas of the screenshot)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from coretelecoms.cli import app
from coretelecoms.pipeline import charts
from coretelecoms.pipeline.report import write_run_report
from coretelecoms.pipeline.tasks import to_date

pytestmark = pytest.mark.postgres

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--hide-scrollbars",
)
WINDOW = (1200, 4000)


def chromium() -> str:
    """The Chromium binary; in CI (CI=1, set by .ci/run) its absence fails the test."""
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    if found:
        return found
    message = "chromium is not installed (Debian: apt-get install chromium)"
    if os.environ.get("CI"):
        pytest.fail(message + "; .ci/run installs it")
    pytest.skip(message)


@pytest.fixture(scope="module")
def report(simulated_gold) -> dict:
    from coretelecoms.risk import train_and_score

    settings = simulated_gold.settings
    assert train_and_score(settings)["status"] == "scored"
    run_id = simulated_gold.run_ids[-1]
    day = to_date(run_id.split("__")[-1])
    written = write_run_report(settings, day, run_id, {"dbt_build": {"status": "built"}})
    return {**written, "data": json.loads(Path(written["json"]).read_text())}


def screenshot(html: Path, out: Path) -> Path:
    subprocess.run(
        [
            chromium(),
            *CHROMIUM_FLAGS,
            f"--screenshot={out}",
            f"--window-size={WINDOW[0]},{WINDOW[1]}",
            html.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out


def _hex_rgb(color: str) -> tuple[int, int, int]:
    return tuple(int(color[i : i + 2], 16) for i in (1, 3, 5))


def test_report_is_self_contained(report) -> None:
    text = Path(report["html"]).read_text()
    assert text.count("<svg class='chart'") >= 10
    for external in ("<script", "<link", "src=", "http://", "https://"):
        assert external not in text, external


def test_report_holds_every_section(report) -> None:
    data = report["data"]
    assert all(data["reconciled"].values()) and data["entities"]
    assert data["complaints"]["by_channel"] and data["complaints"]["sla_attainment"]
    assert data["quarantine_trend"] and data["runs"]
    assert len(data["risk"]["top"]) == 15
    assert data["risk"]["metrics"]["model"]["roc_auc"] > 0.5
    text = Path(report["html"]).read_text()
    for title in (
        "Pipeline run and reconciliation",
        "Data-quality issues",
        "Quarantine",
        "Complaint KPIs",
        "Riskiest customers",
    ):
        assert f"<h2>{title}</h2>" in text, title


def test_charts_draw_in_headless_chromium(report, tmp_path: Path) -> None:
    from PIL import Image

    shot = screenshot(Path(report["html"]), tmp_path / "report.png")
    image = Image.open(shot).convert("RGB")
    assert image.size == WINDOW
    colours = image.getcolors(maxcolors=WINDOW[0] * WINDOW[1])
    counts = {rgb: n for n, rgb in colours}
    # Every chart colour in use (bars, lines, stacked segments) covers a real area: an SVG that
    # failed to render, or a chart drawn with no data, leaves none of it.
    for colour in charts.PALETTE[:5]:
        assert counts.get(_hex_rgb(colour), 0) > 500, colour
    background = max(counts.values())
    assert background < 0.9 * WINDOW[0] * WINDOW[1], "the page is mostly one colour"


def test_report_command_writes_the_latest_run(simulated_gold, report, monkeypatch) -> None:
    settings = simulated_gold.settings
    monkeypatch.setenv("CORETELECOMS_HOME", str(settings.home))
    monkeypatch.setenv("CORETELECOMS_PG_DSN", settings.pg_dsn.get_secret_value())
    result = CliRunner().invoke(app, ["report"])
    assert result.exit_code == 0, result.output
    assert report["html"] in result.output.replace("\n", "")
    bad = CliRunner().invoke(app, ["report", "--date", "2024-01-01"])
    assert bad.exit_code == 2 and "no pipeline run recorded for 2024-01-01" in bad.output
