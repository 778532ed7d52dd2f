"""Envelopes: the items one stage sends the next, packed one record per destination partition.

Each record a stage consumes costs Faust's per-record machinery (fetch, event, ack, commit
bookkeeping) far more than the core spends on the item, so internal hops (`interactions`,
`person-ties`) carry many items per record. An envelope holds only items whose keys the
default partitioner sends to the same partition, and is keyed by its first item's key, so it
lands where every one of its items belongs, and the table rows it writes (keyed by item) stay
in that partition's changelog. The form is `schemas/envelope.schema.json`.

A record without `"items"` is one item keyed by the record's key: control records and
records written before envelopes existed read the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka.partitioner import murmur2

ENVELOPE_VERSION = 1
# Well under the broker's and producer's 1 MiB defaults, with room for the wrapper.
MAX_ENVELOPE_BYTES = 512 * 1024


def partition_for(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner (murmur2, as aiokafka's) gives `key`."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


@dataclass(frozen=True, slots=True)
class Item:
    key: bytes
    value: dict[str, Any]
    raw: bytes | None = None  # the record's own bytes, when it was a single item


def pack(
    items: Iterable[tuple[bytes, bytes]],
    partitions: int,
    max_bytes: int = MAX_ENVELOPE_BYTES,
) -> list[tuple[bytes, bytes]]:
    """(key, JSON value) items as (key, envelope) records, one per destination partition
    (more if one would exceed `max_bytes`); items keep their order within a partition."""
    groups: dict[int, list[tuple[bytes, bytes]]] = {}
    for key, value in items:
        groups.setdefault(partition_for(key, partitions), []).append((key, value))
    records: list[tuple[bytes, bytes]] = []
    for group in groups.values():
        chunk: list[tuple[bytes, bytes]] = []
        size = 0
        for key, value in group:
            cost = len(key) + len(value) + 16
            if chunk and size + cost > max_bytes:
                records.append(_envelope(chunk))
                chunk, size = [], 0
            chunk.append((key, value))
            size += cost
        records.append(_envelope(chunk))
    return records


def _envelope(chunk: list[tuple[bytes, bytes]]) -> tuple[bytes, bytes]:
    body = {
        "v": ENVELOPE_VERSION,
        "items": [{"k": key.decode(), "v": orjson.Fragment(value)} for key, value in chunk],
    }
    return chunk[0][0], orjson.dumps(body)


def unpack(key: bytes | None, value: bytes | None) -> list[Item]:
    """The items of a record: an envelope's, or the record itself as one item.

    Raises ValueError (orjson.JSONDecodeError is one) on a record that is neither."""
    if value is None:
        raise ValueError("a tombstone on an internal topic")
    data = orjson.loads(value)
    if not isinstance(data, dict):
        raise ValueError("an internal record must be a JSON object")
    items = data.get("items")
    if items is None:
        if key is None:
            raise ValueError("a single-item record needs a key")
        return [Item(key, data, value)]
    if data.get("v") != ENVELOPE_VERSION or not isinstance(items, list):
        raise ValueError(f"unknown envelope version {data.get('v')!r}")
    return [Item(item["k"].encode(), item["v"]) for item in items]
