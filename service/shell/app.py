"""The Faust app: settings in, a wired app with topics, tables, agents and web views out."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import faust

from service.config import Settings
from service.core.envelope import pack
from service.core.failure import FailureClassifier, classifier_for
from service.core.optout import OptOutRegistry
from service.core.sentiment import SentimentScorer, default_scorer
from service.core.ties import DEFAULT_TIE_PARAMS, TieParams
from service.core.validation import EventValidator
from service.kafka_security import KafkaSecurity
from service.shell.delivery import use_draining_buffer
from service.shell.fetch_wait import use_fetch_max_wait
from service.shell.flow import App
from service.shell.metrics import Metrics
from service.shell.topics import CATALOG, changelog_configs
from service.shell.write_behind import WriteBehind

log = logging.getLogger(__name__)


@dataclass
class Pipeline:
    """What the agents and views share; attached to the app as `app.pipeline`."""

    settings: Settings
    app: faust.App
    metrics: Metrics
    validator: EventValidator
    topics: dict[str, faust.TopicT] = field(default_factory=dict)
    tie_params: TieParams = DEFAULT_TIE_PARAMS
    dyads: Any = None  # the dyads Table, set by service.shell.dyads
    people: Any = None  # the people Table, set by service.shell.people
    critic_stage: Any = None
    cluster_stage: Any = None
    alert_entries: Any = None  # alert lifecycle rows, set by service.shell.alerting
    scorer: SentimentScorer | None = None
    classifier: FailureClassifier | None = None
    ready: bool = False
    optouts_loaded: asyncio.Event = field(default_factory=asyncio.Event)
    clock: float = 0.0  # newest event time applied here: "now" for reads, replay-stable
    optouts: OptOutRegistry = field(default_factory=OptOutRegistry)

    # partition of the people stage -> (newest post time handled, monotonic time it was seen)
    post_clocks: dict[int, tuple[float, float]] = field(default_factory=dict)

    async def send(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        """Hand one raw record for `topic` (a catalog short name) to the producer.

        Faust's `Topic.send` wraps each record in channel futures, the serializer registry
        and sensors; when the pipeline wrote 10+ records per event, that was a large share
        of the worker's CPU. Keys and values are bytes already, so the record goes straight
        to the producer. Delivery is unchanged: the record is in the producer's batch when this
        returns, and the producer is flushed before offsets are committed.
        """
        await self.app.producer.send(self.settings.topic(topic), key, value, None, None, None)

    async def send_to_partition(
        self, topic_name: str, key: bytes, value: bytes | None, partition: int
    ) -> None:
        """`send` for a full topic name and a set partition (a table's changelog)."""
        await self.app.producer.send(topic_name, key, value, partition, None, None)

    def rows(self, table: Any) -> WriteBehind[Any]:
        """A write-behind view of `table` for one envelope (service.shell.write_behind)."""
        return WriteBehind(table, self.send_to_partition)

    async def send_items(self, topic: str, items: list[tuple[bytes, bytes]]) -> None:
        """Send (key, value) items for an internal topic as envelopes, one record per
        destination partition (`service.core.envelope`)."""
        for key, value in pack(items, self.settings.partitions):
            await self.send(topic, key, value)

    def table(self, name: str) -> Any:
        """A bytes-keyed table partitioned like the topics, its changelog compacted with the
        configs that bound how long an erased person's records stay (`changelog_configs`)."""
        return self.app.Table(
            name,
            key_type=bytes,
            partitions=self.settings.partitions,
            extra_topic_configs=changelog_configs(self.settings),
        )

    def advance_clock(self, event_time: float) -> None:
        if event_time > self.clock:
            self.clock = event_time

    def note_post(self, partition: int, event_time: float) -> None:
        newest = max(event_time, self.post_clocks.get(partition, (event_time, 0.0))[0])
        self.post_clocks[partition] = (newest, time.monotonic())

    def low_watermark(self, idle_s: float = 30.0) -> float | None:
        """Event time every local people partition has handled posts up to.

        Complaints with earlier times have all been sent, so a tick carrying this time is
        behind them in each brand's partition. Partitions silent for `idle_s` do not hold
        it back (their next post will be newer anyway).
        """
        if not self.post_clocks:
            return None
        now = time.monotonic()
        active = [t for t, seen in self.post_clocks.values() if now - seen <= idle_s]
        return min(active) if active else max(t for t, _ in self.post_clocks.values())


def tie_params(settings: Settings) -> TieParams:
    return TieParams(
        half_life_s=settings.half_life_days * 86400.0,
        weight_mention=settings.weight_mention,
        weight_reply=settings.weight_reply,
        dedup_horizon_s=settings.dedup_horizon_days * 86400.0,
        strong_tie_threshold=settings.strong_tie_threshold,
    )


def build_app(settings: Settings) -> faust.App:
    """A Faust app configured from settings, with every closeknit stage registered."""
    security = KafkaSecurity.from_settings(settings)
    log.info("Kafka connection: %s", security.describe())
    for warning in security.warnings():
        log.warning("%s", warning)
    app = App(
        settings.app_id,
        broker_credentials=security.faust_credentials(),
        broker=settings.broker_url(),
        store="memory://",
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.partitions,
        # Faust's CLI binds every interface by default; closeknit binds loopback unless told.
        web_bind=settings.web_host,
        web_host=settings.web_host,
        web_port=settings.web_port,
        datadir=str(settings.data_dir / "faust"),
        broker_session_timeout=settings.effective_session_timeout_s(),
        # Kafka wants heartbeats well inside the session timeout.
        broker_heartbeat_interval=min(3.0, settings.effective_session_timeout_s() / 4),
        producer_acks=-1,
        producer_linger=settings.producer_linger_ms / 1000.0,
        table_standby_replicas=0,
    )
    use_fetch_max_wait(app, settings.effective_fetch_max_wait_ms())
    use_draining_buffer(app)
    pipeline = Pipeline(
        settings=settings,
        app=app,
        metrics=Metrics(),
        tie_params=tie_params(settings),
        scorer=default_scorer(),
        classifier=classifier_for(settings.failure_taxonomy),
        validator=EventValidator(
            max_message_bytes=settings.max_message_bytes,
            max_future_skew_s=settings.max_future_skew_s,
        ),
    )
    for info in CATALOG:
        pipeline.topics[info.short_name] = app.topic(
            settings.topic(info.short_name),
            key_type=bytes,
            value_type=bytes,
            allow_empty=True,
            partitions=info.partitions or settings.partitions,
        )
    app.pipeline = pipeline  # type: ignore[attr-defined]

    # Imported here so that registering stages is explicit and ordered.
    from service.shell import (
        alerting,
        api,
        bursts,
        clusters,
        critics,
        dashboard,
        dyads,
        ingest,
        lag,
        loop_lag,
        optouts,
        people,
        web,
    )

    optouts.register(pipeline)
    ingest.register(pipeline)
    dyads.register(pipeline)
    pipeline.critic_stage = critics.CriticStage(pipeline)  # the people stage runs it
    people.register(pipeline)
    bursts.register(pipeline)
    clusters.register(pipeline)
    alerting.register(pipeline)
    loop_lag.register(pipeline)
    lag.register(pipeline)
    web.register(pipeline)
    api.register(pipeline)
    dashboard.register(pipeline)

    # Faust starts app tasks only once table recovery has completed, so this marks
    # the moment the worker can serve (the Worker claims `on_startup_finished` itself).
    @app.task
    async def mark_ready() -> None:
        await pipeline.optouts_loaded.wait()
        pipeline.ready = True

    return app
