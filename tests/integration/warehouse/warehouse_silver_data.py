"""Hand-made silver data for the warehouse tests: three customers, three agents, seven
complaints across the three channels, status history over 2025-11-20..22, one address change
(customer C1 on 2025-11-21) and one promotion (agent 1000, Junior -> Senior on 2025-11-22).

Rows are written the way the silver loader writes them: inserts take ``_change_seq`` from the
column default, updates set ``nextval('conformed.change_seq')``.
"""

from __future__ import annotations

import hashlib

import psycopg

C1 = "11111111-1111-4111-8111-111111111111"
C2 = "22222222-2222-4222-8222-222222222222"
C3 = "33333333-3333-4333-8333-333333333333"
NEXT = "nextval('conformed.change_seq')"


def complaint_key(channel: str, source_id: str) -> str:
    return hashlib.md5(f"{channel}|{source_id}".encode()).hexdigest()


K1 = complaint_key("call", "CALL-1")  # C1, June: joins C1's first address
K2 = complaint_key("call", "CALL-2")  # C2, Blocked
K3 = complaint_key("social_media", "SM-3")  # C2, 2 days after K2 on another channel
K4 = complaint_key("social_media", "SM-4")  # C3, open beyond the SLA
K5 = complaint_key("web_form", "WF-5")  # C1, after the address change, before the promotion
K6 = complaint_key("web_form", "WF-6")  # C3, resolved in 2 days, null category
K7 = complaint_key("web_form", "WF-7")  # C1, day 3, after agent 1000's promotion


def _history(cur: psycopg.Cursor, rows: list[tuple[str, str, str, str]], run: str) -> None:
    cur.executemany(
        "insert into conformed.complaint_status_history "
        "(complaint_key, channel, resolution_status, observed_date, _run_id) "
        "values (%s, %s, %s, %s, %s)",
        [(*r, run) for r in rows],
    )


def write_days_1_2(dsn: str) -> None:
    """Silver as of 2025-11-21: everything but the day-3 changes."""
    run = "run-2025-11-21"
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.executemany(
            "insert into conformed.customers (customer_id, name, gender, date_of_birth, "
            "signup_date, email, street, city, state_code, state_name, zip_code, _run_id) "
            "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    C1,
                    "Ada Lovelace",
                    "F",
                    "1990-12-10",
                    "2024-01-10",
                    "ada@gmail.com",
                    "2 New Road",
                    "Austin",
                    "TX",
                    "Texas",
                    "73301",
                    run,
                ),
                (
                    C2,
                    "Alan Turing",
                    "M",
                    "1985-06-23",
                    "2023-05-01",
                    None,
                    "PSC 2383, Box 3666",
                    "APO",
                    "AA",
                    "Armed Forces Americas",
                    "12094",
                    run,
                ),
                (
                    C3,
                    "Grace Hopper",
                    None,
                    None,
                    None,
                    "grace@yahoo.com",
                    "9 Navy Way",
                    "Arlington",
                    "VA",
                    "Virginia",
                    "22201",
                    run,
                ),
            ],
        )
        # C1 moved on 2025-11-21 (seen in that day's snapshot): v1 closed, v2 open.
        cur.executemany(
            "insert into conformed.customer_versions (customer_id, street, city, state_code, "
            "state_name, zip_code, valid_from, valid_to, _run_id) "
            "values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    C1,
                    "1 Old Street",
                    "Darrenland",
                    "NY",
                    "New York",
                    "13297",
                    "2024-01-10",
                    "2025-11-21",
                    run,
                ),
                (C1, "2 New Road", "Austin", "TX", "Texas", "73301", "2025-11-21", None, run),
                (
                    C2,
                    "PSC 2383, Box 3666",
                    "APO",
                    "AA",
                    "Armed Forces Americas",
                    "12094",
                    "2023-05-01",
                    None,
                    run,
                ),
                (C3, "9 Navy Way", "Arlington", "VA", "Virginia", "22201", "1900-01-01", None, run),
            ],
        )
        cur.executemany(
            "insert into conformed.agents (agent_id, name, experience, state, _run_id) "
            "values (%s, %s, %s, %s, %s)",
            [
                (1000, "Mary Jackson", "Junior", "Virginia", run),
                (1001, "Dorothy Vaughan", "Intern", "Ohio", run),
                (1002, "Katherine Johnson", "Mid-level", None, run),
            ],
        )
        cur.executemany(
            "insert into conformed.agent_versions (agent_id, experience, valid_from, valid_to, "
            "_run_id) values (%s, %s, %s, %s, %s)",
            [
                (1000, "Junior", "1900-01-01", None, run),
                (1001, "Intern", "1900-01-01", None, run),
                (1002, "Mid-level", "1900-01-01", None, run),
            ],
        )
        cur.executemany(
            "insert into conformed.call_logs (complaint_key, call_id, customer_id, agent_id, "
            "complaint_category, resolution_status, call_started_at, call_ended_at, "
            "generated_date, _run_id) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    K1,
                    "CALL-1",
                    C1,
                    1000,
                    "Network Failure",
                    "In-Progress",
                    "2025-06-01 10:00:00",
                    "2025-06-01 10:12:00",
                    "2025-11-21",
                    run,
                ),
                (
                    K2,
                    "CALL-2",
                    C2,
                    1001,
                    "Payments",
                    "Blocked",
                    "2025-09-15 08:30:00",
                    "2025-09-15 08:45:00",
                    "2025-11-20",
                    run,
                ),
            ],
        )
        cur.executemany(
            "insert into conformed.social_media_complaints (complaint_key, complaint_id, "
            "customer_id, agent_id, complaint_category, resolution_status, requested_at, "
            "resolved_at, media_channel, generated_date, _run_id) "
            "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    K3,
                    "SM-3",
                    C2,
                    1002,
                    "Router Delivery",
                    "Resolved",
                    "2025-09-17 12:00:00",
                    "2025-09-18 09:00:00",
                    "Instagram",
                    "2025-11-20",
                    run,
                ),
                (
                    K4,
                    "SM-4",
                    C3,
                    1000,
                    "Technician Support",
                    "Backlog",
                    "2025-10-01 16:00:00",
                    None,
                    "Twitter",
                    "2025-11-21",
                    run,
                ),
            ],
        )
        cur.executemany(
            "insert into conformed.web_form_complaints (complaint_key, request_id, customer_id, "
            "agent_id, complaint_category, resolution_status, requested_at, resolved_at, "
            "generated_date, _run_id) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    K5,
                    "WF-5",
                    C1,
                    1000,
                    "Payments",
                    "Backlog",
                    "2025-11-21 09:00:00",
                    None,
                    "2025-11-21",
                    run,
                ),
                (
                    K6,
                    "WF-6",
                    C3,
                    1002,
                    None,
                    "Resolved",
                    "2025-08-05 11:00:00",
                    "2025-08-07 15:00:00",
                    "2025-11-20",
                    run,
                ),
            ],
        )
        _history(
            cur,
            [
                (K1, "call", "Backlog", "2025-11-20"),
                (K1, "call", "In-Progress", "2025-11-21"),
                (K2, "call", "Blocked", "2025-11-20"),
                (K3, "social_media", "Resolved", "2025-11-20"),
                (K4, "social_media", "Backlog", "2025-11-21"),
                (K5, "web_form", "Backlog", "2025-11-21"),
                (K6, "web_form", "Resolved", "2025-11-20"),
            ],
            run,
        )


