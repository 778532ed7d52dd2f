"""Alerts agent: detector signals and on-call actions in (keyed by dedup_key); alerts out.

Every detector sends its `AlertSignal` to alert-signals under the alert's dedup_key, and
on-call sends actions to alert-actions under the same key, so one agent partition owns each
alert's whole lifecycle (service.core.alerts: dedup, rate limit, cooldown, ack, snooze,
resolve) and its table row. Records go to the alerts topic keyed by dedup_key.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from service.core import alerts
from service.core.schemas import JsonSchemaValueException, compiled
from service.core.validation import Rejection, rejection_from_schema_error
from service.shell.stages.parking import park, park_after_error

if TYPE_CHECKING:
    from faust.types import StreamT

    from service.shell.pipeline import Pipeline


def signal_to_dict(signal: alerts.AlertSignal) -> dict[str, Any]:
    return {
        "kind": signal.kind,
        "subject_id": signal.subject_id,
        "step": signal.step,
        "at": signal.at,
        "score": signal.score,
        "start": signal.start,
        "evidence": dict(signal.evidence),
        "topic": signal.topic,
        "severity": signal.severity,
    }


def signal_from_dict(data: dict[str, Any]) -> alerts.AlertSignal:
    return alerts.AlertSignal(**data)


async def send_signal(
    pipeline: Pipeline, signal: alerts.AlertSignal, ingested_at: float | None = None
) -> None:
    """`ingested_at`: wall time the triggering event was ingested (for the latency metric)."""
    data = signal_to_dict(signal)
    if ingested_at is not None:
        data["ingested_at"] = ingested_at
    await pipeline.send("alert-signals", signal.dedup_key.encode(), orjson.dumps(data))


def parse_action(raw: bytes | None) -> dict[str, Any] | Rejection:
    """An alert_action.v1 record with times as Unix seconds, or why it is not one."""
    try:
        data = orjson.loads(raw or b"")
    except orjson.JSONDecodeError:
        return Rejection("invalid_json", None, "a JSON alert_action v1 record", "not JSON")
    try:
        compiled("alert_action.v1")(data)
    except JsonSchemaValueException as exc:
        return rejection_from_schema_error(exc)
    for field in ("event_time", "until"):
        if field in data:
            data[field] = datetime.fromisoformat(data[field]).timestamp()
    return data


def register(pipeline: Pipeline) -> None:
    app = pipeline.app
    metrics = pipeline.metrics
    table = pipeline.table("alert_entries")
    pipeline.alert_entries = table
    source = app.topic(
        pipeline.settings.topic("alert-signals"),
        pipeline.settings.topic("alert-actions"),
        key_type=bytes,
        value_type=bytes,
    )
    actions_topic = pipeline.settings.topic("alert-actions")

    async def publish(key: bytes, entry: alerts.AlertEntry | None, emitted: Any) -> None:
        if entry is not None:
            table[key] = alerts.entry_to_dict(entry)
        elif key in table:
            del table[key]
        if emitted is None:
            return
        record = emitted.record
        metrics.alerts.labels(record["kind"], record["state"]).inc()
        if emitted.pages:
            metrics.pages.labels(record["kind"]).inc()
        await pipeline.send("alerts", key, orjson.dumps(record))

    @app.agent(source, name="closeknit.alerts")
    async def alerting(stream: StreamT) -> None:
        async for event in stream.events():
            msg = event.message
            key: bytes = msg.key
            stored = table.get(key)
            entry = alerts.entry_from_dict(stored) if stored else None
            try:
                if msg.topic == actions_topic:
                    action = parse_action(msg.value)
                    if isinstance(action, Rejection):
                        await park(pipeline, msg, action)
                        continue
                    entry, emitted = alerts.act(
                        entry, action["action"], action.get("until"), action["by"],
                        action["event_time"],
                    )  # fmt: skip
                else:
                    data = orjson.loads(msg.value)
                    ingested_at = data.pop("ingested_at", None)
                    signal = signal_from_dict(data)
                    entry, emitted = alerts.step(entry, signal)
                    if emitted is not None and ingested_at is not None:
                        metrics.ingest_to_alert.observe(max(0.0, time.time() - ingested_at))
                await publish(key, entry, emitted)
            except Exception as exc:
                await park_after_error(pipeline, msg, "alerts", exc)
