"""Entity contracts: the one place the facts about each entity live."""

from __future__ import annotations

from coretelecoms.contracts.agents import AGENTS
from coretelecoms.contracts.base import EntityContract, Field, Kind, Parent, Rule, SilverColumn
from coretelecoms.contracts.call_logs import CALL_LOGS
from coretelecoms.contracts.customers import CUSTOMERS
from coretelecoms.contracts.social_media_complaints import SOCIAL_MEDIA_COMPLAINTS
from coretelecoms.contracts.web_form_complaints import WEB_FORM_COMPLAINTS

CONTRACTS: dict[str, EntityContract] = {
    c.entity: c
    for c in (CUSTOMERS, AGENTS, CALL_LOGS, SOCIAL_MEDIA_COMPLAINTS, WEB_FORM_COMPLAINTS)
}
STATIC_ENTITIES = tuple(e for e, c in CONTRACTS.items() if c.kind is Kind.STATIC)
COMPLAINT_ENTITIES = tuple(e for e, c in CONTRACTS.items() if c.is_complaint)


def get_contract(entity: str) -> EntityContract:
    """The contract for ``entity``; raises ValueError listing the known entities."""
    try:
        return CONTRACTS[entity]
    except KeyError:
        raise ValueError(
            f"unknown entity {entity!r}; expected one of {sorted(CONTRACTS)}"
        ) from None


__all__ = [
    "COMPLAINT_ENTITIES",
    "CONTRACTS",
    "STATIC_ENTITIES",
    "EntityContract",
    "Field",
    "Kind",
    "Parent",
    "Rule",
    "SilverColumn",
    "get_contract",
]
