"""Handing a fetched record to its streams without four new tasks per record.

Faust's `Consumer._drain_messages` delivers every fetched record with
`await self.wait_first(callback(message), self.suspend_flow.wait())`. mode's `wait_first`
wraps the delivery, the suspend event and the service's stopped and crashed events in four
new tasks and runs an `asyncio.wait` over them: per record, whatever the agent does after.

Here a record is delivered with a plain await while the flow is active, and with Faust's
race only while it is suspended (a rebalance). The one thing the race also caught is a
delivery whose queue was cleared under it on revocation (`ThrowableQueue.clear` cancels
waiting putters): that record is dropped, as Faust drops it, and the loop goes on. A
cancellation of the drainer itself still ends it, as before.

Faust 0.15.3's loop is kept as it is otherwise (BSD-3-Clause, (c) Robinhood Markets and
the faust-streaming contributors).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

import faust
from faust.transport.consumer import CONSUMER_FETCHING
from mode import Service


def use_direct_delivery(app: faust.App) -> None:
    """Make `app`'s consumer deliver records with a plain await while its flow is active."""
    base: Any = app.transport.Consumer

    class Consumer(base):
        async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover
            await drain_messages(self, fetcher)

    app.transport.Consumer = Consumer  # type: ignore[misc]  # this app's transport only


async def deliver(consumer: Any, callback: Any, message: Any) -> None:
    """One record to its streams: awaited directly unless the flow is suspended."""
    if consumer.suspend_flow.is_set():
        await consumer.wait_first(callback(message), consumer.suspend_flow.wait())
        return
    try:
        await callback(message)
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise  # the drainer itself is being cancelled
        # Its queue was cleared on revocation: the record goes, as it does in Faust.


async def drain_messages(self: Any, fetcher: Any) -> None:  # pragma: no cover
    """Faust's `Consumer._drain_messages`, delivering through `deliver`."""
    callback = self.callback
    getmany = self.getmany
    consumer_should_stop = cast(Service, self)._stopped.is_set
    fetcher_should_stop = cast(Service, fetcher)._stopped.is_set

    get_read_offset = self._read_offset.__getitem__
    set_read_offset = self._read_offset.__setitem__
    set_flag = self.diag.set_flag
    unset_flag = self.diag.unset_flag
    commit_every = self._commit_every
    acks_enabled_for = self.app.topics.acks_enabled_for

    yield_every = 100
    num_since_yield = 0
    sleep = asyncio.sleep

    try:
        while not (consumer_should_stop() or fetcher_should_stop()):
            set_flag(CONSUMER_FETCHING)
            ait = cast(AsyncIterator, getmany(timeout=1.0))
            # Sleeping because sometimes getmany is called in a loop
            # never releasing to the event loop
            await self.sleep(0)
            if not self.should_stop:
                async for tp, message in ait:
                    num_since_yield += 1
                    if num_since_yield > yield_every:
                        await sleep(0)
                        num_since_yield = 0

                    offset = message.offset
                    r_offset = get_read_offset(tp)
                    if r_offset is None or offset >= r_offset:
                        gap = offset - (r_offset or 0)
                        # We have a gap in income messages
                        if gap > 1 and r_offset and acks_enabled_for(message.topic):
                            await self._add_gap(tp, r_offset + 1, offset)
                        if commit_every is not None and self._n_acked >= commit_every:
                            self._n_acked = 0
                            await self.commit()
                        await deliver(self, callback, message)
                        set_read_offset(tp, offset)
                    else:
                        self.log.dev(
                            "DROPPED MESSAGE ROFF %r: k=%r v=%r",
                            offset,
                            message.key,
                            message.value,
                        )
            unset_flag(CONSUMER_FETCHING)

    except self.consumer_stopped_errors:
        if self.transport.app.should_stop:
            # we're already stopping so ignore
            self.log.info("Broker stopped consumer, shutting down...")
            return
        raise
    except asyncio.CancelledError:
        if self.transport.app.should_stop:
            # we're already stopping so ignore
            self.log.info("Consumer shutting down for user cancel.")
            return
        raise
    except Exception as exc:
        self.log.exception("Drain messages raised: %r", exc)
        raise
    finally:
        unset_flag(CONSUMER_FETCHING)
