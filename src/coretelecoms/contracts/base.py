"""The shape of an entity contract.

A contract is the single declaration of what an entity looks like at every layer: the raw headers
exactly as the source spells them, the canonical snake_case names, the cleaning rule for each
field, which fields are required, the natural key, the parents, the allowed values and the
columns of its silver table. Extraction, cleaning, checking, loading, the warehouse and the docs
all read it; none of them restates these facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Kind(StrEnum):
    """Static sources are full snapshots; daily sources are one file/table per logical date."""

    STATIC = "static"
    DAILY = "daily"


class SourceSystem(StrEnum):
    BUCKET = "bucket"  # files in the source bucket (S3 or a local folder)
    SHEETS = "sheets"  # Google Sheets (a local .xlsx in embedded mode)
    POSTGRES = "postgres"  # tables in the source Postgres


class Rule(StrEnum):
    """Cleaning/validation rule applied to a raw text value (implemented by DataCleaner)."""

    UUID = "uuid"
    INT_ID = "int_id"
    TEXT_ID = "text_id"
    PERSON_NAME = "person_name"
    GENDER = "gender"
    DATE = "date"
    TIMESTAMP = "timestamp"
    EMAIL = "email"
    ADDRESS = "address"
    US_STATE_NAME = "us_state_name"
    ENUM = "enum"


@dataclass(frozen=True)
class Field:
    """One raw column and how it becomes a canonical one."""

    name: str
    raw: str
    rule: Rule
    required: bool = False
    allowed: tuple[str, ...] = ()
    description: str = ""
    # Plausibility (checked by the DataQualityChecker): this value must not be earlier than the
    # named field's value (e.g. a call's end vs its start) ...
    not_before: str | None = None
    # ... and, for a birth date, the age in whole years it implies at the logical date must lie
    # in this closed range. Every DATE/TIMESTAMP must also not lie after the logical date.
    age_range: tuple[int, int] | None = None


@dataclass(frozen=True)
class Parent:
    """A foreign key to another entity; unknown parents send the row to quarantine."""

    column: str
    entity: str
    key: str
    reason: str  # quarantine reason code when the parent is unknown


@dataclass(frozen=True)
class SilverColumn:
    """A column of the conformed Postgres table (type is a Postgres type name)."""

    name: str
    pg_type: str
    nullable: bool = True
    description: str = ""


@dataclass(frozen=True)
class EntityContract:
    entity: str
    kind: Kind
    source: SourceSystem
    # Where the source lives, relative to its system. ``{date}`` is YYYY-MM-DD and ``{date_}``
    # is YYYY_MM_DD. Bucket paths are relative to the source bucket; Postgres sources are
    # ``schema.table``; the sheet source is ``tab``.
    source_location: str
    source_format: str  # csv | json_columns | xlsx | table
    fields: tuple[Field, ...]
    natural_key: tuple[str, ...]
    silver_table: str
    silver_columns: tuple[SilverColumn, ...]
    index_columns: tuple[str, ...] = ()  # raw row-index columns: dropped, never keys
    parents: tuple[Parent, ...] = ()
    channel: str | None = None  # complaint channel code; None for customers/agents
    generation_date: str | None = None  # canonical field holding the source's business date
    tracked: tuple[str, ...] = ()  # silver columns whose changes create a new version
    description: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def raw_columns(self) -> tuple[str, ...]:
        """Raw headers the source must provide (index columns excluded)."""
        return tuple(f.raw for f in self.fields)

    @property
    def rename_map(self) -> dict[str, str]:
        """Raw header -> canonical name."""
        return {f.raw: f.name for f in self.fields}

    @property
    def required_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.required)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.entity} has no field {name!r}")

    @property
    def silver_column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.silver_columns)

    @property
    def is_complaint(self) -> bool:
        return self.channel is not None

    def source_name(self, logical_date: str | None = None) -> str:
        """The source location for a logical date (YYYY-MM-DD); static sources ignore it."""
        if logical_date is None:
            return self.source_location
        return self.source_location.format(date=logical_date, date_=logical_date.replace("-", "_"))
