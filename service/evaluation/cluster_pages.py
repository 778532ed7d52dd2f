"""How often emerging-cluster alerts page on a replay: the cluster owner's core over a file.

Each applied interaction's dyad snapshot moves the strong-tie graph and the incremental
communities, as on the cluster owner; every `tick_s` of event time the tracker observes the
communities (service.core.clusters) and its signals go through the alert lifecycle and the
incident rule (service.core.incidents). Every `refine_s` of event time the partition is
refined (networkx Louvain below 2,000 edges, as in the worker). Pages per day are over the
file's span of event time.

email-Eu-core has no times: its edges are spread evenly over 803 days in file order (the
span of SNAP's temporal version of the same network).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.core import ties
from service.core.clusters import ClusterTracker
from service.core.communities import IncrementalCommunities, refine_partition
from service.core.graph import StrongTieGraph
from service.core.incidents import IncidentBook
from service.core.interaction import Interaction
from service.evaluation.relationships import RelationshipReplay
from service.sources.record import SourceItem, SourceRecord, mention_record

EMAIL_SPAN_DAYS = 803.0
EMAIL_START = 1_104_537_600.0  # 2005-01-01, inside the temporal version's span
DAY_S = 86400.0


@dataclass
class ClusterReplay(RelationshipReplay):
    tick_s: float = 3600.0  # as the cluster owner observes on event time (TICK_EVENT_S)
    refine_s: float = 6 * 3600.0
    graph: StrongTieGraph = field(default_factory=StrongTieGraph)
    tracker: ClusterTracker = field(default_factory=ClusterTracker)
    book: IncidentBook = field(default_factory=IncidentBook)
    pages: list[float] = field(default_factory=list)  # event times of paging records
    opened: int = 0
    _communities: IncrementalCommunities | None = None
    _last_tick: float | None = None
    _last_refine: float | None = None

    @property
    def communities(self) -> IncrementalCommunities:
        if self._communities is None:
            self._communities = IncrementalCommunities(self.graph)
        return self._communities

    def apply(self, interaction: Interaction) -> None:
        super().apply(interaction)
        t = interaction.event_time
        for target in interaction.targets:
            key = ties.dyad_key(interaction.actor, target)
            state = self.dyads.get(key)
            if state is not None:
                snapshot = ties.snapshot(state, key, state.ref, self.params)
                self.communities.apply(self.graph.update(snapshot))
        if self._last_tick is None or t >= self._last_tick + self.tick_s:
            self.tick(t)

    def tick(self, now: float) -> None:
        self._last_tick = now
        if self._last_refine is None or now >= self._last_refine + self.refine_s:
            self._last_refine = now
            self.communities.revalue(now)
            result = refine_partition(self.communities.snapshot_for_refinement())
            self.communities.adopt(result.communities)
        self.communities.expire(now)
        found = self.communities.communities(self.tracker.params.min_size)
        for signal in self.tracker.observe(found, self.graph, now).signals:
            for emitted in self.book.observe(signal):
                self.opened += emitted.record["state"] == "open"
                if emitted.pages:
                    self.pages.append(signal.at)

    def report(self) -> dict[str, Any]:
        first, last = self.first_event_time, self.last_event_time
        days = (last - first) / DAY_S if first is not None and last is not None else 0.0
        return {
            "events": self.events_in,
            "days": round(days, 1),
            "pages": len(self.pages),
            "pages_per_day": round(len(self.pages) / days, 3) if days else None,
            "clusters_tracked": len(self.tracker.clusters),
        }


def email_as_events(path: Path) -> Iterator[SourceItem]:
    """email-Eu-core's edges as mentions, spread evenly over `EMAIL_SPAN_DAYS`."""
    lines = [line.split() for line in path.read_text().splitlines() if line.strip()]
    step = EMAIL_SPAN_DAYS * DAY_S / max(1, len(lines))
    for n, (src, dst) in enumerate(lines):
        if src == dst:
            continue
        yield mention_record(
            event_id=f"email:{n}", event_time=EMAIL_START + n * step, author_id=f"e{src}",
            target_ids=[f"e{dst}"], text="",
        )  # fmt: skip


def cluster_pages(items: Iterable[SourceItem]) -> dict[str, Any]:
    replay = ClusterReplay()
    replay.run(items)
    if replay.last_event_time is not None:
        replay.tick(replay.last_event_time + 1.0)
    return replay.report()


__all__ = ["ClusterReplay", "SourceRecord", "cluster_pages", "email_as_events"]
