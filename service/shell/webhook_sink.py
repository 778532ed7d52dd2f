"""The webhook sink: alert records POSTed to `CLOSEKNIT_WEBHOOK_URL`, off the pipeline's path.

`offer` only queues (a bounded queue: when it is full the record is dead-lettered at once,
so a dead endpoint never slows the alerts stage or grows memory); one task delivers in
order, signing each body (service.core.webhook) and retrying with backoff. After
`CLOSEKNIT_WEBHOOK_MAX_ATTEMPTS` failures, or a 4xx other than 408/429 (retrying cannot fix
it), the record goes to the dead-letter topic with reason `webhook_failed` and the last error.
People who opted out are left out of what is sent; an alert about one is not sent at all.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson

from service.core import webhook
from service.core.dead_letter import dead_letter_json
from service.core.routing import SourcePosition
from service.core.validation import Rejection
from service.shell.stages.parking import send_letter

if TYPE_CHECKING:
    from service.shell.pipeline import Pipeline

log = logging.getLogger(__name__)

QUEUE_MAX = 1000
TIMEOUT_S = 10.0
RETRYABLE_4XX = (408, 429)
FAILED = "webhook_failed"


class WebhookSink:
    def __init__(self, pipeline: Pipeline, url: str) -> None:
        self.pipeline = pipeline
        self.url = url
        self.settings = pipeline.settings
        # Each record with the delivery of its copy on the alerts topic: a dead letter points
        # at that copy's partition and offset.
        self.queue: asyncio.Queue[tuple[dict[str, Any], Awaitable[Any]]] = asyncio.Queue(QUEUE_MAX)
        self.metrics = pipeline.metrics

    def wants(self, pages: bool) -> bool:
        return pages or self.settings.webhook_events == "all"

    async def offer(self, record: dict[str, Any], on_topic: Awaitable[Any]) -> None:
        """Queue a record for delivery; never waits on the endpoint. `on_topic` is the
        producer's delivery of the record to the alerts topic."""
        shown = webhook.without_opted_out(record, self.pipeline.optouts.is_opted_out)
        if shown is None:
            return
        try:
            self.queue.put_nowait((shown, on_topic))
        except asyncio.QueueFull:
            await self._dead_letter(shown, on_topic, 0, "the webhook queue is full")
        self.metrics.webhook_queue.set(self.queue.qsize())

    async def run(self) -> None:
        """Deliver queued records, one at a time, for as long as the worker runs."""
        timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                record, on_topic = await self.queue.get()
                self.metrics.webhook_queue.set(self.queue.qsize())
                try:
                    await self.deliver(session, record, on_topic)
                except Exception as exc:  # a bug here must not end deliveries
                    log.error("webhook delivery failed: %s", type(exc).__name__)

    async def deliver(
        self, session: aiohttp.ClientSession, record: dict[str, Any], on_topic: Awaitable[Any]
    ) -> bool:
        payload = webhook.body(record, self.settings.webhook_slack)
        attempts = self.settings.webhook_max_attempts
        error = ""
        for attempt in range(1, attempts + 1):
            headers = {"Content-Type": "application/json", "User-Agent": "closeknit-webhook"}
            if self.settings.webhook_secret:
                headers[webhook.SIGNATURE_HEADER] = webhook.signature(
                    payload, self.settings.webhook_secret, int(time.time())
                )
            try:
                async with session.post(self.url, data=payload, headers=headers) as response:
                    if response.status < 300:
                        self.metrics.webhook_deliveries.labels("delivered").inc()
                        return True
                    error = f"HTTP {response.status}"
                    final = 400 <= response.status < 500 and response.status not in RETRYABLE_4XX
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                error, final = type(exc).__name__, False
            if final or attempt == attempts:
                break
            self.metrics.webhook_deliveries.labels("retried").inc()
            await asyncio.sleep(webhook.backoff_s(attempt))
        await self._dead_letter(record, on_topic, attempt, error)
        return False

    async def _dead_letter(
        self, record: dict[str, Any], on_topic: Awaitable[Any], attempts: int, error: str
    ) -> None:
        log.warning("a webhook delivery gave up after %d attempts: %s", attempts, error)
        self.metrics.webhook_deliveries.labels("dead_lettered").inc()
        rejection = Rejection(
            FAILED, None, f"a 2xx answer from the webhook within {attempts or 'any'} attempts",
            error,
        )  # fmt: skip
        topic = self.settings.topic("alerts")
        try:
            meta = await on_topic
            partition, offset = int(meta.partition), int(meta.offset)
        except Exception as exc:  # the alert itself was not written: say so, point at 0
            unwritten = f"{error}; the alert record was not written ({type(exc).__name__})"
            rejection = Rejection(FAILED, None, rejection.expected, unwritten)
            partition = offset = 0
        key = str(record.get("dedup_key", "")).encode()
        letter = dead_letter_json(
            orjson.dumps(record), rejection, topic=topic, partition=partition, offset=offset,
            received_at=time.time(), key=key,
        )  # fmt: skip
        position = SourcePosition(topic, partition, offset)
        await send_letter(self.pipeline, key, letter, FAILED, position)


def register(pipeline: Pipeline) -> WebhookSink | None:
    url = pipeline.settings.webhook_url
    if not url:
        return None
    sink = WebhookSink(pipeline, url)
    pipeline.app.task(sink.run)
    return sink