def write_day_3(dsn: str) -> None:
    """2025-11-22: K1 resolved, K5 in progress, K4 still open, agent 1000 promoted, new K7."""
    run = "run-2025-11-22"
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(
            f"update conformed.call_logs set resolution_status = 'Resolved', "
            f"generated_date = '2025-11-22', _run_id = %s, _change_seq = {NEXT} "
            "where complaint_key = %s",
            [run, K1],
        )
        cur.execute(
            f"update conformed.web_form_complaints set resolution_status = 'In-Progress', "
            f"generated_date = '2025-11-22', _run_id = %s, _change_seq = {NEXT} "
            "where complaint_key = %s",
            [run, K5],
        )
        cur.execute(
            f"update conformed.agents set experience = 'Senior', _run_id = %s, "
            f"_change_seq = {NEXT} where agent_id = 1000",
            [run],
        )
        cur.execute(
            f"update conformed.agent_versions set valid_to = '2025-11-22', _run_id = %s, "
            f"_change_seq = {NEXT} where agent_id = 1000 and valid_to is null",
            [run],
        )
        cur.execute(
            "insert into conformed.agent_versions (agent_id, experience, valid_from, _run_id) "
            "values (1000, 'Senior', '2025-11-22', %s)",
            [run],
        )
        cur.execute(
            "insert into conformed.web_form_complaints (complaint_key, request_id, customer_id, "
            "agent_id, complaint_category, resolution_status, requested_at, resolved_at, "
            "generated_date, _run_id) values (%s, 'WF-7', %s, 1000, 'Network Failure', "
            "'Backlog', '2025-11-22 08:00:00', null, '2025-11-22', %s)",
            [K7, C1, run],
        )
        _history(
            cur,
            [
                (K1, "call", "Resolved", "2025-11-22"),
                (K4, "social_media", "Backlog", "2025-11-22"),
                (K5, "web_form", "In-Progress", "2025-11-22"),
                (K7, "web_form", "Backlog", "2025-11-22"),
            ],
            run,
        )


def write_late_observation(dsn: str) -> None:
    """A late, older observation: K4 seen in Backlog on 2025-11-20 (after 11-21 was recorded)."""
    with psycopg.connect(dsn) as conn:
        _history(conn.cursor(), [(K4, "social_media", "Backlog", "2025-11-20")], "run-late")
