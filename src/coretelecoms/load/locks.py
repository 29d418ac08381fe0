"""Advisory locks that serialise loads of the same entity across processes.

Two loads of different entities run in parallel; two loads of the same entity (the same source
retried by two workers, or two days of one channel updating the same complaints) wait for each
other. A session-level lock is held for the whole load and released on disconnect, so a process
killed with ``kill -9`` never leaves it behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterator

import psycopg
from psycopg import errors as pg_errors

from coretelecoms.load.errors import TransientLoadError

log = logging.getLogger(__name__)


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``name``."""
    return int.from_bytes(
        hashlib.sha256(f"coretelecoms:{name}".encode()).digest()[:8], "big", signed=True
    )


def holder_pid(conn: psycopg.Connection, key: int) -> int | None:
    """Backend pid of the session holding the advisory lock ``key``, or None."""
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    row = conn.execute(
        "select pid from pg_locks where locktype = 'advisory' and granted"
        " and classid::bigint = %s and objid::bigint = %s and objsubid = 1 limit 1",
        [unsigned >> 32, unsigned & 0xFFFFFFFF],
    ).fetchone()
    return None if row is None else int(row[0])


@contextlib.contextmanager
def _waiting(
    conn: psycopg.Connection, timeout_s: float, who: str, waited_for: str
) -> Iterator[None]:
    """Bound the lock waits of the block by ``timeout_s``; running out is transient (the other
    party will finish), so the caller's retry is the right answer."""
    conn.execute(f"set lock_timeout = {int(timeout_s * 1000)}")
    try:
        yield
    except (pg_errors.LockNotAvailable, pg_errors.QueryCanceled) as exc:
        raise TransientLoadError(
            f"{who}: gave up after {timeout_s:.0f}s waiting for {waited_for}; retry later"
        ) from exc
    finally:
        conn.execute("reset lock_timeout")


def acquire_entity_lock(conn: psycopg.Connection, entity: str, timeout_s: float) -> int:
    """Take the session advisory lock of ``entity`` on an autocommit connection.

    Logs who holds it when it has to wait, then waits for the batches of an earlier load
    still writing (``wait_for_writers``). Raises ``TransientLoadError`` after ``timeout_s``.
    """
    key = lock_key(f"load:{entity}")
    if conn.execute("select pg_try_advisory_lock(%s)", [key]).fetchone()[0]:  # type: ignore[index]
        wait_for_writers(conn, entity, timeout_s)
        return key
    log.warning(
        "load of %s is waiting: another load of the same entity holds its lock (backend pid %s);"
        " loads of one entity run one at a time",
        entity,
        holder_pid(conn, key),
    )
    with _waiting(conn, timeout_s, f"load of {entity}", "another load of the same entity"):
        conn.execute("select pg_advisory_lock(%s)", [key])
    log.info("load of %s acquired its lock after waiting", entity)
    wait_for_writers(conn, entity, timeout_s)
    return key


def _writers_key(entity: str) -> int:
    return lock_key(f"load-writers:{entity}")


def hold_writer_lock(conn: psycopg.Connection, entity: str) -> None:
    """Mark the current transaction as writing ``entity`` for a load (a shared lock, released
    at commit or rollback); see ``wait_for_writers``."""
    conn.execute("select pg_advisory_xact_lock_shared(%s)", [_writers_key(entity)])


def wait_for_writers(conn: psycopg.Connection, entity: str, timeout_s: float) -> None:
    """Wait until no transaction of an earlier load of ``entity`` is still writing.

    A load's extra sessions write while its main session, the entity lock's holder, sits idle.
    When that process dies, its idle session (and the lock) goes at once, but a batch
    transaction whose ``COMMIT`` already reached the server still commits. Without this wait
    the next load could start its copy of that batch before it committed and fail on the
    conformed key. Taking the writers' lock exclusively, and letting it go, waits for every
    such transaction to end; a later batch of the dead load finds the entity lock held by
    someone else (``check_lock_held``) and stops.
    """
    waited_for = "the batches of an earlier load of the same entity to finish"
    with _waiting(conn, timeout_s, f"load of {entity}", waited_for), conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", [_writers_key(entity)])


def release_lock(conn: psycopg.Connection, key: int) -> None:
    """Release a lock taken by ``acquire_entity_lock`` (disconnecting also releases it)."""
    if conn.closed or conn.broken:
        return
    try:
        conn.execute("select pg_advisory_unlock(%s)", [key])
    except psycopg.Error:
        # Never mask the error that brought us here; the lock dies with the session anyway.
        log.warning("could not release advisory lock %s; it is released on disconnect", key)


def check_lock_held(conn: psycopg.Connection, key: int, pid: int, what: str) -> None:
    """Raise ``TransientLoadError`` unless backend ``pid`` still holds the lock ``key``.

    For a load's extra connections: the lock belongs to the load's main session, which sits
    idle while they work; if that session died (terminated, ``idle_session_timeout``) the lock
    went with it and another load of the entity may have started, so stop before writing.
    """
    holder = holder_pid(conn, key)
    if holder != pid:
        raise TransientLoadError(
            f"{what}: the load's session (backend pid {pid}) no longer holds the entity lock"
            f" (holder: {holder}); retry the load"
        )
