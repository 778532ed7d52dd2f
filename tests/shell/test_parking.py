"""A send on the ingest or dead-letter path never stops the stream, and the dead-letter
counter equals what reached the topic.

The real ingest agent runs under `agent.test_context()` (see test_agents.py) with a producer
that refuses records the way aiokafka does: over 1,000,000 bytes it raises
MessageSizeTooLargeError, which Faust's producer wraps in ProducerSendError.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from faust.exceptions import ProducerSendError
from faust.types.tuples import RecordMetadata

from service.core.schemas import compiled
from tests.shell.test_agents import (
    Harness,
    RecordingProducer,
    Sent,
    mention,
    run,
    short,
    until,
)
from tests.shell.test_agents import harness as harness  # the fixture

PRODUCER_LIMIT = 1_000_000


class RefusingProducer(RecordingProducer):
    """Refuses what is too large, every record for `refuse_topics`, and fails the delivery
    of every record for `fail_topics` after accepting it."""

    def __init__(self, refuse_topics: set[str], fail_topics: set[str], limit: int) -> None:
        super().__init__()
        self.refuse_topics = refuse_topics
        self.fail_topics = fail_topics
        self.limit = limit
        self.refused: list[Sent] = []

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None,
        timestamp: float | None,
        headers: Any,
        *,
        transactional_id: str | None = None,
    ) -> asyncio.Future[RecordMetadata]:
        size = len(key or b"") + len(value or b"")
        if size > self.limit or short(topic) in self.refuse_topics:
            self.refused.append(Sent(short(topic), key, value, partition))
            raise ProducerSendError(f"Error while sending: MessageSizeTooLargeError({size})")
        if short(topic) in self.fail_topics:
            self.records.append(Sent(short(topic), key, value, partition))
            failed: asyncio.Future[RecordMetadata] = asyncio.get_running_loop().create_future()
            failed.set_exception(ProducerSendError("broker said no"))
            return failed
        return await super().send(topic, key, value, partition, timestamp, headers)


def refusing(
    harness: Harness,
    refuse: set[str] | None = None,
    fail: set[str] | None = None,
    limit: int = PRODUCER_LIMIT,
) -> RefusingProducer:
    producer = RefusingProducer(refuse or set(), fail or set(), limit)
    harness.app.producer = producer
    return producer


def dead_letter_counts(harness: Harness) -> tuple[dict[str, float], dict[str, float]]:
    metrics = harness.pipeline.metrics
    return (
        metrics.totals("closeknit_dead_letters"),
        metrics.totals("closeknit_dead_letter_failures"),
    )


def feed(harness: Harness, records: list[tuple[bytes, bytes]], expect_sent: int) -> None:
    """Put every (value, key); wait until `expect_sent` records were accepted, then let the
    delivery callbacks run."""
    producer = harness.app.producer

    async def test() -> None:
        async with harness.agent("ingest") as agent:
            for value, key in records:
                await agent.put(value, key)
            await until(lambda: len(producer.sent) >= expect_sent, f"{expect_sent} sends")
            await asyncio.sleep(0.05)

    run(test)


def test_a_huge_record_is_dead_lettered_with_a_cut_original_and_ingest_goes_on(
    harness: Harness,
) -> None:
    producer = refusing(harness)
    huge = b'{"type": "mention", "text": "' + b"x" * 800_000 + b'"}'

    feed(harness, [(huge, b"big-1"), (mention("e2", "dave", ["erin"]), b"e2")], expect_sent=2)

    assert producer.refused == []
    (letter,) = producer.on("dead-letters")
    record = letter.json()
    compiled("dead_letter.v1")(record)
    assert record["reason_code"] == "oversize_message"
    assert record["original_truncated"] is True
    assert base64.b64decode(record["original_b64"]) == huge[:65536]
    assert [s.key for s in producer.on("interactions")] == [b"dave\terin"]
    assert dead_letter_counts(harness) == ({"oversize_message": 1.0}, {})


def test_a_letter_the_producer_refuses_is_sent_again_without_its_original(
    harness: Harness,
) -> None:
    # A limit between the bare letter and the full one: only the bare one gets through.
    producer = refusing(harness, limit=2_000)
    bad = b'{"type": "mention", "event_id": "' + b"b" * 1_500

    feed(harness, [(bad, b"bad-1")], expect_sent=1)

    assert [s.topic for s in producer.refused] == ["dead-letters"]
    (letter,) = producer.on("dead-letters")
    record = letter.json()
    compiled("dead_letter.v1")(record)
    assert (record["reason_code"], record["original_b64"]) == ("invalid_json", "")
    assert record["original_size"] == len(bad) and record["original_truncated"] is True
    assert dead_letter_counts(harness) == ({"invalid_json": 1.0}, {})


def test_a_letter_that_cannot_be_sent_is_counted_as_lost_and_the_stream_goes_on(
    harness: Harness,
) -> None:
    producer = refusing(harness, refuse={"dead-letters"})

    feed(harness, [(b"{", b"bad-1"), (mention("e2", "dave", ["erin"]), b"e2")], expect_sent=1)

    assert [s.topic for s in producer.refused] == ["dead-letters", "dead-letters"]
    assert [s.key for s in producer.on("interactions")] == [b"dave\terin"]
    assert dead_letter_counts(harness) == ({}, {"invalid_json": 1.0})


def test_a_letter_is_counted_only_once_the_broker_acknowledged_it(harness: Harness) -> None:
    refusing(harness, fail={"dead-letters"})

    feed(harness, [(b"{", b"bad-1")], expect_sent=1)

    assert dead_letter_counts(harness) == ({}, {"invalid_json": 1.0})


def test_an_interaction_send_that_raises_parks_the_event_and_the_stream_goes_on(
    harness: Harness,
) -> None:
    producer = refusing(harness, refuse={"interactions"})

    feed(
        harness,
        [(mention("e1", "ana", ["ben"]), b"e1"), (mention("e2", "cy", ["dee"]), b"e2")],
        expect_sent=2,
    )

    letters = [s.json() for s in producer.on("dead-letters")]
    assert [letter["reason_code"] for letter in letters] == ["internal_error"] * 2
    assert [base64.b64decode(letter["original_b64"]) for letter in letters] == [
        mention("e1", "ana", ["ben"]),
        mention("e2", "cy", ["dee"]),
    ]
    assert dead_letter_counts(harness) == ({"internal_error": 2.0}, {})
    assert harness.pipeline.metrics.totals("closeknit_events_valid") == {}
