"""End-to-end simulation at a tiny scale: real files, a real source Postgres, independent
recounts of every injected defect against the ground-truth sidecars."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from psycopg import sql

from coretelecoms.config import Settings
from coretelecoms.contracts.reference import (
    COMPLAINT_CATEGORIES,
    EMAIL_DOMAIN_FIXES,
    GENDERS,
    MEDIA_CHANNELS,
    RESOLUTION_STATUSES,
    STATE_CODES,
)
from coretelecoms.simulate import EMAIL_SYNTAX, SimulationResult, publish_as_of, simulate

pytestmark = pytest.mark.postgres

START = date(2025, 11, 20)
DAYS = 4
SCALE = 0.002
DATES = [date(2025, 11, d) for d in range(20, 24)]


@pytest.fixture(scope="module")
def make_sim_settings(
    make_database_module: Callable[..., str], tmp_path_factory: pytest.TempPathFactory
) -> Callable[[], Settings]:
    def _make() -> Settings:
        dsn = make_database_module("simsrc")
        return Settings(home=tmp_path_factory.mktemp("sim") / "home", pg_dsn=dsn, source_pg_dsn=dsn)

    return _make


@pytest.fixture(scope="module")
def run(make_sim_settings: Callable[[], Settings]) -> tuple[Settings, SimulationResult]:
    settings = make_sim_settings()
    return settings, simulate(settings, START, DAYS, SCALE, seed=42)


def _src(settings: Settings, relative: str) -> Path:
    return Path(str(settings.source_uri)) / relative


def _truth(settings: Settings, entity: str, day: date) -> dict:
    return json.loads((settings.ground_truth_dir / entity / f"{day}.json").read_text())


def _call_log(settings: Settings, day: date) -> Path:
    return _src(settings, f"call logs/call_logs_day_{day}.csv")


def _social(settings: Settings, day: date) -> Path:
    return _src(settings, f"social_medias/media_complaint_day_{day}.json")


def _web(settings: Settings, day: date) -> pd.DataFrame:
    table = f"web_form_request_{day:%Y_%m_%d}"
    with psycopg.connect(settings.source_pg_dsn.get_secret_value()) as conn:
        cur = conn.execute(
            sql.SQL('select * from {} order by "Column1"').format(
                sql.Identifier("customer_complaints", table)
            )
        )
        names = [d.name for d in cur.description]
        return pd.DataFrame(cur.fetchall(), columns=names)


# ---------------------------------------------------------------- shapes as consumers read them


def test_call_log_reads_with_real_headers(run: tuple[Settings, SimulationResult]) -> None:
    settings, _ = run
    frame = pd.read_csv(_call_log(settings, START))
    assert list(frame.columns) == [
        "Unnamed: 0",
        "call ID",
        "customeR iD",
        "COMPLAINT_catego ry",
        "agent ID",
        "call_start_time",
        "call_end_time",
        "resolutionstatus",
        "callLogsGenerationDate",
    ]
    assert frame["Unnamed: 0"].iloc[0] == 0
    assert frame["Unnamed: 0"].iloc[-1] >= len(frame)  # gaps
    assert (frame["callLogsGenerationDate"] == str(START)).all()
    lengths = frame["call ID"].dropna().str.len()
    assert lengths.between(50, 56).all()


def test_call_times_fall_jan_to_oct_2025_and_last_whole_minutes(
    run: tuple[Settings, SimulationResult],
) -> None:
    settings, _ = run
    frame = pd.read_csv(_call_log(settings, START))
    start = pd.to_datetime(frame["call_start_time"], format="%Y-%m-%d %H:%M:%S", errors="coerce")
    end = pd.to_datetime(frame["call_end_time"], format="%Y-%m-%d %H:%M:%S", errors="coerce")
    ok = start.notna() & end.notna()
    assert start[ok].min() >= pd.Timestamp("2025-01-01")
    assert start[ok].max() < pd.Timestamp("2025-11-01")
    assert ((end[ok] - start[ok]).dt.total_seconds() % 60 == 0).all()


def test_social_json_reads_with_real_columns(run: tuple[Settings, SimulationResult]) -> None:
    settings, _ = run
    frame = pd.read_json(_social(settings, START))
    assert list(frame.columns) == [
        "complaint_id",
        "customeR iD",
        "COMPLAINT_catego ry",
        "agent ID",
        "resolutionstatus",
        "request_date",
        "resolution_date",
        "media_channel",
        "MediaComplaintGenerationDate",
    ]
    raw = json.loads(_social(settings, START).read_text())
    assert all(isinstance(k, str) for k in raw["complaint_id"])
    unresolved = [
        raw["resolution_date"][k]
        for k, status in raw["resolutionstatus"].items()
        if status in ("Backlog", "In-Progress")
    ]
    assert unresolved and set(unresolved) == {""}


def test_web_form_table_has_column1_first(run: tuple[Settings, SimulationResult]) -> None:
    settings, _ = run
    frame = _web(settings, START)
    assert list(frame.columns)[:3] == ["Column1", "request_id", "customeR iD"]
    assert list(frame.columns)[-1] == "webFormGenerationDate"
    assert len(frame) == _truth(settings, "web_form_complaints", START)["rows"]


def test_customers_csv_has_multiline_addresses_and_messy_emails(
    run: tuple[Settings, SimulationResult],
) -> None:
    settings, _ = run
    frame = pd.read_csv(_src(settings, "customers/customers_dataset.csv"), dtype=str)
    assert list(frame.columns) == [
        "customer_id", "name", "Gender", "DATE of biRTH", "signup_date", "email", "address"
    ]  # fmt: skip
    assert frame["address"].str.contains("\n").mean() > 0.99
    emails = frame["email"]
    messy = emails.str.contains(
        r"[A-Z]|^[0-9a-f]{3,4}[a-z]|[0-9]@"
    ) | emails.str.lower().str.contains(
        "|".join(re.escape("@" + d) + "$" for d in EMAIL_DOMAIN_FIXES)
    )
    assert 0.4 < messy.mean() < 0.6
    assert emails.str.contains(r"@(?:gmai|gmial|gamil|hotmai|yaho)", case=False).any()


def test_agents_sheet_is_a_local_xlsx_with_tab_agents(
    run: tuple[Settings, SimulationResult],
) -> None:
    settings, _ = run
    sheet = pd.read_excel(str(settings.agents_sheet), sheet_name="agents")
    assert list(sheet.columns) == ["iD", "NamE", "experience", "state"]
    assert sheet["iD"].min() == 1000
    assert len(sheet) == 100


def test_ground_truth_lives_outside_the_source_locations(
    run: tuple[Settings, SimulationResult],
) -> None:
    settings, _ = run
    source_root = Path(str(settings.source_uri))
    assert not settings.ground_truth_dir.is_relative_to(source_root)
    assert not list(source_root.rglob("*.parquet"))
    propensity = pd.read_parquet(settings.ground_truth_dir / "customer_propensity.parquet")
    assert propensity["propensity"].between(0, 1).all()


# ---------------------------------------------------------------- independent recounts


def _snapshot_ids(settings: Settings) -> tuple[list[set[str]], list[set[int]]]:
    base = settings.home / "simulator"
    customers = [
        set(pd.read_csv(p, dtype=str)["customer_id"].dropna())
        for p in sorted((base / "customers").glob("*/customers_dataset.csv"))
    ]
    agents = [
        set(pd.read_excel(p, sheet_name="agents")["iD"].astype(int))
        for p in sorted((base / "agents").glob("*/agents.xlsx"))
    ]
    return customers, agents


def _parses(value: str, fmt: str) -> bool:
    try:
        datetime.strptime(value, fmt)
    except ValueError:
        return False
    return True


def _recount(
    frame: pd.DataFrame,
    id_col: str,
    date_col: str,
    published: int,
    customers: list[set[str]],
    agents: list[set[int]],
) -> dict[str, int]:
    frame = frame.fillna("").astype(str)
    all_customers, all_agents = set().union(*customers), set().union(*agents)
    agent_ids = frame["agent ID"].astype(int)
    lower = {c.lower() for c in COMPLAINT_CATEGORIES}
    statuses = {s.lower() for s in RESOLUTION_STATUSES}
    counts = {
        "missing_key": int((frame[id_col] == "").sum()),
        "unknown_category": int((~frame["COMPLAINT_catego ry"].str.lower().isin(lower)).sum()),
        "unknown_status": int((~frame["resolutionstatus"].str.lower().isin(statuses)).sum()),
        "unparseable_date": int(
            (~frame[date_col].map(lambda v: _parses(v, "%Y-%m-%d %H:%M:%S"))).sum()
        ),
        "orphan_customer": int((~frame["customeR iD"].isin(all_customers)).sum()),
        "orphan_agent": int((~agent_ids.isin(all_agents)).sum()),
        "late_customer": int(
            (
                ~frame["customeR iD"].isin(customers[published])
                & frame["customeR iD"].isin(all_customers)
            ).sum()
        ),
        "late_agent": int((~agent_ids.isin(agents[published]) & agent_ids.isin(all_agents)).sum()),
    }
    keyed = frame[frame[id_col] != ""]
    content = keyed.drop(columns=[c for c in ("Unnamed: 0", "Column1") if c in keyed])
    groups = content.groupby(id_col)
    sizes = groups.size()
    assert sizes.max() <= 2
    distinct = content.drop_duplicates().groupby(id_col).size()
    pairs = sizes[sizes == 2].index
    counts["exact_duplicates"] = int((distinct[pairs] == 1).sum())
    counts["conflicting_duplicates"] = int((distinct[pairs] == 2).sum())
    return counts


@pytest.mark.parametrize("day", DATES, ids=str)
def test_ground_truth_matches_recount_of_call_logs(
    run: tuple[Settings, SimulationResult], day: date
) -> None:
    settings, _ = run
    customers, agents = _snapshot_ids(settings)
    truth = _truth(settings, "call_logs", day)
    frame = pd.read_csv(_call_log(settings, day), dtype=str, keep_default_na=False)
    published = int(truth["customers_snapshot"] != str(START))
    counts = _recount(frame, "call ID", "call_start_time", published, customers, agents)
    starts = pd.to_datetime(frame["call_start_time"], format="%Y-%m-%d %H:%M:%S", errors="coerce")
    ends = pd.to_datetime(frame["call_end_time"], format="%Y-%m-%d %H:%M:%S", errors="coerce")
    counts["end_before_start"] = int((ends < starts).sum())
    assert counts == truth["defects"]
    assert len(frame) == truth["rows"]
    assert sorted(set(frame["customeR iD"]) - set().union(*customers)) == sorted(
        truth["orphan_customer_ids"]["ids"]
    )
    if day < DATES[2]:
        assert truth["defects"]["late_customer"] > 0


@pytest.mark.parametrize("day", DATES, ids=str)
def test_ground_truth_matches_recount_of_social_and_web(
    run: tuple[Settings, SimulationResult], day: date
) -> None:
    settings, _ = run
    customers, agents = _snapshot_ids(settings)
    social_truth = _truth(settings, "social_media_complaints", day)
    social = pd.read_json(_social(settings, day), dtype=False)
    published = int(social_truth["customers_snapshot"] != str(START))
    counts = _recount(social, "complaint_id", "request_date", published, customers, agents)
    counts["unknown_channel"] = int((~social["media_channel"].isin(MEDIA_CHANNELS)).sum())
    assert counts == social_truth["defects"]

    web_truth = _truth(settings, "web_form_complaints", day)
    web = _web(settings, day)
    assert (
        _recount(web, "request_id", "request_date", published, customers, agents)
        == (web_truth["defects"])
    )


def test_ground_truth_matches_recount_of_customers(run: tuple[Settings, SimulationResult]) -> None:
    settings, _ = run
    for path in sorted((settings.home / "simulator" / "customers").glob("*/customers_dataset.csv")):
        truth = _truth(settings, "customers", date.fromisoformat(path.parent.name))
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)

        def cleaned(email: str) -> str:
            local, at, domain = email.strip().lower().rpartition("@")
            return f"{local}@{EMAIL_DOMAIN_FIXES.get(domain, domain)}" if at else domain

        clean = frame["email"].map(cleaned)
        valid = clean.map(lambda e: re.fullmatch(EMAIL_SYNTAX, e) is not None)
        codes = frame["address"].str.extract(r"\b([A-Z]{2}) \d{5}$")[0]
        assert codes.notna().all()
        dates_ok = frame["DATE of biRTH"].map(lambda v: _parses(v, "%Y-%m-%d")) & frame[
            "signup_date"
        ].map(lambda v: _parses(v, "%Y-%m-%d"))
        recount = {
            "missing_key": int((frame["customer_id"] == "").sum()),
            "invalid_email_unrepairable": int((~valid).sum()),
            "unknown_state": int((~codes.isin(list(STATE_CODES))).sum()),
            "bad_gender": int((~frame["Gender"].isin(GENDERS)).sum()),
            "unparseable_date": int((~dates_ok).sum()),
        }
        assert recount == truth["defects"]
        assert int((valid & (clean != frame["email"])).sum()) == truth["repairable_email"]
        lowered = frame["email"].str.strip().str.lower()
        assert int((valid & (clean != lowered)).sum()) == truth["email_domain_fixed"]
        assert len(frame) == truth["rows"]


def test_reappearing_complaints_progress_status(run: tuple[Settings, SimulationResult]) -> None:
    settings, _ = run
    order = {"Backlog": 0, "In-Progress": 1, "Resolved": 2, "Blocked": 2}
    first = pd.read_json(_social(settings, DATES[0]), dtype=False)
    seen = dict(zip(first["complaint_id"], first["resolutionstatus"], strict=True))
    progressed = 0
    for day in DATES[1:]:
        frame = pd.read_json(_social(settings, day), dtype=False)
        # Conflicting duplicates repeat an id within the day; lifecycle is across days.
        frame = frame[frame["complaint_id"].notna()]
        frame = frame[~frame["complaint_id"].duplicated(keep=False)]
        for cid, status, resolved in zip(
            frame["complaint_id"], frame["resolutionstatus"], frame["resolution_date"], strict=True
        ):
            if cid in seen and seen[cid] in order and status in order:
                assert order[status] == order[seen[cid]] + 1
                assert (resolved != "") == (status == "Resolved")
                progressed += 1
        seen.update(zip(frame["complaint_id"], frame["resolutionstatus"], strict=True))
        truth = _truth(settings, "social_media_complaints", day)
        assert truth["reappearing"] == sum(truth["status_transitions"].values())
    assert progressed > 0


def test_propensity_predicts_escalations(run: tuple[Settings, SimulationResult]) -> None:
    settings, _ = run
    frames = [pd.read_csv(_call_log(settings, d), dtype=str) for d in DATES]
    calls = pd.concat(frames)
    propensity = pd.read_parquet(settings.ground_truth_dir / "customer_propensity.parquet")
    joined = calls.merge(propensity, left_on="customeR iD", right_on="customer_id")
    high = joined["propensity"] >= joined["propensity"].quantile(0.75)
    blocked = joined["resolutionstatus"] == "Blocked"
    assert blocked[high].mean() > 2 * blocked[~high].mean()
    per_customer = joined.groupby("customer_id").agg(
        n=("call ID", "size"), p=("propensity", "first")
    )
    assert per_customer["n"].corr(per_customer["p"]) > 0.2


# ---------------------------------------------------------------- determinism and publication


def _digests(settings: Settings) -> dict[str, str]:
    roots = [Path(str(settings.source_uri)), settings.home / "simulator"]
    out = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            if (
                path.is_file()
                and path.suffix in {".csv", ".json", ".xlsx"}
                and path.name
                not in {
                    "manifest.json",
                    "published.json",
                }
            ):
                out[str(path.relative_to(settings.home))] = hashlib.sha256(
                    path.read_bytes()
                ).hexdigest()
    agents = Path(str(settings.agents_sheet))
    out["agents_sheet"] = hashlib.sha256(agents.read_bytes()).hexdigest()
    return out


def test_same_seed_is_byte_identical_and_another_seed_differs(
    run: tuple[Settings, SimulationResult], make_sim_settings: Callable[[], Settings]
) -> None:
    settings, _ = run
    again = make_sim_settings()
    simulate(again, START, DAYS, SCALE, seed=42)
    assert _digests(again) == _digests(settings)
    for day in DATES:
        assert _web(again, day).equals(_web(settings, day))
    truth_files = sorted(
        p.relative_to(settings.ground_truth_dir)
        for p in settings.ground_truth_dir.rglob("*/*.json")
    )
    for rel in truth_files:
        assert (again.ground_truth_dir / rel).read_text() == (
            settings.ground_truth_dir / rel
        ).read_text()

    other = make_sim_settings()
    simulate(other, START, DAYS, SCALE, seed=7)
    differ = {k for k, v in _digests(other).items() if _digests(settings).get(k) != v}
    assert len(differ) == len(_digests(settings))
    assert not _web(other, START).equals(_web(settings, START))


def test_publish_as_of_switches_static_snapshots(
    make_sim_settings: Callable[[], Settings],
) -> None:
    settings = make_sim_settings()
    result = simulate(settings, START, 3, 0.001, seed=5)
    assert result.published == ("customers", "agents")
    customers_csv = _src(settings, "customers/customers_dataset.csv")
    before = pd.read_csv(customers_csv, dtype=str)
    assert publish_as_of(settings, DATES[1]) == []
    assert publish_as_of(settings, DATES[2]) == ["customers", "agents"]
    after = pd.read_csv(customers_csv, dtype=str)
    truth = _truth(settings, "customers", DATES[2])
    assert len(after) == len(before) + truth["new_customers"]
    moved = before.dropna(subset=["customer_id"]).merge(
        after.dropna(subset=["customer_id"]), on="customer_id", suffixes=("_before", "_after")
    )
    assert (moved["address_before"] != moved["address_after"]).sum() == truth["address_changes"]
    sheet = pd.read_excel(str(settings.agents_sheet), sheet_name="agents")
    assert len(sheet) == 100 + _truth(settings, "agents", DATES[2])["new_agents"]
    assert publish_as_of(settings, DATES[2]) == []
    assert publish_as_of(settings, DATES[0]) == ["customers", "agents"]
    assert pd.read_csv(customers_csv, dtype=str).equals(before)
    with pytest.raises(ValueError, match="no customers snapshot on or before"):
        publish_as_of(settings, date(2025, 11, 1))


def test_cli_simulate_prints_summary_and_publishes(
    make_sim_settings: Callable[[], Settings],
) -> None:
    from typer.testing import CliRunner

    from coretelecoms.cli import app

    settings = make_sim_settings()
    env = {
        "CORETELECOMS_HOME": str(settings.home),
        "CORETELECOMS_SOURCE_PG_DSN": settings.source_pg_dsn.get_secret_value(),
        "COLUMNS": "200",
    }
    args = ["simulate", "--start", "2025-11-20", "--days", "3", "--scale", "0.001", "--seed", "1"]
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    assert "simulated sources" in result.output
    for entity in ("call_logs", "social_media_complaints", "web_form_complaints", "customers"):
        assert entity in result.output
    assert _src(settings, "call logs/call_logs_day_2025-11-22.csv").exists()
    published = CliRunner().invoke(app, ["simulate", "--publish-as-of", "2025-11-22"], env=env)
    assert published.exit_code == 0, published.output
    assert "customers, agents" in published.output


def _latest_timestamp(settings: Settings, day: date) -> pd.Timestamp:
    calls = pd.read_csv(_call_log(settings, day), dtype=str)
    social = pd.read_json(_social(settings, day), dtype=False)
    web = _web(settings, day)
    values = pd.concat(
        [
            calls["call_start_time"],
            calls["call_end_time"],
            social["request_date"],
            social["resolution_date"],
            web["request_date"],
            web["resolution_date"],
        ]
    )
    return pd.to_datetime(values, format="%Y-%m-%d %H:%M:%S", errors="coerce").max()


def test_nothing_is_dated_after_the_file_date_even_for_an_early_start(
    run: tuple[Settings, SimulationResult], make_sim_settings: Callable[[], Settings]
) -> None:
    settings, _ = run
    for day in DATES:
        assert _latest_timestamp(settings, day) < pd.Timestamp(day)
    early = make_sim_settings()
    simulate(early, date(2025, 3, 1), 1, 0.001, seed=2)
    assert _latest_timestamp(early, date(2025, 3, 1)) < pd.Timestamp("2025-03-01")
    customers = pd.read_csv(_src(early, "customers/customers_dataset.csv"), dtype=str)
    signup = pd.to_datetime(customers["signup_date"], format="%Y-%m-%d", errors="coerce")
    assert signup.max() < pd.Timestamp("2025-03-01")
