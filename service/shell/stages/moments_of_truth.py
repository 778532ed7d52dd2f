"""Moment-of-truth agent: complaints keyed by brand or product in; burst signals out.

Complaints (posts that speak of a product failure and are negative) arrive from the people
agent with the complainer's influence and strongest ties, so the alert can say which
complainers are influential and which of them know each other: a burst that is one tight
group reads differently from a thousand strangers. Complaints come from many partitions, out
of event-time order, so they are only counted as they arrive; a timer ticks every held brand
forward to the people stage's low watermark (`Pipeline.low_watermark`), which closes minutes,
fires and resolves bursts, also after the complaints stop.

Records are taken a batch at a time: each brand's row is decoded once, every complaint and
tick of the batch is applied to it in arrival order, and it is written once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson

from service.core.signals import BurstRow, SignalParams, burst_apply
from service.shell.pipeline import signal_params
from service.shell.stages.alert_publisher import send_signal
from service.shell.stages.batches import batches
from service.shell.stages.parking import park_after_error, park_batch_after_error

if TYPE_CHECKING:
    from faust.types import EventT, StreamT

    from service.shell.pipeline import Pipeline, Table

TICK_INTERVAL_S = 2.0


def register(pipeline: Pipeline) -> None:
    app = pipeline.app
    table = pipeline.table("bursts")
    pipeline.bursts = table
    complaints = pipeline.topics["complaints"]
    params = signal_params(pipeline.settings)

    @app.agent(complaints, name="closeknit.bursts")
    async def bursts(stream: StreamT) -> None:
        async for events in batches(stream, pipeline.settings):
            await burst_batch(pipeline, table, events, params)

    @app.timer(TICK_INTERVAL_S)
    async def tick() -> None:
        watermark = pipeline.low_watermark()
        if watermark is None:
            return
        value = orjson.dumps({"op": "tick", "t": watermark, "wall": time.time()})
        for key in list(table.keys()):
            await pipeline.send("complaints", key, value)


async def burst_batch(
    pipeline: Pipeline, table: Table, events: Sequence[EventT], params: SignalParams
) -> None:
    """Every complaint and tick of `events` on its brand's row; each row written once."""
    live: dict[bytes, tuple[BurstRow, int]] = {}  # brand -> its row as objects, partition
    for event in events:
        msg = event.message
        try:
            key, value = msg.key, msg.value
            if key is None or value is None:
                raise ValueError("a complaint or tick needs a brand key and a value")
            record = checked(orjson.loads(value))
            if key in live:
                row = live[key][0]
            else:
                stored = table.get(key)
                row = BurstRow.from_dict(stored) if stored else BurstRow()
            live[key] = (row, msg.partition)
            signals = burst_apply(row, key.decode(), record, params)
            # The newest complaint counted is the one whose arrival the alert answers.
            ingested_at = row.recent[0].get("ingested_at") if row.recent else None
            for signal in signals:
                await send_signal(pipeline, signal, ingested_at)
        except Exception as exc:
            await park_after_error(pipeline, msg, "bursts", exc)
    try:
        rows = pipeline.rows(table)
        for key, (row, partition) in live.items():
            rows.set(key, row.to_dict(), partition)  # the stored form is the dict
        await rows.flush()
    except Exception as exc:
        await park_batch_after_error(pipeline, events, "bursts", exc)


def checked(record: Any) -> dict[str, Any]:
    """A complaint or tick whose time can be applied, so a bad one fails before any change."""
    if not isinstance(record, dict):
        raise ValueError("a complaint or tick is a JSON object")
    t = float(record["t"])
    if not math.isfinite(t):
        raise ValueError(f"time {t!r} is not finite")
    return record
