"""Dyad agent: interactions (keyed by dyad) in; the dyads table and dyad-update snapshots out."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import orjson
from faust.serializers import codecs

from service.core import ties
from service.core.dead_letter import dead_letter_json
from service.core.interaction import Interaction
from service.core.routing import split_dyad_key
from service.core.validation import Rejection

if TYPE_CHECKING:
    from faust.types import StreamT

    from service.shell.app import Pipeline

log = logging.getLogger(__name__)

TOO_LATE = Rejection(
    code="too_late",
    field="$.event_time",
    expected="an event within the dedup horizon of its dyad's newest event",
    got="an older event: it may be a repeat whose fingerprint has expired",
)


class DyadCodec(codecs.Codec):
    """Changelog form of a `DyadState`: its compact dict as orjson bytes."""

    def _dumps(self, obj: Any) -> bytes:
        return orjson.dumps(ties.to_dict(obj))

    def _loads(self, s: bytes) -> Any:
        return ties.from_dict(orjson.loads(s))


codecs.register("closeknit-dyad", DyadCodec())


def register(pipeline: Pipeline) -> None:
    app = pipeline.app
    metrics = pipeline.metrics
    params = pipeline.tie_params
    table = app.Table("dyads", key_type=bytes, partitions=pipeline.settings.partitions)
    # Faust derives a table's codec from its value type and offers no argument for it;
    # the store is made lazily, so setting the codec here takes effect everywhere.
    table.value_serializer = "closeknit-dyad"  # type: ignore[attr-defined]
    pipeline.dyads = table
    updates = pipeline.topics["dyad-updates"]
    dead_letters = pipeline.topics["dead-letters"]

    @app.agent(pipeline.topics["interactions"], name="closeknit.dyads")
    async def dyads(stream: StreamT) -> None:
        async for event in stream.events():
            msg = event.message
            key: bytes = msg.key
            interaction = Interaction.from_json(msg.value)
            actor, target = interaction.actor, interaction.targets[0]
            if pipeline.is_opted_out(actor) or pipeline.is_opted_out(target):
                metrics.dyad_events.labels("opted_out").inc()
                continue
            result = ties.apply(
                table.get(key),
                actor,
                target,
                interaction.kind,
                interaction.event_time,
                interaction.sentiment,
                interaction.scopes,
                interaction.event_id,
                params,
            )
            metrics.dyad_events.labels(result.outcome).inc()
            if result.outcome == ties.APPLIED:
                table[key] = result.state  # reassigning writes the changelog
                pair = split_dyad_key(key.decode())
                snapshot = ties.snapshot(result.state, pair, result.state.ref, params)
                await updates.send(key=key, value=orjson.dumps(snapshot))
            elif result.outcome == ties.TOO_LATE:
                letter = dead_letter_json(
                    msg.value,
                    TOO_LATE,
                    topic=msg.topic,
                    partition=msg.partition,
                    offset=msg.offset,
                    received_at=time.time(),
                )
                await dead_letters.send(key=key, value=letter)
