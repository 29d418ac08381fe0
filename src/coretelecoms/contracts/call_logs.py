"""Call logs: one CSV per day in ``call logs/`` (~379 k rows a day at full volume)."""

from __future__ import annotations

from coretelecoms.contracts import complaint_fields as cf
from coretelecoms.contracts.base import (
    EntityContract,
    Field,
    Kind,
    Rule,
    SilverColumn,
    SourceSystem,
)

CALL_LOGS = EntityContract(
    entity="call_logs",
    kind=Kind.DAILY,
    source=SourceSystem.BUCKET,
    source_location="call logs/call_logs_day_{date}.csv",
    source_format="csv",
    index_columns=("Unnamed: 0", ""),
    fields=(
        Field("call_id", "call ID", Rule.TEXT_ID, required=True, description="Source call id."),
        cf.CUSTOMER_ID,
        cf.COMPLAINT_CATEGORY,
        cf.AGENT_ID,
        Field("call_started_at", "call_start_time", Rule.TIMESTAMP, required=True),
        Field("call_ended_at", "call_end_time", Rule.TIMESTAMP, not_before="call_started_at"),
        cf.RESOLUTION_STATUS,
        Field("generated_date", "callLogsGenerationDate", Rule.DATE, required=True),
    ),
    natural_key=("call_id",),
    parents=cf.PARENTS,
    channel="call",
    generation_date="generated_date",
    silver_table="call_logs",
    silver_columns=(
        cf.KEY_COLUMN,
        SilverColumn("call_id", "text", nullable=False, description="Source call id."),
        *cf.PARENT_COLUMNS,
        SilverColumn("call_started_at", "timestamp", nullable=False, description="Call start."),
        SilverColumn("call_ended_at", "timestamp", description="Call end; null if implausible."),
        cf.GENERATED_DATE_COLUMN,
    ),
    description="Complaints received by phone.",
)
