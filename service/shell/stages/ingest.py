"""Ingest agent: mentions and replies in, a batch at a time; interactions (by dyad, in
envelopes) or dead letters out."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from service.core.routing import Routed, SourcePosition, route_input
from service.shell.stages.batches import batches
from service.shell.stages.parking import park_after_error, send_letter

if TYPE_CHECKING:
    from faust.types import EventT, StreamT
    from faust.types.tuples import Message

    from service.core.interaction import Kind
    from service.shell.metrics import Metrics
    from service.shell.pipeline import Pipeline

log = logging.getLogger(__name__)


def register(pipeline: Pipeline) -> None:
    app = pipeline.app
    settings = pipeline.settings
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
        async for events in batches(stream, settings):
            await ingest_batch(pipeline, events, kinds)


async def ingest_batch(
    pipeline: Pipeline, events: Sequence[EventT], kinds: dict[str, Kind]
) -> None:
    """Route a batch of input records; its interactions go on as envelopes.

    The batch is acked once this returns (service.shell.stages.batches)."""
    metrics = pipeline.metrics
    pending: list[tuple[Message, Routed, float]] = []
    for event in events:
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
            if routed.rejection is not None:
                (letter,) = routed.outgoing
                code = routed.rejection.code
                await send_letter(pipeline, letter.key, letter.value, code, position)
            else:
                pending.append((msg, routed, now))
        except Exception as exc:
            await park_after_error(pipeline, msg, "ingest", exc)
    items = [(out.key or b"", out.value) for _, routed, _ in pending for out in routed.outgoing]
    try:
        await pipeline.send_items("interactions", items)
    except Exception as exc:
        # Each record's own interactions, or its letter: what single sends would have done.
        log.warning("an envelope send failed (%s); sending one by one", type(exc).__name__)
        survivors = []
        for msg, routed, now in pending:
            try:
                for out in routed.outgoing:
                    await pipeline.send(out.topic, out.key, out.value)
                survivors.append((msg, routed, now))
            except Exception as exc:
                await park_after_error(pipeline, msg, "ingest", exc)
        pending = survivors
    for _, routed, now in pending:
        count(metrics, routed, now)


def count(metrics: Metrics, routed: Routed, now: float) -> None:
    metrics.interactions_out.inc(len(routed.outgoing))
    if routed.interaction is not None:
        metrics.events_valid.labels(routed.interaction.kind).inc()
        metrics.event_lag.observe(max(0.0, now - routed.interaction.event_time))
        if routed.dropped_targets:
            metrics.opted_out_dropped.inc(routed.dropped_targets)
