"""Run notifications through an Airflow notifier: a Slack incoming webhook when configured.

The webhook URL is read when a notification is sent (``settings.slack_webhook_url``, i.e.
``CORETELECOMS_SLACK_WEBHOOK_URL``), never at DAG-parse time, and never logged. A notification
that cannot be delivered is logged and dropped: a Slack outage must not fail a data run.
"""

from __future__ import annotations

import logging
from typing import Any

import requests
from airflow.sdk import BaseNotifier

log = logging.getLogger(__name__)

TIMEOUT_S = 10.0


def run_message(event: str, context: dict[str, Any]) -> str:
    """One line for a person: the DAG, the logical date, the outcome and, on failure, what broke."""
    dag_run = context.get("dag_run")
    ti = context.get("ti") or context.get("task_instance")
    dag_id = getattr(dag_run, "dag_id", None) or getattr(context.get("dag"), "dag_id", "?")
    logical = getattr(dag_run, "logical_date", None) or context.get("logical_date")
    day = logical.date().isoformat() if hasattr(logical, "date") else str(logical)
    run_id = getattr(dag_run, "run_id", None) or context.get("run_id", "?")
    icon = ":white_check_mark:" if event == "success" else ":rotating_light:"
    text = f"{icon} {dag_id} {day}: run {event} (run id {run_id})"
    if event != "success":
        if ti is not None and getattr(ti, "task_id", None):
            text += f"; task {ti.task_id}"
        reason = context.get("reason") or context.get("exception")
        if reason:
            text += f": {str(reason)[:500]}"
    return text


def post_to_slack(webhook_url: str, text: str) -> bool:
    """POST ``{"text": ...}`` to a Slack incoming webhook; False (logged) when it fails."""
    try:
        response = requests.post(webhook_url, json={"text": text}, timeout=TIMEOUT_S)
        response.raise_for_status()
    except requests.RequestException as exc:
        # The URL embeds the webhook secret: log the error type only.
        log.warning("Slack notification not delivered: %s", type(exc).__name__)
        return False
    return True


class SlackWebhookNotifier(BaseNotifier):
    """Posts the outcome of a DAG run (or a failed task) to Slack.

    ``webhook_url`` defaults to the platform settings at send time; with neither, it does
    nothing (the embedded default has no Slack).
    """

    def __init__(self, event: str, webhook_url: str | None = None) -> None:
        super().__init__()
        self.event = event
        self.webhook_url = webhook_url

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        """Nothing to render; skipping it also works with the scheduler-side DAG that
        ``dag.test()`` puts in the callback context (it has no Jinja environment)."""

    def _url(self) -> str | None:
        if self.webhook_url:
            return self.webhook_url
        from coretelecoms.config import get_settings

        secret = get_settings().slack_webhook_url
        return secret.get_secret_value() if secret is not None else None

    def notify(self, context: dict[str, Any]) -> None:
        url = self._url()
        if not url:
            log.debug("no Slack webhook configured; %s notification not sent", self.event)
            return
        post_to_slack(url, run_message(self.event, context))
