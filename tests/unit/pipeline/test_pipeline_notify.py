"""The Slack notifier against a loopback HTTP receiver standing in for an incoming webhook."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import SimpleNamespace

import pytest

from coretelecoms.pipeline.notify import SlackWebhookNotifier, post_to_slack, run_message


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict], list[int]]]:
    """URL of a local webhook, the JSON bodies it received, and the status it answers with."""
    received: list[dict] = []
    status = [200]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(status[0])
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received, status
    server.shutdown()


def _context(task_id: str | None = None, reason: str | None = None) -> dict:
    dag_run = SimpleNamespace(
        dag_id="coretelecoms_daily",
        run_id="manual__2025-11-21",
        logical_date=datetime(2025, 11, 21, tzinfo=UTC),
    )
    context: dict = {"dag_run": dag_run}
    if task_id:
        context["ti"] = SimpleNamespace(task_id=task_id)
    if reason:
        context["reason"] = reason
    return context


def test_success_notification_reaches_the_webhook(receiver) -> None:
    url, received, _ = receiver
    SlackWebhookNotifier("success", webhook_url=url).notify(_context())
    assert len(received) == 1
    assert "coretelecoms_daily 2025-11-21: run success" in received[0]["text"]


def test_failure_notification_names_the_task_and_reason(receiver) -> None:
    url, received, _ = receiver
    SlackWebhookNotifier("failure", webhook_url=url).notify(
        _context(task_id="load_call_logs", reason="task_failure")
    )
    text = received[0]["text"]
    assert "run failure" in text and "load_call_logs" in text and "task_failure" in text


def test_webhook_url_comes_from_settings_at_send_time(receiver, monkeypatch) -> None:
    url, received, _ = receiver
    notifier = SlackWebhookNotifier("success")
    notifier.notify(_context())
    assert received == []  # no webhook configured: nothing sent, nothing raised
    monkeypatch.setenv("CORETELECOMS_SLACK_WEBHOOK_URL", url)
    notifier.notify(_context())
    assert len(received) == 1


def test_undeliverable_notification_is_dropped_not_raised(receiver) -> None:
    url, received, status = receiver
    status[0] = 500
    assert post_to_slack(url, "hello") is False
    assert received == [{"text": "hello"}]
    assert post_to_slack("http://127.0.0.1:9/closed", "hello") is False


def test_message_without_dag_run_still_reads() -> None:
    text = run_message("failure", {"run_id": "r1", "logical_date": "2025-11-22"})
    assert "2025-11-22" in text and "r1" in text
