"""Getting a worker onto a broker: find or start one, create topics, fence changelogs, run."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from service.broker.admin import ensure_topics
from service.broker.child import BrokerProcess
from service.broker.embedded import embedded_broker
from service.broker.probe import broker_answers
from service.broker.quirks import detect_broker_kind
from service.config import Settings
from service.kafka_security import client_kwargs
from service.shell.topics import topic_specs

log = logging.getLogger(__name__)

# A raw table key no dyad can take: person ids cannot hold control characters.
FENCE_KEY = b"\x00closeknit-recovery-fence"


class BrokerUnavailable(RuntimeError):
    """No broker answers where closeknit was told to look."""


@contextmanager
def prepare_broker(
    settings: Settings, *, start_embedded: bool = True, private: bool = False
) -> Iterator[Settings]:
    """Yield settings for a broker that answers, once closeknit's topics exist on it.

    With no broker configured this reuses an embedded broker already answering on the
    embedded port (e.g. `closeknit broker` in another terminal) or starts one of
    `CLOSEKNIT_EMBEDDED_BROKER`'s kind for as long as the block runs. `private` always
    starts a fresh one on a free port, so that two commands never share a broker, topics or
    a consumer group (the demo). The settings yielded name the broker's port and kind
    (`broker_kind`, detected from its cluster id when not given).
    """
    broker: BrokerProcess | None = None
    fresh = private and settings.uses_embedded_broker
    if fresh or not broker_answers(settings.bootstrap_servers(), timeout=2.0):
        if not settings.uses_embedded_broker:
            raise BrokerUnavailable(
                f"no Kafka broker answers at {settings.bootstrap_servers()}. Check "
                "CLOSEKNIT_BROKER, or unset it to use the embedded broker."
            )
        if not start_embedded:
            raise BrokerUnavailable(
                f"no broker at {settings.bootstrap_servers()}: start one with "
                "`closeknit broker`, or set CLOSEKNIT_BROKER"
            )
        port = 0 if private else settings.embedded_port
        broker = embedded_broker(settings.resolved_broker_kind, port, log_dir=settings.data_dir)
        log.info("starting the embedded broker (%s)", broker.kind)
        broker.start()
        log.info("started the embedded broker: %s", broker.describe())
        settings = dataclasses.replace(settings, embedded_port=broker.port)
    bootstrap = settings.bootstrap_servers()
    if settings.broker_kind is None:
        kind = broker.kind if broker is not None else asyncio.run(detect_broker_kind(bootstrap))
        settings = dataclasses.replace(settings, broker_kind=kind)
    try:
        created = asyncio.run(ensure_topics(bootstrap, topic_specs(settings)))
        if created:
            log.info("created %d topics", len(created))
        yield settings
    finally:
        if broker is not None:
            broker.stop()


async def fence_changelogs(bootstrap: str, changelog_topics: Sequence[str]) -> int:
    """Append a one-record tombstone batch to every changelog partition.

    Tansu answers ListOffsets(latest) with the newest batch's *base* offset + 1, and Faust
    restores a table only up to that offset, so the tail of a multi-record batch would be
    skipped on restart. A single-record batch at the end makes that answer the true log end;
    the tombstone deletes a key that never exists. Returns the number of partitions fenced.
    """
    # Only existing topics: asking for metadata of a missing one makes Tansu auto-create it
    # with its own partition count, which Faust would then reject.
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_kwargs())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
    finally:
        await admin.close()
    producer = AIOKafkaProducer(
        **client_kwargs(), bootstrap_servers=bootstrap, linger_ms=0, acks="all"
    )
    await producer.start()
    fenced = 0
    try:
        for topic in (t for t in changelog_topics if t in existing):
            partitions = await producer.partitions_for(topic)
            for partition in sorted(partitions or ()):
                # Awaiting each send keeps every fence in a batch of its own.
                await (await producer.send(topic, None, key=FENCE_KEY, partition=partition))
                fenced += 1
    finally:
        await producer.stop()
    return fenced


def run_worker(settings: Settings) -> int:
    """Run a Faust worker until SIGINT/SIGTERM; returns its exit code."""
    from service.gc_policy import apply_gc_policy
    from service.shell.app import build_app
    from service.shell.patches.bounded_stop import BoundedStopWorker

    app = build_app(settings)
    apply_gc_policy(settings.gc_young_threshold)
    if settings.quirks.fence_changelogs:
        changelogs = [table.changelog_topic.get_topic_name() for table in app.tables.values()]
        fenced = asyncio.run(fence_changelogs(settings.bootstrap_servers(), changelogs))
        log.info("fenced %d changelog partitions against Tansu's ListOffsets defect", fenced)
    worker = BoundedStopWorker(app, loglevel=settings.log_level, quiet=True)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0
