"""A stage's input a batch at a time: Faust's `take_events`, sized by the settings.

The batch's events are acked when the consumer of the iterator comes back for the next
batch, so after everything it sent for them is in the producer's buffer; the buffer is
drained before any offset is committed (service.shell.delivery).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    import faust
    from faust.types import EventT, StreamT

    from service.config import Settings


def batches(stream: StreamT, settings: Settings) -> AsyncIterator[Sequence[EventT]]:
    """At most `batch_max_events` records, or what came within `batch_window_ms`."""
    take = cast("faust.Stream", stream).take_events  # not on the StreamT protocol
    return take(settings.batch_max_events, within=settings.batch_window_ms / 1000.0)
