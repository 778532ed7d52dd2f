"""When a worker group has caught up: every record of every stage committed.

Read from outside the worker (the demo, the benchmark): committed offsets against Fetch high
watermarks, per topic the group consumes. Offsets are committed every few seconds, so the
moment found is a little late, never early.
"""

from __future__ import annotations

import asyncio
import time

from service.broker.admin import consumer_lag
from service.config import Settings

# The topics a worker group consumes on the way to alerts. The cluster owner reads
# dyad-updates by itself and turns it into alerts on a timer, which callers wait out.
STAGE_TOPICS = ("mentions", "replies", "interactions", "person-ties", "complaints", "alert-signals")
# The burst agent's timer sends a tick per brand every few seconds, so `complaints` is never
# quite idle: up to this many records there still count as caught up.
TICK_SLACK = 50


async def wait_drained(settings: Settings, timeout_s: float) -> float | None:
    """The time.monotonic() at which the group had committed every record of every stage,
    or None after `timeout_s`."""
    topics = [settings.topic(t) for t in STAGE_TOPICS]
    ticking = settings.topic("complaints")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        lag = await consumer_lag(settings.bootstrap_servers(), settings.app_id, topics)
        if all(n <= (TICK_SLACK if topic == ticking else 0) for topic, n in lag.items()):
            return time.monotonic()
        await asyncio.sleep(0.3)
    return None
