"""A worker that ends within a bounded time of a stop signal or of its app crashing.

mode's Worker stops the app gracefully on SIGTERM/SIGINT: it flushes the producer and
commits offsets. With the broker gone (stopped with the same signal, crashed, or cut off),
those calls retry for minutes: measured, a worker whose Tansu had stopped was still running
60 s after SIGTERM. Here the graceful stop gets STOP_GRACE_S; after that the process exits.
Nothing is lost by that: input is committed only after its effects are delivered, so the
records of an unfinished commit are processed again, idempotently, on the next start.

A crashed app is stopped the same way. Measured on Kafka: a broker paused for 10 s (SIGSTOP)
crashed Faust's app with NodeNotReadyError, and the process then stayed up, consuming
nothing, until killed. Exiting instead lets the supervisor (compose's restart policy,
Kubernetes, systemd) start a fresh worker, which resumes from the committed offsets.
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

    async def on_first_start(self) -> None:
        await super().on_first_start()
        self.add_future(self._stop_when_crashed())

    def _schedule_shutdown(self, signal_: signal.Signals) -> None:
        self._arm_deadline(signal_.name)
        super()._schedule_shutdown(signal_)

    async def _stop_when_crashed(self) -> None:
        # A crash anywhere below an unsupervised service marks the whole tree, this worker
        # included; agents have supervisors that restart them, so their crashes do not.
        await self._crashed.wait()
        log.error(
            "the app crashed (%s); stopping, so that a supervisor starts a fresh worker",
            type(self.crash_reason).__name__,
        )
        self._arm_deadline("the crash")
        # As a SIGTERM would: `stop()` from here would cancel this very task midway.
        super()._schedule_shutdown(signal.SIGTERM)

    def _arm_deadline(self, cause: str) -> None:
        if self._deadline is None:
            self._deadline = threading.Timer(self.stop_grace_s, self._force_exit, (cause,))
            self._deadline.daemon = True
            self._deadline.start()

    def _force_exit(self, cause: str) -> None:
        log.warning(
            "the worker did not stop within %.0f s of %s (is the broker reachable?); exiting "
            "without a final commit: uncommitted input is processed again on the next start",
            self.stop_grace_s,
            cause,
        )
        logging.shutdown()
        os._exit(EXIT_STATUS_FORCED)
