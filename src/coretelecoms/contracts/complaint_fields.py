"""Fields and silver columns every complaint channel shares (same raw spellings in all three)."""

from __future__ import annotations

from coretelecoms.contracts.base import Field, Parent, Rule, SilverColumn
from coretelecoms.contracts.reference import COMPLAINT_CATEGORIES, RESOLUTION_STATUSES

CUSTOMER_ID = Field(
    "customer_id",
    "customeR iD",
    Rule.UUID,
    required=True,
    description="Customer who complained (UUID4).",
)
COMPLAINT_CATEGORY = Field(
    "complaint_category",
    "COMPLAINT_catego ry",
    Rule.ENUM,
    allowed=COMPLAINT_CATEGORIES,
    description="What the complaint is about; unknown values are nulled and recorded.",
)
AGENT_ID = Field(
    "agent_id", "agent ID", Rule.INT_ID, required=True, description="Agent handling it."
)
RESOLUTION_STATUS = Field(
    "resolution_status",
    "resolutionstatus",
    Rule.ENUM,
    required=True,
    allowed=RESOLUTION_STATUSES,
    description="Status as of the source's generation date.",
)

PARENTS = (
    Parent("customer_id", "customers", "customer_id", reason="unknown_customer"),
    Parent("agent_id", "agents", "agent_id", reason="unknown_agent"),
)

KEY_COLUMN = SilverColumn(
    "complaint_key",
    "text",
    nullable=False,
    description="md5 of '<channel>|<source id>': stable across status changes.",
)
PARENT_COLUMNS = (
    SilverColumn("customer_id", "uuid", nullable=False, description="FK to customers."),
    SilverColumn("agent_id", "integer", nullable=False, description="FK to agents."),
    SilverColumn("complaint_category", "text", description="Canonical category or null."),
    SilverColumn("resolution_status", "text", nullable=False, description="Current status."),
)
GENERATED_DATE_COLUMN = SilverColumn(
    "generated_date",
    "date",
    nullable=False,
    description="Source generation date of the latest observation (business date of the status).",
)
