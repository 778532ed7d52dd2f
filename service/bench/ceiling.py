"""The ceiling: what the broker and a bare aiokafka client do without closeknit in between.

- Consume rate: a group-less `AIOKafkaConsumer` with every partition of the pre-filled input
  topics assigned, reading from the beginning with `getmany(max_records=10000)` until it has
  every record. Timed from the first `getmany` call to the last record; default fetch sizes.
- One hop: records produced at the offered rate to a fresh 4-partition topic, each timed from
  the `send` call to its arrival at a consumer polling the same way as the latency probe's
  alert reader (`HOP_FETCH_WAIT_MS`). Every pipeline hop pays at least this much, so the
  event-to-alert latency is shown as a multiple of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from service.broker.admin import TopicSpec, ensure_topics, topic_partitions
from service.config import Settings
from service.evaluation.relationships import quantile
from service.sources.publish import publish
from service.sources.record import SourceRecord

MAX_RECORDS = 10_000
STALL_S = 15.0  # no record for this long: the ceiling run has failed
HOP_FETCH_WAIT_MS = 10  # Tansu answers an empty Fetch only after the full max wait
HOP_LINGER_MS = 0
HOP_PAYLOAD = b"x" * 200


class BenchError(RuntimeError):
    """A measurement could not be taken; the message says which and why."""


async def prefill(settings: Settings, records: Sequence[SourceRecord]) -> dict[str, Any]:
    """Publish `records` to the settings' input topics (created first); producer figures."""
    stats = await publish(
        records,
        bootstrap=settings.bootstrap_servers(),
        settings=settings,
        rate=None,
        speedup=None,
        on_progress=None,
    )
    return {
        "events": stats.total_published,
        "seconds": stats.elapsed,
        "events_per_s": stats.events_per_s,
    }


async def consume_rate(bootstrap: str, topics: Sequence[str], expected: int) -> dict[str, Any]:
    """Read `expected` records from the beginning of `topics`; the rate in records/s."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in await topic_partitions(bootstrap, topic)
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        count = 0
        cpu_before = time.process_time()
        start = last = time.perf_counter()
        while count < expected:
            batch = await consumer.getmany(timeout_ms=1000, max_records=MAX_RECORDS)
            got = sum(len(records) for records in batch.values())
            now = time.perf_counter()
            if got:
                count += got
                last = now
            elif now - last > STALL_S:
                raise BenchError(f"ceiling: read {count} of {expected} records, then nothing")
        seconds = last - start
        cpu_s = time.process_time() - cpu_before
    finally:
        await consumer.stop()
    return {
        "events": count,
        "seconds": seconds,
        "events_per_s": count / seconds,
        "cpu_us_per_event": 1e6 * cpu_s / count if count else None,
    }


async def hop_latency(
    bootstrap: str, topic: str, *, rate: float, seconds: float, partitions: int = 4
) -> dict[str, Any]:
    """One produce-to-consume hop at `rate` records/s for `seconds`: p50/p99 in seconds."""
    await ensure_topics(bootstrap, [TopicSpec(topic, partitions)])
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=HOP_FETCH_WAIT_MS,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=HOP_LINGER_MS)
    await consumer.start()
    await producer.start()
    sent: dict[bytes, float] = {}
    latencies: list[float] = []
    total = max(1, int(rate * seconds))

    async def receive() -> None:
        while len(latencies) < total:
            batch = await consumer.getmany(timeout_ms=200)
            now = time.time()
            for records in batch.values():
                for record in records:
                    if record.key in sent:
                        latencies.append(now - sent[record.key])

    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)  # a fresh topic: the beginning is the end
        reader = asyncio.create_task(receive())
        start = time.monotonic()
        for n in range(total):
            delay = start + n / rate - time.monotonic()
            if delay > 0.001:
                await asyncio.sleep(delay)
            key = str(n).encode()
            sent[key] = time.time()
            await producer.send(topic, HOP_PAYLOAD, key=key)
        await producer.flush()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(reader, timeout=10.0)
    finally:
        await producer.stop()
        await consumer.stop()
    if not latencies:
        raise BenchError("hop latency: no record came back")
    latencies.sort()
    return {
        "records": len(latencies),
        "offered_per_s": rate,
        "p50_s": quantile(latencies, 0.50),
        "p99_s": quantile(latencies, 0.99),
        "max_s": latencies[-1],
    }
