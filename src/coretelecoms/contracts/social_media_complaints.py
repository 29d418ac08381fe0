"""Social-media complaints: one pandas ``to_json()`` (column-oriented) file per day."""

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
from coretelecoms.contracts.reference import MEDIA_CHANNELS

SOCIAL_MEDIA_COMPLAINTS = EntityContract(
    entity="social_media_complaints",
    kind=Kind.DAILY,
    source=SourceSystem.BUCKET,
    source_location="social_medias/media_complaint_day_{date}.json",
    source_format="json_columns",
    fields=(
        Field("complaint_id", "complaint_id", Rule.TEXT_ID, required=True),
        cf.CUSTOMER_ID,
        cf.COMPLAINT_CATEGORY,
        cf.AGENT_ID,
        cf.RESOLUTION_STATUS,
        Field("requested_at", "request_date", Rule.TIMESTAMP, required=True),
        Field("resolved_at", "resolution_date", Rule.TIMESTAMP, not_before="requested_at"),
        Field("media_channel", "media_channel", Rule.ENUM, allowed=MEDIA_CHANNELS),
        Field("generated_date", "MediaComplaintGenerationDate", Rule.DATE, required=True),
    ),
    natural_key=("complaint_id",),
    parents=cf.PARENTS,
    channel="social_media",
    generation_date="generated_date",
    silver_table="social_media_complaints",
    silver_columns=(
        cf.KEY_COLUMN,
        SilverColumn("complaint_id", "text", nullable=False, description="Source complaint id."),
        *cf.PARENT_COLUMNS,
        SilverColumn("requested_at", "timestamp", nullable=False, description="Request time."),
        SilverColumn("resolved_at", "timestamp", description="Null while unresolved."),
        SilverColumn("media_channel", "text", description="Instagram, Twitter, ..."),
        cf.GENERATED_DATE_COLUMN,
    ),
    description="Complaints received on social media.",
)
