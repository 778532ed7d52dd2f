"""Topic creation and offset arithmetic against a real (Tansu) broker."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from service.broker.admin import (
    TopicSpec,
    UnknownTopicError,
    committed_offsets,
    consumer_lag,
    ensure_topics,
    high_watermarks,
    topic_partitions,
)
from service.broker.child import BrokerProcess

pytestmark = pytest.mark.integration


async def produce_batched(bootstrap: str, topic: str, partition: int, count: int) -> None:
    """`count` records sent without awaiting each, so they leave in multi-record batches."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=50)
    await producer.start()
    try:
        pending = [
            await producer.send(topic, b"v%d" % i, partition=partition) for i in range(count)
        ]
        await producer.flush()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def commit(bootstrap: str, group_id: str, offsets: dict[TopicPartition, int]) -> None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(offsets)
    finally:
        await consumer.stop()


async def list_topics(bootstrap: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return await admin.list_topics()
    finally:
        await admin.close()


def test_ensure_topics_creates_missing_topics_once(broker: BrokerProcess, unique: str) -> None:
    specs = [
        TopicSpec(f"admin.{unique}.events", 3),
        TopicSpec(
            f"admin.{unique}.state", 1, {"cleanup.policy": "compact", "retention.ms": "60000"}
        ),
    ]

    assert asyncio.run(ensure_topics(broker.bootstrap, specs)) == [s.name for s in specs]
    assert asyncio.run(ensure_topics(broker.bootstrap, specs)) == []

    assert asyncio.run(topic_partitions(broker.bootstrap, specs[0].name)) == [0, 1, 2]
    assert asyncio.run(topic_partitions(broker.bootstrap, specs[1].name)) == [0]


def test_ensure_topics_tolerates_a_concurrent_creator(broker: BrokerProcess, unique: str) -> None:
    spec = TopicSpec(f"admin.{unique}.raced", 2)

    async def race() -> list[list[str]]:
        return list(
            await asyncio.gather(*(ensure_topics(broker.bootstrap, [spec]) for _ in range(4)))
        )

    created = asyncio.run(race())

    assert [name for names in created for name in names] == [spec.name]  # one creator, no error
    assert asyncio.run(topic_partitions(broker.bootstrap, spec.name)) == [0, 1]


def test_high_watermarks_count_a_multi_record_batch_exactly(
    broker: BrokerProcess, unique: str
) -> None:
    topic = f"admin.{unique}.batched"
    asyncio.run(ensure_topics(broker.bootstrap, [TopicSpec(topic, 2)]))
    asyncio.run(produce_batched(broker.bootstrap, topic, partition=0, count=150))

    assert asyncio.run(high_watermarks(broker.bootstrap, topic)) == {0: 150, 1: 0}


def test_looking_up_an_unknown_topic_does_not_create_it(broker: BrokerProcess, unique: str) -> None:
    # A Metadata request naming a topic makes Tansu auto-create it; the helpers must not.
    topic = f"admin.{unique}.absent"
    with pytest.raises(UnknownTopicError):
        asyncio.run(high_watermarks(broker.bootstrap, topic))
    assert topic not in asyncio.run(list_topics(broker.bootstrap))


def test_committed_offsets_and_lag(broker: BrokerProcess, unique: str) -> None:
    topic, group = f"admin.{unique}.lag", f"admin.{unique}.group"
    asyncio.run(ensure_topics(broker.bootstrap, [TopicSpec(topic, 2)]))
    asyncio.run(produce_batched(broker.bootstrap, topic, partition=0, count=150))
    asyncio.run(produce_batched(broker.bootstrap, topic, partition=1, count=5))

    assert asyncio.run(committed_offsets(broker.bootstrap, group, topic)) == {}
    assert asyncio.run(consumer_lag(broker.bootstrap, group, [topic])) == {topic: 155}

    asyncio.run(commit(broker.bootstrap, group, {TopicPartition(topic, 0): 100}))

    assert asyncio.run(committed_offsets(broker.bootstrap, group, topic)) == {0: 100}
    # 50 left on partition 0 (by the fetch high watermark, not ListOffsets) + 5 never read.
    assert asyncio.run(consumer_lag(broker.bootstrap, group, [topic])) == {topic: 55}
