"""Tribes: the strong-tie graph, incremental communities, cluster identity and alerts.

Community detection needs the whole graph, so exactly one worker holds it: the one assigned
the only partition of `cluster-owner`, a topic with no records whose assignment is the
election. The owner reads `dyad-updates` itself, every partition, from the start and then
as it grows (a plain consumer, not a Faust stream: no second copy of the snapshots is
written for it, and reading costs far less than a stage). Each snapshot moves the two
endpoints locally (incremental modularity, service.core.communities); a timer observes the
communities (identity, lifecycle, emerging-cluster signals, service.core.clusters) and, now
and then, refines the whole partition with PLM in a thread, so the event loop keeps
serving. A worker that loses the partition drops its graph; the next owner builds it the
same way (snapshots are absolute, and a dyad's are in offset order in its partition).
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
from service.shell.pipeline import registered
from service.shell.stages.alert_publisher import send_signal

if TYPE_CHECKING:
    from faust.types import StreamT

    from service.shell.pipeline import Pipeline

log = logging.getLogger(__name__)

TICK_INTERVAL_S = 5.0
# Also observe every this much event time, so a fast replay of history is seen in steps
# (identity, persistence and the bootstrap are judged on event time), as the replay does.
TICK_EVENT_S = 6 * 3600.0
IDLE_PARTITION_S = 5.0  # a dyad-updates partition silent this long does not hold time back
REFINE_EVERY_S = 30.0  # wall seconds between full refinements on the owner
FOLLOW_RETRY_S = 5.0


class ClusterStage:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.follower: asyncio.Future[None] | None = None
        self.refine_seconds: list[float] = []
        self._ticking = asyncio.Lock()
        self._reset()

    def _reset(self) -> None:
        self.graph = StrongTieGraph()
        self.communities = IncrementalCommunities(self.graph)
        self.tracker = ClusterTracker()
        self.built = False  # caught up with dyad-updates as it stood when reading began
        self.last_refine = 0.0
        self.last_event_tick = float("-inf")  # event time of the last observation
        # partition -> (newest snapshot ref read from it, monotonic time it was read)
        self.partition_clocks: dict[int, tuple[float, float]] = {}

    def owns_graph(self) -> bool:
        assignment = self.pipeline.app.consumer.assignment()
        return TP(self.pipeline.settings.topic("cluster-owner"), 0) in assignment

    def event_time(self) -> float:
        """Event time every active dyad-updates partition has been read up to: the clock the
        tracker judges ages by. The graph's own clock is the newest snapshot of any partition,
        which in a fast replay runs days ahead of the others."""
        clocks = self.partition_clocks
        if not clocks:
            return self.graph.now
        now = time.monotonic()
        active = [t for t, seen in clocks.values() if now - seen <= IDLE_PARTITION_S]
        return min(active) if active else max(t for t, _ in clocks.values())

    def take(self, key: bytes, value: bytes | None, partition: int = 0) -> None:
        if value is None:
            a, b = split_dyad_key(key.decode())
            self.communities.apply(self.graph.remove(a, b))
            for person in (a, b):
                if self.pipeline.optouts.is_opted_out(person):
                    self.tracker.forget(person)
            return
        snapshot = orjson.loads(value)
        self.communities.apply(self.graph.update(snapshot))
        ref = float(snapshot["ref"])
        held = self.partition_clocks.get(partition)
        self.partition_clocks[partition] = (max(ref, held[0]) if held else ref, time.monotonic())

    async def follow(self) -> None:
        """Every snapshot on dyad-updates, from the start, then as they come. A failed read
        (the broker away) starts over from an empty graph, after a pause."""
        settings = self.pipeline.settings

        def caught_up() -> None:
            if not self.built:
                self.built = True
                log.info("strong-tie graph built: %d edges", len(self.graph))
                # Observed now, not on the next tick: the first alerts come a tick sooner.
                self.pipeline.app.add_future(self.tick())

        while True:
            try:
                async for record in read_topic(
                    settings.bootstrap_servers(), settings.topic("dyad-updates"),
                    on_idle=caught_up,
                ):  # fmt: skip
                    self.take(record.key or b"", record.value, record.partition)
                    if self.built and self.event_time() >= self.last_event_tick + TICK_EVENT_S:
                        await self.tick()
            except Exception as exc:  # the app must not crash on it: try again
                log.error("reading dyad-updates failed (%s); reading again", type(exc).__name__)
            self._reset()
            await asyncio.sleep(FOLLOW_RETRY_S)

    def _keep_following(self) -> None:
        if self.follower is None or self.follower.done():
            self._reset()
            self.follower = self.pipeline.app.add_future(self.follow())

    def _stop_following(self) -> None:
        if self.follower is not None:
            self.follower.cancel()
            self.follower = None
            self._reset()
            log.info("cluster-owner moved to another worker: its graph is dropped here")

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
        async with self._ticking:  # the timer's, and the one right after the graph is built
            await self._tick()

    async def _tick(self) -> None:
        if not self.owns_graph():
            self._stop_following()
            return
        self._keep_following()
        if not self.built:
            return
        if time.monotonic() - self.last_refine >= REFINE_EVERY_S:
            await self.refine()
        now = self.event_time()
        if now == float("-inf"):
            return
        self.last_event_tick = now
        self.communities.expire(self.graph.now)
        communities = self.communities.communities(self.tracker.params.min_size)
        observation = self.tracker.observe(
            communities, self.graph, now, influence=self._influence(communities, now)
        )
        self.pipeline.metrics.clusters.set(len(self.tracker.clusters))
        for signal in observation.signals:
            await send_signal(self.pipeline, signal)

    def _influence(self, communities: dict[int, frozenset[str]], now: float) -> dict[str, float]:
        """Influence of the members this worker holds (all of them on a single worker)."""
        people = registered(self.pipeline.people, "the people table")
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

    @app.agent(pipeline.topics["cluster-owner"], name="closeknit.cluster-owner")
    async def cluster_owner(stream: StreamT) -> None:
        async for _ in stream:  # nothing is written here: the assignment is what counts
            pass

    @app.timer(TICK_INTERVAL_S)
    async def tick() -> None:
        await stage.tick()

    @app.on_rebalance_complete.connect  # type: ignore[arg-type]  # faust's stubs are strict
    async def on_rebalanced(sender: Any, **_: Any) -> None:
        # The owner starts reading as soon as it is assigned, not at the next timer tick:
        # snapshots that arrive once it follows are observed in event-time steps.
        app.add_future(stage.tick())

    return stage
