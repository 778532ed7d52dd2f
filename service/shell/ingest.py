"""Ingest agent: mentions and replies in; interactions (by dyad) or dead letters out."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from service.core.routing import Routed, SourcePosition, route_input
from service.shell.parking import park_after_error, send_letter

if TYPE_CHECKING:
    from faust.types import StreamT

    from service.core.interaction import Kind
    from service.shell.app import Pipeline


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

    # Each input topic carries one kind: a reply on mentions is refused as wrong_topic.
    kinds: dict[str, Kind] = {
        settings.topic("mentions"): "mention",
        settings.topic("replies"): "reply",
    }

    @app.agent(source, name="closeknit.ingest")
    async def ingest(stream: StreamT) -> None:
        async for event in stream.events():
            msg = event.message
            metrics.events_in.labels(msg.topic).inc()
            position = SourcePosition(msg.topic, msg.partition, msg.offset)
            now = time.time()
            # Every send is inside: a send that raises parks the record, never the stream.
            try:
                routed = route_input(
                    msg.value,
                    msg.key,
                    position,
                    now=now,
                    validator=pipeline.validator,
                    excludes=pipeline.optouts.excludes,
                    scorer=pipeline.scorer,
                    classifier=pipeline.classifier,
                    topic_kind=kinds.get(msg.topic),
                )
                await deliver(pipeline, routed, position, now)
            except Exception as exc:
                await park_after_error(pipeline, msg, "ingest", exc)


async def deliver(pipeline: Pipeline, routed: Routed, position: SourcePosition, now: float) -> None:
    """Send what `route_input` decided, and count it."""
    metrics = pipeline.metrics
    if routed.rejection is not None:
        (letter,) = routed.outgoing
        await send_letter(pipeline, letter.key, letter.value, routed.rejection.code, position)
        return
    for message in routed.outgoing:
        await pipeline.send(message.topic, message.key, message.value)
        metrics.interactions_out.inc()
    if routed.interaction is not None:
        metrics.events_valid.labels(routed.interaction.kind).inc()
        metrics.event_lag.observe(max(0.0, now - routed.interaction.event_time))
        if routed.dropped_targets:
            metrics.opted_out_dropped.inc(routed.dropped_targets)
