"""The live dashboard in a real headless Chromium, on a real worker fed the demo scenario.

Needs Debian's `chromium` (at /usr/bin/chromium) and the `playwright` Python package; the
browser comes from the system, never from `playwright install`. Saves a screenshot to
tests/artifacts/dashboard.png.
"""

from __future__ import annotations

import dataclasses
import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from service.config import Settings
from service.demo.scenario import build_scenario
from service.shell.process import WorkerProcess
from tests.conftest import ARTIFACTS
from tests.integration.harness import produce, running_worker, wait_until

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TOKEN = "dash-t0ken"
INSTALL_HINT = "install with: apt-get install -y chromium; the Makefile's test target does this"


def _sync_playwright():  # type: ignore[no-untyped-def]
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: {INSTALL_HINT}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright Python package is missing: pip install -e '.[dev]'")
    return sync_playwright


def _fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _post(url: str, body: dict) -> int:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _alerts_settled(worker: WorkerProcess, polls: int = 3, interval_s: float = 1.0) -> bool:
    """True once `/api/alerts` gave the same answer `polls` times, `interval_s` apart."""
    seen = [worker.get_json("/api/alerts")]
    for _ in range(polls - 1):
        time.sleep(interval_s)
        seen.append(worker.get_json("/api/alerts"))
    return all(answer == seen[0] for answer in seen)


def test_the_dashboard_shows_a_replayed_alert_in_headless_chromium(
    isolated_settings: Settings,
) -> None:
    sync_playwright = _sync_playwright()
    settings = dataclasses.replace(isolated_settings, api_token=TOKEN)
    scenario = build_scenario()
    records: list[tuple[str, bytes | None, bytes | None]] = [
        ("replies" if e.kind == "reply" else "mentions", e.key, e.payload) for e in scenario.events
    ]
    with running_worker(settings, "dashboard-worker.log") as worker:
        status, body = _fetch(worker.url("/"))
        assert status == 200 and b"dashboard.js" in body, (
            "GET / does not serve the dashboard: is dashboard.register(pipeline) in build_app?"
        )
        assert _fetch(worker.url("/static/..%2F..%2Fconfig.py"))[0] == 404

        produce(settings, records)
        assert wait_until(
            lambda: any(a["open"] for a in worker.get_json("/api/alerts")["alerts"]), 120, 1.0
        ), worker.get_json("/api/stats")
        # Alerts open and resolve while the scenario plays: pick the card to look for only
        # once the alert list has stopped changing, or it may resolve before the page loads.
        assert wait_until(lambda: _alerts_settled(worker), 90, 0.1), "alerts never settled"
        alerts = worker.get_json("/api/alerts?state=open")["alerts"]
        kinds = {a["kind"] for a in alerts}
        assert kinds, "the scenario left no alert open"
        expected = "moment_of_truth" if "moment_of_truth" in kinds else sorted(kinds)[0]
        # The graph owner lists clusters once its timer has observed the tribe.
        wait_until(lambda: bool(worker.get_json("/api/overview")["clusters"]), 30, 1.0)

        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / "dashboard.png"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                outside: list[str] = []
                page.on(
                    "request",
                    lambda r: None if r.url.startswith(worker.url("")) else outside.append(r.url),
                )
                errors: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.goto(worker.url("/") + f"#token={TOKEN}")
                card = page.locator(".alert-card", has_text=expected).first
                card.wait_for(state="visible", timeout=20_000)
                assert expected in card.inner_text()
                # On-call acks from the card: the worker writes the action, the alert shows it.
                card.locator("button.act-ack").click()
                page.locator(".alert-card", has_text="acked").first.wait_for(timeout=30_000)
                page.locator("#people .person").first.wait_for(state="visible", timeout=10_000)
                assert page.locator("#people .person").count() >= 3
                page.locator("#clusters svg circle").first.wait_for(timeout=20_000)
                assert page.locator("#clusters svg line").count() >= 1
                page.locator("#throughput tbody tr").first.wait_for(timeout=5_000)
                assert "mentions" in page.locator("#throughput").inner_text()
                page.wait_for_timeout(2500)  # a second poll: events/s from two polls
                page.screenshot(path=str(shot), full_page=True)
            finally:
                browser.close()
        acked = [a for a in worker.get_json("/api/alerts")["alerts"] if a["actions"]["acked"]]
        assert acked and acked[0]["kind"] == expected
        assert acked[0]["actions"]["resolved_by"] is None
        refused = _post(worker.url("/api/alerts/action"), {"dedup_key": acked[0]["dedup_key"],
                                                            "action": "resolve"})  # fmt: skip
        assert refused == 401, "with a token set, the buttons need it"
        assert not errors, errors
        assert not outside, f"the page fetched outside the worker: {outside}"
        assert shot.stat().st_size > 10_000
