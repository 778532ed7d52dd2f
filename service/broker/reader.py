"""Read a topic from outside any consumer group: for `tail`, the demo and tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from service.broker.admin import UnknownTopicError, topic_partitions
from service.kafka_security import client_kwargs


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int


async def read_topic(
    bootstrap: str,
    topic: str,
    *,
    from_beginning: bool = True,
    follow: bool = True,
    idle_timeout_s: float = 1.0,
    on_idle: Callable[[], None] | None = None,
) -> AsyncIterator[Record]:
    """Yield a topic's records; with `follow=False` stop once a fetch comes back empty.
    `on_idle` is called whenever one does (the reader has caught up, for now).

    Partitions are assigned by hand (no group), so reading never disturbs a worker's group
    and never waits on a rebalance.
    """
    consumer = AIOKafkaConsumer(
        **client_kwargs(),
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest",
    )
    try:
        await consumer.start()
        # Looked up by the admin client: it lists topics before describing one, since naming
        # a missing topic in a metadata request makes Tansu auto-create it (and reading
        # should never create anything). The consumer's own metadata would not do: it
        # only knows topics it was told to track.
        try:
            partitions = await topic_partitions(bootstrap, topic)
        except UnknownTopicError:
            raise LookupError(f"topic {topic!r} does not exist on this broker") from None
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        if from_beginning:
            await consumer.seek_to_beginning(*tps)
        else:
            await consumer.seek_to_end(*tps)
        while True:
            batch = await consumer.getmany(timeout_ms=int(idle_timeout_s * 1000), max_records=1000)
            if not batch:
                if on_idle is not None:
                    on_idle()
                if not follow:
                    return
            for tp_records in batch.values():
                for m in tp_records:
                    yield Record(m.topic, m.partition, m.offset, m.key, m.value, m.timestamp)
    finally:
        await consumer.stop()
