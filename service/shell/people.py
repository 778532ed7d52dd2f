"""People agent: dyad snapshots (keyed by person) in; the people table out.

A person's row holds the newest snapshot of each of their ties, so influence, strong ties
and top ties are read from it. Control records: `{"op": "erase"}` (the person opted out:
erase every dyad they are in, then the row) and `{"op": "drop", "partner": q}` (q's dyad
with this person was erased).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from service.core.influence import PersonState, apply_snapshot, remove_partner
from service.core.routing import dyad_key
from service.shell.codecs import PERSON_CODEC, use_codec
from service.shell.parking import park_after_error

if TYPE_CHECKING:
    from faust.types import StreamT

    from service.shell.app import Pipeline


def register(pipeline: Pipeline) -> None:
    app = pipeline.app
    metrics = pipeline.metrics
    optouts = pipeline.optouts
    table = pipeline.table("people")
    use_codec(table, PERSON_CODEC)
    pipeline.people = table

    async def erase_person(key: bytes, person: str) -> None:
        state = table.get(key)
        # Dyads this row never saw (a snapshot still in flight) are caught by the race
        # check in `take_snapshot` when their snapshot arrives.
        for partner in state.ties if state is not None else ():
            command = orjson.dumps({"op": "erase", "person": person})
            await pipeline.send("interactions", dyad_key(person, partner).encode(), command)
        if state is not None:
            del table[key]
        pipeline.critic_stage.erase(key)
        metrics.erasures.inc()

    def drop_partner(key: bytes, partner: str) -> None:
        state = table.get(key)
        if state is not None and remove_partner(state, partner):
            if state.ties:
                table[key] = state
            else:
                del table[key]

    async def take_snapshot(key: bytes, person: str, snapshot: dict[str, Any]) -> None:
        partner = snapshot["b"] if person == snapshot["a"] else snapshot["a"]
        for someone in (person, partner):
            if optouts.is_opted_out(someone):
                # A snapshot that raced an erasure: erase its dyad again rather than keep it.
                command = orjson.dumps({"op": "erase", "person": someone})
                await pipeline.send("interactions", dyad_key(person, partner).encode(), command)
                return
            if optouts.excludes(someone, snapshot["ref"]):
                return  # from before an opt-in: a redelivery of erased history
        state = table.get(key) or PersonState()
        if apply_snapshot(state, person, snapshot):
            table[key] = state

    @app.agent(pipeline.topics["person-ties"], name="closeknit.people")
    async def people(stream: StreamT) -> None:
        await pipeline.optouts_loaded.wait()
        async for event in stream.events():
            msg = event.message
            key: bytes = msg.key
            try:
                person = key.decode()
                data = orjson.loads(msg.value)
                op = data.get("op")
                if op == "erase":
                    await erase_person(key, person)
                elif op == "drop":
                    drop_partner(key, data["partner"])
                elif op == "post":
                    if not optouts.excludes(person, data["t"]):
                        await pipeline.critic_stage.on_post(key, person, data)
                    # After the post's complaint (if any) was sent: see Pipeline.low_watermark.
                    pipeline.note_post(msg.partition, data["t"])
                else:
                    await take_snapshot(key, person, data)
            except Exception as exc:
                await park_after_error(pipeline, msg, "people", exc)
