"""A complaint burst pages once; on-call's snooze, ack (from `closeknit alert`) and resolve
show in the alert's records.

Runs a real worker: complaints travel ingest -> dyads -> people -> bursts -> alerts, and the
actions arrive on the alert-actions topic like any on-call tool would send them.
"""

from __future__ import annotations

import subprocess
import sys
import time

import orjson
import pytest

from service.config import Settings
from service.core.schemas import compiled
from tests.integration.harness import (
    as_records,
    cli_env,
    outage,
    produce,
    read_all,
    running_worker,
    wait_until,
)

pytestmark = pytest.mark.integration

DEDUP_KEY = "moment_of_truth:acme"


def iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def action(n: int, what: str, at: float, **extra: str) -> tuple[str, bytes, bytes]:
    record = {
        "type": "alert_action", "schema_version": 1, "event_id": f"act-{n}",
        "event_time": iso(at), "dedup_key": DEDUP_KEY, "action": what, "by": "oncall-anna",
        **extra,
    }  # fmt: skip
    return ("alert-actions", DEDUP_KEY.encode(), orjson.dumps(record))


def closeknit(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service", *args],
        env=cli_env(settings), capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def alert_records(settings: Settings) -> list[dict]:
    return [orjson.loads(r.value) for r in read_all(settings, settings.topic("alerts"))]


def test_a_burst_opens_once_and_on_call_actions_show_in_its_records(
    isolated_settings: Settings,
) -> None:
    settings = isolated_settings
    now = time.time()
    events = outage(now)
    with running_worker(settings) as worker:
        produce(settings, as_records(events))
        assert wait_until(lambda: any(r["state"] == "open" for r in alert_records(settings)), 60), (
            worker.get_json("/api/stats")
        )
        opened = [
            r for r in alert_records(settings)
            if r["state"] == "open" and r["incident_id"] == r["alert_id"]
        ]  # fmt: skip
        assert len(opened) == 1, "a storm pages once: one incident (overall and outage)"
        alert = opened[0]
        assert alert["kind"] == "moment_of_truth" and alert["dedup_key"] == DEDUP_KEY
        assert alert["evidence"]["complainers"] >= 2 and alert["evidence"]["messages"]

        at = now - 30 * 60
        # On-call acks from the command line, by alert_id; a typo is refused with a hint.
        typo = closeknit(settings, "alert", "ack", "moment_of_truth:acm")
        assert typo.returncode == 2 and "tail alerts" in typo.stderr
        acked = closeknit(settings, "alert", "ack", alert["alert_id"], "--by", "oncall-bob",
                          "--at", iso(at - 1))  # fmt: skip
        assert acked.returncode == 0, acked.stderr
        assert wait_until(
            lambda: any(r.get("actions", {}).get("acked") for r in alert_records(settings)), 30
        ), "the CLI's ack changes the alert seen on the alerts topic"
        # Other tools key actions by dedup_key, as before incidents: forwarded, still applied.
        produce(settings, [
            action(1, "snooze", at, until=iso(at + 7200)),
            action(3, "resolve", at + 2),
            ("alert-actions", DEDUP_KEY.encode(), b'{"action": "escalate"}'),  # not a contract
        ])  # fmt: skip

        def acted() -> bool:
            return any(r["state"] == "resolved" and r.get("actions", {}).get("resolved_by")
                       for r in alert_records(settings))  # fmt: skip

        assert wait_until(acted, 30)
        every = alert_records(settings)
        for record in every:
            compiled("alert.v1")(record)
        assert {r["incident_id"] for r in every} == {alert["alert_id"]}, "one incident throughout"
        folded = {r["dedup_key"] for r in every} - {DEDUP_KEY}
        assert folded == {"moment_of_truth:acme:outage"}, "the outage category's burst"
        # Why: the worker explains the brand's detectors and a complainer's critic gates.
        explained = closeknit(settings, "explain", "brand", "acme")
        assert explained.returncode == 0, explained.stderr
        assert "surge" in explained.stdout and "warm_up" in explained.stdout
        person = worker.get_json("/api/explain/person/cust1")
        assert [g["gate"] for g in person["gates"]][-1] == "influence"
        assert person["silent_because"] in {g["gate"] for g in person["gates"]}
        last_folded = [r for r in every if r["dedup_key"] in folded][-1]
        assert last_folded["state"] == "resolved", "resolving an incident resolves its parts"
        assert last_folded["actions"]["resolved_by"] == "oncall-anna"
        records = [r for r in every if r["dedup_key"] == DEDUP_KEY]
        assert {r["alert_id"] for r in records} == {alert["alert_id"]}, "one alert throughout"
        after = [r for r in records if r.get("actions")]
        assert any(r["actions"].get("snoozed_until") for r in after)
        assert any(r["actions"].get("acked") for r in after)
        assert records[-1]["state"] == "resolved"
        assert records[-1]["actions"]["resolved_by"] == "oncall-anna"
        assert wait_until(
            lambda: worker.get_json("/api/stats")["dead_letters"].get("missing_field", 0) >= 1, 20
        ), "the malformed action is dead-lettered"
