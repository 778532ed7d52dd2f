"""Tribes: the strong-tie graph, incremental communities, cluster identity and alerts.

Community detection needs the whole graph, so the dyad agent copies every snapshot into the
single-partition `cluster-feed` topic and exactly one worker (the one assigned its only
partition) owns the graph. Each snapshot moves the two endpoints locally (incremental
modularity, service.core.communities); a timer observes the communities (identity,
lifecycle, emerging-cluster signals, service.core.clusters) and, now and then, refines the
whole partition with PLM in a thread, so the event loop keeps serving. After a restart the
owner rebuilds the graph by reading cluster-feed from the start (snapshots are absolute and
ordered by `seq`, so reading one twice changes nothing).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import orjson
from faust.types import TP

from service.broker.reader import read_topic
from service.core.clusters import ClusterTracker
from service.core.communities import IncrementalCommunities, refine_partition
from service.core.graph import StrongTieGraph
from service.core.routing import split_dyad_key
from service.shell.alerting import send_signal

if TYPE_CHECKING:
    from faust.types import StreamT

    from service.shell.app import Pipeline

log = logging.getLogger(__name__)

TICK_INTERVAL_S = 5.0
REFINE_EVERY_S = 30.0  # wall seconds between full refinements on the owner


class ClusterStage:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.graph = StrongTieGraph()
        self.communities = IncrementalCommunities(self.graph)
        self.tracker = ClusterTracker()
        self.built = False
        self.last_refine = 0.0
        self.refine_seconds: list[float] = []

    @property
    def topic_name(self) -> str:
        return self.pipeline.settings.topic("cluster-feed")

    def owns_graph(self) -> bool:
        assignment = self.pipeline.app.consumer.assignment()
        return TP(self.topic_name, 0) in assignment

    def take(self, key: bytes, value: bytes | None) -> None:
        if value is None:
            a, b = split_dyad_key(key.decode())
            self.communities.apply(self.graph.remove(a, b))
            for person in (a, b):
                if self.pipeline.optouts.is_opted_out(person):
                    self.tracker.forget(person)
            return
        self.communities.apply(self.graph.update(orjson.loads(value)))

    async def rebuild(self) -> None:
        """Read cluster-feed from the start: the graph as it stood before this worker."""
        bootstrap = self.pipeline.settings.bootstrap_servers()
        async for record in read_topic(bootstrap, self.topic_name, follow=False):
            self.take(record.key or b"", record.value)
        await self.refine()
        self.built = True
        log.info("strong-tie graph rebuilt: %d communities", len(self.communities))

    async def refine(self) -> None:
        self.last_refine = time.monotonic()
        now = self.graph.now
        if now == float("-inf"):
            return
        self.communities.revalue(now)
        edges = self.communities.snapshot_for_refinement()
        started = time.perf_counter()
        result = await asyncio.to_thread(refine_partition, edges)
        self.refine_seconds.append(time.perf_counter() - started)
        self.communities.adopt(result.communities)

    async def tick(self) -> None:
        if not self.owns_graph():
            return
        if not self.built:
            await self.rebuild()
        if time.monotonic() - self.last_refine >= REFINE_EVERY_S:
            await self.refine()
        now = self.graph.now
        if now == float("-inf"):
            return
        self.communities.expire(now)
        communities = self.communities.communities(self.tracker.params.min_size)
        observation = self.tracker.observe(
            communities, self.graph, now, influence=self._influence(communities, now)
        )
        self.pipeline.metrics.clusters.set(len(self.tracker.clusters))
        for signal in observation.signals:
            await send_signal(self.pipeline, signal)

    def _influence(self, communities: dict[int, frozenset[str]], now: float) -> dict[str, float]:
        """Influence of the members this worker holds (all of them on a single worker)."""
        people = self.pipeline.people
        params = self.pipeline.tie_params
        out: dict[str, float] = {}
        for members in communities.values():
            for member in members:
                state = people.get(member.encode())
                if state is not None:
                    out[member] = state.influence(now, None, params)
        return out

    def summaries(self) -> list[dict[str, Any]]:
        return self.tracker.summaries(self.graph.now if self.built else None)

    def detail(self, cluster_id: str) -> dict[str, Any] | None:
        return self.tracker.detail(cluster_id, self.graph)


def register(pipeline: Pipeline) -> ClusterStage:
    app = pipeline.app
    stage = ClusterStage(pipeline)
    pipeline.cluster_stage = stage

    @app.agent(pipeline.topics["cluster-feed"], name="closeknit.clusters")
    async def clusters(stream: StreamT) -> None:
        async for event in stream.events():
            stage.take(event.message.key, event.message.value)

    @app.timer(TICK_INTERVAL_S)
    async def tick() -> None:
        await stage.tick()

    return stage
