"""Transformer: bronze Parquet -> deterministic batches of clean rows, rejects and issues.

Workflow for one source version (one bronze Parquet file):

1. Schema: the bronze columns are checked against the contract before anything is produced. A
   missing raw column is a broken contract (:class:`ContractError`, terminal: a retry cannot fix
   it). Index columns (``Unnamed: 0``, ``Column1``) are dropped; unknown extra columns are
   recorded as schema drift and dropped; ``_``-prefixed columns are bronze lineage.
2. Duplicates: one cheap pass over the whole version (natural key, reject flag, row hash) finds
   exact and conflicting duplicates, so a duplicate is found even when its twin sits in another
   batch (see :mod:`coretelecoms.transform.quality` for the keep-last rule).
3. Batches: batch ``n`` is rows ``[n * batch_size, (n + 1) * batch_size)`` of the Parquet file in
   stored order (bronze keeps source order), so it covers the same source rows on every run and
   a loader resumes with ``start_batch`` = the first batch not committed. Skipped batches are not
   recomputed unless their audit files are missing.
4. Audit: each batch's rejects, issues and duplicates (with the original records) are written
   as Parquet under ``<lake>/quarantine/<entity>/ingest_date=YYYY-MM-DD/`` (temporary name, then
   rename; fsspec, so ``s3://`` works), and once the last batch is done a ``_manifest.json`` with
   the run summary is published the same way.
5. Overlap: ``transform_workers`` threads (default: two on a two-core machine) each compute and
   audit a whole batch while the consumer (the loader) works on an earlier one. Batches are
   handed over strictly in batch order, and at most ``workers`` are computed ahead (two more
   for a small version, below), so memory stays at about ``workers + 1`` batches. Much of a
   batch's work is eager and single-threaded (Parquet decode, distinct-value lookups, audit
   writes, the per-batch Python); Polars releases the GIL while it computes, and psycopg while
   it copies, so two batches at once keep both cores busy. The output (batches, audit files,
   manifest) is identical for any number of workers: each batch depends only on its rows and
   the whole-version duplicate pass. A batch is checked with its duplicates, which are dropped
   from its results afterwards (a row's check depends on that row alone).
6. Small versions: a version of at most ``transform_in_memory_rows`` rows (a day of complaints)
   is decoded from bronze once, whole row group after whole row group, on a thread of its own
   that also hashes the keys for the duplicate pass; batch 0 is checked as soon as its rows are
   decoded, and each batch waits for the duplicates only to drop them. A larger version
   (customers) has its duplicate pass first and is read slice by slice, so its memory stays
   bounded by the batches in flight. The output is the same. Either way a row's key is cleaned
   once: the duplicate pass hands the cleaned keys (a small version) or a bit a row saying
   which raw keys are already clean (a large one) to the batches' checks.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import queue
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

import polars as pl

from coretelecoms.config import Settings
from coretelecoms.contracts.base import EntityContract
from coretelecoms.transform.batch import (
    ISSUE_SCHEMA,
    REJECT_SCHEMA,
    SourceVersion,
    TransformedBatch,
)
from coretelecoms.transform.quality import (
    DUPLICATE_SCHEMA,
    SOURCE_ROW,
    CheckResult,
    DataQualityChecker,
)

log = logging.getLogger(__name__)

MANIFEST_NAME = "_manifest.json"
AUDIT_KINDS = ("rejects", "issues", "duplicates")
_PG_TO_POLARS: dict[str, pl.DataType] = {
    "text": pl.String(),
    "uuid": pl.String(),
    "integer": pl.Int32(),
    "bigint": pl.Int64(),
    "date": pl.Date(),
    "timestamp": pl.Datetime("us"),
    "boolean": pl.Boolean(),
}
DUPLICATE_AUDIT_SCHEMA: dict[str, pl.DataType] = {**DUPLICATE_SCHEMA, "record": pl.String()}
_SUMMARY_COLUMNS = {"rejects": ["reason"], "issues": ["rule", "field"]}
_READ_CHUNK = 20_000  # least rows a read of a small version's progressive read
_READERS = 2  # spans of a small version decoded at once
_SMALL_AHEAD = 2  # batches of a small version in flight beyond ``workers``

T = TypeVar("T")


class ContractError(Exception):
    """The bronze data does not satisfy the entity contract (terminal: fix the source or the
    contract; retrying cannot help). The message names the entity, the source and the columns."""


@dataclass
class TransformSummary:
    """Per-entity summary of one source version (also written into the audit manifest)."""

    entity: str
    logical_date: str
    source_uri: str
    fingerprint: str
    batch_size: int
    batches: int
    rows_in: int
    rows_clean: int
    exact_duplicates: int
    conflicting_duplicates: int
    rejects_by_reason: dict[str, int] = field(default_factory=dict)
    issues_by_rule_field: dict[str, dict[str, int]] = field(default_factory=dict)
    schema_drift: list[str] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return self.exact_duplicates + self.conflicting_duplicates

    @property
    def rejects(self) -> int:
        return sum(self.rejects_by_reason.values())

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["duplicates"] = self.duplicates
        out["rejects"] = self.rejects
        return out


@dataclass
class _Plan:
    """What the whole-version pass learnt: shape, drift and the duplicate rows."""

    source: SourceVersion
    scan: pl.LazyFrame
    rows: int
    batches: int
    schema_drift: list[str]
    dropped: list[str]  # index + drift columns, dropped before checking
    checker: DataQualityChecker  # one per version: it builds its expressions once
    duplicates: pl.DataFrame | None = None  # DUPLICATE_SCHEMA, filled lazily
    # a large version's DataQualityChecker.unchanged_keys (a bit a row), kept by its duplicate
    # pass so the batches' checks need not clean the keys again; with the duplicates
    unchanged_keys: pl.DataFrame | None = None
    reader: _ProgressiveRead | None = None  # a small version, being decoded whole
    checks: threading.Semaphore = field(default_factory=threading.Semaphore)  # checks at once
    found: threading.Lock = field(default_factory=threading.Lock)  # one duplicate pass
    # audit columns the summary counts, of the batches audited by this run (batch -> kind ->
    # frame): the summary reads back only the files of batches a resumed run skipped
    audited: dict[int, dict[str, pl.DataFrame]] = field(default_factory=dict)


class _ProgressiveRead:
    """A small version decoded from bronze in order, chunk by chunk, on a thread of its own.

    A batch's check needs only its own rows, and the duplicate pass only the key hashes of every
    row: so each decoded chunk (whole row groups, two decoded at once) is handed at once to the
    batches waiting for its rows, then its keys are hashed, and once the last chunk is in the
    version's duplicates are decided. Batch 0 is checked while the rest of the version is still
    being decoded (the whole read and the duplicate pass were ~40 % of a complaint channel's
    wall time, at 1-1.5 cores); batches wait for the duplicates only to drop them. The chunks
    are kept: the version stays in memory, as the small versions always did (a complaint day is
    ~70 MB decoded).
    """

    def __init__(
        self,
        scan: pl.LazyFrame,
        row_groups: Callable[[], list[int]],
        checker: DataQualityChecker,
        name: str,
    ) -> None:
        self._scan = scan
        self._row_groups = row_groups
        self._checker = checker
        self._chunks: list[pl.DataFrame] = []
        self._height = 0
        self._complete = False
        self._duplicates: pl.DataFrame | None = None
        self._error: BaseException | None = None
        self._changed = threading.Condition()
        threading.Thread(target=self._read, name=name, daemon=True).start()

    def _read(self) -> None:
        try:
            hashed = []
            spans = _spans(self._row_groups(), _READ_CHUNK)
            # Two spans decoded at once, handed over in order: one span's decode runs at about
            # one core, and before batch 0 can start nothing else needs the other.
            with ThreadPoolExecutor(_READERS, thread_name_prefix="read") as pool:
                for chunk in pool.map(self._decode, spans):
                    with self._changed:
                        self._chunks.append(chunk)
                        self._height += chunk.height
                        self._changed.notify_all()
                    keys = chunk.select(self._checker.key_columns)
                    hashed.append(self._checker.key_hashes(chunk, keys))
            with self._changed:
                self._complete = True
                self._changed.notify_all()
            if self._chunks:
                whole, keyed = pl.concat(self._chunks).lazy(), True
            else:
                whole, keyed = self._scan, False
            duplicates = self._checker.duplicates_of(hashed, whole, keyed)
            with self._changed:
                self._duplicates = duplicates
                self._changed.notify_all()
        except BaseException as exc:
            with self._changed:
                self._error = exc
                self._changed.notify_all()

    def _decode(self, span: tuple[int, int]) -> pl.DataFrame:
        """Rows of ``span`` with their cleaned keys (:meth:`DataQualityChecker.clean_keys`):
        cleaned here, on a decoding thread, once for the duplicate pass and the batch's check."""
        chunk = self._scan.slice(*span).collect()
        return chunk.hstack(self._checker.clean_keys(chunk))

    def _wait(self, ready: Callable[[], bool]) -> None:
        """Wait (holding the lock) until ``ready()``; re-raise the reader's failure."""
        self._changed.wait_for(lambda: self._error is not None or ready())
        if self._error is not None:
            raise self._error

    def rows(self, offset: int, length: int) -> pl.DataFrame:
        """Rows ``[offset, offset + length)`` of the version (fewer at its end), once decoded,
        with the key columns of :meth:`DataQualityChecker.clean_keys` (absent when the
        version is empty)."""
        with self._changed:
            self._wait(lambda: self._complete or self._height >= offset + length)
            chunks = list(self._chunks)
        parts, start, stop = [], 0, offset + length
        for chunk in chunks:
            end = start + chunk.height
            if end > offset and start < stop:
                first = max(offset, start)
                parts.append(chunk.slice(first - start, min(end, stop) - first))
            start = end
        if not parts:
            return pl.DataFrame(schema=self._scan.collect_schema())
        return pl.concat(parts) if len(parts) > 1 else parts[0]

    def duplicates(self) -> pl.DataFrame:
        with self._changed:
            self._wait(lambda: self._duplicates is not None)
            assert self._duplicates is not None
            return self._duplicates


