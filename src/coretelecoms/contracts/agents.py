"""Agents: the 'CORETELECOMMS AGENTS' Google Sheet, tab ``agents`` (about 100 rows)."""

from __future__ import annotations

from coretelecoms.contracts.base import (
    EntityContract,
    Field,
    Kind,
    Rule,
    SilverColumn,
    SourceSystem,
)
from coretelecoms.contracts.reference import EXPERIENCE_LEVELS

AGENTS = EntityContract(
    entity="agents",
    kind=Kind.STATIC,
    source=SourceSystem.SHEETS,
    source_location="agents",
    source_format="xlsx",
    fields=(
        Field("agent_id", "iD", Rule.INT_ID, required=True, description="Integer from 1000."),
        Field("name", "NamE", Rule.PERSON_NAME, description="Full name, title case."),
        Field(
            "experience",
            "experience",
            Rule.ENUM,
            allowed=EXPERIENCE_LEVELS,
            description="Seniority, canonical case.",
        ),
        Field("state", "state", Rule.US_STATE_NAME, description="Full US state name."),
    ),
    natural_key=("agent_id",),
    silver_table="agents",
    silver_columns=(
        SilverColumn("agent_id", "integer", nullable=False, description="Natural key."),
        SilverColumn("name", "text", description="Full name."),
        SilverColumn("experience", "text", description="Intern, Junior, Mid-level or Senior."),
        SilverColumn("state", "text", description="Full US state name; null when unknown."),
    ),
    tracked=("experience",),
    description="Support agents; a promotion (experience change) creates a new agent version.",
)
