"""A stage's input a batch at a time: Faust's `take_events`, sized by the settings, and
the loop every envelope-reading stage runs over a batch (`run_envelopes`).

The batch's events are acked when the consumer of the iterator comes back for the next
batch, so after everything it sent for them is in the producer's buffer; the buffer is
drained before any offset is committed (service.shell.patches.delivery).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Protocol, cast

from service.core.envelope import Item, unpack
from service.shell.stages.parking import park_after_error, park_batch_after_error

if TYPE_CHECKING:
    import faust
    from faust.types import EventT, StreamT
    from faust.types.tuples import Message

    from service.config import Settings
    from service.shell.pipeline import Pipeline


def batches(stream: StreamT, settings: Settings) -> AsyncIterator[Sequence[EventT]]:
    """At most `batch_max_events` records, or what came within `batch_window_ms`."""
    take = cast("faust.Stream", stream).take_events  # not on the StreamT protocol
    return take(settings.batch_max_events, within=settings.batch_window_ms / 1000.0)


class EnvelopeBatch(Protocol):
    """One batch's work in a stage that reads envelopes."""

    async def take(self, item: Item, msg: Message) -> None: ...

    async def finish(self) -> None: ...


async def run_envelopes(
    pipeline: Pipeline, events: Sequence[EventT], stage: str, batch: EnvelopeBatch
) -> None:
    """Every item of every envelope in `events` through `batch`, then `batch.finish()`.

    A record that is no envelope, or an item that fails, is parked alone; if the finish
    fails, every record of the batch is parked, so none is acked without a trace."""
    for event in events:
        msg = event.message
        try:
            items = unpack(msg.key, msg.value)
        except Exception as exc:
            await park_after_error(pipeline, msg, stage, exc)
            continue
        for item in items:
            try:
                await batch.take(item, msg)
            except Exception as exc:
                await park_after_error(pipeline, msg, stage, exc, item)
    try:
        await batch.finish()
    except Exception as exc:
        await park_batch_after_error(pipeline, events, stage, exc)
