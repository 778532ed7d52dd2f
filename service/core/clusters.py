"""Tribes over time: stable cluster ids, lifecycle events, metrics and emerging-cluster signals.

`ClusterTracker.observe(communities, graph, now)` runs on a tick (every few seconds or minutes
of event time, and after each refinement), not per dyad update: it matches the communities of
at least `min_size` members to the clusters it already knows, computes their metrics and
returns the lifecycle events and the emerging-cluster signals for the alert book. Cost:
O(tracked members + their internal edges) per tick.

Identity (Greene, Doyle & Cunningham, ASONAM 2010, match by Jaccard overlap of members):

1. Continuation. Candidate pairs (old P, new C) have Jaccard |P & C| / |P | C| >= `match_jaccard`
   or containment |P & C| / min(|P|, |C|) >= `match_containment` (a small tribe absorbed into a
   larger one, or a big one keeping its core). Greedily, by Jaccard then overlap then the older
   id, each P and each C is used once: C keeps P's id.
2. Split: an unmatched C with most of its members (>= half) from a P that continued elsewhere
   gets a new id and a `split` event on P. Otherwise a new C is `forming`.
3. Merge: an unmatched P with most of its members (>= half) in one C that has an id is `merged`
   into it; otherwise P is `dissolved`.
4. A continuing cluster's state follows its growth over `growth_window_s` of event time:
   `forming` while younger than `forming_window_s`, then `growing` (growth rate >= +10 %),
   `shrinking` (<= -10 %) or `stable`; entering growing or shrinking is an event.

Ids are "c-1", "c-2", ... from one counter, handed out in a deterministic order (largest new
community first, then by its smallest member), so the same input gives the same ids.

Metrics of a cluster C over the strong-tie graph: size; internal edges and density
(edges / (n (n - 1) / 2)); internal weight (sum of internal tie strengths) and the mean internal
tie strength; boundary weight (ties leaving C); cohesion = internal / (internal + boundary);
growth (members gained over the window, and that as a rate of the size at the window's start).

Something new, not the graph filling in, judged on the ties' own first interactions (exact
however fast, and in whatever order, a replay is read): a cluster is news when the median of its
internal ties began after the graph's first `bootstrap_min_history_s` (a new deployment's or a
replay's first week is the graph filling in) and at most `emerging_max_age_s` ago (new
relationships, not old acquaintances regrouping), and it has kept its id (identity matching)
for `emerging_min_span_s`, so one that falls apart or merges back within that span never pages.
What the tracker sees in its first `bootstrap_window_s` (a restart reading in a graph) is
`preexisting`, as is a new cluster most of whose members come from one preexisting cluster.
Absorbing another cluster is not growth (the absorber's growth restarts at the merge; growth is
counted from the bootstrap's end), and a cluster is news once: after its emerging alert opened,
it does not open another for `emerging_repage_s`.

Emerging cluster (`ClusterParams`): a cluster with at least `emerging_min_size` members,
density >= `emerging_min_density` and mean tie strength >= `emerging_min_strength`, not
preexisting; or any cluster of that size whose growth rate reaches `emerging_growth_rate`.
Either must be news (above). The alert stays open
while the bars hold at `hysteresis` times their value (age no longer matters then); it resolves
when they fail or the cluster merges or dissolves. Its score is the cohesion (alerts.py bands:
warning 0.5, critical 0.8). Evidence: the members, the critical ties (the strongest internal
ones), the people (central members by internal strength, bridges: members with the most weight
to other clusters, and in a small cluster the brokers with the highest betweenness inside it),
the topics discussed (scope weights summed over internal ties) and, when the caller passes per-
member sentiment, its mean.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from service.core.alerts import AlertSignal, Step
from service.core.graph import StrongTieGraph

__all__ = [
    "DEFAULT_CLUSTER_PARAMS",
    "Cluster",
    "ClusterEvent",
    "ClusterMetrics",
    "ClusterParams",
    "ClusterTracker",
    "EmergingStep",
    "Observation",
    "central_members",
    "cluster_metrics",
    "cluster_signal",
    "critical_people",
    "critical_ties",
    "topics_discussed",
]

DAY_S = 86400.0

Lifecycle = Literal["forming", "growing", "shrinking", "stable"]
EventKind = Literal["forming", "growing", "shrinking", "merged", "split", "dissolved"]


@dataclass(frozen=True, slots=True)
class ClusterParams:
    """Tracking, lifecycle and emerging-cluster bars (the module docstring)."""

    min_size: int = 3  # smaller communities are not tracked (a dyad is not a tribe)
    match_jaccard: float = 0.3
    match_containment: float = 0.5
    forming_window_s: float = 3 * DAY_S
    growth_window_s: float = 7 * DAY_S
    growth_state_rate: float = 0.1  # |growth rate| at which a cluster is growing/shrinking
    emerging_min_size: int = 4
    emerging_min_density: float = 0.5
    emerging_min_strength: float = 0.7  # mean internal tie strength (strong ties start at 0.6)
    emerging_growth_rate: float = 1.0  # doubled within the growth window
    emerging_max_age_s: float = 14 * DAY_S
    emerging_min_span_s: float = DAY_S  # persist this long (same id) before it is emerging
    emerging_repage_s: float = 14 * DAY_S  # a cluster is news once in this span, not again
    bootstrap_window_s: float = DAY_S  # what the tracker sees in its first day is not new
    bootstrap_min_history_s: float = 7 * DAY_S  # ties from the graph's first week: not new
    hysteresis: float = 0.8
    top_ties: int = 10
    top_people: int = 5  # per role: central, bridge, broker
    top_topics: int = 5
    max_members: int = 100  # members listed in evidence and details
    betweenness_max_size: int = 50  # brokers by betweenness only in clusters this small

    def __post_init__(self) -> None:
        if self.min_size < 2:
            raise ValueError("min_size must be at least 2")
        if not (0.0 < self.match_jaccard <= 1.0 and 0.5 <= self.match_containment <= 1.0):
            raise ValueError("match_jaccard must be in (0, 1], match_containment in [0.5, 1]")
        if not 0.0 < self.hysteresis <= 1.0:
            raise ValueError("hysteresis must be in (0, 1]")
        if not self.growth_window_s > 0.0:
            raise ValueError("growth_window_s must be positive")


DEFAULT_CLUSTER_PARAMS = ClusterParams()


class ClusterEvent(NamedTuple):
    """A lifecycle event. `related`: merged -> (the id it merged into,); split -> new ids."""

    kind: EventKind
    cluster_id: str
    at: float
    size: int
    related: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "cluster_id": self.cluster_id,
            "at": self.at,
            "size": self.size,
            "related": list(self.related),
        }


@dataclass(frozen=True, slots=True)
class ClusterMetrics:
    size: int
    edges: int  # internal ties
    density: float
    internal_weight: float  # sum of internal tie strengths
    boundary_weight: float  # sum of the strengths of ties leaving the cluster
    cohesion: float  # internal / (internal + boundary)
    mean_tie_strength: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "edges": self.edges,
            "density": _r(self.density),
            "internal_strength": _r(self.internal_weight),
            "boundary_strength": _r(self.boundary_weight),
            "cohesion": _r(self.cohesion),
            "mean_tie_strength": _r(self.mean_tie_strength),
        }


@dataclass(slots=True)
class Cluster:
    """One tracked cluster: its members at the last tick and its history."""

    id: str
    members: frozenset[str]
    born: float
    updated: float  # event time of the last membership change
    state: Lifecycle = "forming"
    history: list[tuple[float, int]] = field(default_factory=list)  # (time, size) changes
    metrics: ClusterMetrics | None = None
    alert_since: float | None = None  # event time its emerging alert opened; None: none open
    alert_members: frozenset[str] = frozenset()  # members at the last signal
    preexisting: bool = False  # seen while the graph was bootstrapping: not new
    emerged_at: float | None = None  # event time its last emerging alert opened

    def size_at(self, t: float) -> int:
        """The size at event time `t` (the birth size before birth)."""
        size = self.history[0][1] if self.history else len(self.members)
        for when, n in self.history:
            if when > t:
                break
            size = n
        return size

    def growth(self, now: float, window_s: float) -> tuple[int, float]:
        """(members gained, gained / size at the start) over the last `window_s`."""
        then = self.size_at(now - window_s)
        gained = len(self.members) - then
        return gained, gained / then if then > 0 else 0.0

    def _record(self, now: float, window_s: float) -> None:
        size = len(self.members)
        if not self.history or self.history[-1][1] != size:
            self.history.append((now, size))
        # Keep the last point at or before the window's start: it is the baseline.
        start = now - window_s
        drop = 0
        while drop + 1 < len(self.history) and self.history[drop + 1][0] <= start:
            drop += 1
        if drop:
            del self.history[:drop]


class EmergingStep(NamedTuple):
    """One step of a cluster's emerging alert, for `cluster_signal`."""

    cluster_id: str
    step: Step  # opened, update or resolved
    at: float
    score: float  # cohesion in [0, 1]
    start: float  # the cluster's birth: where the evidence begins
    evidence: dict[str, Any]


