"""route_input: a refused record becomes one dead letter that the producer can always send."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import orjson

from service.core.dead_letter import MAX_KEY_BYTES, original_bytes
from service.core.routing import SourcePosition, route_input
from service.core.schemas import compiled
from service.core.validation import EventValidator

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC).timestamp()
POSITION = SourcePosition("closeknit.mentions", 2, 77)
PRODUCER_LIMIT = 1_000_000  # Faust's producer_max_request_size
validator = EventValidator()  # max_message_bytes 65536


def good() -> bytes:
    return orjson.dumps(
        {
            "type": "mention",
            "schema_version": 1,
            "event_id": "tw-1",
            "event_time": "2026-11-22T09:30:00Z",
            "author_id": "ana",
            "target_ids": ["ben"],
            "text": "hi",
        }
    )


def test_a_record_near_the_broker_limit_becomes_a_letter_that_fits_the_producer() -> None:
    raw = b'{"type": "mention", "text": "' + b"x" * 990_000 + b'"}'

    routed = route_input(raw, b"tw-9", POSITION, now=NOW, validator=validator)

    (letter,) = routed.outgoing
    assert letter.topic == "dead-letters" and letter.key == b"tw-9"
    assert len(letter.value) + len(letter.key or b"") < PRODUCER_LIMIT
    record = orjson.loads(letter.value)
    compiled("dead_letter.v1")(record)
    assert record["reason_code"] == "oversize_message"
    assert original_bytes(record) == raw[: validator.max_message_bytes]
    assert record["original_truncated"] is True
    assert record["original_size"] == len(raw)
    assert record["original_sha256"] == hashlib.sha256(raw).hexdigest()


def test_a_huge_key_makes_the_record_oversize_and_the_letter_key_is_cut() -> None:
    key = b"k" * 900_000

    routed = route_input(good(), key, POSITION, now=NOW, validator=validator)

    (letter,) = routed.outgoing
    assert routed.rejection is not None and routed.rejection.code == "oversize_message"
    assert letter.key == key[:MAX_KEY_BYTES]
    record = orjson.loads(letter.value)
    compiled("dead_letter.v1")(record)
    assert original_bytes(record) == good(), "the value itself was small and is kept whole"
    assert record["original_key_size"] == len(key)
    assert record["original_key_sha256"] == hashlib.sha256(key).hexdigest()


def test_key_and_value_together_count_toward_the_limit() -> None:
    small = EventValidator(max_message_bytes=len(good()) + 10)

    fits = route_input(good(), b"k" * 10, POSITION, now=NOW, validator=small)
    over = route_input(good(), b"k" * 11, POSITION, now=NOW, validator=small)

    assert fits.rejection is None and [o.topic for o in fits.outgoing] == ["interactions"]
    assert over.rejection is not None and over.rejection.code == "oversize_message"


def test_a_record_within_the_limit_is_kept_whole_in_its_letter() -> None:
    raw = b'{"type": "share", "pad": "' + b"p" * 60_000 + b'"}'

    (letter,) = route_input(raw, None, POSITION, now=NOW, validator=validator).outgoing

    record = orjson.loads(letter.value)
    assert record["reason_code"] == "unknown_event_type"
    assert original_bytes(record) == raw and record["original_truncated"] is False
    assert letter.key is None


def test_a_valid_reply_on_the_mentions_topic_is_dead_lettered_as_wrong_topic() -> None:
    reply = orjson.loads(good())
    reply.update(type="reply", in_reply_to_author_id="ben")
    del reply["target_ids"]

    on_mentions = route_input(
        orjson.dumps(reply), b"r1", POSITION, now=NOW, validator=validator, topic_kind="mention"
    )
    on_replies = route_input(
        orjson.dumps(reply), b"r1", POSITION, now=NOW, validator=validator, topic_kind="reply"
    )

    assert on_mentions.rejection is not None and on_mentions.rejection.code == "wrong_topic"
    assert [o.topic for o in on_mentions.outgoing] == ["dead-letters"]
    assert [o.topic for o in on_replies.outgoing] == ["interactions"]
