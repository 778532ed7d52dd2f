"""A worker that ends within a bounded time of a stop signal, even with no broker to talk to.

mode's Worker stops the app gracefully on SIGTERM/SIGINT: it flushes the producer and
commits offsets. With the broker gone (stopped with the same signal, crashed, or cut off),
those calls retry for minutes: measured, a worker whose Tansu had stopped was still running
60 s after SIGTERM. Here the graceful stop gets STOP_GRACE_S; after that the process exits.
Nothing is lost by that: input is committed only after its effects are delivered, so the
records of an unfinished commit are processed again, idempotently, on the next start.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Any

import faust

log = logging.getLogger(__name__)

STOP_GRACE_S = 10.0
EXIT_STATUS_FORCED = 70  # EX_SOFTWARE: stopped, but not cleanly


class BoundedStopWorker(faust.Worker):
    """`faust.Worker` whose stop on a signal takes at most `stop_grace_s` seconds."""

    def __init__(self, *args: Any, stop_grace_s: float = STOP_GRACE_S, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stop_grace_s = stop_grace_s
        self._deadline: threading.Timer | None = None

    def _schedule_shutdown(self, signal_: signal.Signals) -> None:
        if self._deadline is None:
            self._deadline = threading.Timer(self.stop_grace_s, self._force_exit, (signal_,))
            self._deadline.daemon = True
            self._deadline.start()
        super()._schedule_shutdown(signal_)

    def _force_exit(self, signal_: signal.Signals) -> None:
        log.warning(
            "the worker did not stop within %.0f s of %s (is the broker reachable?); exiting "
            "without a final commit: uncommitted input is processed again on the next start",
            self.stop_grace_s,
            signal_.name,
        )
        logging.shutdown()
        os._exit(EXIT_STATUS_FORCED)
