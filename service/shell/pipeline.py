"""The pipeline context every stage and web view shares: settings, tables, topics, clocks.

It imports no stage and no view, so the stages (service.shell.stages), the views
(service.shell.web) and the app that wires them (service.shell.app) all depend on it and
not on each other. What a view needs of the cluster owner is the `ClusterReader` protocol.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import faust
from faust.types import TableT

from service.config import Settings
from service.core.brand_accounts import NO_BRAND_ACCOUNTS, BrandAccounts
from service.core.burst import BurstParams
from service.core.envelope import pack
from service.core.failure import FailureClassifier
from service.core.optout import OptOutRegistry
from service.core.sentiment import SentimentScorer
from service.core.signals import SignalParams
from service.core.ties import DEFAULT_TIE_PARAMS, TieParams
from service.core.validation import EventValidator
from service.shell.codecs import use_codec
from service.shell.metrics import Metrics
from service.shell.stages.write_behind import WriteBehind
from service.shell.topics import changelog_configs

Table = TableT[bytes, Any]
T = TypeVar("T")


def registered(value: T | None, what: str) -> T:
    """A table or stage that a stage sets on the pipeline as it registers; the stages
    register before the views (service.shell.app), so None here is a wiring mistake."""
    if value is None:
        raise RuntimeError(f"{what} is read before the stage that owns it was registered")
    return value


class ClusterReader(Protocol):
    """The cluster owner (service.shell.stages.cluster_owner) as the web views read it."""

    def owns_graph(self) -> bool: ...

    def summaries(self) -> list[dict[str, Any]]: ...

    def detail(self, cluster_id: str) -> dict[str, Any] | None: ...


@dataclass
class Pipeline:
    """What the agents and views share; attached to the app as `app.pipeline`."""

    settings: Settings
    app: faust.App
    metrics: Metrics
    validator: EventValidator
    topics: dict[str, faust.TopicT] = field(default_factory=dict)
    tie_params: TieParams = DEFAULT_TIE_PARAMS
    dyads: Table | None = None  # set by service.shell.stages.dyads
    people: Table | None = None  # set by service.shell.stages.people
    cluster_stage: ClusterReader | None = None  # set by service.shell.stages.cluster_owner
    alert_entries: Table | None = None  # alert lifecycle rows, set by ...alert_publisher
    bursts: Table | None = None  # burst rows by brand, set by ...moments_of_truth
    scorer: SentimentScorer | None = None
    classifier: FailureClassifier | None = None
    ready: bool = False
    optouts_loaded: asyncio.Event = field(default_factory=asyncio.Event)
    clock: float = 0.0  # newest event time applied here: "now" for reads, replay-stable
    optouts: OptOutRegistry = field(default_factory=OptOutRegistry)
    brand_accounts: BrandAccounts = NO_BRAND_ACCOUNTS

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

    def rows(self, table: Table) -> WriteBehind[Any]:
        """A write-behind view of `table` for one envelope (service.shell.stages.write_behind)."""
        return WriteBehind(table, self.send_to_partition)

    async def send_items(self, topic: str, items: list[tuple[bytes, bytes]]) -> None:
        """Send (key, value) items for an internal topic as envelopes, one record per
        destination partition (`service.core.envelope`)."""
        for key, value in pack(items, self.settings.partitions):
            await self.send(topic, key, value)

    def table(self, name: str, codec: str | None = None) -> Table:
        """A bytes-keyed table partitioned like the topics, its changelog compacted with the
        configs that bound how long an erased person's records stay (`changelog_configs`);
        with `codec`, its values are written and restored with that codec (`use_codec`)."""
        table = self.app.Table(
            name,
            key_type=bytes,
            partitions=self.settings.partitions,
            extra_topic_configs=changelog_configs(self.settings),
        )
        if codec is not None:
            use_codec(table, codec)
        return table

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


def signal_params(settings: Settings) -> SignalParams:
    """The detectors' parameters: critic gate, ties, and the burst prior."""
    prior = BurstParams(prior_rate=settings.burst_prior_per_hour / 60.0)
    return SignalParams(
        min_influence=settings.critic_min_influence, tie=tie_params(settings), burst=prior
    )
