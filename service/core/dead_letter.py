"""Dead-letter records: a rejected input, why it was rejected and where it came from.

The record follows `schemas/dead_letter.v1.json`. The original bytes travel base64-encoded,
so input that is not UTF-8 (or not JSON at all) survives intact for inspection and replay.

A letter must always fit the producer's 1,000,000-byte request limit, or the stage that
refuses a record would crash on the refusal. So the original is kept only up to
`MAX_ORIGINAL_BYTES` (its SHA-256 and size always describe the whole of it), and a key
longer than `MAX_KEY_BYTES` is cut, the letter saying so.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from typing import Any

import orjson

from service.core.validation import Rejection

SCHEMA_VERSION = 1
# base64 of 512 KiB is 699,052 bytes; the rest of a letter (reason, field, expected, got,
# source, hashes) is under 3 KB and the key under MAX_KEY_BYTES: far below 1,000,000.
MAX_ORIGINAL_BYTES = 512 * 1024
# Input keys are event ids (at most 128 characters by the schemas); 1 KiB leaves room.
MAX_KEY_BYTES = 1024


def build_dead_letter(
    raw: bytes,
    rejection: Rejection,
    *,
    topic: str,
    partition: int,
    offset: int,
    received_at: float,
    max_original_bytes: int | None = None,
    key: bytes | None = None,
) -> dict[str, Any]:
    """The dead-letter record of `raw`, rejected for `rejection`, read at topic/partition/offset.

    `received_at` is Unix seconds. `max_original_bytes` caps the bytes kept in `original_b64`
    further (never above `MAX_ORIGINAL_BYTES`); `original_size` and `original_sha256` always
    describe the full record. `key` is the record's key: when it is too long to be the
    letter's key (see `letter_key`), its size and hash are recorded instead.
    """
    cap = MAX_ORIGINAL_BYTES if max_original_bytes is None else max_original_bytes
    kept = raw[: max(0, min(cap, MAX_ORIGINAL_BYTES))]
    letter: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "reason_code": rejection.code,
        "reason": rejection.message(),
        "field": rejection.field,
        "expected": rejection.expected,
        "got": rejection.got,
        "source": {"topic": topic, "partition": partition, "offset": offset},
        "received_at": _rfc3339_utc(received_at),
        "original_b64": base64.b64encode(kept).decode("ascii"),
        "original_size": len(raw),
        "original_truncated": len(kept) < len(raw),
        "original_sha256": hashlib.sha256(raw).hexdigest(),
    }
    if key is not None and len(key) > MAX_KEY_BYTES:
        letter["original_key_size"] = len(key)
        letter["original_key_sha256"] = hashlib.sha256(key).hexdigest()
    return letter


def dead_letter_json(
    raw: bytes,
    rejection: Rejection,
    *,
    topic: str,
    partition: int,
    offset: int,
    received_at: float,
    max_original_bytes: int | None = None,
    key: bytes | None = None,
) -> bytes:
    """`build_dead_letter` serialised with orjson, ready to produce."""
    return orjson.dumps(
        build_dead_letter(
            raw,
            rejection,
            topic=topic,
            partition=partition,
            offset=offset,
            received_at=received_at,
            max_original_bytes=max_original_bytes,
            key=key,
        )
    )


def letter_key(key: bytes | None) -> bytes | None:
    """The key a letter is sent with: the original key, cut to `MAX_KEY_BYTES`."""
    if key is None or len(key) <= MAX_KEY_BYTES:
        return key
    return key[:MAX_KEY_BYTES]


def without_original(letter: bytes) -> bytes:
    """The same letter with none of the original bytes: the last resort when the full
    letter could not be sent. Size and hash still identify the record."""
    record = orjson.loads(letter)
    record["original_b64"] = ""
    record["original_truncated"] = record["original_size"] > 0
    return orjson.dumps(record)


def original_bytes(record: dict[str, Any]) -> bytes:
    """The (possibly truncated) original record bytes carried by a dead-letter record."""
    return base64.b64decode(record["original_b64"], validate=True)


def _rfc3339_utc(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
