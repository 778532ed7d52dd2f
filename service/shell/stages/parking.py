"""Parking a record on the dead-letter topic: the one way every agent refuses input.

Parking never raises. A letter the producer refuses (too large, buffer full) is sent again
without the original bytes; only if that fails too is the record lost, and then it is
logged by position and counted in `closeknit_dead_letter_failures`. The dead-letter
counter goes up only when the broker has acknowledged the letter, so it equals what the
topic holds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import orjson

from service.core.dead_letter import dead_letter_json, letter_key, without_original
from service.core.envelope import Item
from service.core.routing import SourcePosition
from service.core.validation import Rejection

if TYPE_CHECKING:
    from faust.types import EventT
    from faust.types.tuples import Message

    from service.shell.metrics import Metrics
    from service.shell.pipeline import Pipeline

log = logging.getLogger(__name__)

INTERNAL_ERROR = Rejection(
    code="internal_error",
    field=None,
    expected="a record closeknit can process",
    got="an unexpected error in a processing stage (see the worker log)",
)


async def park(
    pipeline: Pipeline, msg: Message, rejection: Rejection, item: Item | None = None
) -> None:
    """Send `msg` to dead-letters with `rejection` as the reason, and count it.

    With `item`, only that item of the envelope `msg` is parked (its key, its value as JSON),
    at the envelope's position."""
    position = SourcePosition(msg.topic, msg.partition, msg.offset)
    key, value = (msg.key, msg.value) if item is None else (item.key, item.raw)
    if value is None and item is not None:
        value = orjson.dumps(item.value)  # one item of an envelope
    letter = dead_letter_json(
        value or b"",
        rejection,
        topic=msg.topic,
        partition=msg.partition,
        offset=msg.offset,
        received_at=time.time(),
        max_original_bytes=pipeline.settings.max_message_bytes,
        key=key,
    )
    await send_letter(pipeline, letter_key(key), letter, rejection.code, position)


async def send_letter(
    pipeline: Pipeline, key: bytes | None, letter: bytes, code: str, position: SourcePosition
) -> bool:
    """Hand `letter` to the producer; False if even the letter without its original was
    refused. Counted as a dead letter once the broker acknowledges it."""
    topic = pipeline.settings.topic("dead-letters")
    metrics = pipeline.metrics
    for attempt in (letter, None):
        try:
            value = attempt if attempt is not None else without_original(letter)
            sent = await pipeline.app.producer.send(topic, key, value, None, None, None)
        except Exception as exc:
            log.error(
                "dead letter for %s[%d]@%d refused by the producer: %s",
                position.topic, position.partition, position.offset, type(exc).__name__,
            )  # fmt: skip
            continue
        delivery = asyncio.ensure_future(sent)  # the producer's own future: returned as is
        delivery.add_done_callback(partial(_delivered, metrics, code, position))
        return True
    metrics.dead_letter_failures.labels(code).inc()
    return False


def _delivered(
    metrics: Metrics, code: str, position: SourcePosition, delivery: asyncio.Future[Any]
) -> None:
    if not delivery.cancelled() and delivery.exception() is None:
        metrics.dead_letters.labels(code).inc()
        return
    metrics.dead_letter_failures.labels(code).inc()
    error = "cancelled" if delivery.cancelled() else type(delivery.exception()).__name__
    log.error(
        "dead letter for %s[%d]@%d not acknowledged: %s",
        position.topic, position.partition, position.offset, error,
    )  # fmt: skip


async def park_after_error(
    pipeline: Pipeline, msg: Message, stage: str, exc: Exception, item: Item | None = None
) -> None:
    """A bug must not stop a stream: log where (no content, no ids) and park the record,
    or only the `item` of its envelope that failed."""
    log.error(
        "%s stage failed on %s[%d]@%d: %s",
        stage, msg.topic, msg.partition, msg.offset, type(exc).__name__,
        exc_info=log.isEnabledFor(logging.DEBUG),
    )  # fmt: skip
    await park(pipeline, msg, INTERNAL_ERROR, item)


async def park_batch_after_error(
    pipeline: Pipeline, events: Sequence[EventT], stage: str, exc: Exception
) -> None:
    """A batch whose results could not be sent: every record of it is parked, so that none
    is acked without a trace (its effects on the tables may be partly written)."""
    for event in events:
        await park_after_error(pipeline, event.message, stage, exc)