def _spans(row_groups: list[int], least: int) -> Iterator[tuple[int, int]]:
    """(offset, rows) of consecutive whole row groups, at least ``least`` rows each but the last.

    Whole row groups: a slice that cuts one decodes it whole all the same (a 50 k-row slice of
    94 k-row groups doubled the read's CPU); at least ``least`` rows: the extractor's chunks end
    in a row group of a few rows now and then, not worth a read of its own.
    """
    offset, length = 0, 0
    for rows in row_groups:
        length += rows
        if length >= least:
            yield offset, length
            offset, length = offset + length, 0
    if length:
        yield offset, length


def prefetch(items: Iterator[T], name: str = "prefetch") -> Iterator[T]:
    """Iterate ``items`` on a worker thread, computing at most one item ahead of the consumer.

    The worker needs a ticket to compute an item; the consumer hands one back each time it
    takes an item, so while the consumer works on item ``n`` the worker computes ``n + 1`` and
    then waits. An exception in the worker is re-raised in the consumer; closing the consumer's
    generator stops the worker after the item in flight.
    """
    done = object()
    slots: queue.Queue[tuple[Any, BaseException | None]] = queue.Queue(maxsize=1)
    tickets = threading.Semaphore(1)
    stop = threading.Event()

    def work() -> None:
        try:
            while True:
                tickets.acquire()
                if stop.is_set():
                    return
                try:
                    item = next(items)
                except StopIteration:
                    slots.put((done, None))
                    return
                slots.put((item, None))
        except BaseException as exc:
            slots.put((None, exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=work, name=name, daemon=True)
    worker.start()
    try:
        while True:
            item, exc = slots.get()
            if exc is not None:
                raise exc
            if item is done:
                return
            tickets.release()
            yield item
    finally:
        stop.set()
        tickets.release()
        while worker.is_alive():
            with contextlib.suppress(queue.Empty):
                slots.get(timeout=0.05)
        worker.join()


class Transformer:
    """Cleans and checks one entity's bronze versions; see the module docstring.

    ``summary`` holds the :class:`TransformSummary` of the last version whose batches were all
    produced (None before that).
    """

    def __init__(
        self,
        settings: Settings,
        contract: EntityContract,
        *,
        overlap: bool = True,
        write_audit: bool = True,
        workers: int | None = None,
    ) -> None:
        self.settings = settings
        self.contract = contract
        self.batch_size = settings.batch_size
        self.overlap = overlap
        self.write_audit = write_audit
        self.workers = settings.transform_workers if workers is None else workers
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        self.summary: TransformSummary | None = None
        silver = [c for c in contract.silver_columns if c.name != "complaint_key"]
        self._clean_schema: dict[str, pl.DataType] = {
            c.name: _PG_TO_POLARS[c.pg_type] for c in silver
        }
        self._clean_schema[SOURCE_ROW] = pl.Int64()

    # -- public ----------------------------------------------------------------------------

    def batches(self, source: SourceVersion, start_batch: int = 0) -> Iterator[TransformedBatch]:
        """Transformed batches ``start_batch, start_batch + 1, ...`` of ``source``.

        The schema is checked before this returns, so a broken contract fails here and nothing
        is produced.

        Raises:
            ContractError: a raw column the contract needs is missing (or ``_source_row``).
            ValueError: ``source`` is for another entity or ``start_batch`` is negative.
        """
        if source.entity != self.contract.entity:
            raise ValueError(
                f"source is {source.entity!r}, transformer is {self.contract.entity!r}"
            )
        if start_batch < 0:
            raise ValueError(f"start_batch must be >= 0, got {start_batch}")
        plan = self._plan(source)
        if self.overlap and self.workers > 1:
            return self._produce_parallel(plan, start_batch)
        produced = self._produce(plan, start_batch)
        return prefetch(produced, f"transform-{source.entity}") if self.overlap else produced

    def transform_batch(self, source: SourceVersion, batch_no: int) -> TransformedBatch:
        """One batch on its own (no audit, no prefetch): for tests and ad-hoc inspection."""
        plan = self._plan(source)
        batch, _ = self._compute(plan, batch_no)
        return batch

    # -- planning --------------------------------------------------------------------------

    def _scan(self, uri: str) -> pl.LazyFrame:
        from coretelecoms.extract.base import is_s3, polars_storage_options

        if is_s3(uri):
            return pl.scan_parquet(uri, storage_options=polars_storage_options(self.settings))
        return pl.scan_parquet(uri)

    def _row_groups(self, uri: str) -> list[int]:
        """Rows of each row group of a bronze file, in order (from its footer)."""
        import pyarrow.parquet as pq

        with self._fs(uri).open(uri, "rb") as fh:
            metadata = pq.read_metadata(fh)
        return [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]

    def _plan(self, source: SourceVersion) -> _Plan:
        scan = self._scan(source.bronze_path)
        names = scan.collect_schema().names()
        expected = set(self.contract.raw_columns)
        missing = [c for c in self.contract.raw_columns if c not in names]
        if SOURCE_ROW not in names:
            missing.append(SOURCE_ROW)
        if missing:
            raise ContractError(
                f"{self.contract.entity} source {source.source_uri} (bronze {source.bronze_path},"
                f" logical date {source.logical_date}) lacks required column(s) {missing}; "
                f"found {names}"
            )
        index = [c for c in names if c in self.contract.index_columns]
        drift = [
            c
            for c in names
            if c not in expected and c not in self.contract.index_columns and not c.startswith("_")
        ]
        if drift:
            log.warning(
                "schema drift in %s %s: unknown column(s) %s dropped",
                self.contract.entity,
                source.source_uri,
                drift,
            )
        rows = scan.select(pl.len()).collect().item()
        if rows != source.rows:
            log.warning(
                "%s %s: bronze has %d rows, source version says %d; using the bronze count",
                self.contract.entity,
                source.bronze_path,
                rows,
                source.rows,
            )
        checker = DataQualityChecker(self.contract, source.logical_date)
        reader = None
        if rows <= self.settings.transform_in_memory_rows:
            # One read instead of three (key columns for the duplicate pass, the repeated rows,
            # then every batch's slice, each decompressing whole pages): a day of complaints is
            # ~70 MB decoded, and the batches are slices of it, each handed over once decoded.
            reader = _ProgressiveRead(
                scan,
                lambda: self._row_groups(source.bronze_path),
                checker,
                f"read-{self.contract.entity}",
            )
        return _Plan(
            source=source,
            scan=scan,
            rows=rows,
            batches=math.ceil(rows / self.batch_size),
            schema_drift=drift,
            dropped=index + drift,
            checker=checker,
            reader=reader,
            checks=threading.Semaphore(self.workers),
        )

    def _duplicates(self, plan: _Plan) -> pl.DataFrame:
        """The version's duplicate rows, found once: batch threads ask for them at once."""
        with plan.found:
            if plan.duplicates is None:
                plan.duplicates = self._find_duplicates(plan)
        return plan.duplicates

    def _find_duplicates(self, plan: _Plan) -> pl.DataFrame:
        if plan.reader is not None:
            found = plan.reader.duplicates()
        else:
            keys: list[pl.DataFrame] = []
            found = plan.checker.find_duplicates(plan.scan, workers=self.workers, keys=keys)
            if keys and keys[0].width:
                plan.unchanged_keys = pl.concat(keys)
        log.info(
            "%s %s: %d duplicate rows in %d",
            self.contract.entity,
            plan.source.source_uri,
            found.height,
            plan.rows,
        )
        return found

    # -- batches ---------------------------------------------------------------------------

    def _produce(self, plan: _Plan, start_batch: int) -> Iterator[TransformedBatch]:
        for n in range(plan.batches):
            if n < start_batch:
                if self.write_audit and not self._audit_complete(plan, n):
                    self._step(plan, n)
                continue
            yield self._step(plan, n)
        self._finish(plan)

    def _produce_parallel(self, plan: _Plan, start_batch: int) -> Iterator[TransformedBatch]:
        """:meth:`_produce` with ``workers`` batches computed at once, handed over in order.

        Up to ``workers`` batches (``workers + 2`` for a small version) are submitted ahead; the
        oldest is awaited and yielded, and the next one is submitted before the consumer gets
        it, so the pool stays busy while the consumer works and at most one batch more than are
        in flight is alive (the one the consumer holds). A small version's extra batches are
        slices of the version already in memory, checked while the earlier ones wait for the
        duplicates. A failed batch raises in the consumer in its turn (earlier batches are
        handed over first). Closing the generator cancels the batches not started and waits
        for the ones running.
        """
        if plan.reader is None:
            self._duplicates(plan)  # once, before the threads (each batch reads it)
        todo = [
            n
            for n in range(plan.batches)
            if n >= start_batch or (self.write_audit and not self._audit_complete(plan, n))
        ]
        # A batch of a progressively read version waits for the duplicates after its check, out
        # of the check slots, and the duplicates come only after the whole version is read: so
        # two more batches are in flight, to be checked meanwhile. (With one more, batch 0
        # waiting for the duplicates kept the last batch of a 4-batch channel from starting
        # until then, and its check ran alone at the end of the channel.)
        ahead = self.workers + (_SMALL_AHEAD if plan.reader is not None else 0)
        pool = ThreadPoolExecutor(ahead, thread_name_prefix=f"transform-{plan.source.entity}")
        pending: deque[tuple[int, Future[TransformedBatch]]] = deque()
        try:
            queued = iter(todo)
            for n in queued:
                pending.append((n, pool.submit(self._step, plan, n)))
                if len(pending) == ahead:
                    break
            while pending:
                n, future = pending.popleft()
                batch = future.result()
                for nxt in queued:
                    pending.append((nxt, pool.submit(self._step, plan, nxt)))
                    break
                if n >= start_batch:
                    yield batch
                del batch, future
            self._finish(plan)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _step(self, plan: _Plan, n: int) -> TransformedBatch:
        """Batch ``n`` with its audit written."""
        batch, audit = self._compute(plan, n)
        if self.write_audit:
            self._write_audit(plan, n, audit)
            plan.audited[n] = {
                kind: audit[kind].select(columns) for kind, columns in _SUMMARY_COLUMNS.items()
            }
        return batch

    def _finish(self, plan: _Plan) -> None:
        self.summary = self._summarise(plan)
        if self.write_audit:
            self._write_manifest(plan, self.summary)
        log.info("transform summary %s", json.dumps(self.summary.to_dict(), default=str))

    def _compute(self, plan: _Plan, n: int) -> tuple[TransformedBatch, dict[str, pl.DataFrame]]:
        """Transform batch ``n``; returns the batch and its audit frames."""
        if not 0 <= n < max(plan.batches, 1):
            raise IndexError(f"batch {n} out of range 0..{plan.batches - 1}")
        keys = None
        key_columns = list(plan.checker.key_columns)
        if plan.reader is not None:
            originals = plan.reader.rows(n * self.batch_size, self.batch_size)
            # the keys the reader cleaned for the duplicate pass, so the check need not clean
            # them again; internal columns: never part of the batch or its records (an empty
            # slice of a version with no rows may lack them)
            if all(c in originals.columns for c in key_columns):
                keys = originals.select(key_columns) if originals.height else None
                originals = originals.drop(key_columns)
        else:
            originals = plan.scan.slice(n * self.batch_size, self.batch_size).collect()
            self._duplicates(plan)  # found before the first batch in any case; with the keys
            if plan.unchanged_keys is not None and originals.height:
                unchanged = plan.unchanged_keys.slice(n * self.batch_size, self.batch_size)
                keys = plan.checker.keys_from_unchanged(originals, unchanged)
        originals = originals.with_columns(pl.col(SOURCE_ROW).cast(pl.Int64))
        # Checked with its duplicates, which are dropped from the results afterwards: a row's
        # check depends on that row alone (and a duplicate is never a reject), so a batch's
        # check need not wait for the version's duplicate pass.
        with plan.checks:
            result = plan.checker.check(originals, keys)
        # a mask, not joins: a join on the batch hashes or gathers all of its rows, and the
        # duplicates of a whole version are a few thousand rows
        version_dups = self._duplicates(plan)
        is_dup = pl.col(SOURCE_ROW).is_in(version_dups.get_column(SOURCE_ROW).implode())
        dup_rows = originals.filter(is_dup)
        dups = version_dups.join(dup_rows.select(SOURCE_ROW), on=SOURCE_ROW, how="semi")
        if dups.height:
            result = CheckResult(
                clean=result.clean.filter(~is_dup),
                rejects=result.rejects,
                issues=result.issues.filter(~is_dup),
            )
        clean = result.clean.select(
            pl.col(name).cast(dtype) for name, dtype in self._clean_schema.items()
        )
        record_cols = [c for c in originals.columns if c != SOURCE_ROW]
        dup_audit = dups.join(
            dup_rows.select(
                SOURCE_ROW, pl.struct(record_cols).struct.json_encode().alias("record")
            ),
            on=SOURCE_ROW,
            how="left",
        ).sort(SOURCE_ROW)
        batch = TransformedBatch(
            source=plan.source,
            batch_no=n,
            rows_read=originals.height,
            clean=clean,
            rejects=result.rejects,
            issues=result.issues,
            duplicates=dups.height,
            originals=originals,
        )
        if batch.rows_read != clean.height + result.rejects.height + dups.height:
            raise AssertionError(  # a bug in the checker, never a data problem
                f"batch {n} of {plan.source.bronze_path}: {batch.rows_read} rows read but "
                f"{clean.height} clean + {result.rejects.height} rejects + {dups.height} dups"
            )
        audit = {
            "rejects": result.rejects,
            "issues": result.issues,
            "duplicates": dup_audit.cast(DUPLICATE_AUDIT_SCHEMA),
        }
        return batch, audit

    # -- audit -----------------------------------------------------------------------------

    def audit_uri(self, source: SourceVersion) -> str:
        """``<lake>/quarantine/<entity>/ingest_date=YYYY-MM-DD`` for ``source``."""
        from coretelecoms.extract.base import join_uri

        return join_uri(
            str(self.settings.lake_uri),
            "quarantine",
            self.contract.entity,
            f"ingest_date={source.logical_date.isoformat()}",
        )

    def _part_name(self, plan: _Plan, n: int, kind: str) -> str:
        return f"{plan.source.fingerprint[:12]}-bs{self.batch_size}-b{n:05d}-{kind}.parquet"

    def _fs(self, uri: str) -> Any:
        from coretelecoms.extract.base import filesystem

        return filesystem(self.settings, uri)

    def _audit_complete(self, plan: _Plan, n: int) -> bool:
        base = self.audit_uri(plan.source)
        fs = self._fs(base)
        return all(fs.exists(f"{base}/{self._part_name(plan, n, k)}") for k in AUDIT_KINDS)

    def _publish(self, fs: Any, final: str, write: Any) -> None:
        """Write through a temporary name, then rename: readers never see a partial file."""
        directory, name = final.rsplit("/", 1)
        fs.makedirs(directory, exist_ok=True)
        tmp = f"{directory}/.{name}.{uuid.uuid4().hex}.tmp"
        try:
            with fs.open(tmp, "wb") as fh:
                write(fh)
            fs.mv(tmp, final)
        finally:
            if fs.exists(tmp):
                fs.rm(tmp)

    def _write_audit(self, plan: _Plan, n: int, audit: dict[str, pl.DataFrame]) -> None:
        base = self.audit_uri(plan.source)
        fs = self._fs(base)
        context = [
            pl.lit(self.contract.entity).alias("entity"),
            pl.lit(plan.source.logical_date).alias("logical_date"),
            pl.lit(plan.source.source_uri).alias("source_uri"),
            pl.lit(plan.source.fingerprint).alias("source_fingerprint"),
            pl.lit(n, dtype=pl.Int32).alias("batch_no"),
        ]
        for kind, frame in audit.items():
            out = frame.with_columns(context)
            self._publish(
                fs,
                f"{base}/{self._part_name(plan, n, kind)}",
                # lz4: the issues of a customers batch (a quarter of its rows) write in about
                # two thirds of zstd's time; audit files are small and read rarely.
                lambda fh, df=out: df.write_parquet(fh, compression="lz4"),
            )

    def _read_audit(self, plan: _Plan, kind: str, columns: list[str]) -> pl.DataFrame:
        base = self.audit_uri(plan.source)
        fs = self._fs(base)
        frames = []
        for n in range(plan.batches):
            if n in plan.audited:
                frames.append(plan.audited[n][kind])
                continue
            path = f"{base}/{self._part_name(plan, n, kind)}"
            with fs.open(path, "rb") as fh:
                frames.append(pl.read_parquet(fh, columns=columns))
        return pl.concat(frames) if frames else pl.DataFrame()

    def _summarise(self, plan: _Plan) -> TransformSummary:
        """The whole version's summary, read back from the audit files (so a resumed run that
        skipped batches still reports every batch)."""
        dups = self._duplicates(plan)
        kinds = dict(dups.group_by("kind").len().iter_rows()) if dups.height else {}
        if self.write_audit and plan.batches:
            rejects = self._read_audit(plan, "rejects", _SUMMARY_COLUMNS["rejects"])
            issues = self._read_audit(plan, "issues", _SUMMARY_COLUMNS["issues"])
        else:
            rejects = pl.DataFrame(schema={"reason": pl.String})
            issues = pl.DataFrame(schema={"rule": pl.String, "field": pl.String})
        by_reason = {r: c for r, c in rejects.group_by("reason").len().sort("reason").iter_rows()}
        by_rule: dict[str, dict[str, int]] = {}
        for rule, fld, count in (
            issues.group_by("rule", "field").len().sort("rule", "field").iter_rows()
        ):
            by_rule.setdefault(rule, {})[fld] = count
        exact = kinds.get("exact_duplicate", 0)
        conflicting = kinds.get("conflicting_duplicate", 0)
        return TransformSummary(
            entity=self.contract.entity,
            logical_date=plan.source.logical_date.isoformat(),
            source_uri=plan.source.source_uri,
            fingerprint=plan.source.fingerprint,
            batch_size=self.batch_size,
            batches=plan.batches,
            rows_in=plan.rows,
            rows_clean=plan.rows - exact - conflicting - sum(by_reason.values()),
            exact_duplicates=exact,
            conflicting_duplicates=conflicting,
            rejects_by_reason=by_reason,
            issues_by_rule_field=by_rule,
            schema_drift=plan.schema_drift,
        )

    def _write_manifest(self, plan: _Plan, summary: TransformSummary) -> None:
        base = self.audit_uri(plan.source)
        manifest = {
            "manifest_format": 1,
            "entity": self.contract.entity,
            "ingest_date": plan.source.logical_date.isoformat(),
            "source_uri": plan.source.source_uri,
            "source_fingerprint": plan.source.fingerprint,
            "bronze_path": plan.source.bronze_path,
            "batch_size": self.batch_size,
            "batches": plan.batches,
            "files": {
                kind: [self._part_name(plan, n, kind) for n in range(plan.batches)]
                for kind in AUDIT_KINDS
            },
            "summary": summary.to_dict(),
        }
        payload = json.dumps(manifest, indent=2, sort_keys=True).encode()
        self._publish(self._fs(base), f"{base}/{MANIFEST_NAME}", lambda fh: fh.write(payload))


__all__ = [
    "AUDIT_KINDS",
    "DUPLICATE_AUDIT_SCHEMA",
    "ISSUE_SCHEMA",
    "MANIFEST_NAME",
    "REJECT_SCHEMA",
    "ContractError",
    "TransformSummary",
    "Transformer",
    "prefetch",
]
