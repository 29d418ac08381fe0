"""Web-form complaints: one Postgres table per day in schema ``customer_complaints``."""

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

WEB_FORM_COMPLAINTS = EntityContract(
    entity="web_form_complaints",
    kind=Kind.DAILY,
    source=SourceSystem.POSTGRES,
    source_location="customer_complaints.web_form_request_{date_}",
    source_format="table",
    index_columns=("Column1",),
    fields=(
        Field("request_id", "request_id", Rule.TEXT_ID, required=True),
        cf.CUSTOMER_ID,
        cf.COMPLAINT_CATEGORY,
        cf.AGENT_ID,
        cf.RESOLUTION_STATUS,
        Field("requested_at", "request_date", Rule.TIMESTAMP, required=True),
        Field("resolved_at", "resolution_date", Rule.TIMESTAMP, not_before="requested_at"),
        Field("generated_date", "webFormGenerationDate", Rule.DATE, required=True),
    ),
    natural_key=("request_id",),
    parents=cf.PARENTS,
    channel="web_form",
    generation_date="generated_date",
    silver_table="web_form_complaints",
    silver_columns=(
        cf.KEY_COLUMN,
        SilverColumn("request_id", "text", nullable=False, description="Source request id."),
        *cf.PARENT_COLUMNS,
        SilverColumn("requested_at", "timestamp", nullable=False, description="Request time."),
        SilverColumn("resolved_at", "timestamp", description="Null while unresolved."),
        cf.GENERATED_DATE_COLUMN,
    ),
    description="Complaints received through the web form.",
)
