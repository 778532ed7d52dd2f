"""Event-loop lag: how late a short timer fires, so blocking work shows in /metrics."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from service.shell.pipeline import Pipeline

INTERVAL_S = 0.5
WINDOW = 10  # report the worst of the last 10 samples (5 s)


def register(pipeline: Pipeline) -> None:
    samples: deque[float] = deque(maxlen=WINDOW)

    @pipeline.app.task
    async def measure_loop_lag() -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(INTERVAL_S)
            samples.append(max(0.0, time.perf_counter() - started - INTERVAL_S))
            pipeline.metrics.event_loop_lag.set(max(samples))
