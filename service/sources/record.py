"""What every source yields: schema-format events to publish, skipped lines, invalid lines.

A source turns a file into a stream of `SourceRecord` (an event in the mention/reply v1
format, ready to publish), `SkippedLine` (a line that is fine but is not a mention or reply)
and `LineError` (a line that cannot be used, with a message saying why).
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO, Any, Literal, cast

import orjson

Kind = Literal["mention", "reply"]


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One event to publish: `payload` is the schema-format JSON, `kind` picks the topic."""

    kind: Kind
    event_id: str
    event_time: float
    payload: bytes


@dataclass
class SkippedLine:
    """A well-formed line that is not published (e.g. a retweet); `reason` groups the summary."""

    line: int
    reason: str


@dataclass
class LineError:
    """A line that cannot be used; `message` names the field, what was expected and got."""

    line_no: int
    message: str


SourceItem = SourceRecord | SkippedLine | LineError

SELF_INTERACTION = "self-interaction: author and target are the same person"
"""Skip reason for an edge from a person to themself: the validator rejects such events
(code `self_mention`), so converters skip them rather than publish dead letters."""


@lru_cache(maxsize=4096)
def rfc3339(ts: float) -> str:
    """Unix seconds as RFC 3339 UTC with a `Z`, whole seconds unless there is a fraction."""
    whole = int(ts // 1)
    micros = min(round((ts - whole) * 1_000_000), 999_999)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    if micros == 0:
        return base + "Z"
    return f"{base}.{micros:06d}".rstrip("0") + "Z"


def render_event(event: dict[str, Any]) -> bytes:
    """The schema-format JSON bytes of an event dict (compact, UTF-8)."""
    return orjson.dumps(event)


def _add_optional(
    event: dict[str, Any],
    sentiment: float | None,
    source: str | None,
    brands: Collection[str],
    products: Collection[str],
    topics: Collection[str],
    inbound: bool | None = None,
) -> bytes:
    """Add the optional fields that have a value, then render."""
    if inbound is not None:
        event["inbound"] = inbound
    if sentiment is not None:
        event["sentiment"] = sentiment
    if source is not None:
        event["source"] = source
    for name, tags in (("brands", brands), ("products", products), ("topics", topics)):
        if tags:
            event[name] = list(tags)
    return render_event(event)


def mention_record(
    *,
    event_id: str,
    event_time: float,
    author_id: str,
    target_ids: Iterable[str],
    text: str = "",
    source: str | None = None,
    brands: Collection[str] = (),
    products: Collection[str] = (),
    topics: Collection[str] = (),
    sentiment: float | None = None,
    inbound: bool | None = None,
) -> SourceRecord:
    """A mention v1 event: `author_id` mentions each of `target_ids`."""
    event: dict[str, Any] = {
        "type": "mention",
        "schema_version": 1,
        "event_id": event_id,
        "event_time": rfc3339(event_time),
        "author_id": author_id,
        "target_ids": list(target_ids),
        "text": text,
    }
    payload = _add_optional(event, sentiment, source, brands, products, topics, inbound)
    return SourceRecord("mention", event_id, event_time, payload)


def reply_record(
    *,
    event_id: str,
    event_time: float,
    author_id: str,
    in_reply_to_author_id: str,
    in_reply_to_event_id: str | None = None,
    text: str = "",
    source: str | None = None,
    brands: Collection[str] = (),
    products: Collection[str] = (),
    topics: Collection[str] = (),
    sentiment: float | None = None,
    inbound: bool | None = None,
) -> SourceRecord:
    """A reply v1 event: `author_id` replies to a post by `in_reply_to_author_id`."""
    event: dict[str, Any] = {
        "type": "reply",
        "schema_version": 1,
        "event_id": event_id,
        "event_time": rfc3339(event_time),
        "author_id": author_id,
        "in_reply_to_author_id": in_reply_to_author_id,
        "text": text,
    }
    if in_reply_to_event_id is not None:
        event["in_reply_to_event_id"] = in_reply_to_event_id
    payload = _add_optional(event, sentiment, source, brands, products, topics, inbound)
    return SourceRecord("reply", event_id, event_time, payload)


def open_text(path: Path) -> IO[str]:
    """Open a text file for line-by-line reading, gunzipping `*.gz` transparently."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return path.open("r", encoding="utf-8", newline="")


def open_binary(path: Path) -> IO[bytes]:
    """Open a file for reading bytes, gunzipping `*.gz` transparently."""
    if path.suffix == ".gz":
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")
