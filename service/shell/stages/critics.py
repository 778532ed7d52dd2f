"""Critic signals in the people stage: `service.core.signals.critic_step` on a person's row.

A person's own posts and the replies they draw arrive as `{"op": "post"}` items on
person-ties, already deduplicated by the dyad stage; the detector's row is kept in the
person's row (`PersonState.critic`). Alert signals go to the alerts agent, those about a
brand (a topic) by way of its burst row, which holds them a while so a moment of truth can
open first; complaints go on to each brand's burst agent (service.shell.stages.moments_of_truth).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import orjson

from service.core.alerts import signal_to_dict
from service.core.signals import critic_step
from service.shell.pipeline import signal_params
from service.shell.stages.alert_publisher import send_signal

if TYPE_CHECKING:
    from service.core.influence import PersonState
    from service.shell.pipeline import Pipeline


class CriticStage:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.params = signal_params(pipeline.settings)

    async def on_post(self, person: str, post: dict[str, Any], state: PersonState) -> None:
        """One post through the person's detector; its row is kept in `state.critic`."""
        state.critic, signal, complaint = critic_step(
            state.critic, person, post, state, self.params
        )
        ingested_at = post.get("ingested_at")
        if signal is not None and signal.topic is not None:
            # Held by the scope's burst row first (service.core.signals.burst_apply).
            held = {"op": "critic", "t": signal.at, "signal": signal_to_dict(signal),
                    "wall": time.time()}  # fmt: skip
            if ingested_at is not None:
                held["ingested_at"] = ingested_at
            await self.pipeline.send("complaints", signal.topic.encode(), orjson.dumps(held))
        elif signal is not None:
            await send_signal(self.pipeline, signal, ingested_at)
        if complaint is not None:
            if ingested_at is not None:
                complaint["ingested_at"] = ingested_at
            value = orjson.dumps(complaint)
            for brand in post.get("brands", ()):
                await self.pipeline.send("complaints", brand.encode(), value)
