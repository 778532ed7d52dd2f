"""Dyad agent: interactions (keyed by dyad) in; the dyads table and snapshots out.

Each applied interaction emits the dyad's absolute snapshot to `dyad-updates` (keyed by
dyad, for clusters and outside readers) and to `person-ties` once per endpoint (keyed by
person, for the people table). Control records `{"op": "erase", "person": p}` delete the
dyad, tombstone it downstream, and tell the partner to drop the tie.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from service.core import ties
from service.core.interaction import Interaction
from service.core.routing import split_dyad_key
from service.core.signals import posts_for
from service.core.validation import Rejection
from service.shell.codecs import DYAD_CODEC, use_codec
from service.shell.parking import park, park_after_error

if TYPE_CHECKING:
    from faust.types import StreamT
    from faust.types.tuples import Message

    from service.shell.app import Pipeline

TOO_LATE = Rejection(
    code="too_late",
    field="$.event_time",
    expected="an event within the dedup horizon of its dyad's newest event",
    got="an older event: it may be a repeat whose fingerprint has expired",
)


def register(pipeline: Pipeline) -> None:
    app = pipeline.app
    metrics = pipeline.metrics
    params = pipeline.tie_params
    table = pipeline.table("dyads")
    use_codec(table, DYAD_CODEC)
    pipeline.dyads = table
    send = pipeline.send

    async def erase(key: bytes, person: str) -> None:
        if key in table:
            del table[key]  # a tombstone in the changelog
        await send("dyad-updates", key, None)
        await send("cluster-feed", key, None)
        a, b = split_dyad_key(key.decode())
        partner = b if person == a else a
        drop = orjson.dumps({"op": "drop", "partner": person})
        await send("person-ties", partner.encode(), drop)

    async def publish_snapshot(key: bytes, state: ties.DyadState) -> None:
        pair = split_dyad_key(key.decode())
        snapshot = orjson.dumps(ties.snapshot(state, pair, state.ref, params))
        await send("dyad-updates", key, snapshot)
        await send("cluster-feed", key, snapshot)
        for person in pair:
            await send("person-ties", person.encode(), snapshot)

    async def publish_posts(interaction: Interaction, ingested_at: float | None) -> None:
        """Each post to the sentiment detector it feeds (service.core.signals.posts_for)."""
        for person, post in posts_for(interaction):
            if ingested_at is not None:
                post["ingested_at"] = ingested_at
            await send("person-ties", person.encode(), orjson.dumps(post))

    async def apply(key: bytes, data: dict[str, Any], msg: Message) -> None:
        interaction = Interaction.from_dict(data)
        actor, target = interaction.actor, interaction.targets[0]
        t = interaction.event_time
        if pipeline.optouts.excludes(actor, t) or pipeline.optouts.excludes(target, t):
            metrics.dyad_events.labels("opted_out").inc()
            return
        result = ties.apply(
            table.get(key), actor, target, interaction.kind, t, interaction.sentiment,
            interaction.scopes, interaction.event_id, params,
        )  # fmt: skip
        metrics.dyad_events.labels(result.outcome).inc()
        if result.outcome == ties.APPLIED:
            table[key] = result.state  # reassigning writes the changelog
            pipeline.advance_clock(t)
            await publish_snapshot(key, result.state)
            if data.get("fanout", 0) == 0:  # once per post, not once per target
                await publish_posts(interaction, data.get("ingested_at"))
        elif result.outcome == ties.DUPLICATE:
            # A redelivery may follow a crash between the changelog write and the snapshot
            # sends; sending the current snapshot again is harmless downstream (seq rules).
            await publish_snapshot(key, result.state)
        elif result.outcome == ties.TOO_LATE:
            await park(pipeline, msg, TOO_LATE)

    @app.agent(pipeline.topics["interactions"], name="closeknit.dyads")
    async def dyads(stream: StreamT) -> None:
        await pipeline.optouts_loaded.wait()
        async for event in stream.events():
            msg = event.message
            try:
                data = orjson.loads(msg.value)
                if data.get("op") == "erase":
                    await erase(msg.key, data["person"])
                else:
                    await apply(msg.key, data, msg)
            except Exception as exc:
                await park_after_error(pipeline, msg, "dyads", exc)
