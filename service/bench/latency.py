"""Event-to-alert latency at a fixed offered load, on live timestamps.

The scenario (`build_scenario`) plants `critics` influencers and hides them in traffic:

- warm-up, sent first and drained: each critic exchanges two replies each way with five
  friends of their own (20 positive posts in their detector, more than its 20-observation
  warm-up; influence 5 x 4 = 20, above the default threshold of 10);
- the measured window, `rate` events/s for `seconds` s, each stamped with the wall clock as
  it is sent (event time = now): filler mentions and replies among 20,000 other people with
  the workload's text mix (15% product complaints), and, spread evenly over the window, five
  sharply negative posts by each critic, 0.25 s apart. The third or fourth turns the critic's
  short mean negative and opens an `influencer_turned_negative` alert. Which one, and that
  every critic gets one, is taken from the in-process AlertReplay (`reference_triggers`).

Latency of one alert: the Kafka timestamp of its `open` record on the alerts topic (stamped
by the worker's producer as it sends it) minus the wall-clock time at which the benchmark
handed the triggering event to its producer. The triggering event is the alert's own newest
evidence message: the post whose processing raised it, whichever of the critic's posts the
worker happened to process fourth. `seen` latency is measured the same way to the moment a
consumer polling the alerts topic had the record (one more broker hop).

Why critics and not complaint bursts: a moment-of-truth alert fires when an event-time
minute closes, two minutes of allowed lateness after it ends, and only after a day of
learned baseline, so its event-to-alert time is set by the window, not by the pipeline.

When the worker cannot keep up, an alert may not come before the deadline (`drain_s` after
the window). Such an alert is censored: it counts with the lower bound deadline - send time
of its expected trigger, and a percentile that a censored value can reach is reported as a
lower bound (`p99_lower_bound`).
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from service.bench import NEGATIVE_TEXTS, POSITIVE_TEXTS, TEXT_MIX, pick_text, process_cpu_s
from service.bench.ceiling import HOP_FETCH_WAIT_MS, HOP_LINGER_MS
from service.bench.pipeline import (
    poll_stats,
    run_settings,
    start_workers,
    stop_workers,
)
from service.broker.admin import ensure_topics, topic_partitions
from service.broker.child import BrokerProcess
from service.config import Settings
from service.core.interaction import Kind
from service.evaluation.alerts import AlertReplay
from service.evaluation.relationships import quantile
from service.shell.drained import wait_drained
from service.shell.process import WorkerProcess
from service.shell.topics import topic_specs
from service.sources.record import SourceRecord

ALERT_KIND = "influencer_turned_negative"
FRIENDS = 5
EXCHANGES = 2  # replies each way per friend
NEGATIVE_POSTS = 5
NEGATIVE_GAP_S = 0.25
FILLER_PEOPLE = 20_000
FILLER_REPLY_SHARE = 0.2
LEAD_S = 1.0  # no critic post in the first and last second of the window
WARMUP_TIMEOUT_S = 90.0


@dataclass(frozen=True, slots=True)
class Planned:
    """One event of the scenario, stamped with its event time only when it is sent."""

    event_id: str
    reply: bool
    author: str
    target: str
    text: str
    brands: tuple[str, ...] = ()
    critic: str | None = None  # set on a critic's negative posts

    def payload(self, event_time: float) -> bytes:
        event: dict[str, Any] = {
            "type": "reply" if self.reply else "mention",
            "schema_version": 1,
            "event_id": self.event_id,
            "event_time": _rfc3339(event_time),
            "author_id": self.author,
            "text": self.text,
        }
        if self.reply:
            event["in_reply_to_author_id"] = self.target
        else:
            event["target_ids"] = [self.target]
        if self.brands:
            event["brands"] = list(self.brands)
        return orjson.dumps(event)

    @property
    def topic(self) -> str:
        return "replies" if self.reply else "mentions"


@dataclass
class Scenario:
    warmup: list[Planned]
    window: list[Planned]  # one event every 1/rate s
    critics: list[str]
    rate: float
    seconds: float
    triggers: dict[str, str] = field(default_factory=dict)  # critic -> its reference trigger


def build_scenario(
    critics: int, rate: float, seconds: float, *, tag: str = "run", seed: int = 11
) -> Scenario:
    """The warm-up and the measured window (the module docstring), deterministic for a seed."""
    rng = random.Random(seed)
    ids = iter(range(10**9))

    def next_id() -> str:
        return f"lat-{tag}-{next(ids)}"

    names = [f"critic{c:04d}" for c in range(critics)]
    warmup = []
    for critic in names:
        for k in range(FRIENDS):
            friend = f"{critic}-friend{k}"
            for _ in range(EXCHANGES):
                warmup.append(Planned(next_id(), True, friend, critic, rng.choice(POSITIVE_TEXTS)))
                warmup.append(Planned(next_id(), True, critic, friend, rng.choice(POSITIVE_TEXTS)))
    slots = max(1, int(rate * seconds))
    window: list[Planned | None] = [None] * slots
    span = max(0.0, seconds - 2 * LEAD_S - NEGATIVE_POSTS * NEGATIVE_GAP_S)
    for c, critic in enumerate(names):
        begin = LEAD_S + span * c / max(1, critics)
        for n in range(NEGATIVE_POSTS):
            slot = min(slots - 1, round((begin + n * NEGATIVE_GAP_S) * rate))
            while window[slot] is not None:
                slot = (slot + 1) % slots
            friend = f"{critic}-friend{n % FRIENDS}"
            post = Planned(next_id(), False, critic, friend, rng.choice(NEGATIVE_TEXTS), (), critic)
            window[slot] = post
    kinds = [kind for kind, _ in TEXT_MIX]
    weights = [share for _, share in TEXT_MIX]
    filled: list[Planned] = []
    for planned in window:
        if planned is None:
            author, target = rng.sample(range(FILLER_PEOPLE), 2)
            text, brand = pick_text(rng.choices(kinds, weights)[0], rng)
            planned = Planned(
                next_id(),
                rng.random() < FILLER_REPLY_SHARE,
                f"p{author}",
                f"p{target}",
                text,
                (brand,) if brand else (),
            )
        filled.append(planned)
    scenario = Scenario(warmup, filled, names, rate, seconds)
    scenario.triggers = reference_triggers(scenario)
    return scenario


def reference_triggers(scenario: Scenario) -> dict[str, str]:
    """critic -> the event id that opens their alert in the in-process AlertReplay, with the
    warm-up at t0 and window events 1/rate apart a minute later (filler left out: it shares
    no one with the critics)."""
    replay = AlertReplay()
    t0 = 1_767_225_600.0  # 2026-01-01, any fixed past time
    for n, planned in enumerate(scenario.warmup):
        replay.feed(_record(planned, t0 + n * 1e-3))
    start = t0 + 60.0
    for n, planned in enumerate(scenario.window):
        if planned.critic is not None:
            replay.feed(_record(planned, start + n / scenario.rate))
    out = {}
    for record in replay.records:
        if record["kind"] == ALERT_KIND and record["state"] == "open":
            out[record["subject"]["id"]] = record["evidence"]["messages"][0]["event_id"]
    return out


def _record(planned: Planned, t: float) -> SourceRecord:
    kind: Kind = "reply" if planned.reply else "mention"
    return SourceRecord(kind, planned.event_id, t, planned.payload(t))


def _rfc3339(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- the live run ---------------------------------------------------------------------------


@dataclass
class _Alert:
    subject: str
    trigger: str
    timestamp_s: float  # the record's Kafka timestamp
    seen_s: float  # when the reader had it


def measure_latency(
    broker: BrokerProcess,
    scenario: Scenario,
    *,
    tag: str,
    work_dir: Path,
    partitions: int = 4,
    drain_s: float = 10.0,
    worker_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One live run of `scenario` against a fresh worker (the module docstring)."""
    (settings,) = run_settings(broker, tag, work_dir, partitions=partitions)
    asyncio.run(ensure_topics(settings.bootstrap_servers(), topic_specs(settings)))
    procs = start_workers([settings], work_dir, worker_env or {})
    try:
        procs[0].wait_ready(timeout_s=120)
        pid = procs[0].process.pid if procs[0].process is not None else None
        return asyncio.run(_drive(settings, scenario, procs, drain_s, pid, broker.pid))
    finally:
        stop_workers(procs)


