"""Dead-letter records: a rejected input, why it was rejected and where it came from.

The record follows `schemas/dead_letter.v1.json`. The original bytes travel base64-encoded,
so input that is not UTF-8 (or not JSON at all) survives intact for inspection and replay.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import orjson

from service.core.validation import Rejection

SCHEMA_VERSION = 1


def build_dead_letter(
    raw: bytes,
    rejection: Rejection,
    *,
    topic: str,
    partition: int,
    offset: int,
    received_at: float,
    max_original_bytes: int | None = None,
) -> dict[str, Any]:
    """The dead-letter record of `raw`, rejected for `rejection`, read at topic/partition/offset.

    `received_at` is Unix seconds. `max_original_bytes` caps the bytes kept in `original_b64`
    (base64 adds a third, which can push a record near the input limit past the broker's
    message size); `original_size` always holds the full length.
    """
    kept = raw if max_original_bytes is None else raw[:max_original_bytes]
    return {
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
    }


def dead_letter_json(
    raw: bytes,
    rejection: Rejection,
    *,
    topic: str,
    partition: int,
    offset: int,
    received_at: float,
    max_original_bytes: int | None = None,
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
        )
    )


def original_bytes(record: dict[str, Any]) -> bytes:
    """The (possibly truncated) original record bytes carried by a dead-letter record."""
    return base64.b64decode(record["original_b64"], validate=True)


def _rfc3339_utc(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
