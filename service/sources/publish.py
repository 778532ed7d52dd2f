"""Publish source records to the input topics, paced by a fixed rate or by event time.

Records go to `settings.topic("mentions")` or `settings.topic("replies")` by kind, keyed by
`event_id`. Skipped lines and line errors pass through uncounted by the producer and are
tallied in `PublishStats`. `dry_run` tallies the same stream without a broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError

from service.broker.admin import ensure_topics
from service.config import Settings
from service.kafka_security import client_kwargs
from service.shell.topics import topic_specs
from service.sources.record import LineError, SkippedLine, SourceItem, SourceRecord

CONNECT_TIMEOUT_S = 5.0
LINGER_MS = 20
MAX_BATCH_BYTES = 256 * 1024
PROGRESS_EVERY_S = 0.1
MIN_SLEEP_S = 0.002  # pacing sleeps shorter than this are deferred and summed
TOPIC_OF_KIND = {"mention": "mentions", "reply": "replies"}


class BrokerUnavailableError(ConnectionError):
    """Nothing answered at the bootstrap address within the connect timeout."""

    def __init__(self, bootstrap: str) -> None:
        super().__init__(f"no broker at {bootstrap}")
        self.bootstrap = bootstrap


class PublishError(RuntimeError):
    """The broker refused or lost some records (after the producer's own retries)."""


@dataclass
class PublishStats:
    """Tallies of one replay: events by kind, skipped lines by reason, invalid lines."""

    published: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    line_errors: int = 0
    failed: int = 0
    elapsed: float = 0.0

    @property
    def total_published(self) -> int:
        return sum(self.published.values())

    @property
    def events_per_s(self) -> float:
        return self.total_published / self.elapsed if self.elapsed > 0 else 0.0


ProgressFn = Callable[[PublishStats], None]


@dataclass(frozen=True, slots=True)
class PacePlan:
    """What a paced replay will send: how many events, over what span of event time."""

    events: int
    first_time: float | None = None
    last_time: float | None = None  # the latest event time, wherever it falls in the file

    def duration(self, rate: float | None, speedup: float | None) -> float | None:
        """Seconds the pacer needs for the whole replay, or None when it does not pace."""
        if rate is not None:
            return max(0, self.events - 1) / rate  # the first event leaves at once
        if speedup is not None and self.first_time is not None and self.last_time is not None:
            return max(0.0, self.last_time - self.first_time) / speedup
        return None


def plan_pace(items: Iterable[SourceItem], limit: int | None) -> PacePlan:
    """Count the events `publish` would send from `items` (at most `limit`) and their span."""
    events, first, last = 0, None, None
    for item in items:
        if not isinstance(item, SourceRecord):
            continue
        events += 1
        first = item.event_time if first is None else first
        last = item.event_time if last is None else max(last, item.event_time)
        if limit is not None and events >= limit:
            break
    return PacePlan(events, first, last)


class _Pacer:
    """Waits so events leave at `rate` per second, or at event-time gaps / `speedup`."""

    def __init__(self, rate: float | None, speedup: float | None) -> None:
        if rate is not None and speedup is not None:
            raise ValueError("pace by --rate or by --speedup, not both")
        if rate is not None and rate <= 0:
            raise ValueError(f"rate: expected events/s > 0, got {rate}")
        if speedup is not None and speedup <= 0:
            raise ValueError(f"speedup: expected a factor > 0, got {speedup}")
        self.rate = rate
        self.speedup = speedup
        self.start = time.monotonic()
        self.sent = 0
        self.first_event_time: float | None = None

    def delay(self, record: SourceRecord) -> float:
        """Seconds to wait before sending `record` (<= 0: send now)."""
        if self.rate is not None:
            due = self.start + self.sent / self.rate
        elif self.speedup is not None:
            if self.first_event_time is None:
                self.first_event_time = record.event_time
            due = self.start + (record.event_time - self.first_event_time) / self.speedup
        else:
            return 0.0
        self.sent += 1
        return due - time.monotonic()


class _Tally:
    def __init__(self, stats: PublishStats, on_progress: ProgressFn | None) -> None:
        self.stats = stats
        self.on_progress = on_progress
        self.start = time.monotonic()
        self.next_report = self.start

    def other(self, item: SkippedLine | LineError) -> None:
        if isinstance(item, SkippedLine):
            self.stats.skipped[item.reason] += 1
        else:
            self.stats.line_errors += 1

    def tick(self, force: bool = False) -> None:
        now = time.monotonic()
        self.stats.elapsed = now - self.start
        if self.on_progress is not None and (force or now >= self.next_report):
            self.next_report = now + PROGRESS_EVERY_S
            self.on_progress(self.stats)


def dry_run(records: Iterable[SourceItem], *, on_progress: ProgressFn | None) -> PublishStats:
    """Tally `records` as `publish` would, without a broker (and without pacing)."""
    stats = PublishStats()
    tally = _Tally(stats, on_progress)
    for item in records:
        if isinstance(item, SourceRecord):
            stats.published[item.kind] += 1
        else:
            tally.other(item)
        tally.tick()
    tally.tick(force=True)
    return stats


async def publish(
    records: Iterable[SourceItem],
    *,
    bootstrap: str,
    settings: Settings,
    rate: float | None,
    speedup: float | None,
    on_progress: ProgressFn | None,
) -> PublishStats:
    """Send every `SourceRecord` to its input topic; raise `BrokerUnavailableError` if no
    broker answers at `bootstrap` within a few seconds, `PublishError` if sends failed."""
    pacer = _Pacer(rate, speedup)
    topics = {kind: settings.topic(name) for kind, name in TOPIC_OF_KIND.items()}
    await _ensure_input_topics(bootstrap, settings)
    producer = AIOKafkaProducer(
        **client_kwargs(),
        bootstrap_servers=bootstrap,
        client_id="closeknit-replay",
        acks="all",
        linger_ms=LINGER_MS,
        max_batch_size=MAX_BATCH_BYTES,
    )
    await _start(producer, bootstrap)
    stats = PublishStats()
    tally = _Tally(stats, on_progress)
    pacer.start = tally.start
    errors: list[BaseException] = []
    pending: set[asyncio.Future[object]] = set()

    def delivered(kind: str, fut: asyncio.Future[object]) -> None:
        pending.discard(fut)
        if fut.cancelled():
            stats.failed += 1
        elif (exc := fut.exception()) is not None:
            stats.failed += 1
            errors.append(exc)
        else:
            stats.published[kind] += 1

    try:
        for item in records:
            if isinstance(item, SourceRecord):
                wait = pacer.delay(item)
                if wait >= MIN_SLEEP_S:
                    await asyncio.sleep(wait)
                fut = await producer.send(
                    topics[item.kind], item.payload, key=item.event_id.encode()
                )
                pending.add(fut)
                fut.add_done_callback(partial(delivered, item.kind))
            else:
                tally.other(item)
            tally.tick()
        await producer.flush()
        await asyncio.gather(*pending, return_exceptions=True)
        await asyncio.sleep(0)  # let the last delivery callbacks run
    finally:
        await producer.stop()
    tally.tick(force=True)
    if errors:
        raise PublishError(f"{stats.failed} records were not published: {errors[0]!r}")
    return stats


async def _ensure_input_topics(bootstrap: str, settings: Settings) -> None:
    """Create the input topics if absent, as the topic catalog specifies them. Sending to a
    missing topic would leave it to broker auto-creation (Tansu: 4 partitions)."""
    names = {settings.topic(name) for name in TOPIC_OF_KIND.values()}
    specs = [spec for spec in topic_specs(settings) if spec.name in names]
    try:
        with _quiet_bootstrap():
            await asyncio.wait_for(ensure_topics(bootstrap, specs), timeout=CONNECT_TIMEOUT_S)
    except (KafkaConnectionError, TimeoutError, OSError) as exc:
        raise BrokerUnavailableError(bootstrap) from exc


async def _start(client: AIOKafkaProducer, bootstrap: str) -> None:
    try:
        with _quiet_bootstrap():
            await asyncio.wait_for(client.start(), timeout=CONNECT_TIMEOUT_S)
    except (KafkaConnectionError, TimeoutError, OSError) as exc:
        await _close(client)
        raise BrokerUnavailableError(bootstrap) from exc
    except KafkaError:
        await _close(client)
        raise


async def _close(client: AIOKafkaProducer) -> None:
    with contextlib.suppress(Exception):  # a client that never connected holds nothing
        await client.stop()


@contextlib.contextmanager
def _quiet_bootstrap() -> Iterator[None]:
    """Silence aiokafka's "Unable connect" log while bootstrapping: a failure there is
    reported once, as `BrokerUnavailableError`, with advice."""
    logger = logging.getLogger("aiokafka")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)
