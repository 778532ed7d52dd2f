"""Moment-of-truth agent: complaints keyed by brand or product in; burst signals out.

Complaints (posts that speak of a product failure and are negative) arrive from the people
agent with the complainer's influence and strongest ties, so the alert can say which
complainers are influential and which of them know each other: a burst that is one tight
group reads differently from a thousand strangers. Complaints come from many partitions, out
of event-time order, so they are only counted as they arrive; a timer ticks every held brand
forward to the people stage's low watermark (`Pipeline.low_watermark`), which closes minutes,
fires and resolves bursts, also after the complaints stop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from service.core.signals import SignalParams, burst_step
from service.shell.stages.alert_publisher import send_signal
from service.shell.stages.parking import park_after_error

if TYPE_CHECKING:
    from faust.types import StreamT

    from service.shell.pipeline import Pipeline

TICK_INTERVAL_S = 2.0


def register(pipeline: Pipeline) -> None:
    app = pipeline.app
    table = pipeline.table("bursts")
    complaints = pipeline.topics["complaints"]
    params = SignalParams(min_influence=pipeline.settings.critic_min_influence)

    @app.agent(complaints, name="closeknit.bursts")
    async def bursts(stream: StreamT) -> None:
        async for event in stream.events():
            msg = event.message
            key: bytes = msg.key
            try:
                row, signals = burst_step(
                    table.get(key), key.decode(), orjson.loads(msg.value), params
                )
                table[key] = row
                # The newest complaint counted is the one whose arrival the alert answers.
                ingested_at = row["r"][0].get("ingested_at") if row["r"] else None
                for signal in signals:
                    await send_signal(pipeline, signal, ingested_at)
            except Exception as exc:
                await park_after_error(pipeline, msg, "bursts", exc)

    @app.timer(TICK_INTERVAL_S)
    async def tick() -> None:
        watermark = pipeline.low_watermark()
        if watermark is None:
            return
        value = orjson.dumps({"op": "tick", "t": watermark})
        for key in list(table.keys()):
            await pipeline.send("complaints", key, value)
