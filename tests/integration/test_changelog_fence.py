"""The changelog fence makes Tansu's ListOffsets(latest) answer the true log end.

This pins GUIDE.md's defect 1 and closeknit's way around it: after a multi-record batch,
ListOffsets(latest) (what Faust's recovery reads up to) is short of the fetch high
watermark; after `fence_changelogs` appends a one-record batch, the two agree again.
"""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from service.broker.admin import TopicSpec, ensure_topics, high_watermarks
from service.broker.child import BrokerProcess
from service.shell.runtime import fence_changelogs

pytestmark = pytest.mark.integration


async def list_offsets_latest(bootstrap: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        return (await consumer.end_offsets([tp]))[tp]
    finally:
        await consumer.stop()


async def scenario(bootstrap: str) -> tuple[int, int, int, int]:
    topic = "fence-check-changelog"
    await ensure_topics(bootstrap, [TopicSpec(topic, 1)])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=50)
    await producer.start()
    try:
        for n in range(150):  # not awaited one by one, so they share batches
            await producer.send(topic, b"v", key=str(n).encode(), partition=0)
        await producer.flush()
    finally:
        await producer.stop()
    before = (
        await list_offsets_latest(bootstrap, topic),
        (await high_watermarks(bootstrap, topic))[0],
    )
    await fence_changelogs(bootstrap, [topic])
    after = (
        await list_offsets_latest(bootstrap, topic),
        (await high_watermarks(bootstrap, topic))[0],
    )
    return (*before, *after)


def test_fence_makes_list_offsets_reach_the_log_end(tansu_broker: BrokerProcess) -> None:
    listed_before, end_before, listed_after, end_after = asyncio.run(
        scenario(tansu_broker.bootstrap)
    )
    assert end_before == 150
    assert listed_before < end_before, "Tansu's ListOffsets defect (GUIDE.md) is present"
    assert end_after == 151  # the fence record itself
    assert listed_after == end_after


def test_kafka_needs_no_fence(kafka_broker: BrokerProcess) -> None:
    """On Apache Kafka ListOffsets(latest) is the log end already, so the worker skips the
    fence there (BrokerQuirks.fence_changelogs); the fence is harmless if it were sent."""
    listed_before, end_before, listed_after, end_after = asyncio.run(
        scenario(kafka_broker.bootstrap)
    )
    assert listed_before == end_before == 150
    assert listed_after == end_after == 151