class Observation(NamedTuple):
    events: list[ClusterEvent]
    signals: list[AlertSignal]  # for the alert book (alerts.step)


class ClusterTracker:
    """Clusters by stable id across ticks (the module docstring)."""

    def __init__(self, params: ClusterParams = DEFAULT_CLUSTER_PARAMS) -> None:
        self.params = params
        self.clusters: dict[str, Cluster] = {}
        self._next = 1
        self.now = -math.inf
        self.first_seen: float | None = None
        self.bootstrapping = True
        self.booted_at = -math.inf  # when the bootstrap window ended: growth counts from here

    def _still_bootstrapping(self, now: float) -> bool:
        """The first `bootstrap_window_s` of event time this tracker observes (a restart or
        a new deployment reads in a graph whose clusters it has not seen form). Once over,
        it stays over."""
        if not self.bootstrapping:
            return False
        if self.first_seen is None:
            self.first_seen = now
        self.bootstrapping = now - self.first_seen < self.params.bootstrap_window_s
        if not self.bootstrapping:
            self.booted_at = now
        return self.bootstrapping

    def get(self, cluster_id: str) -> Cluster | None:
        return self.clusters.get(cluster_id)

    def cluster_of(self, person: str) -> str | None:
        for c in self.clusters.values():
            if person in c.members:
                return c.id
        return None

    # -- the tick ---------------------------------------------------------------------------

    def observe(
        self,
        communities: Mapping[Any, Iterable[str]] | Iterable[Iterable[str]],
        graph: StrongTieGraph,
        now: float,
        sentiment: Mapping[str, float] | None = None,
        influence: Mapping[str, float] | None = None,
    ) -> Observation:
        """Match `communities` to the known clusters at event time `now`; events and signals.

        `communities`: the detector's communities (`IncrementalCommunities.communities()`, a
        mapping of label to members, or any iterable of member sets); those under `min_size`
        are ignored. `sentiment` and `influence` (person -> value) enrich the evidence.
        """
        p = self.params
        self.now = max(self.now, now)
        booting = self._still_bootstrapping(now)
        groups = communities.values() if isinstance(communities, Mapping) else communities
        fresh = [frozenset(g) for g in groups]
        fresh = [g for g in fresh if len(g) >= p.min_size]
        fresh.sort(key=lambda g: (-len(g), min(g)))
        old = self.clusters
        owner: dict[str, str] = {}
        for cid, c in old.items():
            for u in c.members:
                owner[u] = cid
        overlaps: list[dict[str, int]] = []
        for g in fresh:
            counts: dict[str, int] = {}
            for u in g:
                had = owner.get(u)
                if had is not None:
                    counts[had] = counts.get(had, 0) + 1
            overlaps.append(counts)

        # 1. continuation
        candidates = []
        for j, g in enumerate(fresh):
            for old_id, inter in overlaps[j].items():
                size_p = len(old[old_id].members)
                jaccard = inter / (size_p + len(g) - inter)
                contain = inter / min(size_p, len(g))
                if jaccard >= p.match_jaccard or contain >= p.match_containment:
                    candidates.append((-jaccard, -inter, _seq(old_id), j, old_id))
        candidates.sort()
        match_new: dict[int, str] = {}
        match_old: dict[str, int] = {}
        for _, _, _, j, cid in candidates:
            if j not in match_new and cid not in match_old:
                match_new[j] = cid
                match_old[cid] = j

        events: list[ClusterEvent] = []
        signals: list[AlertSignal] = []
        ids: list[str] = [""] * len(fresh)
        updated: dict[str, Cluster] = {}
        children: dict[str, list[str]] = {}
        for j, g in enumerate(fresh):
            kept = match_new.get(j)
            if kept is not None:
                c = old[kept]
                if c.members != g:
                    c.members = g
                    c.updated = now
                ids[j] = kept
                updated[kept] = c
                continue
            # 2. split or forming
            parent = _dominant(overlaps[j])
            new = Cluster(id=self._take_id(), members=g, born=now, updated=now)
            if parent is not None and overlaps[j][parent] * 2 >= len(g):
                new.preexisting = old[parent].preexisting  # a re-formation of what was there
            ids[j] = new.id
            updated[new.id] = new
            if parent is not None and overlaps[j][parent] * 2 >= len(g) and parent in match_old:
                children.setdefault(parent, []).append(new.id)
            else:
                events.append(ClusterEvent("forming", new.id, now, len(g)))
        for parent in sorted(children, key=_seq):
            kids = children[parent]
            events.append(
                ClusterEvent("split", parent, now, len(updated[parent].members), tuple(kids))
            )

        # 3. merged or dissolved
        for cid in sorted(old, key=_seq):
            if cid in match_old:
                continue
            c = old[cid]
            best_j, best = -1, 0
            for j in range(len(fresh)):
                inter = overlaps[j].get(cid, 0)
                if inter > best:
                    best_j, best = j, inter
            if best_j >= 0 and best * 2 >= len(c.members):
                events.append(ClusterEvent("merged", cid, now, len(c.members), (ids[best_j],)))
                # Absorbing a cluster is not growth: the absorber's growth restarts here.
                absorber = updated[ids[best_j]]
                absorber.history = [(now, len(absorber.members))]
            else:
                events.append(ClusterEvent("dissolved", cid, now, len(c.members)))
            if c.alert_since is not None:
                signals.append(
                    cluster_signal(
                        EmergingStep(cid, "resolved", now, 0.0, c.born, _gone_evidence(c))
                    )
                )

        # 4. metrics, lifecycle states and emerging checks
        self.clusters = updated
        external_owner: dict[str, str] = {}
        for cid, c in updated.items():
            for u in c.members:
                external_owner[u] = cid
        for j in range(len(fresh)):
            c = updated[ids[j]]
            if booting:
                c.preexisting = True  # there before the graph was whole: never "new"
            c._record(now, p.growth_window_s)
            c.metrics = cluster_metrics(c.members, graph)
            state = self._state(c, now)
            if state != c.state:
                c.state = state
                if state in ("growing", "shrinking"):
                    events.append(ClusterEvent(state, c.id, now, len(c.members)))
            if booting:
                continue  # no emerging alerts while the graph is being filled in
            step = self._emerging_step(c, graph, now, sentiment, influence, external_owner)
            if step is not None:
                signals.append(cluster_signal(step))
        return Observation(events, signals)

    def _state(self, c: Cluster, now: float) -> Lifecycle:
        p = self.params
        if now - c.born < p.forming_window_s:
            return "forming"
        _, rate = c.growth(now, p.growth_window_s)
        if rate >= p.growth_state_rate:
            return "growing"
        if rate <= -p.growth_state_rate:
            return "shrinking"
        return "stable"

    def _emerging_step(
        self,
        c: Cluster,
        graph: StrongTieGraph,
        now: float,
        sentiment: Mapping[str, float] | None,
        influence: Mapping[str, float] | None,
        owner: Mapping[str, str],
    ) -> EmergingStep | None:
        p = self.params
        metrics = c.metrics
        assert metrics is not None
        # Growth for the alert counts from the bootstrap's end: filling the graph in is not it.
        _, rate = c.growth(now, min(p.growth_window_s, now - self.booted_at))
        alerting = c.alert_since is not None
        factor = p.hysteresis if alerting else 1.0
        sized = metrics.size >= p.emerging_min_size
        # To open, the cluster must be news, judged on its ties' own times so that neither
        # the order nor the pace a replay is read in changes the answer (_news).
        news = alerting or (sized and self._news(c, graph, now))
        tight = (
            sized
            and news
            and metrics.density >= p.emerging_min_density * factor
            and metrics.mean_tie_strength >= p.emerging_min_strength * factor
            and (alerting or not c.preexisting)
        )
        fast = sized and news and rate >= p.emerging_growth_rate * factor
        if not alerting and not (tight or fast):
            return None
        if not alerting and c.emerged_at is not None and now - c.emerged_at < p.emerging_repage_s:
            return None  # it was news already: not again so soon
        if alerting and not (tight or fast):
            c.alert_since = None
            c.alert_members = frozenset()
            evidence = self._evidence(c, graph, now, sentiment, influence, owner, tight, fast)
            return EmergingStep(c.id, "resolved", now, metrics.cohesion, c.born, evidence)
        if alerting and c.members == c.alert_members:
            return None  # nothing new to say
        what: Step = "update" if alerting else "opened"
        if not alerting:
            c.alert_since = c.emerged_at = now
        c.alert_members = c.members
        evidence = self._evidence(c, graph, now, sentiment, influence, owner, tight, fast)
        return EmergingStep(c.id, what, now, metrics.cohesion, c.born, evidence)

    def _news(self, c: Cluster, graph: StrongTieGraph, now: float) -> bool:
        """New relationships: the median internal tie began after the graph's first
        `bootstrap_min_history_s` (not the graph filling in) and at most `emerging_max_age_s`
        ago (not old acquaintances regrouping), and the cluster has kept its id for
        `emerging_min_span_s`. Ties' first interactions are exact however a replay is read;
        when a tie turned strong is not (a fast replay coalesces a dyad's snapshots)."""
        p = self.params
        began = _median_began(c.members, graph)
        if began < graph.origin + p.bootstrap_min_history_s or now - began > p.emerging_max_age_s:
            return False
        return now - c.born >= p.emerging_min_span_s

    def _evidence(
        self,
        c: Cluster,
        graph: StrongTieGraph,
        now: float,
        sentiment: Mapping[str, float] | None,
        influence: Mapping[str, float] | None,
        owner: Mapping[str, str],
        tight: bool,
        fast: bool,
    ) -> dict[str, Any]:
        p = self.params
        metrics = c.metrics
        assert metrics is not None
        gained, rate = c.growth(now, p.growth_window_s)
        evidence: dict[str, Any] = {
            **metrics.to_dict(),
            "trigger": [name for name, on in (("tight", tight), ("growth", fast)) if on],
            "state": c.state,
            "born": c.born,
            "growth": {"window_s": p.growth_window_s, "gained": gained, "rate": _r(rate)},
            "members": sorted(c.members)[: p.max_members],
            "people": critical_people(c.members, graph, p, influence, owner),
            "ties": critical_ties(c.members, graph, now, p.top_ties),
            "topics": topics_discussed(c.members, graph, now, p.top_topics),
        }
        if sentiment is not None:
            scored = [sentiment[u] for u in sorted(c.members) if u in sentiment]
            evidence["sentiment"] = {
                "mean": _r(math.fsum(scored) / len(scored)) if scored else None,
                "scored": len(scored),
            }
        return evidence

    # -- reads for the API ------------------------------------------------------------------

    def summaries(self, now: float | None = None) -> list[dict[str, Any]]:
        """GET /api/clusters: one row per cluster (size, cohesion, growth), largest first."""
        at = self.now if now is None else now
        window = self.params.growth_window_s
        rows = []
        for c in sorted(self.clusters.values(), key=lambda c: (-len(c.members), _seq(c.id))):
            gained, rate = c.growth(at, window)
            metrics = c.metrics.to_dict() if c.metrics is not None else {}
            rows.append(
                {
                    "id": c.id,
                    "state": c.state,
                    **metrics,
                    "size": len(c.members),
                    "growth": {"window_s": window, "gained": gained, "rate": _r(rate)},
                    "born": c.born,
                    "updated": c.updated,
                    "alerting": c.alert_since is not None,
                }
            )
        return rows

    def detail(
        self,
        cluster_id: str,
        graph: StrongTieGraph,
        now: float | None = None,
        influence: Mapping[str, float] | None = None,
    ) -> dict[str, Any] | None:
        """GET /api/clusters/{id}: members, critical ties and people, central members, topics."""
        c = self.clusters.get(cluster_id)
        if c is None:
            return None
        p = self.params
        at = self.now if now is None else now
        owner = {u: cid for cid, other in self.clusters.items() for u in other.members}
        gained, rate = c.growth(at, p.growth_window_s)
        return {
            "id": c.id,
            "state": c.state,
            **cluster_metrics(c.members, graph).to_dict(),
            "growth": {"window_s": p.growth_window_s, "gained": gained, "rate": _r(rate)},
            "born": c.born,
            "updated": c.updated,
            "members": sorted(c.members)[: p.max_members],
            "critical_ties": critical_ties(c.members, graph, at, p.top_ties),
            "critical_people": critical_people(c.members, graph, p, influence, owner),
            "central": central_members(c.members, graph, p.top_people * 2),
            "topics": topics_discussed(c.members, graph, at, p.top_topics),
        }

    # -- privacy and state ------------------------------------------------------------------

    def forget(self, person: str) -> None:
        """Erase a person who opted out from every cluster (and from the alert memory)."""
        for c in self.clusters.values():
            if person in c.members:
                c.members = c.members - {person}
            if person in c.alert_members:
                c.alert_members = c.alert_members - {person}

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state: the id counter and every cluster (members sorted)."""
        return {
            "next": self._next,
            "now": None if self.now == -math.inf else self.now,
            "clusters": [_cluster_to_dict(c) for c in self.clusters.values()],
            "boot": [
                self.first_seen,
                self.bootstrapping,
                None if self.booted_at == -math.inf else self.booted_at,
            ],
        }

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], params: ClusterParams = DEFAULT_CLUSTER_PARAMS
    ) -> ClusterTracker:
        out = cls(params)
        out._next = int(data["next"])
        out.now = -math.inf if data.get("now") is None else float(data["now"])
        for stored in data["clusters"]:
            c = _cluster_from_dict(stored)
            out.clusters[c.id] = c
        # A state from before bootstrap tracking was running already: not bootstrapping.
        first_seen, booting, booted_at = [*data.get("boot", (out.now, False)), None][:3]
        out.first_seen, out.bootstrapping = first_seen, bool(booting)
        out.booted_at = -math.inf if booted_at is None else float(booted_at)
        return out

    def _take_id(self) -> str:
        cid = f"c-{self._next}"
        self._next += 1
        return cid


# -- signals --------------------------------------------------------------------------------


def cluster_signal(step: EmergingStep, extra: Mapping[str, Any] | None = None) -> AlertSignal:
    """The alert-book signal of an emerging-cluster step (like alerts.change_signal).

    Score: the cluster's cohesion in [0, 1]. Not scoped to a topic: the dedup key is
    `emerging_cluster:<cluster id>` whatever the cluster talks about. `extra` adds evidence.
    """
    evidence = dict(step.evidence)
    if extra:
        evidence.update(extra)
    return AlertSignal(
        kind="emerging_cluster",
        subject_id=step.cluster_id,
        step=step.step,
        at=step.at,
        score=step.score,
        start=step.start,
        evidence=evidence,
    )


# -- metrics and evidence (pure functions of members and the graph) --------------------------


def _median_began(members: frozenset[str], graph: StrongTieGraph) -> float:
    """The median first interaction of the internal ties: how new the relationships are."""
    began = sorted(
        graph.began(u, v) for u in members for v in graph.neighbors(u) if v in members and u < v
    )
    return began[len(began) // 2] if began else -math.inf


def cluster_metrics(members: frozenset[str] | set[str], graph: StrongTieGraph) -> ClusterMetrics:
    """Size, density, internal and boundary weight, cohesion; O(sum of member degrees)."""
    internal2 = 0.0  # internal weight counted from both ends
    boundary = 0.0
    ends = 0  # internal edges counted from both ends
    for u in members:
        for v, w in graph.neighbors(u).items():
            if v in members:
                internal2 += w
                ends += 1
            else:
                boundary += w
    n = len(members)
    edges = ends // 2
    internal = internal2 / 2.0
    pairs = n * (n - 1) / 2
    touching = internal + boundary
    return ClusterMetrics(
        size=n,
        edges=edges,
        density=edges / pairs if pairs else 0.0,
        internal_weight=internal,
        boundary_weight=boundary,
        cohesion=internal / touching if touching > 0.0 else 0.0,
        mean_tie_strength=internal / edges if edges else 0.0,
    )


def critical_ties(
    members: frozenset[str] | set[str], graph: StrongTieGraph, now: float, top: int
) -> list[dict[str, Any]]:
    """The strongest internal ties, [{a, b, strength}], strength decayed to `now`."""
    ties = []
    for u in members:
        for v in graph.neighbors(u):
            if v in members and u < v:
                ties.append((graph.strength_at(u, v, now), u, v))
    ties.sort(key=lambda t: (-t[0], t[1], t[2]))
    return [{"a": a, "b": b, "strength": _r(s)} for s, a, b in ties[:top]]


def central_members(
    members: frozenset[str] | set[str], graph: StrongTieGraph, top: int
) -> list[dict[str, Any]]:
    """Members by internal strength (their ties inside the cluster): the micro-influencers."""
    rows = []
    for u in members:
        inside = sum(w for v, w in graph.neighbors(u).items() if v in members)
        rows.append((inside, u))
    rows.sort(key=lambda r: (-r[0], r[1]))
    return [{"id": u, "internal_strength": _r(s)} for s, u in rows[:top]]


def critical_people(
    members: frozenset[str] | set[str],
    graph: StrongTieGraph,
    params: ClusterParams = DEFAULT_CLUSTER_PARAMS,
    influence: Mapping[str, float] | None = None,
    owner: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """[{id, role, influence}]: central members, bridges and (small clusters) brokers.

    - central: the highest internal strength.
    - bridge: the most weight to other clusters (to anyone outside when `owner`, person ->
      cluster id, is not given).
    - broker: the highest betweenness inside the cluster (clusters up to
      `betweenness_max_size` members), the people the cluster's own paths run through.
    `influence` defaults to the internal strength. One entry per person; roles joined by "+".
    """
    top = params.top_people
    inside: dict[str, float] = {}
    outside: dict[str, float] = {}
    for u in members:
        s_in = s_out = 0.0
        for v, w in graph.neighbors(u).items():
            if v in members:
                s_in += w
            elif owner is None or v in owner:
                s_out += w
        inside[u] = s_in
        outside[u] = s_out
    roles: dict[str, list[str]] = {}
    for u in sorted(members, key=lambda u: (-inside[u], u))[:top]:
        roles.setdefault(u, []).append("central")
    bridges = sorted((u for u in members if outside[u] > 0.0), key=lambda u: (-outside[u], u))
    for u in bridges[:top]:
        roles.setdefault(u, []).append("bridge")
    if len(members) <= params.betweenness_max_size:
        between = _betweenness(members, graph)
        brokers = sorted((u for u in members if between[u] > 0.0), key=lambda u: (-between[u], u))
        for u in brokers[:top]:
            roles.setdefault(u, []).append("broker")
    out = []
    for u in sorted(roles, key=lambda u: (-inside[u], u)):
        value = influence.get(u, 0.0) if influence is not None else inside[u]
        out.append({"id": u, "role": "+".join(roles[u]), "influence": _r(value)})
    return out


def topics_discussed(
    members: frozenset[str] | set[str], graph: StrongTieGraph, now: float, top: int
) -> list[dict[str, Any]]:
    """[{topic, weight}]: scope weights summed over the internal ties, decayed to `now`."""
    totals: dict[str, float] = {}
    for u in members:
        for v in graph.neighbors(u):
            if v in members and u < v:
                for scope, w in graph.scope_weights(u, v, now).items():
                    totals[scope] = totals.get(scope, 0.0) + w
    ranked = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    return [{"topic": t, "weight": _r(w)} for t, w in ranked[:top] if w > 0.0]


def _betweenness(members: frozenset[str] | set[str], graph: StrongTieGraph) -> dict[str, float]:
    """Betweenness inside the cluster, hop distance (Brandes); small clusters only."""
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(sorted(members))
    for u in members:
        for v in graph.neighbors(u):
            if v in members and u < v:
                g.add_edge(u, v)
    found: dict[str, float] = nx.betweenness_centrality(g, normalized=True)
    return found


# -- small helpers --------------------------------------------------------------------------


def _dominant(counts: Mapping[str, int]) -> str | None:
    """The old cluster holding the most members (ties: the older id)."""
    if not counts:
        return None
    return min(counts, key=lambda cid: (-counts[cid], _seq(cid)))


def _seq(cluster_id: str) -> int:
    return int(cluster_id.rsplit("-", 1)[1])


def _r(x: float) -> float:
    return round(float(x), 4)


def _gone_evidence(c: Cluster) -> dict[str, Any]:
    size = len(c.members)
    return {"size": size, "members": sorted(c.members)[:100], "state": "gone"}


def _cluster_to_dict(c: Cluster) -> dict[str, Any]:
    return {
        "id": c.id,
        "m": sorted(c.members),
        "b": c.born,
        "u": c.updated,
        "s": c.state,
        "h": [list(point) for point in c.history],
        "a": c.alert_since,
        "am": sorted(c.alert_members),
        "p": c.preexisting,
        "e": c.emerged_at,
    }


def _cluster_from_dict(data: Mapping[str, Any]) -> Cluster:
    return Cluster(
        id=str(data["id"]),
        members=frozenset(data["m"]),
        born=float(data["b"]),
        updated=float(data["u"]),
        state=data["s"],
        history=[(float(t), int(n)) for t, n in data["h"]],
        alert_since=None if data["a"] is None else float(data["a"]),
        alert_members=frozenset(data["am"]),
        preexisting=bool(data.get("p", False)),
        emerged_at=data.get("e"),
    )
