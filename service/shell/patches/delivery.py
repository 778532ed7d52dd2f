"""No offset commit before every buffered record is delivered: closes a hole in Faust's buffer.

Table writes reach the changelog through Faust's producer buffer (`send_soon`), and Faust
flushes that buffer before it commits input offsets. But this Faust's `ProducerBuffer.flush`
gives up when no record leaves the buffer within 0.1 s and returns with records still
queued, and it never waits for the record its sender task has already taken. Under load the
commit then overtook changelog records, and a worker killed at that moment came back with
table rows missing events whose offsets were committed: lost for good (issue #3).

`DrainingProducerBuffer.flush` also waits until every record put in the buffer before the
flush began is delivered (its future resolves once the broker acknowledges it, or fails).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import faust
from faust.transport.producer import ProducerBuffer
from faust.types.tuples import FutureMessage

log = logging.getLogger(__name__)

# A flush while the worker stops gives up after this long rather than hang the shutdown.
STOPPING_GRACE_S = 10.0


class DrainingProducerBuffer(ProducerBuffer):
    """A producer buffer whose `flush` returns only once everything put in it is settled."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.undelivered: set[FutureMessage] = set()

    def put(self, fut: FutureMessage) -> None:
        self.undelivered.add(fut)
        fut.add_done_callback(self.undelivered.discard)
        super().put(fut)

    async def flush(self) -> None:
        # Only what was put before the flush: the offsets being committed were acked before
        # it began, so their records are all in. Waiting for later ones too never ends
        # while other agents keep writing.
        owed = list(self.undelivered)
        await super().flush()
        if owed:
            timeout = STOPPING_GRACE_S if self.should_stop else None
            _, late = await asyncio.wait(owed, timeout=timeout)
            if late:
                log.warning("flush gave up on %d undelivered records (stopping)", len(late))


def use_draining_buffer(app: faust.App) -> None:
    """Give `app`'s producer a `DrainingProducerBuffer` (set before the producer exists)."""
    base: Any = app.transport.Producer

    class Producer(base):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            buffer = DrainingProducerBuffer(loop=self.loop, beacon=self.beacon)
            buffer.app = self.app
            self.buffer = buffer

    app.transport.Producer = Producer  # type: ignore[misc]  # this app's transport only
