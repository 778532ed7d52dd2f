"""The webhook sink against a real HTTP server, from a real worker: the page arrives signed;
an endpoint that keeps failing is retried and the record is dead-lettered, while the worker
carries on."""

from __future__ import annotations

import dataclasses
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest

from service.config import Settings
from service.core import webhook
from service.core.dead_letter import original_bytes
from tests.integration.harness import (
    as_records,
    outage,
    produce,
    read_all,
    running_worker,
    wait_until,
)

pytestmark = pytest.mark.integration

SECRET = "s3cret"


@contextmanager
def endpoint() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A local server: open records are taken (200), every other record fails (503)."""
    calls: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            record = orjson.loads(body)
            signed = webhook.verify(
                body, self.headers.get(webhook.SIGNATURE_HEADER, ""), SECRET, time.time()
            )
            calls.append({"record": record, "signed": signed})
            self.send_response(200 if record["state"] == "open" else 503)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", calls
    finally:
        server.shutdown()


def test_pages_arrive_signed_and_a_failing_endpoint_ends_in_dead_letters(
    isolated_settings: Settings,
) -> None:
    now = time.time()
    events = outage(now)
    with endpoint() as (url, calls):
        settings = dataclasses.replace(
            isolated_settings, webhook_url=url, webhook_secret=SECRET, webhook_events="all",
            webhook_slack=True, webhook_max_attempts=2,
        )  # fmt: skip
        with running_worker(settings) as worker:
            produce(settings, as_records(events))

            def letters() -> list[dict[str, Any]]:
                found = read_all(settings, settings.topic("dead-letters"))
                return [orjson.loads(r.value) for r in found]

            def failed() -> list[dict[str, Any]]:
                return [d for d in letters() if d["reason_code"] == "webhook_failed"]

            assert wait_until(lambda: bool(failed()), 90), worker.get_json("/api/stats")
            opened = [
                c for c in calls
                if c["record"]["state"] == "open"
                and c["record"]["incident_id"] == c["record"]["alert_id"]
            ]  # fmt: skip
            assert len(opened) == 1 and opened[0]["signed"], "the page, signed with the secret"
            assert opened[0]["record"]["kind"] == "moment_of_truth"
            assert opened[0]["record"]["text"].startswith(":rotating_light: *OPEN*")
            letter = failed()[0]
            record = orjson.loads(original_bytes(letter))
            assert (
                record["state"] != "open" and record["alert_id"] == opened[0]["record"]["alert_id"]
            )
            same = (record["alert_id"], record["emitted_at"])
            tries = [
                c for c in calls if (c["record"]["alert_id"], c["record"]["emitted_at"]) == same
            ]
            assert len(tries) == 2, "retried once, then dead-lettered"
            assert letter["got"] == "HTTP 503" and letter["source"]["topic"] == settings.topic(
                "alerts"
            )
            with urllib.request.urlopen(worker.url("/metrics"), timeout=2) as response:
                metrics = response.read().decode()
            assert 'closeknit_webhook_deliveries_total{outcome="dead_lettered"}' in metrics
            assert worker.get_json("/health")["status"] == "ok", "the worker carries on"
