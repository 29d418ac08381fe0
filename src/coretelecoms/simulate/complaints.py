"""Daily complaint sources (calls, social media, web forms): fresh complaints, reappearing ones
with a progressed status, injected defects and duplicates.

A day's frame for one channel is built from generic columns (``id, customer_id,
complaint_category, agent_id, resolution_status, start, end, media_channel``) and renamed to the
channel's raw headers through its entity contract at the end. ``start`` is the call start or
request time; ``end`` the call end or resolution time (``""`` while unresolved).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import polars as pl

from coretelecoms.contracts import CONTRACTS
from coretelecoms.contracts.reference import (
    COMPLAINT_CATEGORIES,
    MEDIA_CHANNELS,
)
from coretelecoms.simulate import vocabulary as vocab
from coretelecoms.simulate.defects import DefectRates, defect_count
from coretelecoms.simulate.randomness import (
    block_assign,
    choice_idx,
    epoch_seconds,
    format_timestamps,
    gapped_index,
    hex_strings,
    pick,
    uuid4_strings,
    weighted_idx,
)

CALLS, SOCIAL, WEB = "call_logs", "social_media_complaints", "web_form_complaints"
CHANNELS = (CALLS, SOCIAL, WEB)
BASE_DAILY_VOLUME = {CALLS: 379_000, WEB: 279_000, SOCIAL: 38_000}
"""Rows per day at ``scale = 1`` (the real sources' volumes)."""

_ID_FIELD = {CALLS: "call_id", SOCIAL: "complaint_id", WEB: "request_id"}
_START_FIELD = {CALLS: "call_started_at", SOCIAL: "requested_at", WEB: "requested_at"}
_END_FIELD = {CALLS: "call_ended_at", SOCIAL: "resolved_at", WEB: "resolved_at"}
_INDEX_HEADER = {CALLS: "", SOCIAL: None, WEB: "Column1"}

# Complaints start between 2025-01-01 and 2025-10-31 (months before the file dates).
_DAY = 86_400
_START_RANGE = (epoch_seconds(date(2025, 1, 1)), epoch_seconds(date(2025, 11, 1)))


def start_range(logical_date: date) -> tuple[int, int]:
    """Complaint start times: Jan-Oct 2025 (the real sources), but always at least an hour
    before the file date so nothing is dated after the day it was reported."""
    limit = epoch_seconds(logical_date) - 3600
    high = min(_START_RANGE[1], limit)
    return min(_START_RANGE[0], high - 300 * _DAY), high


_OPEN = ("Backlog", "In-Progress")
_STATUS_ORDER = ("Resolved", "Backlog", "In-Progress", "Blocked")
_SCHEMA = {
    "id": pl.String,
    "customer_id": pl.String,
    "complaint_category": pl.String,
    "agent_id": pl.Int64,
    "resolution_status": pl.String,
    "start": pl.String,
    "end": pl.String,
    "media_channel": pl.String,
    "_start_s": pl.Int64,
    "_p": pl.Float64,
    "_defect": pl.String,
    "_kind": pl.String,
    "_transition": pl.String,
}


def defects_for(channel: str) -> tuple[str, ...]:
    """The defect types injected into a channel's daily source, in injection order."""
    extra = {CALLS: ("end_before_start",), SOCIAL: ("unknown_channel",), WEB: ()}[channel]
    return (
        "missing_key",
        "unknown_category",
        "unknown_status",
        "unparseable_date",
        *extra,
        "orphan_customer",
        "orphan_agent",
        "late_customer",
        "late_agent",
    )


@dataclass
class Parents:
    """What a day's complaints may reference: the published snapshot's customers (weighted by
    their latent propensity) and agents, plus parents that only a later snapshot brings."""

    customer_ids: pl.Series
    customer_p: np.ndarray
    agent_ids: np.ndarray
    late_customer_ids: pl.Series | None = None
    late_agent_ids: np.ndarray | None = None
    _cumulative: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Complaint frequency grows with propensity: repeat complaints (on any channel) come
        # mostly from high-propensity customers.
        self._cumulative = np.cumsum(0.05 + self.customer_p)

    def draw_customers(self, rng: np.random.Generator, n: int) -> tuple[pl.Series, np.ndarray]:
        idx = weighted_idx(rng, n, self._cumulative)
        return self.customer_ids.gather(pl.Series(idx, dtype=pl.UInt32)), self.customer_p[idx]


@dataclass
class DayOutput:
    """One channel-day: the raw frame to write, its index, the next pool and the ground truth."""

    raw: pl.DataFrame
    index: np.ndarray
    pool: pl.DataFrame
    truth: dict[str, object]


def empty_pool() -> pl.DataFrame:
    return pl.DataFrame(schema=_SCHEMA)


def _initial_status(rng: np.random.Generator, p: np.ndarray) -> pl.Series:
    """Status drawn from the customer's propensity: high p -> more Blocked, fewer Resolved."""
    resolved = 0.6 - 0.45 * p
    blocked = 0.03 + 0.35 * p
    backlog = 0.5 * (1.0 - resolved - blocked)
    u = rng.random(len(p))
    idx = (u >= resolved).astype(np.int64)
    idx += u >= resolved + backlog
    idx += u >= 1.0 - blocked
    return pick(_STATUS_ORDER, idx)


def _resolution(
    channel: str, status: pl.Expr, end: pl.Expr, start_s: pl.Expr, limit_s: int
) -> pl.Expr:
    """End column for a (possibly new) status: calls keep their end time; other channels carry
    a resolution time only when Resolved, else ``""``."""
    if channel == CALLS:
        return end
    return (
        pl.when(status == "Resolved")
        .then(
            pl.when(end == "")
            .then(
                pl.from_epoch(
                    pl.min_horizontal(start_s + 3 * _DAY, pl.lit(limit_s)), time_unit="s"
                ).dt.strftime("%Y-%m-%d %H:%M:%S")
            )
            .otherwise(end)
        )
        .otherwise(pl.lit(""))
    )


def _fresh(
    rng: np.random.Generator, channel: str, n: int, parents: Parents, logical_date: date
) -> pl.DataFrame:
    customers, p = parents.draw_customers(rng, n)
    start_s = rng.integers(*start_range(logical_date), size=n)
    limit_s = epoch_seconds(logical_date) - 1
    status = _initial_status(rng, p)
    if channel == CALLS:
        end_s = start_s + 60 * rng.integers(1, 46, size=n)
    else:
        end_s = np.minimum(start_s + rng.integers(3600, 20 * _DAY, size=n), limit_s)
    end = format_timestamps(end_s)
    if channel != CALLS:
        end = pl.select(pl.when(status == "Resolved").then(end).otherwise(pl.lit(""))).to_series()
    media = (
        pick(MEDIA_CHANNELS, choice_idx(rng, n, len(MEDIA_CHANNELS)))
        if channel == SOCIAL
        else pl.Series([None] * n, dtype=pl.String)
    )
    return pl.DataFrame(
        {
            "id": hex_strings(rng, n, 50, 56),
            "customer_id": customers,
            "complaint_category": pick(
                COMPLAINT_CATEGORIES, choice_idx(rng, n, 4, (0.3, 0.3, 0.15, 0.25))
            ),
            "agent_id": pl.Series(parents.agent_ids[choice_idx(rng, n, len(parents.agent_ids))]),
            "resolution_status": status,
            "start": format_timestamps(start_s),
            "end": end,
            "media_channel": media,
            "_start_s": pl.Series(start_s, dtype=pl.Int64),
            "_p": pl.Series(p, dtype=pl.Float64),
            "_defect": pl.Series([None] * n, dtype=pl.String),
            "_kind": pl.Series(["fresh"] * n, dtype=pl.String),
            "_transition": pl.Series([None] * n, dtype=pl.String),
        },
        schema=_SCHEMA,
    )


def _inject(
    rng: np.random.Generator,
    channel: str,
    frame: pl.DataFrame,
    parents: Parents,
    rates: DefectRates,
) -> tuple[pl.DataFrame, dict[str, int], dict[str, list]]:
    """Inject each defect into its own exact, disjoint set of rows (see ``defects``)."""
    n = frame.height
    names = defects_for(channel)
    rate_of = {
        "missing_key": rates.missing_key,
        "unknown_category": rates.unknown_category,
        "unknown_status": rates.unknown_status,
        "unparseable_date": rates.unparseable_date,
        "end_before_start": rates.end_before_start,
        "unknown_channel": rates.unknown_channel,
        "orphan_customer": rates.orphan_customer,
        "orphan_agent": rates.orphan_agent,
        "late_customer": rates.late_customer if parents.late_customer_ids is not None else 0.0,
        "late_agent": rates.late_agent if parents.late_agent_ids is not None else 0.0,
    }
    counts = [defect_count(rate_of[name], n) for name in names]
    codes, _ = block_assign(rng, n, counts)
    cols = {name: frame[name].clone() for name in frame.columns}
    ids: dict[str, list] = {}
    for k, name in enumerate(names, start=1):
        rows = np.flatnonzero(codes == k)
        m = len(rows)
        if not m:
            continue
        if name == "missing_key":
            cols["id"].scatter(rows, None)
        elif name == "unknown_category":
            cols["complaint_category"].scatter(
                rows, pick(vocab.BAD_CATEGORIES, choice_idx(rng, m, len(vocab.BAD_CATEGORIES)))
            )
        elif name == "unknown_status":
            cols["resolution_status"].scatter(
                rows, pick(vocab.BAD_STATUSES, choice_idx(rng, m, len(vocab.BAD_STATUSES)))
            )
            if channel != CALLS:
                cols["end"].scatter(rows, pl.Series([""] * m))
        elif name == "unparseable_date":
            cols["start"].scatter(
                rows, pick(vocab.BAD_TIMESTAMPS, choice_idx(rng, m, len(vocab.BAD_TIMESTAMPS)))
            )
        elif name == "end_before_start":
            start_s = frame["_start_s"].to_numpy()[rows]
            cols["end"].scatter(rows, format_timestamps(start_s - 60 * rng.integers(1, 30, m)))
        elif name == "unknown_channel":
            cols["media_channel"].scatter(
                rows, pick(vocab.BAD_CHANNELS, choice_idx(rng, m, len(vocab.BAD_CHANNELS)))
            )
        elif name == "orphan_customer":
            orphans = uuid4_strings(rng, m)
            cols["customer_id"].scatter(rows, orphans)
            ids[name] = orphans.to_list()
        elif name == "orphan_agent":
            orphans = rng.integers(9000, 10000, size=m)
            cols["agent_id"].scatter(rows, pl.Series(orphans, dtype=pl.Int64))
            ids[name] = sorted({int(a) for a in orphans})
        elif name == "late_customer":
            assert parents.late_customer_ids is not None
            pool = parents.late_customer_ids
            late = pool.gather(pl.Series(choice_idx(rng, m, len(pool)), dtype=pl.UInt32))
            cols["customer_id"].scatter(rows, late)
            ids[name] = sorted(set(late.to_list()))
        elif name == "late_agent":
            assert parents.late_agent_ids is not None
            late = parents.late_agent_ids[choice_idx(rng, m, len(parents.late_agent_ids))]
            cols["agent_id"].scatter(rows, pl.Series(late, dtype=pl.Int64))
            ids[name] = sorted({int(a) for a in late})
    defect = pl.Series([None, *names], dtype=pl.String).gather(pl.Series(codes, dtype=pl.UInt32))
    cols["_defect"] = defect
    injected = {name: int((codes == k).sum()) for k, name in enumerate(names, start=1)}
    return pl.DataFrame(cols), injected, ids


def _progress(
    rng: np.random.Generator, channel: str, chosen: pl.DataFrame, limit_s: int
) -> pl.DataFrame:
    """One lifecycle step: Backlog -> In-Progress; In-Progress -> Blocked (more likely for
    high-propensity customers) or Resolved (resolution time filled)."""
    u = pl.Series(rng.random(chosen.height))
    status = pl.col("resolution_status")
    new_status = (
        pl.when(status == "Backlog")
        .then(pl.lit("In-Progress"))
        .when(pl.lit(u) < 0.1 + 0.6 * pl.col("_p"))
        .then(pl.lit("Blocked"))
        .otherwise(pl.lit("Resolved"))
    )
    return (
        chosen.with_columns(
            _transition=pl.concat_str([status, pl.lit("->"), new_status]),
            resolution_status=new_status,
            _kind=pl.lit("reappear"),
        )
        .with_columns(
            end=_resolution(
                channel, pl.col("resolution_status"), pl.col("end"), pl.col("_start_s"), limit_s
            )
        )
        .select(list(_SCHEMA))
    )


def _conflict(channel: str, rows: pl.DataFrame, limit_s: int) -> pl.DataFrame:
    """Same id, a different valid status (the next one in a fixed cycle)."""
    cycle = {s: _STATUS_ORDER[(i + 1) % len(_STATUS_ORDER)] for i, s in enumerate(_STATUS_ORDER)}
    return rows.with_columns(
        resolution_status=pl.col("resolution_status").replace_strict(cycle),
        _kind=pl.lit("conflict_copy"),
    ).with_columns(
        end=_resolution(
            channel, pl.col("resolution_status"), pl.col("end"), pl.col("_start_s"), limit_s
        )
    )


def generate_day(
    rng: np.random.Generator,
    channel: str,
    *,
    day_index: int,
    logical_date: date,
    volume: int,
    pool: pl.DataFrame,
    parents: Parents,
    rates: DefectRates,
) -> DayOutput:
    """One channel's source for one day, the open complaints carried forward, and its truth."""
    limit_s = epoch_seconds(logical_date) - 1  # nothing resolves after the file's date
    reappear = pl.DataFrame(schema=_SCHEMA)
    remaining = pool
    if day_index > 0 and pool.height:
        k = min(pool.height, defect_count(rates.reappear, volume))
        picked = np.zeros(pool.height, dtype=bool)
        picked[rng.choice(pool.height, size=k, replace=False)] = True
        reappear = _progress(rng, channel, pool.filter(pl.Series(picked)), limit_s)
        remaining = pool.filter(pl.Series(~picked))
    fresh = _fresh(rng, channel, max(volume - reappear.height, 1), parents, logical_date)
    fresh, defect_counts, defect_ids = _inject(rng, channel, fresh, parents, rates)

    clean = np.flatnonzero(fresh["_defect"].is_null().to_numpy())
    n_exact = min(len(clean), defect_count(rates.exact_duplicate, fresh.height))
    n_conf = min(len(clean) - n_exact, defect_count(rates.conflicting_duplicate, fresh.height))
    dup_rows = rng.choice(clean, size=n_exact + n_conf, replace=False)
    exact_src, conf_src = np.sort(dup_rows[:n_exact]), np.sort(dup_rows[n_exact:])
    exact = fresh[exact_src].with_columns(_kind=pl.lit("exact_copy"))
    conflict = _conflict(channel, fresh[conf_src], limit_s)

    duplicated = np.zeros(fresh.height, dtype=bool)
    duplicated[dup_rows] = True
    carry_fresh = fresh.filter(
        pl.Series(~duplicated)
        & pl.col("_defect").is_null()
        & pl.col("resolution_status").is_in(_OPEN)
    )
    carry_back = reappear.filter(pl.col("resolution_status").is_in(_OPEN))
    next_pool = pl.concat([remaining, carry_back, carry_fresh], how="vertical")

    rows = pl.concat([fresh, reappear, exact, conflict], how="vertical")
    rows = rows[rng.permutation(rows.height)]
    index = gapped_index(rng, rows.height)

    transitions = (
        reappear.group_by("_transition").len().sort("_transition").rows() if reappear.height else []
    )
    truth: dict[str, object] = {
        "rows": rows.height,
        "fresh_complaints": fresh.height,
        "clean_fresh": int(fresh["_defect"].is_null().sum()),
        "reappearing": reappear.height,
        "status_transitions": dict(transitions),
        "defects": {
            **defect_counts,
            "exact_duplicates": n_exact,
            "conflicting_duplicates": n_conf,
        },
        "ids": defect_ids,
    }
    return DayOutput(
        raw=to_raw(channel, rows, logical_date), index=index, pool=next_pool, truth=truth
    )


def to_raw(channel: str, rows: pl.DataFrame, logical_date: date) -> pl.DataFrame:
    """Generic columns -> the channel's raw headers, in the source's column order."""
    contract = CONTRACTS[channel]
    canonical = rows.rename(
        {"id": _ID_FIELD[channel], "start": _START_FIELD[channel], "end": _END_FIELD[channel]}
    ).with_columns(generated_date=pl.lit(logical_date.isoformat()))
    return canonical.select([pl.col(f.name).alias(f.raw) for f in contract.fields])


def index_header(channel: str) -> str | None:
    """The raw header of the channel's row-index column (None: the JSON keys are the index)."""
    return _INDEX_HEADER[channel]
