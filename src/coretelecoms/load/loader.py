"""The silver loader: one transaction per batch, COPY into staging, quarantine, upsert of changed
rows only, history, data-quality issues and the checkpoint, then reconciliation per source
version.

A crash anywhere (even ``kill -9``) loses at most the batches in flight, whose transactions never
committed; the retry reads the checkpoints and skips every committed batch, so no row and no
history entry is ever written twice.

Batches of one load are applied on ``connections`` sessions at once (default 2): the server
process applying a batch is the ceiling of a load (index and foreign-key work per row, one
core), so a second session uses the second core. This is safe because a batch is one
transaction with its own checkpoint, skipped on a retry when committed, whatever the order the
batches committed in; the keys of one source version are unique across its batches (the
transform drops duplicates version-wide), so concurrent batches write disjoint rows of the
conformed, history and quarantine tables; and the entity's advisory lock, held by the load's
main session throughout, keeps other loads of the entity out. See
docs/decisions/silver-load.md, "Concurrent batches".
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterable
from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import date

import polars as pl
import psycopg
from psycopg import sql

from coretelecoms.config import DEFAULT_LOAD_CONNECTIONS
from coretelecoms.contracts import EntityContract, Kind
from coretelecoms.load.errors import LoadError, ReconciliationError, TerminalLoadError, classify
from coretelecoms.load.locks import (
    acquire_entity_lock,
    check_lock_held,
    hold_writer_lock,
    release_lock,
)
from coretelecoms.load.quarantine import quarantine_orphans, quarantine_rejects
from coretelecoms.load.snapshot_rows import KnownRows, reference, row_hashes
from coretelecoms.load.staging import (
    SOURCE_ROW,
    apply_stage,
    check_unique_keys,
    copy_frame,
    prepare_session,
    stage_clean,
)
from coretelecoms.load.state import LoadState, figures_of, is_balanced, read_state
from coretelecoms.postgres import connect
from coretelecoms.transform.batch import SourceVersion, TransformedBatch

log = logging.getLogger(__name__)

_ISSUE_COLUMNS = ["natural_key", "field", "rule", "original_value", "cleaned_value"]


@dataclass(frozen=True)
class SourceFigures:
    """Reconciliation of one source version: ``read = loaded + unchanged + quarantined +
    duplicates`` over all its committed batches (including ones an earlier attempt committed)."""

    source_uri: str
    fingerprint: str
    batches: int
    read: int
    loaded: int
    unchanged: int
    quarantined: int
    duplicates: int

    def figures(self) -> dict[str, int]:
        return figures_of(self)


def _summed(key: str) -> property:
    return property(lambda self: sum(getattr(s, key) for s in self.sources))


@dataclass
class LoadSummary:
    """What one ``Loader.load`` call did."""

    entity: str
    run_id: str
    logical_date: date
    batches_committed: int = 0
    batches_skipped: int = 0
    sources: list[SourceFigures] = field(default_factory=list)
    # Static entities: the row hash of every clean row this call loaded (snapshot_rows).
    row_hashes: list[pl.Series] = field(default_factory=list, repr=False)

    read = _summed("read")
    loaded = _summed("loaded")
    unchanged = _summed("unchanged")
    quarantined = _summed("quarantined")
    duplicates = _summed("duplicates")

    def figures(self) -> dict[str, int]:
        """Figures summed over the source versions this call loaded or reconciled."""
        return figures_of(self)


class Loader:
    """Loads the transformed batches of one entity into the conformed schema.

    ``load`` holds the entity's advisory lock for its whole duration: another load of the same
    entity waits (and logs why); loads of other entities run in parallel. ``connections`` is
    how many batches are applied at once, each on its own session (1: one after the other on
    the session holding the lock).
    """

    def __init__(
        self,
        dsn: str,
        contract: EntityContract,
        run_id: str,
        logical_date: date,
        lock_timeout_s: float = 600.0,
        *,
        connections: int = DEFAULT_LOAD_CONNECTIONS,
    ) -> None:
        if connections < 1:
            raise ValueError(f"connections must be at least 1, got {connections}")
        self.dsn = dsn
        self.contract = contract
        self.run_id = run_id
        self.logical_date = logical_date
        self.lock_timeout_s = lock_timeout_s
        self.connections = connections

    def load(
        self,
        batches: Iterable[TransformedBatch],
        source: SourceVersion | None = None,
        *,
        known: KnownRows | None = None,
    ) -> LoadSummary:
        """Load every batch not yet committed, then reconcile each source version seen.

        ``source`` names the source version when ``batches`` may be empty (everything already
        committed) so its reconciliation is still recorded. ``known`` (static entities: row
        hashes, see ``snapshot_rows.reference_hashes``) lists rows silver is known to hold
        already; a clean row found there is counted unchanged and never staged (only with
        ``source``, and only if its snapshot is still the reference once the lock is held).
        Raises
        ``TransientLoadError`` (retry) or ``TerminalLoadError``/``ReconciliationError`` (fix
        first); the batches committed before the error (and those in flight on other
        connections, which are let finish) stay committed and a retry skips them.
        """
        entity = self.contract.entity
        summary = LoadSummary(entity, self.run_id, self.logical_date)
        sources: dict[str, SourceVersion] = {}
        if source is not None:
            sources[source.fingerprint] = source
        current: SourceVersion | None = source
        try:
            with connect(self.dsn, autocommit=True) as conn:
                prepare_session(conn)
                key = acquire_entity_lock(conn, entity, self.lock_timeout_s)
                try:
                    self._close_abandoned(conn)
                    known = self._still_known(conn, known, source)
                    if source is not None:
                        self._start_run(conn, source)
                    with _Applier(self, conn, key, known, summary) as applier:
                        try:
                            for batch in batches:
                                if current is not None and (
                                    batch.source.fingerprint != current.fingerprint
                                ):
                                    # keys are unique within one source version only: the
                                    # previous version's batches finish first, in order
                                    applier.join()
                                current = batch.source
                                if batch.source.entity != entity:
                                    raise TerminalLoadError(
                                        f"loader for {entity} got a batch of {batch.source.entity}"
                                    )
                                if batch.source.fingerprint not in sources:
                                    sources[batch.source.fingerprint] = batch.source
                                    self._start_run(conn, batch.source)
                                applier.apply(batch)
                            applier.join()
                        finally:
                            if applier.failed is not None:  # the batch whose error stops the load
                                current = applier.failed.source
                    for version in sources.values():
                        current = version
                        summary.sources.append(self._finish(conn, version))
                finally:
                    release_lock(conn, key)
        except (psycopg.Error, LoadError) as exc:
            error = classify(exc, self._where(current))
            if current is not None:
                self._record_failure(current, str(error))
            if error is exc:
                raise
            raise error from exc
        except Exception as exc:  # e.g. the transform's ContractError from the batch iterator
            if current is not None:
                self._record_failure(current, f"{type(exc).__name__}: {exc}")
            raise
        log.info(
            "loaded %s (run %s): %d batches committed, %d already committed; %s",
            entity,
            self.run_id,
            summary.batches_committed,
            summary.batches_skipped,
            summary.figures(),
        )
        return summary

    # -- per batch --------------------------------------------------------------------------

    def _load_batch(
        self,
        conn: psycopg.Connection,
        batch: TransformedBatch,
        known: KnownRows | None,
        hashes: list[pl.Series],
        lock: tuple[int, int] | None = None,
    ) -> bool:
        """Load one batch in one transaction; False when it was committed before.

        For a static entity the batch's row hashes are appended to ``hashes``; rows whose hash
        is in ``known`` are counted unchanged without being staged. ``lock`` (key, backend pid)
        is the entity lock held by another session of this load: checked in the transaction.
        """
        contract = self.contract
        src = batch.source
        expected = batch.clean.height + batch.rejects.height + batch.duplicates
        if batch.rows_read != expected:
            raise ReconciliationError(
                f"{contract.entity} {src.source_uri} batch {batch.batch_no} does not add up",
                {
                    "read": batch.rows_read,
                    "clean": batch.clean.height,
                    "rejects": batch.rejects.height,
                    "duplicates": batch.duplicates,
                },
            )
        with conn.transaction():
            if lock is not None:
                hold_writer_lock(conn, contract.entity)
                check_lock_held(conn, *lock, self._where(src))
            done = conn.execute(
                "select 1 from ops.load_checkpoints where entity = %s and source_fingerprint = %s"
                " and batch_no = %s",
                [contract.entity, src.fingerprint, batch.batch_no],
            ).fetchone()
            if done:
                log.info(
                    "%s %s batch %d already committed; skipping",
                    contract.entity,
                    src.source_uri,
                    batch.batch_no,
                )
                return False
            clean, skipped = self._unknown_rows(batch.clean, known, hashes)
            stage_clean(conn, contract, clean)
            orphans = quarantine_orphans(conn, contract, batch, self.run_id)
            applied = apply_stage(conn, contract, self.run_id, self.logical_date)
            rejects = quarantine_rejects(conn, contract, batch, self.run_id)
            self._record_issues(conn, batch)
            quarantined = orphans + rejects
            figures = {
                "read": batch.rows_read,
                "loaded": applied.loaded,
                "unchanged": applied.unchanged + skipped,
                "quarantined": quarantined,
                "duplicates": batch.duplicates,
            }
            if not is_balanced(figures):
                raise ReconciliationError(
                    f"{contract.entity} {src.source_uri} batch {batch.batch_no} does not add up",
                    figures,
                )
            conn.execute(
                "insert into ops.load_checkpoints (entity, source_fingerprint, batch_no,"
                " source_uri, logical_date, run_id, rows_read, rows_loaded, rows_unchanged,"
                " rows_quarantined, rows_duplicates) values (%s, %s, %s, %s, %s, %s, %s, %s, %s,"
                " %s, %s)",
                [
                    contract.entity,
                    src.fingerprint,
                    batch.batch_no,
                    src.source_uri,
                    src.logical_date,
                    self.run_id,
                    batch.rows_read,
                    applied.loaded,
                    figures["unchanged"],
                    quarantined,
                    batch.duplicates,
                ],
            )
        log.debug(
            "%s %s batch %d committed: %s, history %d",
            contract.entity,
            src.source_uri,
            batch.batch_no,
            figures,
            applied.history,
        )
        return True

    def _still_known(
        self, conn: psycopg.Connection, known: KnownRows | None, source: SourceVersion | None
    ) -> KnownRows | None:
        """``known`` if its snapshot is still the reference for ``source`` under the lock: a
        load that ran between reading the hashes and taking the lock changed silver."""
        if known is None:
            return None
        if source is not None and reference(conn, self.contract.entity, source.fingerprint) == (
            known.fingerprint
        ):
            return known
        log.info("%s: row hashes of %s no longer apply", self.contract.entity, known.fingerprint)
        return None

    def _unknown_rows(
        self, clean: pl.DataFrame, known: KnownRows | None, hashes: list[pl.Series]
    ) -> tuple[pl.DataFrame, int]:
        """The clean rows to stage and how many were skipped as already held by silver."""
        if self.contract.kind is not Kind.STATIC:
            return clean, 0
        hashed = row_hashes(self.contract, clean)
        hashes.append(hashed)
        if known is None or clean.height == 0:
            return clean, 0  # staging checks the keys of every row
        # a duplicated key among the rows skipped here would never reach staging's check
        check_unique_keys(self.contract, clean)
        staged = clean.filter(pl.Series(~known.contains(hashed)))
        return staged, clean.height - staged.height

    def _record_issues(self, conn: psycopg.Connection, batch: TransformedBatch) -> None:
        issues = batch.issues
        if issues.height == 0:
            return
        src = batch.source
        frame = issues.select(
            pl.lit(self.run_id).alias("run_id"),
            pl.lit(self.contract.entity).alias("entity"),
            pl.lit(src.source_uri).alias("source_uri"),
            pl.lit(src.fingerprint).alias("source_fingerprint"),
            pl.lit(src.logical_date).alias("logical_date"),
            pl.lit(batch.batch_no).alias("batch_no"),
            pl.col(SOURCE_ROW).alias("source_row"),
            *(pl.col(c).cast(pl.String) for c in _ISSUE_COLUMNS),
        )
        copy_frame(conn, sql.Identifier("ops", "dq_issues"), frame.columns, frame)

    # -- per source version ---------------------------------------------------------------

    def _close_abandoned(self, conn: psycopg.Connection) -> None:
        """Mark runs of this entity left ``running`` by a process that died as ``abandoned``.

        A load holds its entity's advisory lock from start to finish and the lock dies with its
        session, so once we hold it, any other ``running`` row of the entity has no process
        behind it (a ``kill -9``, a lost connection, a Ctrl-C). Left as it was, ``status`` would
        report it running forever; its committed batches stay and this run resumes after them.
        """
        closed = conn.execute(
            "update ops.pipeline_runs set status = 'abandoned', finished_at = now(),"
            " detail = 'the process ended without finishing; a later run resumed from the"
            " committed batches' where entity = %s and status = 'running' and run_id <> %s",
            [self.contract.entity, self.run_id],
        ).rowcount
        if closed:
            log.warning(
                "%s: %d run(s) left running by a dead process marked abandoned",
                self.contract.entity,
                closed,
            )

    def _start_run(self, conn: psycopg.Connection, src: SourceVersion) -> None:
        conn.execute(
            "insert into ops.pipeline_runs (run_id, entity, source_fingerprint, source_uri,"
            " logical_date, status) values (%s, %s, %s, %s, %s, 'running')"
            " on conflict (run_id, entity, source_fingerprint) do update set status = 'running',"
            " detail = null, finished_at = null",
            [self.run_id, self.contract.entity, src.fingerprint, src.source_uri, src.logical_date],
        )

    def _finish(self, conn: psycopg.Connection, src: SourceVersion) -> SourceFigures:
        """Reconcile the source version over all its committed batches and record the run."""
        with conn.transaction():
            state: LoadState = read_state(conn, self.contract.entity, src.fingerprint)
            figures = SourceFigures(
                src.source_uri, src.fingerprint, state.batches, **state.figures()
            )
            problems = []
            if not is_balanced(figures_of(state)):
                problems.append("read != loaded + unchanged + quarantined + duplicates")
            if src.rows >= 0 and state.read != src.rows:
                problems.append(f"source version has {src.rows} rows but {state.read} were read")
            if (
                state.batches
                and state.last_batch is not None
                and state.batches != state.last_batch + 1
            ):
                problems.append(
                    f"batches committed {state.batches} but last batch is {state.last_batch}"
                )
            if problems:
                raise ReconciliationError(
                    f"{self.contract.entity} {src.source_uri} ({src.fingerprint}) does not "
                    f"reconcile: {'; '.join(problems)}",
                    {**figures.figures(), "source_rows": src.rows, "batches": state.batches},
                )
            conn.execute(
                "update ops.pipeline_runs set status = 'succeeded', batches = %s, rows_read = %s,"
                " rows_loaded = %s, rows_unchanged = %s, rows_quarantined = %s,"
                " rows_duplicates = %s, detail = null, finished_at = now()"
                " where run_id = %s and entity = %s and source_fingerprint = %s",
                [
                    state.batches,
                    *state.figures().values(),
                    self.run_id,
                    self.contract.entity,
                    src.fingerprint,
                ],
            )
            if self.contract.kind is Kind.STATIC:
                conn.execute(
                    "insert into ops.source_snapshots (entity, fingerprint, source_uri,"
                    " logical_date, run_id, rows_read) values (%s, %s, %s, %s, %s, %s)"
                    " on conflict (entity, fingerprint) do update set loaded_at = now(),"
                    " logical_date = excluded.logical_date, run_id = excluded.run_id",
                    [
                        self.contract.entity,
                        src.fingerprint,
                        src.source_uri,
                        self.logical_date,
                        self.run_id,
                        state.read,
                    ],
                )
        return figures

    def _record_failure(self, src: SourceVersion, error: str) -> None:
        """Best effort: mark the run failed with the figures committed so far."""
        try:
            with connect(self.dsn, autocommit=True) as conn:
                state = read_state(conn, self.contract.entity, src.fingerprint)
                conn.execute(
                    "insert into ops.pipeline_runs (run_id, entity, source_fingerprint,"
                    " source_uri, logical_date, status, batches, rows_read, rows_loaded,"
                    " rows_unchanged, rows_quarantined, rows_duplicates, detail, finished_at)"
                    " values (%s, %s, %s, %s, %s, 'failed', %s, %s, %s, %s, %s, %s, %s, now())"
                    " on conflict (run_id, entity, source_fingerprint) do update set"
                    " status = 'failed', batches = excluded.batches,"
                    " rows_read = excluded.rows_read, rows_loaded = excluded.rows_loaded,"
                    " rows_unchanged = excluded.rows_unchanged,"
                    " rows_quarantined = excluded.rows_quarantined,"
                    " rows_duplicates = excluded.rows_duplicates, detail = excluded.detail,"
                    " finished_at = now()",
                    [
                        self.run_id,
                        self.contract.entity,
                        src.fingerprint,
                        src.source_uri,
                        src.logical_date,
                        state.batches,
                        *state.figures().values(),
                        error[:2000],
                    ],
                )
        except psycopg.Error:
            log.exception("could not record the failure of %s", self._where(src))

    def _where(self, src: SourceVersion | None) -> str:
        if src is None:
            return f"loading {self.contract.entity} (run {self.run_id})"
        return (
            f"loading {self.contract.entity} {src.source_uri} ({src.fingerprint}, "
            f"{src.logical_date}, run {self.run_id})"
        )


class _Applier:
    """Applies the batches of one ``Loader.load``: on the load's own session, one after the
    other, with one connection; else on ``connections`` extra sessions at once, one per worker
    thread.

    ``apply`` returns once a worker is free for the next batch, so the batches held here are
    the ones in flight (at most ``connections``; the transform's prefetch holds one more). The
    first error of any batch stops the load: no batch starts after it (a worker that finds the
    stop flag set returns without touching the database), the batches in flight are let finish
    (committed or rolled back, each whole), and the error is raised from ``apply``/``join`` with
    ``failed`` naming its batch. Leaving the ``with`` block on an error raised elsewhere (the
    batch iterator, Ctrl-C) waits for the batches in flight the same way before closing the
    sessions.
    """

    def __init__(
        self,
        loader: Loader,
        conn: psycopg.Connection,
        lock_key: int,
        known: KnownRows | None,
        summary: LoadSummary,
    ) -> None:
        self.loader = loader
        self.conn = conn
        self.known = known
        self.summary = summary
        self.failed: TransformedBatch | None = None
        self._lock = (lock_key, conn.info.backend_pid)
        self._workers = loader.connections
        self._pending: dict[Future[tuple[bool, list[pl.Series]] | None], TransformedBatch] = {}
        self._stop = threading.Event()
        self._sessions: list[psycopg.Connection] = []
        self._free: queue.SimpleQueue[psycopg.Connection] = queue.SimpleQueue()
        self._pool: ThreadPoolExecutor | None = None

    def __enter__(self) -> _Applier:
        if self._workers > 1:
            try:
                for _ in range(self._workers):
                    session = connect(self.loader.dsn, autocommit=True)
                    self._sessions.append(session)
                    prepare_session(session)
                    self._free.put(session)
            except BaseException:
                self._close_sessions()
                raise
            self._pool = ThreadPoolExecutor(
                self._workers, thread_name_prefix=f"load-{self.loader.contract.entity}"
            )
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()  # a no-op after join(): nothing is pending
        try:
            for future, batch in self._pending.items():
                error = future.exception()  # waits for the batch in flight
                if error is not None:  # the error being raised is another one
                    log.warning(
                        "%s batch %d failed too",
                        self.loader._where(batch.source),
                        batch.batch_no,
                        exc_info=error,
                    )
            self._pending.clear()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
            self._close_sessions()

    def apply(self, batch: TransformedBatch) -> None:
        """Apply ``batch`` (or hand it to a worker and wait until one is free again)."""
        if self._pool is None:
            hashes: list[pl.Series] = []
            try:
                committed = self.loader._load_batch(self.conn, batch, self.known, hashes)
            except BaseException:
                self.failed = batch
                raise
            self._record(committed, hashes)
            return
        self._collect(None)
        self._pending[self._pool.submit(self._work, batch)] = batch
        if len(self._pending) >= self._workers:
            self._collect(FIRST_COMPLETED)

    def join(self) -> None:
        """Wait for every batch in flight; raises the first error."""
        if self._pending:
            self._collect(ALL_COMPLETED)

    def _work(self, batch: TransformedBatch) -> tuple[bool, list[pl.Series]] | None:
        if self._stop.is_set():
            return None  # another batch failed: this one never starts
        session = self._free.get()
        try:
            hashes: list[pl.Series] = []
            committed = self.loader._load_batch(session, batch, self.known, hashes, self._lock)
            return committed, hashes
        except BaseException:
            self._stop.set()
            raise
        finally:
            self._free.put(session)

    def _collect(self, until: str | None) -> None:
        """Record finished batches, waiting first ``until`` (``wait``'s ``return_when``) unless
        None; raise the first error."""
        if until is not None:
            done = wait(self._pending, return_when=until).done
        else:
            done = {f for f in self._pending if f.done()}
        # in batch order, so the error raised is the earliest batch's among those finished
        for future in sorted(done, key=lambda f: self._pending[f].batch_no):
            batch = self._pending.pop(future)
            error = future.exception()
            if error is not None:
                self.failed = batch
                raise error
            result = future.result()
            if result is not None:
                self._record(*result)

    def _record(self, committed: bool, hashes: list[pl.Series]) -> None:
        if committed:
            self.summary.batches_committed += 1
        else:
            self.summary.batches_skipped += 1
        self.summary.row_hashes.extend(hashes)

    def _close_sessions(self) -> None:
        for session in self._sessions:
            session.close()
        self._sessions.clear()