async def _drive(
    settings: Settings,
    scenario: Scenario,
    procs: list[WorkerProcess],
    drain_s: float,
    worker_pid: int | None,
    broker_pid: int | None,
) -> dict[str, Any]:
    bootstrap = settings.bootstrap_servers()
    alerts: dict[str, _Alert] = {}
    reader = asyncio.create_task(_read_alerts(bootstrap, settings.topic("alerts"), alerts))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=HOP_LINGER_MS, acks="all")
    await producer.start()
    sent: dict[str, float] = {}
    try:
        for planned in scenario.warmup:
            await producer.send(
                settings.topic(planned.topic),
                planned.payload(time.time()),
                key=planned.event_id.encode(),
            )
        await producer.flush()
        warmup_drained = await wait_drained(settings, WARMUP_TIMEOUT_S) is not None
        cpu_before = (process_cpu_s(worker_pid), process_cpu_s(broker_pid))
        started = time.monotonic()
        for n, planned in enumerate(scenario.window):
            delay = started + n / scenario.rate - time.monotonic()
            if delay > 0.001:
                await asyncio.sleep(delay)
            now = time.time()
            sent[planned.event_id] = now
            await producer.send(
                settings.topic(planned.topic), planned.payload(now), key=planned.event_id.encode()
            )
        await producer.flush()
        window_s = time.monotonic() - started
        cpu_after = (process_cpu_s(worker_pid), process_cpu_s(broker_pid))
        stats_at_end = await asyncio.to_thread(poll_stats, procs)
        deadline = time.time() + drain_s
        expected = set(scenario.triggers)
        while time.time() < deadline and not expected <= set(alerts):
            await asyncio.sleep(0.1)
        deadline = min(deadline, time.time())
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        await producer.stop()
    return _result(
        scenario,
        sent,
        alerts,
        deadline,
        window_s,
        warmup_drained,
        stats_at_end,
        [_share(cpu_before[i], cpu_after[i], window_s) for i in range(2)],
    )


