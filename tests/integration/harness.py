"""Helpers for integration tests that drive a real worker process on the session broker."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from service.broker.child import BrokerProcess
from service.broker.reader import Record, read_topic
from service.config import Settings, load_settings, settings_env
from service.core import ties
from service.core.envelope import unpack
from service.core.validation import EventValidator
from service.shell.process import WorkerProcess
from service.shell.runtime import prepare_broker

# A crashed worker's partitions wait this long for the group to notice (Kafka's default
# 60 s would make each SIGKILL test wait a minute); Tansu keeps its own short default.
TEST_SESSION_TIMEOUT_S = {"tansu": None, "kafka": 10.0}


def settings_on(broker: BrokerProcess, **overrides: Any) -> Settings:
    """Settings that treat the session `broker` as the embedded broker of its kind.

    CLOSEKNIT_BROKER stays unset and the embedded port points at it, so a worker applies
    that kind's settings (on Tansu: short session timeout, changelog fence, short fetch
    wait). The caller's own CLOSEKNIT_* variables are ignored.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSEKNIT_")}
    return load_settings(
        env,
        embedded_broker=broker.kind,
        embedded_port=broker.port,
        session_timeout_s=TEST_SESSION_TIMEOUT_S[broker.kind],
        **overrides,
    )


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a `closeknit` subprocess that runs with exactly `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSEKNIT_")}
    env.update(settings_env(settings), **extra)
    return env


@contextmanager
def running_worker(settings: Settings, log_name: str = "worker.log") -> Iterator[WorkerProcess]:
    with prepare_broker(settings, start_embedded=False) as ready:
        worker = WorkerProcess(ready, Path(ready.data_dir) / log_name)
        worker.start()
        try:
            worker.wait_ready(timeout_s=90)
            yield worker
        finally:
            worker.stop()


def produce(settings: Settings, records: list[tuple[str, bytes | None, bytes | None]]) -> None:
    """Send (short topic, key, value) records and wait until the broker has them all."""

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers(), linger_ms=5)
        await producer.start()
        try:
            for topic, key, value in records:
                await producer.send(settings.topic(topic), value, key=key)
            await producer.flush()
        finally:
            await producer.stop()

    asyncio.run(send())


def read_all(settings: Settings, topic: str) -> list[Record]:
    """Every record of a topic (full name) as it stands now."""

    async def read() -> list[Record]:
        return [r async for r in read_topic(settings.bootstrap_servers(), topic, follow=False)]

    return asyncio.run(read())


def read_items(settings: Settings, topic: str) -> list[Record]:
    """`read_all` for an internal topic: each envelope's items as records of their own, at
    the envelope's position (service.core.envelope)."""
    return [
        dataclasses.replace(record, key=item.key, value=orjson.dumps(item.value))
        for record in read_all(settings, topic)
        for item in unpack(record.key, record.value)
    ]


def wait_until(check: Callable[[], bool], timeout_s: float, interval_s: float = 0.3) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError, KeyError):
            if check():
                return True
        time.sleep(interval_s)
    return False


def mention(n: int, author: str, target: str, t: float, **extra: Any) -> dict[str, Any]:
    return {
        "type": "mention",
        "schema_version": 1,
        "event_id": f"ev-{n}",
        "event_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)),
        "author_id": author,
        "target_ids": [target],
        "text": "see you at practice",
        **extra,
    }


def reply(n: int, author: str, target: str, t: float, **extra: Any) -> dict[str, Any]:
    event = mention(n, author, target, t, **extra)
    event["type"] = "reply"
    event.pop("target_ids")
    event["in_reply_to_author_id"] = target
    return event


def complaints(start: float, count: int, per_minute: int, first_id: int) -> list[dict[str, Any]]:
    """`count` outage complaints to acme from 40 customers, `per_minute` a minute."""
    return [
        mention(
            first_id + n, f"cust{n % 40}", "acme", start + n * 60.0 / per_minute,
            text="@acme outage again, the router is down and no internet", brands=["acme"],
        )
        for n in range(count)
    ]  # fmt: skip


def outage(now: float) -> list[dict[str, Any]]:
    """A moment of truth for acme: one complaint two days ago starts the baseline, then 3 a
    minute for 40 minutes, ending an hour ago."""
    return complaints(now - 2 * 86400, 1, 1, 0) + complaints(now - 100 * 60, 120, 3, 1)


def as_records(events: list[dict[str, Any]]) -> list[tuple[str, bytes | None, bytes | None]]:
    return [
        ("replies" if e["type"] == "reply" else "mentions", str(e["event_id"]).encode(),
         orjson.dumps(e))
        for e in events
    ]  # fmt: skip


def clean_run(events: list[dict[str, Any]], params: ties.TieParams) -> dict[tuple[str, str], Any]:
    """The reference: every event applied once, in order, by the same core, no broker."""
    validator = EventValidator()
    states: dict[tuple[str, str], ties.DyadState] = {}
    for event in events:
        interaction = validator.validate(orjson.dumps(event), now=time.time())
        assert not hasattr(interaction, "code"), interaction
        for target in interaction.targets:  # type: ignore[union-attr]
            key = ties.dyad_key(interaction.actor, target)  # type: ignore[union-attr]
            result = ties.apply(
                states.get(key), interaction.actor, target, interaction.kind,  # type: ignore[union-attr]
                interaction.event_time, interaction.sentiment, interaction.scopes,  # type: ignore[union-attr]
                interaction.event_id, params,  # type: ignore[union-attr]
            )  # fmt: skip
            states[key] = result.state
    return states


def dyad_weights(worker: WorkerProcess, pair: tuple[str, str], at: float) -> tuple[float, float]:
    data = worker.get_json(f"/api/dyads/{pair[0]}/{pair[1]}?at={at}")
    return data["weight_ab"], data["weight_ba"]
