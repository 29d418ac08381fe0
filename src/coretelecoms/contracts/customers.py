"""Customers: a full snapshot CSV in the source bucket (~2.5 M rows, multiline addresses)."""

from __future__ import annotations

from coretelecoms.contracts.base import (
    EntityContract,
    Field,
    Kind,
    Rule,
    SilverColumn,
    SourceSystem,
)
from coretelecoms.contracts.reference import GENDERS

CUSTOMERS = EntityContract(
    entity="customers",
    kind=Kind.STATIC,
    source=SourceSystem.BUCKET,
    source_location="customers/customers_dataset.csv",
    source_format="csv",
    fields=(
        Field("customer_id", "customer_id", Rule.UUID, required=True, description="UUID4."),
        Field("name", "name", Rule.PERSON_NAME, description="Full name, title case."),
        Field("gender", "Gender", Rule.GENDER, allowed=GENDERS, description="M or F."),
        Field(
            "date_of_birth",
            "DATE of biRTH",
            Rule.DATE,
            age_range=(0, 120),
            description="Date of birth; null when it implies an age outside 0-120 years.",
        ),
        Field("signup_date", "signup_date", Rule.DATE, description="First day as a customer."),
        Field("email", "email", Rule.EMAIL, description="Lower case, known typos repaired."),
        Field("address", "address", Rule.ADDRESS, description="Multiline US postal address."),
    ),
    natural_key=("customer_id",),
    silver_table="customers",
    silver_columns=(
        SilverColumn("customer_id", "uuid", nullable=False, description="Natural key (UUID4)."),
        SilverColumn("name", "text", description="Full name, trimmed and title-cased."),
        SilverColumn("gender", "text", description="M or F; null when invalid."),
        SilverColumn("date_of_birth", "date", description="Null when unparseable."),
        SilverColumn("signup_date", "date", description="Start of the first customer version."),
        SilverColumn("email", "text", description="Cleaned email; null when beyond repair."),
        SilverColumn("street", "text", description="Street line (or PSC/Unit/USNS line)."),
        SilverColumn("city", "text", description="City, or APO/FPO/DPO for military mail."),
        SilverColumn("state_code", "text", description="Postal code: state, territory, AA/AE/AP."),
        SilverColumn("state_name", "text", description="Full name of state_code."),
        SilverColumn("zip_code", "text", description="Five-digit ZIP, text (leading zeros)."),
    ),
    tracked=("street", "city", "state_code", "zip_code"),
    description="CoreTelecoms customers; an address change creates a new customer version.",
)
