"""Load errors split the way an operator acts on them.

``TransientLoadError``: a retry can fix it (serialization failure, deadlock, lock or statement
timeout, a dropped connection). ``TerminalLoadError``: a retry cannot (a broken contract, a row
count that does not reconcile); fix the data or the code first.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import errors as pg_errors


class LoadError(RuntimeError):
    """Base of every error the silver loader raises."""


class TransientLoadError(LoadError):
    """Retry later: the database refused for a reason that goes away on its own."""


class TerminalLoadError(LoadError):
    """Do not retry: the input or the schema is wrong and a retry would fail the same way."""


class ReconciliationError(TerminalLoadError):
    """``read != loaded + unchanged + quarantined + duplicates`` for a source version."""

    def __init__(self, message: str, figures: dict[str, Any]) -> None:
        super().__init__(f"{message}: {figures}")
        self.figures = figures


_TRANSIENT = (
    pg_errors.SerializationFailure,
    pg_errors.DeadlockDetected,
    pg_errors.LockNotAvailable,
    pg_errors.QueryCanceled,  # statement_timeout / lock_timeout
    pg_errors.AdminShutdown,
    pg_errors.CannotConnectNow,
    pg_errors.TooManyConnections,
    psycopg.OperationalError,
)


# Subclasses of OperationalError that a retry cannot fix (a value too large for an index).
_TERMINAL = (pg_errors.ProgramLimitExceeded,)


def classify(exc: BaseException, context: str) -> LoadError:
    """Wrap a psycopg error as transient or terminal, keeping ``context`` (entity, file, batch)."""
    if isinstance(exc, LoadError):
        return exc
    transient = isinstance(exc, _TRANSIENT) and not isinstance(exc, _TERMINAL)
    kind = TransientLoadError if transient else TerminalLoadError
    return kind(f"{context}: {type(exc).__name__}: {exc}".strip())
