"""Topic administration and offset arithmetic on top of aiokafka's admin client.

Two broker behaviours shape this module (both measured on Tansu 0.6.0, see GUIDE.md):
- A Metadata request that names an unknown topic *creates* it (4 partitions), so topics are
  looked up in the full topic list before they are described, and created explicitly.
- ListOffsets(latest), i.e. `end_offsets()`, answers the base offset of the newest record
  batch + 1, which undercounts whenever that batch holds more than one record. The high
  watermark a Fetch response carries is right, so log ends are taken from Fetch here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import GroupCoordinatorNotAvailableError, TopicAlreadyExistsError, for_code

from service.kafka_security import client_kwargs

log = logging.getLogger(__name__)

_TOPIC_ALREADY_EXISTS = TopicAlreadyExistsError.errno
COORDINATOR_WAIT_S = 15.0
LEADER_WAIT_S = 10.0


class UnknownTopicError(LookupError):
    """The topic does not exist on the broker (and was deliberately not auto-created)."""


class TopicCreationError(RuntimeError):
    """The broker refused to create a topic."""


@dataclass(frozen=True)
class TopicSpec:
    """A topic closeknit needs: its name, partition count and topic-level configs."""

    name: str
    partitions: int
    configs: Mapping[str, str] = field(default_factory=dict)

    @property
    def compacted(self) -> bool:
        return self.configs.get("cleanup.policy") == "compact"


@contextlib.asynccontextmanager
async def admin_client(
    bootstrap: str, timeout_ms: int = 10_000
) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(
        **client_kwargs(), bootstrap_servers=bootstrap, request_timeout_ms=timeout_ms
    )
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


async def ensure_topics(
    bootstrap: str, specs: Sequence[TopicSpec], *, replication_factor: int = 1
) -> list[str]:
    """Create the topics in `specs` that do not exist yet; return the names created.

    Existing topics are left as they are (a partition-count mismatch is logged, not fixed).
    A concurrent creator winning the race (TopicAlreadyExists) is not an error.
    """
    async with admin_client(bootstrap) as admin:
        existing = set(await admin.list_topics())
        missing = [spec for spec in specs if spec.name not in existing]
        present = [spec for spec in specs if spec.name in existing]
        if present:
            await _warn_partition_mismatch(admin, present)
        if not missing:
            return []
        response = await admin.create_topics(
            [
                NewTopic(
                    spec.name, spec.partitions, replication_factor, topic_configs=dict(spec.configs)
                )
                for spec in missing
            ]
        )
    created = []
    for topic, code, *rest in response.topic_errors:
        if code == 0:
            created.append(topic)
        elif code != _TOPIC_ALREADY_EXISTS:
            message = rest[0] if rest and rest[0] else for_code(code).__name__
            raise TopicCreationError(f"cannot create topic {topic!r}: {message}")
    await _wait_for_leaders(bootstrap, created)
    order = {spec.name: i for i, spec in enumerate(specs)}
    return sorted(created, key=order.__getitem__)


async def _wait_for_leaders(bootstrap: str, topics: Sequence[str]) -> None:
    """Return once every partition of `topics` has a leader, or after LEADER_WAIT_S.

    Kafka elects a new topic's leaders a moment after CreateTopics answers; a producer
    that sends at once gets NotLeaderForPartition and retries. Waiting here keeps the
    first sends clean. (Tansu answers with leaders at once.)
    """
    if not topics:
        return
    deadline = time.monotonic() + LEADER_WAIT_S
    async with admin_client(bootstrap) as admin:
        while time.monotonic() < deadline:
            descriptions = await admin.describe_topics(list(topics))
            if all(
                p.get("leader", -1) >= 0 for d in descriptions for p in d.get("partitions") or [{}]
            ):
                return
            await asyncio.sleep(0.1)
    log.warning("some new topics had no partition leader after %.0f s", LEADER_WAIT_S)


async def topic_partitions(bootstrap: str, topic: str) -> list[int]:
    """Partition ids of an existing `topic`; `UnknownTopicError` if absent (never creates)."""
    async with admin_client(bootstrap) as admin:
        return await _partitions(admin, topic)


async def high_watermarks(bootstrap: str, topic: str, timeout: float = 10.0) -> dict[int, int]:
    """{partition: log end offset} as the Fetch high watermark reports it.

    Not `end_offsets()`: that is ListOffsets(latest), which Tansu answers with the base
    offset of the newest batch + 1: short by all but one record of that batch whenever it
    holds several (GUIDE.md, known defect 1).
    """
    async with admin_client(bootstrap) as admin:
        partitions = await _partitions(admin, topic)
    return await partition_high_watermarks(
        bootstrap, [TopicPartition(topic, p) for p in partitions], timeout
    )


async def committed_offsets(bootstrap: str, group_id: str, topic: str) -> dict[int, int]:
    """{partition: committed offset} of `group_id` on `topic`; uncommitted partitions are absent."""
    async with admin_client(bootstrap) as admin:
        partitions = await _partitions(admin, topic)
        # Partitions are always named: Tansu answers the "all topics" form of OffsetFetch
        # with a frame aiokafka cannot decode (the connection is then dropped).
        named = [TopicPartition(topic, p) for p in partitions]
        deadline = time.monotonic() + COORDINATOR_WAIT_S
        while True:
            try:
                offsets = await admin.list_consumer_group_offsets(group_id, partitions=named)
                break
            except GroupCoordinatorNotAvailableError:
                # Kafka creates __consumer_offsets on the first coordinator lookup and
                # answers "not available" until its partitions have leaders.
                if time.monotonic() >= deadline:
                    raise
                await asyncio.sleep(0.2)
    return {tp.partition: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}


async def consumer_lag(bootstrap: str, group_id: str, topics: Sequence[str]) -> dict[str, int]:
    """{topic: records not yet committed by `group_id`}, from Fetch high watermarks.

    A partition the group never committed counts from its log start offset.
    """
    lag: dict[str, int] = {}
    for topic in topics:
        ends = await high_watermarks(bootstrap, topic)
        committed = await committed_offsets(bootstrap, group_id, topic)
        starts = (
            await _log_start_offsets(bootstrap, topic, list(ends))
            if len(committed) < len(ends)
            else {}
        )
        lag[topic] = sum(
            max(end - committed.get(p, starts.get(p, 0)), 0) for p, end in ends.items()
        )
    return lag


async def _partitions(admin: AIOKafkaAdminClient, topic: str) -> list[int]:
    # Describing a topic by name would auto-create it, so check the full list first.
    if topic not in await admin.list_topics():
        raise UnknownTopicError(f"topic {topic!r} does not exist")
    (description,) = await admin.describe_topics([topic])
    return sorted(p["partition"] for p in description["partitions"])


async def _warn_partition_mismatch(admin: AIOKafkaAdminClient, specs: Sequence[TopicSpec]) -> None:
    for description in await admin.describe_topics([spec.name for spec in specs]):
        spec = next(s for s in specs if s.name == description["topic"])
        actual = len(description["partitions"])
        if actual != spec.partitions:
            log.warning(
                "topic %s exists with %d partitions, expected %d; left unchanged",
                spec.name,
                actual,
                spec.partitions,
            )


def offset_probe_consumer(bootstrap: str) -> AIOKafkaConsumer:
    """A group-less consumer for reading offsets and watermarks (start, assign, stop it)."""
    return AIOKafkaConsumer(
        **client_kwargs(),
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        # Tansu never answers a Fetch with max wait 0 on an empty partition; 10 ms it does.
        fetch_max_wait_ms=10,
        # Only the high watermark is wanted: keep the records fetched alongside it few.
        max_partition_fetch_bytes=1024,
        fetch_max_bytes=64 * 1024,
    )


async def partition_high_watermarks(
    bootstrap: str, partitions: Sequence[TopicPartition], timeout: float = 10.0
) -> dict[int, int]:
    """{partition: Fetch high watermark} for partitions of one topic (see `high_watermarks`)."""
    consumer = offset_probe_consumer(bootstrap)
    await consumer.start()
    try:
        consumer.assign(list(partitions))
        await consumer.seek_to_beginning(*partitions)
        deadline = time.monotonic() + timeout
        while True:
            marks = {tp.partition: consumer.highwater(tp) for tp in partitions}
            if all(mark is not None for mark in marks.values()):
                return {p: mark for p, mark in marks.items() if mark is not None}
            if time.monotonic() >= deadline:
                missing = sorted(p for p, mark in marks.items() if mark is None)
                raise TimeoutError(f"no Fetch response for partitions {missing} in {timeout} s")
            await consumer.getmany(timeout_ms=50)
    finally:
        await consumer.stop()


async def _log_start_offsets(bootstrap: str, topic: str, partitions: list[int]) -> dict[int, int]:
    consumer = offset_probe_consumer(bootstrap)
    await consumer.start()
    try:
        starts = await consumer.beginning_offsets([TopicPartition(topic, p) for p in partitions])
    finally:
        await consumer.stop()
    return {tp.partition: offset for tp, offset in starts.items()}


__all__ = [
    "TopicCreationError",
    "TopicSpec",
    "UnknownTopicError",
    "admin_client",
    "committed_offsets",
    "consumer_lag",
    "ensure_topics",
    "high_watermarks",
    "offset_probe_consumer",
    "partition_high_watermarks",
    "topic_partitions",
]
