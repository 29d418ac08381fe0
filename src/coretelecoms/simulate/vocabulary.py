"""Word lists the simulator draws from, and the invalid values it injects.

Valid reference values (categories, statuses, channels, states, typo domains) come from
``coretelecoms.contracts.reference``; only the simulator's own vocabulary lives here. Invalid
values avoid strings pandas reads as missing (``NA``, ``N/A``, ``null``, ...) and slashes.
"""

from __future__ import annotations

from coretelecoms.contracts.reference import EMAIL_DOMAIN_FIXES

FIRST_NAMES = [
    "Brianna",
    "Brian",
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Christopher",
    "Lisa",
    "Daniel",
    "Nancy",
    "Matthew",
    "Betty",
    "Anthony",
    "Sandra",
    "Mark",
    "Margaret",
    "Donald",
    "Ashley",
    "Steven",
    "Kimberly",
    "Paul",
    "Emily",
    "Andrew",
    "Donna",
    "Joshua",
    "Michelle",
    "Kenneth",
    "Carol",
    "Kevin",
    "Amanda",
    "Darren",
    "Melissa",
    "Timothy",
    "Deborah",
    "Jason",
    "Stephanie",
    "Jeffrey",
    "Rebecca",
    "Ryan",
    "Sharon",
    "Jacob",
    "Laura",
    "Gary",
    "Cynthia",
    "Nicholas",
    "Kathleen",
]

LAST_NAMES = [
    "Schultz",
    "Wagner",
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Gomez",
    "Phillips",
    "Evans",
    "Turner",
    "Diaz",
    "Parker",
    "Cruz",
    "Edwards",
    "Collins",
    "Reyes",
    "Stewart",
]

STREET_SUFFIXES = [
    "Turnpike",
    "Street",
    "Avenue",
    "Road",
    "Lane",
    "Drive",
    "Court",
    "Way",
    "Plaza",
    "Park",
    "Ridge",
    "Crossing",
    "Parkway",
    "Loop",
    "Circle",
    "Trail",
    "Throughway",
    "Villages",
    "Mountains",
    "Fields",
    "Harbor",
    "Springs",
    "Square",
]

CITY_SUFFIXES = [
    "land",
    "ville",
    "town",
    "burgh",
    "side",
    "port",
    "haven",
    "mouth",
    "fort",
    "berg",
    "view",
    "chester",
]
CITY_PREFIXES = ("East", "West", "North", "South", "New", "Lake", "Port")

EMAIL_DOMAINS = ("gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "aol.com", "icloud.com")
EMAIL_DOMAIN_WEIGHTS = (0.4, 0.2, 0.2, 0.1, 0.05, 0.05)


def _case_variants(domain: str) -> list[str]:
    """``gmail.om`` -> gmail.om, Gmail.om, GMAIL.OM, GmaiL.om (the real sheet's styles)."""
    name, _, rest = domain.partition(".")
    mixed = name[0].upper() + name[1:-1] + name[-1].upper() + "." + rest
    return [domain, domain.capitalize(), domain.upper(), mixed]


TYPO_DOMAINS = tuple(v for d in EMAIL_DOMAIN_FIXES for v in _case_variants(d))
CASED_DOMAINS = tuple(v for d in EMAIL_DOMAINS[:3] for v in _case_variants(d)[1:])

MILITARY_UNITS = ("USNS", "USS", "USCGC")

EXPERIENCE_RAW = {
    "Intern": ("Intern", "intern"),
    "Junior": ("Junior", "junior"),
    "Mid-level": ("Mid-level", "mid-level"),
    "Senior": ("Senior", "senior"),
}

# Invalid values (each checked against the reference sets at import time below).
BAD_STATE_CODES = ("ZZ", "XX", "QQ", "KK", "YY")
BAD_GENDERS = ("X", "U", "Unknown", "Other")
BAD_DATES = ("1990-02-30", "unknown", "31-12-1985", "0000-00-00", "2001-13-01")
BAD_TIMESTAMPS = ("2025-13-01 10:00:00", "2025-02-30 08:15:00", "not recorded", "25:61:00")
BAD_CATEGORIES = ("Billing Dispute", "Roaming", "Other", "SIM Swap")
BAD_STATUSES = ("Pending", "Escalated", "Closed", "Unknown")
BAD_CHANNELS = ("TikTok", "Reddit", "WhatsApp", "Threads")


def _check_invalid() -> None:
    from coretelecoms.contracts.reference import (
        COMPLAINT_CATEGORIES,
        GENDERS,
        MEDIA_CHANNELS,
        RESOLUTION_STATUSES,
        STATE_CODES,
    )

    pairs = (
        (BAD_STATE_CODES, STATE_CODES),
        (BAD_GENDERS, GENDERS),
        (BAD_CATEGORIES, COMPLAINT_CATEGORIES),
        (BAD_STATUSES, RESOLUTION_STATUSES),
        (BAD_CHANNELS, MEDIA_CHANNELS),
    )
    for bad, allowed in pairs:
        lowered = {a.lower() for a in allowed}
        clash = [b for b in bad if b.lower() in lowered]
        if clash:  # pragma: no cover - guards edits to the reference data
            raise RuntimeError(f"invalid values {clash} are allowed values")


_check_invalid()
