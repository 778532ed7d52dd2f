"""Ingest agent: mentions and replies in; interactions (by dyad) or dead letters out."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from service.core.dead_letter import dead_letter_json
from service.core.routing import Outgoing, SourcePosition, route_input
from service.core.validation import Rejection

if TYPE_CHECKING:
    from faust.types import StreamT

    from service.shell.app import Pipeline

log = logging.getLogger(__name__)

INTERNAL_ERROR = Rejection(
    code="internal_error",
    field=None,
    expected="a record closeknit can process",
    got="an unexpected error in the ingest stage (see worker log)",
)


def register(pipeline: Pipeline) -> None:
    app = pipeline.app
    settings = pipeline.settings
    metrics = pipeline.metrics
    source = app.topic(
        settings.topic("mentions"),
        settings.topic("replies"),
        key_type=bytes,
        value_type=bytes,
        allow_empty=True,
    )

    async def send(message: Outgoing) -> None:
        await pipeline.topics[message.topic].send(key=message.key, value=message.value)

    @app.agent(source, name="closeknit.ingest")
    async def ingest(stream: StreamT) -> None:
        async for event in stream.events():
            msg = event.message
            metrics.events_in.labels(msg.topic).inc()
            position = SourcePosition(msg.topic, msg.partition, msg.offset)
            now = time.time()
            try:
                routed = route_input(
                    msg.value,
                    msg.key,
                    position,
                    now=now,
                    validator=pipeline.validator,
                    excludes=pipeline.optouts.excludes,
                )
            except Exception:
                # A bug must not stop the stream: park the record with a reason instead.
                log.exception("ingest failed on %s[%d]@%d", msg.topic, msg.partition, msg.offset)
                letter = dead_letter_json(
                    msg.value or b"",
                    INTERNAL_ERROR,
                    topic=msg.topic,
                    partition=msg.partition,
                    offset=msg.offset,
                    received_at=now,
                )
                metrics.dead_letters.labels(INTERNAL_ERROR.code).inc()
                await send(Outgoing("dead-letters", msg.key, letter))
                continue
            if routed.rejection is not None:
                metrics.dead_letters.labels(routed.rejection.code).inc()
            elif routed.interaction is not None:
                metrics.events_valid.labels(routed.interaction.kind).inc()
                metrics.event_lag.observe(max(0.0, now - routed.interaction.event_time))
                if routed.dropped_targets:
                    metrics.opted_out_dropped.inc(routed.dropped_targets)
            for message in routed.outgoing:
                if message.topic == "interactions":
                    metrics.interactions_out.inc()
                await send(message)
