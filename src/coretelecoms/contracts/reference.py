"""Reference values the sources are checked against (from the design brief)."""

from __future__ import annotations

COMPLAINT_CATEGORIES = ("Technician Support", "Network Failure", "Router Delivery", "Payments")
RESOLUTION_STATUSES = ("Resolved", "Backlog", "In-Progress", "Blocked")
MEDIA_CHANNELS = ("Instagram", "Twitter", "Facebook", "LinkedIn")
EXPERIENCE_LEVELS = ("Intern", "Junior", "Mid-level", "Senior")
GENDERS = ("M", "F")

# Lifecycle order used by the simulator and the accumulating snapshot.
STATUS_MILESTONES = ("Backlog", "In-Progress", "Resolved", "Blocked")

US_STATES: dict[str, str] = {
    "AL": "Alabama",
    "AK": "Alaska",
    "AZ": "Arizona",
    "AR": "Arkansas",
    "CA": "California",
    "CO": "Colorado",
    "CT": "Connecticut",
    "DE": "Delaware",
    "FL": "Florida",
    "GA": "Georgia",
    "HI": "Hawaii",
    "ID": "Idaho",
    "IL": "Illinois",
    "IN": "Indiana",
    "IA": "Iowa",
    "KS": "Kansas",
    "KY": "Kentucky",
    "LA": "Louisiana",
    "ME": "Maine",
    "MD": "Maryland",
    "MA": "Massachusetts",
    "MI": "Michigan",
    "MN": "Minnesota",
    "MS": "Mississippi",
    "MO": "Missouri",
    "MT": "Montana",
    "NE": "Nebraska",
    "NV": "Nevada",
    "NH": "New Hampshire",
    "NJ": "New Jersey",
    "NM": "New Mexico",
    "NY": "New York",
    "NC": "North Carolina",
    "ND": "North Dakota",
    "OH": "Ohio",
    "OK": "Oklahoma",
    "OR": "Oregon",
    "PA": "Pennsylvania",
    "RI": "Rhode Island",
    "SC": "South Carolina",
    "SD": "South Dakota",
    "TN": "Tennessee",
    "TX": "Texas",
    "UT": "Utah",
    "VT": "Vermont",
    "VA": "Virginia",
    "WA": "Washington",
    "WV": "West Virginia",
    "WI": "Wisconsin",
    "WY": "Wyoming",
    "DC": "District of Columbia",
}
US_TERRITORIES: dict[str, str] = {
    "AS": "American Samoa",
    "GU": "Guam",
    "MP": "Northern Mariana Islands",
    "PR": "Puerto Rico",
    "VI": "U.S. Virgin Islands",
    "FM": "Federated States of Micronesia",
    "MH": "Marshall Islands",
    "PW": "Palau",
}
MILITARY_STATES: dict[str, str] = {
    "AA": "Armed Forces Americas",
    "AE": "Armed Forces Europe",
    "AP": "Armed Forces Pacific",
}
MILITARY_CITIES = ("APO", "FPO", "DPO")

STATE_CODES: dict[str, str] = {**US_STATES, **US_TERRITORIES, **MILITARY_STATES}
"""Every postal state code an address may carry -> its name."""

EMAIL_DOMAIN_FIXES: dict[str, str] = {
    "gmail.om": "gmail.com",
    "gmial.com": "gmail.com",
    "gmai.com": "gmail.com",
    "gmail.co": "gmail.com",
    "gmial.om": "gmail.com",
    "gamil.com": "gmail.com",
    "hotmai.com": "hotmail.com",
    "hotmaill.com": "hotmail.com",
    "hotmail.om": "hotmail.com",
    "hotmial.com": "hotmail.com",
    "yaho.com": "yahoo.com",
    "yahoo.om": "yahoo.com",
    "yahooo.com": "yahoo.com",
}
"""Known misspelt email domains (lower case) -> the intended domain."""
