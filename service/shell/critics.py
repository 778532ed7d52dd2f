"""Critic signals in the people partition: table I/O around `service.core.signals.critic_step`.

A person's own posts and the replies they draw arrive as `{"op": "post"}` records on
person-ties, already deduplicated by the dyad stage. Alert signals go to the alerts agent;
complaints go on to each brand's burst agent (service.shell.bursts).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from service.core.signals import SignalParams, critic_step
from service.shell.alerting import send_signal

if TYPE_CHECKING:
    from service.core.influence import PersonState
    from service.shell.app import Pipeline
    from service.shell.write_behind import WriteBehind


class CriticStage:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.params = SignalParams(
            min_influence=pipeline.settings.critic_min_influence, tie=pipeline.tie_params
        )
        self.table = pipeline.table("critics")
        pipeline.critics = self.table

    async def on_post(
        self,
        key: bytes,
        person: str,
        post: dict[str, Any],
        person_state: PersonState | None,
        rows: WriteBehind[Any],
        partition: int,
    ) -> None:
        """One post through the person's detector; `rows` holds the batch's critic rows."""
        row, signal, complaint = critic_step(rows.get(key), person, post, person_state, self.params)
        rows.set(key, row, partition)
        ingested_at = post.get("ingested_at")
        if signal is not None:
            await send_signal(self.pipeline, signal, ingested_at)
        if complaint is not None:
            if ingested_at is not None:
                complaint["ingested_at"] = ingested_at
            value = orjson.dumps(complaint)
            for brand in post.get("brands", ()):
                await self.pipeline.send("complaints", brand.encode(), value)
