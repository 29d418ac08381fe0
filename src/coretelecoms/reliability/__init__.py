"""Proof tooling: content checksums of every layer (for crash, idempotency and backfill
comparisons) and the crash-anywhere harness (``python -m coretelecoms.reliability.chaos``).

See docs/reliability.md for the guarantees these tools check.
"""