def _share(before: float | None, after: float | None, seconds: float) -> float | None:
    return (after - before) / seconds if before is not None and after is not None else None


async def _read_alerts(bootstrap: str, topic: str, alerts: dict[str, _Alert]) -> None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=HOP_FETCH_WAIT_MS,
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in await topic_partitions(bootstrap, topic)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        while True:
            batch = await consumer.getmany(timeout_ms=200)
            seen = time.time()
            for records in batch.values():
                for record in records:
                    alert = orjson.loads(record.value or b"null")
                    if not alert or alert.get("kind") != ALERT_KIND or alert["state"] != "open":
                        continue
                    subject = alert["subject"]["id"]
                    messages = alert.get("evidence", {}).get("messages") or [{}]
                    alerts.setdefault(
                        subject,
                        _Alert(
                            subject, messages[0].get("event_id", ""), record.timestamp / 1000, seen
                        ),
                    )
    finally:
        await consumer.stop()


def _result(
    scenario: Scenario,
    sent: dict[str, float],
    alerts: dict[str, _Alert],
    deadline: float,
    window_s: float,
    warmup_drained: bool,
    stats: dict[str, float] | None,
    cpu: list[float | None],
) -> dict[str, Any]:
    record_lat: list[float] = []
    seen_lat: list[float] = []
    unmatched = 0
    for critic in scenario.triggers:
        alert = alerts.get(critic)
        if alert is None:
            continue
        if alert.trigger not in sent:
            unmatched += 1
            continue
        record_lat.append(alert.timestamp_s - sent[alert.trigger])
        seen_lat.append(alert.seen_s - sent[alert.trigger])
    censored = [
        deadline - sent[trigger]
        for critic, trigger in scenario.triggers.items()
        if critic not in alerts and trigger in sent
    ]
    window_events = len(scenario.window)
    ingested = stats["events_in"] - len(scenario.warmup) if stats else None
    return {
        "offered_per_s": scenario.rate,
        "achieved_per_s": window_events / window_s if window_s > 0 else None,
        "window_s": window_s,
        "window_events": window_events,
        "critics": len(scenario.critics),
        "expected_alerts": len(scenario.triggers),
        "alerts": len(record_lat),
        "censored": len(censored),
        "unmatched_trigger": unmatched,
        "warmup_events": len(scenario.warmup),
        "warmup_drained": warmup_drained,
        "backlog_at_window_end": window_events - ingested if ingested is not None else None,
        "cpu_share": {"worker": cpu[0], "broker": cpu[1]},
        **_percentiles("record", record_lat, censored),
        **_percentiles("seen", seen_lat, censored),
    }


def _percentiles(name: str, observed: list[float], censored: list[float]) -> dict[str, Any]:
    values = sorted(observed + censored)
    n = len(values)
    out: dict[str, Any] = {}
    for label, q in (("p50", 0.50), ("p99", 0.99)):
        key = f"{name}_{label}_s" if name != "record" else f"{label}_s"
        out[key] = quantile(values, q) if values else None
        out[f"{key.removesuffix('_s')}_lower_bound"] = len(censored) > (1.0 - q) * n
    if name == "record":
        out["max_s"] = values[-1] if values else None
    return out
