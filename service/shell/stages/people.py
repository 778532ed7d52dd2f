"""People agent: dyad snapshots (keyed by person) in; the people table out.

Records are envelopes (service.core.envelope), taken a batch at a time; each changed
person row is written once per batch. The critic detector (service.shell.stages.critics) keeps its
row inside the person's, so a post and the snapshots around it cost one write. A person's
row holds the newest snapshot of each of their ties, so influence, strong ties and top
ties are read from it. Control items: `{"op": "erase"}` (the person opted out: erase every
dyad they are in, then the row) and `{"op": "drop", "partner": q}` (q's dyad with this
person was erased).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from service.core.envelope import Item
from service.core.influence import PersonState, apply_snapshot, remove_partner
from service.core.routing import dyad_key
from service.shell.codecs import PERSON_CODEC
from service.shell.stages.batches import batches, run_envelopes
from service.shell.stages.critics import CriticStage
from service.shell.stages.write_behind import WriteBehind

if TYPE_CHECKING:
    from faust.types import StreamT
    from faust.types.tuples import Message

    from service.shell.pipeline import Pipeline


def register(pipeline: Pipeline) -> None:
    app = pipeline.app
    metrics = pipeline.metrics
    optouts = pipeline.optouts
    table = pipeline.table("people", PERSON_CODEC)
    pipeline.people = table
    critics = CriticStage(pipeline)

    class Batch:
        """One batch's work: each changed person row written once."""

        def __init__(self) -> None:
            self.rows: WriteBehind[PersonState] = pipeline.rows(table)
            self.erase_commands: list[tuple[bytes, bytes]] = []

        def erase_person(self, key: bytes, person: str, partition: int) -> None:
            state = self.rows.get(key)
            # Dyads this row never saw (a snapshot still in flight) are caught by the race
            # check in `take_snapshot` when their snapshot arrives.
            command = orjson.dumps({"op": "erase", "person": person})
            for partner in state.ties if state is not None else ():
                self.erase_commands.append((dyad_key(person, partner).encode(), command))
            self.rows.delete(key, partition)  # its critic row too: the baseline and messages
            metrics.erasures.inc()

        def drop_partner(self, key: bytes, partner: str, partition: int) -> None:
            state = self.rows.get(key)
            if state is not None and remove_partner(state, partner):
                if state.empty:
                    self.rows.delete(key, partition)
                else:
                    self.rows.set(key, state, partition)

        def take_snapshot(
            self, key: bytes, person: str, snapshot: dict[str, Any], partition: int
        ) -> None:
            partner = snapshot["b"] if person == snapshot["a"] else snapshot["a"]
            for someone in (person, partner):
                if optouts.is_opted_out(someone):
                    # A snapshot that raced an erasure: erase its dyad again, not keep it.
                    command = orjson.dumps({"op": "erase", "person": someone})
                    self.erase_commands.append((dyad_key(person, partner).encode(), command))
                    return
                if optouts.excludes(someone, snapshot["ref"]):
                    return  # from before an opt-in: a redelivery of erased history
            state = self.rows.get(key) or PersonState()
            if apply_snapshot(state, person, snapshot):
                self.rows.set(key, state, partition)

        async def take(self, item: Item, msg: Message) -> None:
            key, data = item.key, item.value
            partition = msg.partition
            person = key.decode()
            op = data.get("op")
            if op == "erase":
                self.erase_person(key, person, partition)
            elif op == "drop":
                self.drop_partner(key, data["partner"], partition)
            elif op == "post":
                if not optouts.excludes(person, data["t"]):
                    state = self.rows.get(key) or PersonState()
                    await critics.on_post(person, data, state)
                    self.rows.set(key, state, partition)
                # After the post's complaint (if any) was sent: Pipeline.low_watermark.
                pipeline.note_post(partition, data["t"])
            else:
                self.take_snapshot(key, person, data, partition)

        async def finish(self) -> None:
            await self.rows.flush()
            await pipeline.send_items("interactions", self.erase_commands)

    @app.agent(pipeline.topics["person-ties"], name="closeknit.people")
    async def people(stream: StreamT) -> None:
        await pipeline.optouts_loaded.wait()
        async for events in batches(stream, pipeline.settings):
            await run_envelopes(pipeline, events, "people", Batch())
