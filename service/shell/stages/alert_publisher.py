"""Alerts agent: detector signals and on-call actions in (keyed by route key); alerts out.

Every detector sends its `AlertSignal` to alert-signals under the alert's route key
(service.core.incidents.route_key: `incident:<brand>` for moments of truth and critics of a
brand, else the dedup_key), and on-call sends actions to alert-actions under the same key,
so one agent partition owns each alert's whole lifecycle (service.core.alerts: dedup, rate
limit, cooldown, ack, snooze, resolve), the incident it may fold into, and their table rows
(entries under the dedup_key, incidents under `incident:<scope>`). An action keyed by its
dedup_key, as before incidents, is forwarded to its route key. Records go to the alerts topic
keyed by dedup_key.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from service.core import alerts, incidents
from service.core.schemas import JsonSchemaValueException, compiled
from service.core.validation import Rejection, rejection_from_schema_error
from service.shell import webhook_sink
from service.shell.stages.parking import park, park_after_error

if TYPE_CHECKING:
    from faust.types import StreamT

    from service.shell.pipeline import Pipeline, Table


SWEEP = "sweep"
SWEEP_INTERVAL_S = 30.0


async def send_signal(
    pipeline: Pipeline, signal: alerts.AlertSignal, ingested_at: float | None = None
) -> None:
    """`ingested_at`: wall time the triggering event was ingested (for the latency metric)."""
    data = alerts.signal_to_dict(signal)
    if ingested_at is not None:
        data["ingested_at"] = ingested_at
    key = incidents.route_key(signal.kind, signal.subject_id, signal.topic)
    await pipeline.send("alert-signals", key.encode(), orjson.dumps(data))


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


class TableStore:
    """The alerts table as an `incidents.AlertStore`: entries and incidents in their stored
    dict forms, written back as they change."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def entry(self, dedup_key: str) -> alerts.AlertEntry | None:
        stored = self.table.get(dedup_key.encode())
        return alerts.entry_from_dict(stored) if stored else None

    def put_entry(self, dedup_key: str, entry: alerts.AlertEntry) -> None:
        self.table[dedup_key.encode()] = alerts.entry_to_dict(entry)

    def incident(self, scope: str) -> incidents.Incident | None:
        stored = self.table.get((incidents.INCIDENT_PREFIX + scope).encode())
        return incidents.Incident.from_dict(stored) if stored else None

    def put_incident(self, scope: str, incident: incidents.Incident) -> None:
        self.table[(incidents.INCIDENT_PREFIX + scope).encode()] = incident.to_dict()


def register(pipeline: Pipeline) -> None:
    app = pipeline.app
    metrics = pipeline.metrics
    table = pipeline.table("alert_entries")
    pipeline.alert_entries = table
    store = TableStore(table)
    source = app.topic(
        pipeline.settings.topic("alert-signals"),
        pipeline.settings.topic("alert-actions"),
        key_type=bytes,
        value_type=bytes,
    )
    actions_topic = pipeline.settings.topic("alert-actions")

    sink = webhook_sink.register(pipeline)
    stale_after_s = pipeline.settings.critic_stale_hours * 3600.0
    alerts_topic = pipeline.settings.topic("alerts")

    async def publish(emitted: alerts.Emitted) -> None:
        record = emitted.record
        metrics.alerts.labels(record["kind"], record["state"]).inc()
        if emitted.pages:
            metrics.pages.labels(record["kind"]).inc()
        key = str(record["dedup_key"]).encode()
        delivery = await app.producer.send(
            alerts_topic, key, orjson.dumps(record), None, None, None
        )
        if sink is not None and sink.wants(emitted.pages):
            await sink.offer(record, delivery)

    async def on_action(msg: Any) -> None:
        action = parse_action(msg.value)
        if isinstance(action, Rejection):
            await park(pipeline, msg, action)
            return
        dedup_key = action["dedup_key"]
        route = incidents.route_key_from_dedup(dedup_key)
        if msg.key == dedup_key.encode() and route != dedup_key:
            # Keyed as before incidents: on to the partition that owns it now.
            await pipeline.send("alert-actions", route.encode(), msg.value)
            return
        for emitted in incidents.act_on(
            store, dedup_key, action["action"], action.get("until"), action["by"],
            action["event_time"],
        ):  # fmt: skip
            await publish(emitted)

    async def on_signal(data: dict[str, Any]) -> None:
        if data.get("op") == SWEEP:  # from the timer below: is this critic alert stale?
            emitted = incidents.sweep_stale(store, data["key"], float(data["t"]), stale_after_s)
            if emitted is not None:
                await publish(emitted)
            return
        ingested_at = data.pop("ingested_at", None)
        out = incidents.observe(store, alerts.signal_from_dict(data))
        if out and ingested_at is not None:
            metrics.ingest_to_alert.observe(max(0.0, time.time() - ingested_at))
        for emitted in out:
            await publish(emitted)

    @app.agent(source, name="closeknit.alerts")
    async def alerting(stream: StreamT) -> None:
        async for event in stream.events():
            msg = event.message
            try:
                if msg.topic == actions_topic:
                    await on_action(msg)
                else:
                    await on_signal(orjson.loads(msg.value))
            except Exception as exc:
                await park_after_error(pipeline, msg, "alerts", exc)

    @app.timer(SWEEP_INTERVAL_S)
    async def sweep() -> None:
        """Ask each open critic alert held here whether it went stale, in its own partition
        (a table is written only from its stream)."""
        now = pipeline.low_watermark()
        if now is None:
            return
        for key, stored in list(table.items()):
            record = stored.get("r") if isinstance(stored, dict) else None
            if not record or record.get("kind") != "influencer_turned_negative":
                continue
            if not stored["f"][0]:
                continue  # closed already
            # The stored form's last signal ("s") and last record ("e") times: no need to
            # rebuild (and deep-copy) the entry of every open critic every 30 s.
            last = stored.get("s") if stored.get("s") is not None else stored["e"]
            if now - float(last) < stale_after_s:
                continue
            check = {"op": SWEEP, "key": key.decode(), "t": now}
            await pipeline.send("alert-signals", incidents.route_key_of(record).encode(),
                                orjson.dumps(check))  # fmt: skip
