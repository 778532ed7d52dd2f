"""Parking a record on the dead-letter topic: the one way every agent refuses input."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from service.core.dead_letter import dead_letter_json
from service.core.validation import Rejection

if TYPE_CHECKING:
    from faust.types.tuples import Message

    from service.shell.app import Pipeline

log = logging.getLogger(__name__)

INTERNAL_ERROR = Rejection(
    code="internal_error",
    field=None,
    expected="a record closeknit can process",
    got="an unexpected error in a processing stage (see the worker log)",
)


async def park(pipeline: Pipeline, msg: Message, rejection: Rejection) -> None:
    """Send `msg` to dead-letters with `rejection` as the reason, and count it."""
    letter = dead_letter_json(
        msg.value or b"",
        rejection,
        topic=msg.topic,
        partition=msg.partition,
        offset=msg.offset,
        received_at=time.time(),
    )
    pipeline.metrics.dead_letters.labels(rejection.code).inc()
    await pipeline.send("dead-letters", msg.key, letter)


async def park_after_error(pipeline: Pipeline, msg: Message, stage: str, exc: Exception) -> None:
    """A bug must not stop a stream: log where (no content, no ids) and park the record."""
    log.error(
        "%s stage failed on %s[%d]@%d: %s",
        stage, msg.topic, msg.partition, msg.offset, type(exc).__name__,
        exc_info=log.isEnabledFor(logging.DEBUG),
    )  # fmt: skip
    await park(pipeline, msg, INTERNAL_ERROR)
