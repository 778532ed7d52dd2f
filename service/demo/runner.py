"""`closeknit demo`: broker, worker, the seeded scenario, live alerts, and a summary."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from service.broker.probe import find_free_port, port_is_free
from service.broker.reader import read_topic
from service.cli.render import render_record
from service.config import Settings
from service.demo.scenario import Scenario, build_scenario
from service.shell.drained import wait_drained
from service.shell.process import WorkerProcess
from service.shell.runtime import prepare_broker
from service.sources.publish import publish
from service.sources.record import SourceRecord

DEMO_RATE = 400.0  # events a second


class DemoFailed(RuntimeError):
    """The demo could not finish; the message says why and where to look."""


@dataclass
class Tally:
    alerts: Counter[tuple[str, str]] = field(default_factory=Counter)
    pages: Counter[str] = field(default_factory=Counter)  # incidents opened, by kind
    dead_letters: Counter[str] = field(default_factory=Counter)


def run_demo(settings: Settings, *, once: bool, seed: int, console: Console) -> int:
    scenario = build_scenario(seed)
    settings = _kept_apart(settings, console)
    with prepare_broker(settings, private=True) as ready:
        worker = WorkerProcess(ready, ready.data_dir / "demo-worker.log")
        where = "a private embedded" if ready.uses_embedded_broker else "the configured"
        console.print(
            f"[bold]closeknit demo[/]: {where} {ready.resolved_broker_kind} broker at "
            f"{ready.bootstrap_servers()}, worker log {worker.log_path}"
        )
        worker.start()
        try:
            worker.wait_ready(timeout_s=120)
            console.print(f"worker ready: API and metrics at {worker.url('/')}")
            return asyncio.run(_drive(ready, worker, scenario, once=once, console=console))
        finally:
            worker.stop()


def _kept_apart(settings: Settings, console: Console) -> Settings:
    """Settings that cannot collide with another demo or a worker already running here.

    The embedded broker is private to the demo (`prepare_broker(private=True)`). On a
    configured broker, which others share, the demo's topics and group get a run suffix.
    A web port already taken is swapped for a free one.
    """
    if not settings.uses_embedded_broker:
        run = uuid.uuid4().hex[:6]
        settings = replace(
            settings,
            app_id=f"{settings.app_id}-demo-{run}",
            topic_prefix=f"{settings.topic_prefix}demo-{run}.",
        )
        console.print(
            f"on the shared broker {settings.broker_url()} the demo uses its own topics "
            f"({settings.topic_prefix}*) and consumer group ({settings.app_id})"
        )
    if not port_is_free(settings.web_port, settings.web_host):
        port = find_free_port(settings.web_host)
        console.print(f"web port {settings.web_port} is in use; the demo serves on {port}")
        settings = replace(settings, web_port=port)
    return settings


async def _drive(
    settings: Settings, worker: WorkerProcess, scenario: Scenario, *, once: bool, console: Console
) -> int:
    tally = Tally()
    bootstrap = settings.bootstrap_servers()
    watchers = [
        asyncio.create_task(_watch(bootstrap, settings.topic("alerts"), "alerts", tally, console)),
        asyncio.create_task(
            _watch(bootstrap, settings.topic("dead-letters"), "dead-letters", tally, console)
        ),
    ]
    started = time.monotonic()
    records = [
        SourceRecord(
            kind=e.kind,
            event_id=e.key.decode(),
            event_time=e.event_time,
            payload=e.payload,
        )
        for e in scenario.events
    ]
    # Paced below what one worker keeps up with, so that its two input topics are read
    # side by side: published at once, one topic's partitions can run a week of event time
    # ahead of the other's, and the dedup horizon then refuses the laggards as too_late.
    await publish(
        records, bootstrap=bootstrap, settings=settings, rate=DEMO_RATE, speedup=None,
        on_progress=None,
    )  # fmt: skip
    console.print(
        f"published {len(records)} records "
        f"({scenario.duplicates} redelivered, "
        f"{sum(scenario.expected_dead_letters.values())} corrupted on purpose)"
    )
    await _wait_drained(worker, len(records), timeout_s=120)
    # The stages after the dyads (people, critics, bursts, alerts) trail them: wait until the
    # group has committed everything, then for bursts that close on later timer ticks.
    if await wait_drained(settings, timeout_s=90) is None:
        console.print("the later stages had not caught up after 90 s; summarising anyway")
    await _wait_alerts_settled(tally, quiet_s=6.0, timeout_s=60)
    stats = await asyncio.to_thread(worker.get_json, "/api/stats")
    relationships = await asyncio.to_thread(_relationship_answers, worker, scenario)
    _print_summary(console, scenario, stats, tally, time.monotonic() - started)
    _print_relationships(console, relationships)
    if not once:
        console.print(f"serving: dashboard/API at {worker.url('/')}. Ctrl-C to stop.")
        await asyncio.gather(*watchers)
    for task in watchers:
        task.cancel()
    return 0


async def _watch(bootstrap: str, topic: str, kind: str, tally: Tally, console: Console) -> None:
    async for record in read_topic(bootstrap, topic, from_beginning=True, follow=True):
        if record.value is None:
            continue
        data = orjson.loads(record.value)
        if kind == "alerts":
            tally.alerts[(data.get("kind", "?"), data.get("state", "?"))] += 1
            if data.get("state") == "open" and data.get("incident_id") == data.get("alert_id"):
                tally.pages[data.get("kind", "?")] += 1  # an incident's own open pages
        else:
            tally.dead_letters[data.get("reason_code", "?")] += 1
        console.print(render_record(kind, record.value))


async def _wait_alerts_settled(tally: Tally, quiet_s: float, timeout_s: float) -> None:
    """Bursts close on timer ticks after the stream drains: wait until alerts stop coming."""
    deadline = time.monotonic() + timeout_s
    seen, quiet_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        total = sum(tally.alerts.values())
        if total != seen:
            seen, quiet_since = total, time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_s:
            return
        await asyncio.sleep(0.5)


def _relationship_answers(worker: WorkerProcess, scenario: Scenario) -> dict[str, Any]:
    """What the query API says about the planted relationships."""
    top = worker.get_json("/api/people/top?limit=5")["people"]
    pairs = []
    for a, b in scenario.strongest_pairs:
        dyad = worker.get_json(f"/api/dyads/{a}/{b}")
        pairs.append((a, b, dyad["strength"], dyad["reciprocity"]))
    listed = worker.get_json("/api/clusters")["clusters"][:4]
    clusters = [worker.get_json(f"/api/clusters/{c['id']}") for c in listed]
    return {"top": top, "pairs": pairs, "clusters": clusters}


async def _wait_drained(worker: WorkerProcess, published: int, timeout_s: float) -> dict[str, Any]:
    """Poll the worker until every record is ingested and every interaction reached a dyad."""
    deadline = time.monotonic() + timeout_s
    stats: dict[str, Any] = {}
    while time.monotonic() < deadline:
        stats = await asyncio.to_thread(worker.get_json, "/api/stats")
        ingested = sum(stats["events_in"].values())
        reached = sum(stats["dyad_events"].values())
        if ingested >= published and reached >= stats["interactions_out"]:
            return stats
        await asyncio.sleep(0.3)
    raise DemoFailed(
        f"the scenario did not drain in {timeout_s:.0f} s "
        f"(ingested {sum(stats.get('events_in', {}).values())} of {published}); "
        f"see {worker.log_path}"
    )


def _print_relationships(console: Console, answers: dict[str, Any]) -> None:
    table = Table(title="relationships, from the query API", show_header=True)
    table.add_column("who / which tie")
    table.add_column("influence / strength", justify="right")
    table.add_column("note")
    for person in answers["top"]:
        ties = ", ".join(f"{t['partner']} {t['strength']:.2f}" for t in person["top_ties"][:3])
        table.add_row(
            person["id"],
            f"{person['influence']:.1f}",
            f"{person['strong_ties']} strong ties; strongest: {ties}",
        )
    for cluster in answers["clusters"]:
        members = ", ".join(cluster["members"][:8])
        table.add_row(
            f"cluster {cluster['id']}",
            f"{cluster.get('cohesion', 0.0):.2f}",
            f"{cluster.get('size', 0)} people, {cluster.get('state', '')}: {members}",
        )
    for a, b, strength, reciprocity in answers["pairs"]:
        table.add_row(
            f"{a} ↔ {b}",
            f"{strength:.2f}",
            f"planted: a heaviest Zachary friendship; reciprocity {reciprocity:.2f}",
        )
    console.print(table)


def _print_summary(
    console: Console, scenario: Scenario, stats: dict[str, Any], tally: Tally, elapsed: float
) -> None:
    table = Table(title="closeknit demo summary", show_header=True)
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_column("note")
    table.add_row(
        "records in",
        f"{sum(stats['events_in'].values()):.0f}",
        ", ".join(f"{k}: {v:.0f}" for k, v in sorted(stats["events_in"].items())),
    )
    table.add_row(
        "valid events",
        f"{sum(stats['events_valid'].values()):.0f}",
        ", ".join(f"{k}: {v:.0f}" for k, v in sorted(stats["events_valid"].items())),
    )
    table.add_row(
        "interactions by dyad",
        f"{stats['interactions_out']:.0f}",
        ", ".join(f"{k}: {v:.0f}" for k, v in sorted(stats["dyad_events"].items())),
    )
    expected = scenario.expected_dead_letters
    for reason, count in sorted(stats["dead_letters"].items()):
        table.add_row(
            f"dead letters: {reason}", f"{count:.0f}", f"planted {expected.get(reason, 0)}"
        )
    for (kind, state), count in sorted(tally.alerts.items()):
        table.add_row(f"alerts: {kind}", str(count), state)
    if not tally.alerts:
        table.add_row("alerts", "0", "no alert was raised")
    for kind, count in sorted(tally.pages.items()):
        table.add_row(f"pages: {kind}", str(count), "incidents that paged on-call")
    table.add_row("elapsed", f"{elapsed:.1f} s", "")
    console.print(table)
