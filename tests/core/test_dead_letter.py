"""Dead-letter records follow dead_letter.v1 and carry the original bytes intact."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.core.dead_letter import (
    MAX_KEY_BYTES,
    MAX_ORIGINAL_BYTES,
    build_dead_letter,
    dead_letter_json,
    letter_key,
    original_bytes,
    without_original,
)
from service.core.schemas import compiled, schemas_dir
from service.core.validation import EventValidator, Rejection

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC).timestamp()
SOURCE = {"topic": "closeknit.mentions", "partition": 3, "offset": 41872}
validate_dead_letter = compiled("dead_letter.v1")
validator = EventValidator()


def rejection_of(raw: bytes) -> Rejection:
    result = validator.validate(raw, NOW)
    assert isinstance(result, Rejection), result
    return result


def test_a_dead_letter_records_the_rejection_and_where_the_record_came_from() -> None:
    raw = b'{"type": "share"}'
    rejection = rejection_of(raw)

    record = build_dead_letter(raw, rejection, received_at=1795339800.5, **SOURCE)

    validate_dead_letter(record)
    assert record == {
        "schema_version": 1,
        "reason_code": "unknown_event_type",
        "reason": rejection.message(),
        "field": "$.type",
        "expected": rejection.expected,
        "got": '"share"',
        "source": SOURCE,
        "received_at": "2026-11-22T09:30:00.500Z",
        "original_b64": base64.b64encode(raw).decode(),
        "original_size": len(raw),
        "original_truncated": False,
        "original_sha256": hashlib.sha256(raw).hexdigest(),
    }


def test_input_that_is_not_utf8_survives_the_round_trip() -> None:
    raw = b'{"type": "mention", "text": "caf\xe9 \xff\xfe"}'
    rejection = rejection_of(raw)
    assert rejection.code == "not_utf8"

    record = orjson.loads(dead_letter_json(raw, rejection, received_at=NOW, **SOURCE))

    validate_dead_letter(record)
    assert record["field"] is None
    assert original_bytes(record) == raw


def test_the_json_form_is_the_dict_form_serialised() -> None:
    raw = b"[]"
    rejection = rejection_of(raw)

    as_json = dead_letter_json(raw, rejection, received_at=NOW, **SOURCE)

    assert orjson.loads(as_json) == build_dead_letter(raw, rejection, received_at=NOW, **SOURCE)


def test_the_kept_original_can_be_capped_and_says_so() -> None:
    raw = b"x" * 1000
    rejection = Rejection("oversize_message", None, "a record of at most 10 bytes", "1000 bytes")

    record = build_dead_letter(raw, rejection, received_at=NOW, max_original_bytes=64, **SOURCE)

    validate_dead_letter(record)
    assert original_bytes(record) == raw[:64]
    assert (record["original_size"], record["original_truncated"]) == (1000, True)


def test_the_original_is_never_kept_beyond_the_cap_whatever_the_caller_asks() -> None:
    raw = b"y" * (MAX_ORIGINAL_BYTES + 10)
    rejection = Rejection("oversize_message", None, "a record of at most 10 bytes", "big")

    for asked in (None, 10 * MAX_ORIGINAL_BYTES):
        record = build_dead_letter(
            raw, rejection, received_at=NOW, max_original_bytes=asked, **SOURCE
        )
        assert len(original_bytes(record)) == MAX_ORIGINAL_BYTES
        assert record["original_truncated"] is True
        assert record["original_sha256"] == hashlib.sha256(raw).hexdigest()


def test_a_letter_for_a_record_near_the_broker_limit_fits_the_producer_request() -> None:
    # The producer refuses requests over 1,000,000 bytes; base64 alone grows 4/3.
    raw = b"z" * 999_000
    key = b"k" * 999_000
    rejection = Rejection("oversize_message", None, "a record of at most 65536 bytes", "big")

    letter = dead_letter_json(raw, rejection, received_at=NOW, key=key, **SOURCE)

    assert len(letter) + len(letter_key(key) or b"") < 1_000_000
    validate_dead_letter(orjson.loads(letter))


def test_a_huge_key_is_cut_for_the_letter_and_described_in_it() -> None:
    key = bytes(range(256)) * 20
    rejection = Rejection("oversize_message", None, "a record of at most 10 bytes", "big")

    record = build_dead_letter(b"{}", rejection, received_at=NOW, key=key, **SOURCE)

    validate_dead_letter(record)
    assert letter_key(key) == key[:MAX_KEY_BYTES]
    assert record["original_key_size"] == len(key)
    assert record["original_key_sha256"] == hashlib.sha256(key).hexdigest()


def test_a_key_that_fits_is_the_letter_key_and_adds_nothing() -> None:
    key = b"k" * MAX_KEY_BYTES
    rejection = Rejection("invalid_json", None, "a JSON document", "x")

    record = build_dead_letter(b"{", rejection, received_at=NOW, key=key, **SOURCE)

    assert letter_key(key) == key
    assert letter_key(None) is None
    assert "original_key_size" not in record and "original_key_sha256" not in record


def test_the_last_resort_letter_drops_the_original_but_keeps_size_and_hash() -> None:
    raw = b'{"type": "share"}'
    full = dead_letter_json(raw, rejection_of(raw), received_at=NOW, **SOURCE)

    bare = orjson.loads(without_original(full))

    validate_dead_letter(bare)
    assert bare["original_b64"] == ""
    assert (bare["original_size"], bare["original_truncated"]) == (len(raw), True)
    assert bare["original_sha256"] == orjson.loads(full)["original_sha256"]


@pytest.mark.parametrize(
    "path",
    sorted((schemas_dir() / "examples").glob("*/invalid/*.json")),
    ids=lambda path: f"{path.parent.parent.name}/{path.name}",
)
def test_every_rejected_example_makes_a_valid_dead_letter(path: Path) -> None:
    raw = path.read_bytes()
    result = validator.validate(raw, NOW)
    if not isinstance(result, Rejection):
        pytest.skip("not an input event")

    record = build_dead_letter(raw, result, received_at=NOW, **SOURCE)

    validate_dead_letter(record)
    assert original_bytes(record) == raw


@settings(deadline=None)
@given(raw=st.binary(max_size=300), offset=st.integers(min_value=0, max_value=2**62))
def test_any_rejected_bytes_make_a_valid_dead_letter_that_round_trips(
    raw: bytes, offset: int
) -> None:
    result = validator.validate(raw, NOW)
    if not isinstance(result, Rejection):
        return

    record = orjson.loads(
        dead_letter_json(
            raw, result, topic="closeknit.replies", partition=0, offset=offset, received_at=NOW
        )
    )

    validate_dead_letter(record)
    assert original_bytes(record) == raw
