"""Reason codes and data-quality rule names shared by the transform, the loader and the reports.

A reject reason says why a row could not be loaded (it goes to ``ops.quarantine``); an issue rule
says what happened to one field of a row that did load (it goes to ``ops.dq_issues`` with the
original and the cleaned value); a duplicate kind says why a row was dropped as a duplicate.
The values are stored in Postgres and Parquet, so renaming one is a data migration.
"""

from __future__ import annotations

from enum import StrEnum


class RejectReason(StrEnum):
    """Why a row cannot load. The first matching reason, in this order, is the one recorded."""

    MISSING_KEY = "missing_key"  # natural key empty
    INVALID_KEY = "invalid_key"  # natural key present but fails its rule (e.g. not a UUID)
    MISSING_REQUIRED = "missing_required"  # a required non-key field is empty
    INVALID_REQUIRED = "invalid_required"  # a required field present but unparseable/unknown
    IMPLAUSIBLE_REQUIRED = "implausible_required"  # a required date/time in the future
    UNKNOWN_CUSTOMER = "unknown_customer"  # parent not in silver (decided by the loader)
    UNKNOWN_AGENT = "unknown_agent"  # parent not in silver (decided by the loader)


class IssueRule(StrEnum):
    """What the cleaner did to a field of a row that loads (original kept in the audit)."""

    INVALID_VALUE = "invalid_value"  # fails its rule (uuid, int, date, timestamp) -> null
    UNKNOWN_VALUE = "unknown_value"  # not in the allowed values (enum, gender) -> null
    EMAIL_REPAIRED = "email_repaired"  # known domain typo fixed
    EMAIL_INVALID = "email_invalid"  # beyond repair -> null
    ADDRESS_UNPARSEABLE = "address_unparseable"  # not a US postal address -> all parts null
    UNKNOWN_STATE = "unknown_state"  # state code/name not a US state/territory -> null
    STATE_CODE_EXPANDED = "state_code_expanded"  # 'NY' given where a state name is expected
    # a field before the field it must follow (call end < start, resolution < request) -> null
    END_BEFORE_START = "end_before_start"
    IMPLAUSIBLE_BIRTH_DATE = "implausible_birth_date"  # outside the plausible age range -> null
    FUTURE_DATE = "future_date"  # after the logical date -> null (optional fields only)


class DuplicateKind(StrEnum):
    """Why a row was dropped in favour of another row with the same natural key."""

    EXACT = "exact_duplicate"  # identical raw content to the kept row
    CONFLICTING = "conflicting_duplicate"  # same key, different content


__all__ = ["DuplicateKind", "IssueRule", "RejectReason"]
