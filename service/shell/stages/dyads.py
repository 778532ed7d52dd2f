"""Dyad agent: interactions (keyed by dyad) in; the dyads table and snapshots out.

Records are envelopes of interactions (service.core.envelope). For each envelope, every
changed dyad's row is written once, and its absolute snapshot goes once to `dyad-updates`
(keyed by dyad, for the cluster owner and outside readers) and once per endpoint to `person-ties`
(keyed by person, in envelopes, for the people table), followed by the posts the applied
interactions carry. Control items `{"op": "erase", "person": p}` delete the dyad,
tombstone it downstream, and tell the partner to drop the tie.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from service.core import ties
from service.core.envelope import Item
from service.core.interaction import Interaction
from service.core.routing import split_dyad_key
from service.core.signals import posts_for
from service.core.validation import Rejection
from service.shell.codecs import DYAD_CODEC
from service.shell.stages.batches import batches, run_envelopes
from service.shell.stages.parking import park
from service.shell.stages.write_behind import WriteBehind

if TYPE_CHECKING:
    from faust.types import StreamT
    from faust.types.tuples import Message

    from service.shell.pipeline import Pipeline

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
    table = pipeline.table("dyads", DYAD_CODEC)
    pipeline.dyads = table
    send = pipeline.send

    class Batch:
        """One batch's work: rows written once, snapshots sent once per changed dyad."""

        def __init__(self) -> None:
            self.rows: WriteBehind[ties.DyadState] = pipeline.rows(table)
            self.changed: dict[bytes, ties.DyadState] = {}
            self.person_items: list[tuple[bytes, bytes]] = []

        async def erase(self, key: bytes, person: str, partition: int) -> None:
            self.changed.pop(key, None)
            self.rows.delete(key, partition)
            await send("dyad-updates", key, None)
            a, b = split_dyad_key(key.decode())
            partner = b if person == a else a
            drop = orjson.dumps({"op": "drop", "partner": person})
            self.person_items.append((partner.encode(), drop))

        async def take(self, item: Item, msg: Message) -> None:
            if item.value.get("op") == "erase":
                await self.erase(item.key, item.value["person"], msg.partition)
            else:
                await self.apply(item, msg)

        async def apply(self, item: Item, msg: Message) -> None:
            key, data = item.key, item.value
            interaction = Interaction.from_dict(data)
            actor, target = interaction.actor, interaction.targets[0]
            t = interaction.event_time
            if pipeline.optouts.excludes(actor, t) or pipeline.optouts.excludes(target, t):
                metrics.dyad_events.labels("opted_out").inc()
                return
            result = ties.apply(
                self.rows.get(key), actor, target, interaction.kind, t, interaction.sentiment,
                interaction.scopes, interaction.event_id, params,
            )  # fmt: skip
            metrics.dyad_events.labels(result.outcome).inc()
            if result.outcome == ties.APPLIED:
                self.rows.set(key, result.state, msg.partition)
                self.changed[key] = result.state
                pipeline.advance_clock(t)
                if data.get("fanout", 0) == 0:  # once per post, not once per target
                    self.add_posts(interaction, data.get("ingested_at"))
            elif result.outcome == ties.DUPLICATE:
                # A redelivery may follow a crash between the changelog write and the
                # snapshot sends; sending the current snapshot again is harmless downstream.
                self.changed[key] = result.state
            elif result.outcome == ties.TOO_LATE:
                await park(pipeline, msg, TOO_LATE, item)

        def add_posts(self, interaction: Interaction, ingested_at: float | None) -> None:
            """Each post to the sentiment detector it feeds (service.core.signals.posts_for)."""
            for person, post in posts_for(interaction, pipeline.brand_accounts):
                if ingested_at is not None:
                    post["ingested_at"] = ingested_at
                self.person_items.append((person.encode(), orjson.dumps(post)))

        async def finish(self) -> None:
            """Rows to the changelog, then each changed dyad's snapshot (absolute, so only
            the last one per batch matters) ahead of the posts it came with."""
            await self.rows.flush()
            posts, self.person_items = self.person_items, []
            for key, state in self.changed.items():
                pair = split_dyad_key(key.decode())
                snapshot = orjson.dumps(ties.snapshot(state, pair, state.ref, params))
                await send("dyad-updates", key, snapshot)
                for person in pair:
                    self.person_items.append((person.encode(), snapshot))
            await pipeline.send_items("person-ties", self.person_items + posts)

    @app.agent(pipeline.topics["interactions"], name="closeknit.dyads")
    async def dyads(stream: StreamT) -> None:
        await pipeline.optouts_loaded.wait()
        async for events in batches(stream, pipeline.settings):
            await run_envelopes(pipeline, events, "dyads", Batch())
