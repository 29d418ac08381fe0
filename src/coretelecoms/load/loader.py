"""The silver loader: one transaction per batch, COPY into staging, quarantine, upsert of changed
rows only, history, data-quality issues and the checkpoint, then reconciliation per source
version.

A crash anywhere (even ``kill -9``) loses at most the batch in flight, whose transaction never
committed; the retry reads the checkpoints and resumes after the last committed batch, so no row
and no history entry is ever written twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

import polars as pl
import psycopg
from psycopg import sql

from coretelecoms.contracts import EntityContract, Kind
from coretelecoms.load.errors import LoadError, ReconciliationError, TerminalLoadError, classify
from coretelecoms.load.locks import acquire_entity_lock, release_lock
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
    entity waits (and logs why); loads of other entities run in parallel.
    """

    def __init__(
        self,
        dsn: str,
        contract: EntityContract,
        run_id: str,
        logical_date: date,
        lock_timeout_s: float = 600.0,
    ) -> None:
        self.dsn = dsn
        self.contract = contract
        self.run_id = run_id
        self.logical_date = logical_date
        self.lock_timeout_s = lock_timeout_s

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
        first); the batches committed before the error stay committed and a retry resumes after
        them.
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
                    for batch in batches:
                        current = batch.source
                        if batch.source.entity != entity:
                            raise TerminalLoadError(
                                f"loader for {entity} got a batch of {batch.source.entity}"
                            )
                        if batch.source.fingerprint not in sources:
                            sources[batch.source.fingerprint] = batch.source
                            self._start_run(conn, batch.source)
                        if self._load_batch(conn, batch, known, summary.row_hashes):
                            summary.batches_committed += 1
                        else:
                            summary.batches_skipped += 1
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
    ) -> bool:
        """Load one batch in one transaction; False when it was committed before.

        For a static entity the batch's row hashes are appended to ``hashes``; rows whose hash
        is in ``known`` are counted unchanged without being staged.
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
