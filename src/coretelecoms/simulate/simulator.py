"""Run a simulation: generate every day up front, write the sources, keep the static snapshots
and the ground truth, and publish the static sources as of a date."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import polars as pl

from coretelecoms.config import AGENTS_SHEET_TAB, Settings
from coretelecoms.contracts import CONTRACTS
from coretelecoms.contracts.reference import EXPERIENCE_LEVELS
from coretelecoms.postgres import source_dsn
from coretelecoms.simulate import agents as agents_mod
from coretelecoms.simulate import complaints as cmp
from coretelecoms.simulate import customers as customers_mod
from coretelecoms.simulate import formats
from coretelecoms.simulate.defects import DefectRates
from coretelecoms.simulate.randomness import rng_for

log = logging.getLogger(__name__)

BASE_CUSTOMERS = 2_500_000
AGENT_COUNT = 100
MAX_LISTED_IDS = 1000
MIN_CUSTOMERS = 100
MIN_DAILY_ROWS = 50
"""Floors for tiny scales: enough rows for one of every defect in every source."""
_STATIC = ("customers", "agents")
_STREAM = {"customers": 1, "agents": 2, "evolve_customers": 3, "evolve_agents": 4}
_CHANNEL_STREAM = {cmp.CALLS: 10, cmp.SOCIAL: 11, cmp.WEB: 12}


@dataclass(frozen=True)
class WrittenSource:
    """One source written: a file (URI) or a table (``schema.table``)."""

    entity: str
    logical_date: date
    location: str
    rows: int
    sha256: str | None = None


@dataclass(frozen=True)
class SimulationResult:
    start: date
    days: int
    scale: float
    seed: int
    written: tuple[WrittenSource, ...]
    snapshots: dict[str, tuple[date, ...]]
    ground_truth_dir: Path
    seconds: float = 0.0
    published: tuple[str, ...] = field(default_factory=tuple)

    @property
    def total_rows(self) -> int:
        return sum(w.rows for w in self.written)


# ---------------------------------------------------------------- locations


def simulator_dir(settings: Settings) -> Path:
    """Where snapshots live between publications (outside every source location)."""
    return settings.home / "simulator"


def source_file_uri(settings: Settings, relative: str) -> str:
    return f"{str(settings.source_uri).rstrip('/')}/{relative}"


def _opts(settings: Settings, uri: str) -> dict[str, Any]:
    return settings.storage_options() if uri.startswith("s3://") else {}


def _write_uri(settings: Settings, uri: str, data: bytes) -> None:
    fs, path = fsspec.core.url_to_fs(uri, **_opts(settings, uri))
    if "file" in fs.protocol:
        fs.makedirs(fs._parent(path), exist_ok=True)
    with fs.open(path, "wb") as handle:
        handle.write(data)


def _copy_to_uri(settings: Settings, local: Path, uri: str) -> None:
    fs, path = fsspec.core.url_to_fs(uri, **_opts(settings, uri))
    if "file" in fs.protocol:
        fs.makedirs(fs._parent(path), exist_ok=True)
    with local.open("rb") as src, fs.open(path, "wb") as dst:
        shutil.copyfileobj(src, dst, length=1 << 22)


def _uri_exists(settings: Settings, uri: str) -> bool:
    fs, path = fsspec.core.url_to_fs(uri, **_opts(settings, uri))
    return bool(fs.exists(path))


def check_writable(settings: Settings) -> None:
    """Fail before generating anything when the source target cannot be written.

    Raises:
        OSError: the folder cannot be created/written, or the S3 bucket does not exist.
    """
    uri = str(settings.source_uri)
    fs, path = fsspec.core.url_to_fs(uri, **_opts(settings, uri))
    if "file" in fs.protocol:
        fs.makedirs(path, exist_ok=True)
        probe = Path(path) / ".coretelecoms_write_probe"
        probe.write_bytes(b"")
        probe.unlink()
    else:
        bucket = path.split("/", 1)[0]
        if not fs.exists(bucket):
            raise OSError(f"source bucket {bucket!r} does not exist or is not reachable")
    if not settings.agents_sheet_is_local:
        raise OSError(
            f"the simulator writes the agents sheet only as a local .xlsx; "
            f"agents_sheet={settings.agents_sheet!r} is a Google Sheet id"
        )
    for local in (simulator_dir(settings), settings.ground_truth_dir):
        local.mkdir(parents=True, exist_ok=True)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def _write_truth(settings: Settings, entity: str, day: date, truth: dict[str, Any]) -> None:
    target = settings.ground_truth_dir / entity / f"{day.isoformat()}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(truth, indent=2, sort_keys=True, default=str) + "\n")


def _listed(ids: list) -> dict[str, Any]:
    return {"ids": ids[:MAX_LISTED_IDS], "ids_truncated": len(ids) > MAX_LISTED_IDS}


# ---------------------------------------------------------------- static truth


def customers_truth(frame: pl.DataFrame) -> dict[str, Any]:
    """Defect counts of one customers snapshot (definitions in ``simulate.defects``)."""
    counts = dict(frame.group_by("_defect").len().drop_nulls().rows())
    defects = {name: int(counts.get(name, 0)) for name in customers_mod.CUSTOMER_DEFECTS}
    return {
        "rows": frame.height,
        "defects": defects,
        "repairable_email": int(frame["_repairable_email"].sum()),
        "email_domain_fixed": int(frame["_domain_fixed_email"].sum()),
        "messy_email": int(frame["_messy_email"].sum()),
    }


def agents_truth(frame: pl.DataFrame) -> dict[str, Any]:
    return {
        "rows": frame.height,
        "experience_noncanonical": int((~frame["experience"].is_in(EXPERIENCE_LEVELS)).sum()),
        "levels": dict(sorted(frame.group_by("_level").len().rows())),
    }


# ---------------------------------------------------------------- simulate


def _validate(start: date, days: int, scale: float, seed: int, snapshot_offset: int) -> None:
    if not isinstance(start, date):
        raise ValueError(f"start must be a date, got {start!r}")
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    if not scale > 0:
        raise ValueError(f"scale must be greater than 0, got {scale}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    if snapshot_offset < 1:
        raise ValueError(f"snapshot_offset must be at least 1, got {snapshot_offset}")


def simulate(  # noqa: PLR0917 - the documented interface
    settings: Settings,
    start: date,
    days: int,
    scale: float,
    seed: int,
    rates: DefectRates | None = None,
    *,
    snapshot_offset: int = 2,
    agent_count: int = AGENT_COUNT,
) -> SimulationResult:
    """Generate ``days`` days of all five sources from ``start`` (see the package docstring).

    Args:
        scale: 1.0 = the real volumes (2.5 M customers; per day ~379 k calls, ~279 k web forms,
            ~38 k social complaints); smaller scales shrink linearly down to floors of
            MIN_CUSTOMERS customers and MIN_DAILY_ROWS rows per source and day. Agents stay
            ``agent_count``.
        seed: same seed -> byte-identical files and identical tables.
        snapshot_offset: day index (0 = start) of the second customers snapshot and agents sheet;
            no second snapshot when it is >= ``days``.

    A rerun replaces the simulator area and the ground truth, and overwrites the sources of the
    simulated days; sources of days outside the new range (from an earlier, longer run) are
    left in place.

    Raises:
        ValueError: bad arguments (days < 1, scale <= 0, negative seed, rates out of range).
        OSError: the source target, simulator area or ground-truth folder is not writable.
    """
    _validate(start, days, scale, seed, snapshot_offset)
    rates = rates or DefectRates()
    began = time.perf_counter()
    check_writable(settings)
    sim_dir = simulator_dir(settings)
    shutil.rmtree(sim_dir, ignore_errors=True)
    shutil.rmtree(settings.ground_truth_dir, ignore_errors=True)
    sim_dir.mkdir(parents=True)
    settings.ground_truth_dir.mkdir(parents=True)

    dates = [start + timedelta(days=i) for i in range(days)]
    second = dates[snapshot_offset] if snapshot_offset < days else None
    written: list[WrittenSource] = []
    manifest: dict[str, Any] = {
        "seed": seed,
        "start": start.isoformat(),
        "days": days,
        "scale": scale,
        "rates": rates.as_dict(),
        "snapshots": {"customers": [], "agents": []},
    }

    snapshot_dates = [start] if second is None else [start, second]
    customer_parents = _customer_snapshots(
        settings,
        manifest,
        seed=seed,
        rates=rates,
        rows=max(MIN_CUSTOMERS, round(BASE_CUSTOMERS * scale)),
        snapshot_dates=snapshot_dates,
    )
    agent_ids = _agent_sheets(
        settings,
        manifest,
        seed=seed,
        rates=rates,
        agent_count=agent_count,
        snapshot_dates=snapshot_dates,
    )
    (sim_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    written.extend(
        _daily_sources(
            settings,
            seed=seed,
            rates=rates,
            scale=scale,
            dates=dates,
            second=second,
            customer_parents=customer_parents,
            agent_ids=agent_ids,
        )
    )

    published_entities = publish_as_of(settings, start)
    # Static snapshots are listed where they are kept; publish_as_of copies them to the source.
    for entity in _STATIC:
        written.extend(
            WrittenSource(
                entity, date.fromisoformat(snap["date"]), snap["path"], snap["rows"], snap["sha256"]
            )
            for snap in manifest["snapshots"][entity]
        )
    seconds = time.perf_counter() - began
    (settings.ground_truth_dir / "simulation.json").write_text(
        json.dumps({**manifest, "written": [w.__dict__ for w in written]}, indent=2, default=str)
        + "\n"
    )
    log.info("simulated %d days at scale %s in %.1fs", days, scale, seconds)
    return SimulationResult(
        start=start,
        days=days,
        scale=scale,
        seed=seed,
        written=tuple(written),
        snapshots={
            e: tuple(date.fromisoformat(s["date"]) for s in manifest["snapshots"][e])
            for e in _STATIC
        },
        ground_truth_dir=settings.ground_truth_dir,
        seconds=seconds,
        published=tuple(published_entities),
    )


def _customer_snapshots(
    settings: Settings,
    manifest: dict[str, Any],
    *,
    seed: int,
    rates: DefectRates,
    rows: int,
    snapshot_dates: list[date],
) -> list[tuple[pl.Series, np.ndarray]]:
    """Generate and keep the customers snapshots (CSV, truth, propensity); return per snapshot
    the referencable customer ids and their propensities."""
    frame = customers_mod.generate_customers(
        rng_for(seed, _STREAM["customers"]), rows, rates, snapshot_dates[0]
    )
    changes: dict[str, int] = {}
    parents: list[tuple[pl.Series, np.ndarray]] = []
    propensity: list[pl.DataFrame] = []
    for k, day in enumerate(snapshot_dates):
        if k:
            frame, changes = customers_mod.evolve_customers(
                rng_for(seed, _STREAM["evolve_customers"]), frame, rates, day
            )
        path = simulator_dir(settings) / "customers" / day.isoformat() / "customers_dataset.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            formats.write_csv(frame.select(customers_mod.RAW_COLUMNS), handle)
        manifest["snapshots"]["customers"].append(
            {
                "date": day.isoformat(),
                "path": str(path),
                "sha256": _sha256_file(path),
                "rows": frame.height,
            }
        )
        truth = {"entity": "customers", "snapshot_date": day, **customers_truth(frame), **changes}
        _write_truth(settings, "customers", day, truth)
        keyed = frame.filter(pl.col("customer_id").is_not_null())
        parents.append((keyed["customer_id"], keyed["_propensity"].to_numpy()))
        propensity.append(keyed.select("customer_id", propensity=pl.col("_propensity")))
    pl.concat(propensity).unique("customer_id", keep="first", maintain_order=True).write_parquet(
        settings.ground_truth_dir / "customer_propensity.parquet", statistics=False
    )
    return parents


def _agent_sheets(
    settings: Settings,
    manifest: dict[str, Any],
    *,
    seed: int,
    rates: DefectRates,
    agent_count: int,
    snapshot_dates: list[date],
) -> list[np.ndarray]:
    """Generate and keep the agents sheets (xlsx, truth); return the agent ids per sheet."""
    frame = agents_mod.generate_agents(rng_for(seed, _STREAM["agents"]), agent_count)
    changes: dict[str, int] = {}
    ids: list[np.ndarray] = []
    for k, day in enumerate(snapshot_dates):
        if k:
            frame, changes = agents_mod.evolve_agents(
                rng_for(seed, _STREAM["evolve_agents"]), frame, rates
            )
        path = simulator_dir(settings) / "agents" / day.isoformat() / "agents.xlsx"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(formats.xlsx_bytes(frame.select(agents_mod.RAW_COLUMNS), AGENTS_SHEET_TAB))
        manifest["snapshots"]["agents"].append(
            {
                "date": day.isoformat(),
                "path": str(path),
                "sha256": _sha256_file(path),
                "rows": frame.height,
            }
        )
        truth = {"entity": "agents", "snapshot_date": day, **agents_truth(frame), **changes}
        _write_truth(settings, "agents", day, truth)
        ids.append(frame["iD"].to_numpy())
    return ids


def _daily_sources(
    settings: Settings,
    *,
    seed: int,
    rates: DefectRates,
    scale: float,
    dates: list[date],
    second: date | None,
    customer_parents: list[tuple[pl.Series, np.ndarray]],
    agent_ids: list[np.ndarray],
) -> list[WrittenSource]:
    """Generate and write every day's three complaint sources with their truth sidecars.

    Before the second snapshot, complaints may reference its new customers/agents (late
    parents); from its date on, those are ordinary published parents.
    """
    late_customers: tuple[pl.Series, np.ndarray] | None = None
    late_agents: np.ndarray | None = None
    if second is not None:
        ids2, p2 = customer_parents[1]
        is_new = ~ids2.is_in(customer_parents[0][0]).to_numpy()
        late_customers = (ids2.filter(pl.Series(is_new)), p2[is_new])
        late_agents = np.setdiff1d(agent_ids[1], agent_ids[0])
    dsn = source_dsn(settings)
    pools = {channel: cmp.empty_pool() for channel in cmp.CHANNELS}
    written: list[WrittenSource] = []
    for i, day in enumerate(dates):
        published = 1 if second is not None and day >= second else 0
        late = second is not None and day < second
        late_c = late_customers if late and late_customers and len(late_customers[0]) else None
        late_a = late_agents if late and late_agents is not None and len(late_agents) else None
        parents = cmp.Parents(
            customer_ids=customer_parents[published][0],
            customer_p=customer_parents[published][1],
            agent_ids=agent_ids[published],
            late_customer_ids=late_c[0] if late_c else None,
            late_agent_ids=late_a,
        )
        snapshot = second if published else dates[0]
        for channel in cmp.CHANNELS:
            out = cmp.generate_day(
                rng_for(seed, _CHANNEL_STREAM[channel], i),
                channel,
                day_index=i,
                logical_date=day,
                volume=max(MIN_DAILY_ROWS, round(cmp.BASE_DAILY_VOLUME[channel] * scale)),
                pool=pools[channel],
                parents=parents,
                rates=rates,
            )
            pools[channel] = out.pool
            written.append(_write_day(settings, dsn, channel, day, out))
            ids = out.truth.pop("ids")
            truth = {
                "entity": channel,
                "logical_date": day,
                "location": CONTRACTS[channel].source_name(day.isoformat()),
                "customers_snapshot": snapshot,
                "agents_snapshot": snapshot,
                **out.truth,
                **{f"{name}_ids": _listed(v) for name, v in ids.items()},
            }
            _write_truth(settings, channel, day, truth)
    return written


def _write_day(
    settings: Settings, dsn: str, channel: str, day: date, out: cmp.DayOutput
) -> WrittenSource:
    contract = CONTRACTS[channel]
    location = contract.source_name(day.isoformat())
    if channel == cmp.WEB:
        schema, table = location.split(".", 1)
        formats.copy_table(
            dsn,
            schema=schema,
            table=table,
            frame=out.raw,
            index=out.index,
            index_column="Column1",
            integer_columns=("agent ID",),
        )
        return WrittenSource(channel, day, location, out.raw.height)
    if channel == cmp.CALLS:
        data = formats.csv_bytes(out.raw, out.index, index_header="")
    else:
        data = formats.json_columns_bytes(out.raw, out.index)
    uri = source_file_uri(settings, location)
    _write_uri(settings, uri, data)
    return WrittenSource(channel, day, uri, out.raw.height, hashlib.sha256(data).hexdigest())


# ---------------------------------------------------------------- publish


def publish_as_of(settings: Settings, as_of: date) -> list[str]:
    """Overwrite the customers CSV and the agents sheet with the latest snapshot dated on or
    before ``as_of``, like the real CRM and sheet owners overwrite them in place.

    Returns the entities whose source changed (``"customers"``, ``"agents"``); a source already
    holding that snapshot is left alone, so calling it every day is cheap.

    Raises:
        FileNotFoundError: no simulation was run under ``settings.home``.
        ValueError: ``as_of`` is before the first snapshot.
    """
    sim_dir = simulator_dir(settings)
    manifest_path = sim_dir / "manifest.json"
    if not manifest_path.exists():
        raise FileNotFoundError(f"no simulation under {sim_dir}; run `coretelecoms simulate`")
    manifest = json.loads(manifest_path.read_text())
    state_path = sim_dir / "published.json"
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    targets = {
        "customers": source_file_uri(settings, CONTRACTS["customers"].source_location),
        "agents": str(settings.agents_sheet),
    }
    changed: list[str] = []
    for entity in _STATIC:
        snaps = [s for s in manifest["snapshots"][entity] if s["date"] <= as_of.isoformat()]
        if not snaps:
            first = manifest["snapshots"][entity][0]["date"]
            raise ValueError(f"no {entity} snapshot on or before {as_of} (first is {first})")
        snap, target = snaps[-1], targets[entity]
        current = state.get(entity, {})
        if (
            current.get("sha256") == snap["sha256"]
            and current.get("target") == target
            and _uri_exists(settings, target)
        ):
            continue
        _copy_to_uri(settings, Path(snap["path"]), target)
        state[entity] = {"sha256": snap["sha256"], "target": target, "snapshot": snap["date"]}
        changed.append(entity)
        log.info("published %s snapshot %s to %s", entity, snap["date"], target)
    state_path.write_text(json.dumps(state, indent=2) + "\n")
    return changed
