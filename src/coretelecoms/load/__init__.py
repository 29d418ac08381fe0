"""Silver conformance layer: schema migrations, the COPY loader with transactional checkpoints,
quarantine with replay, change history and reconciliation (see docs/architecture.md)."""

from __future__ import annotations

from coretelecoms.load.errors import (
    LoadError,
    ReconciliationError,
    TerminalLoadError,
    TransientLoadError,
)
from coretelecoms.load.loader import Loader, LoadSummary, SourceFigures
from coretelecoms.load.migrations import apply_migrations
from coretelecoms.load.quarantine import release_quarantine
from coretelecoms.load.state import LoadState, StateLoader, static_source_changed

__all__ = [
    "LoadError",
    "LoadState",
    "LoadSummary",
    "Loader",
    "ReconciliationError",
    "SourceFigures",
    "StateLoader",
    "TerminalLoadError",
    "TransientLoadError",
    "apply_migrations",
    "release_quarantine",
    "static_source_changed",
]
