"""Incremental community detection on the strong-tie graph, plus a periodic full refinement.

Incremental part (`IncrementalCommunities.apply`, once per `EdgeChange`): the local-moving phase
of Louvain (Blondel et al. 2008), run only around the change, as DynaMo (Zhuang et al. 2019),
Delta-screening (Zarayeneh & Kalyanaraman 2021) and DF-Louvain (Sahu 2024) do:

1. The community totals `tot[c]` (sum of member strengths) take the endpoints' strength change
   (a new endpoint starts as a singleton community; one that lost its last tie leaves).
2. The two endpoints are queued. Each queued node moves to the neighbouring community with the
   largest modularity gain

       gain(u -> D) = w(u, D) - resolution * k_u * tot[D] / (2m)

   (staying counts with `tot[C] - k_u`; a fresh singleton has gain 0), and only a strictly
   better community moves it, so every move raises modularity and moves cannot cycle.
3. A node that moved queues its neighbours (the dynamic frontier), up to `max_visits` visits
   per change: the cost of one change is bounded by `max_visits` times the degrees visited.

Local moving alone never aggregates communities, and a deleted edge can leave a community
disconnected without any local move noticing. So a full refinement runs periodically:
`refine_partition` is a pure function of a copied edge list (safe in a worker thread:
`await asyncio.to_thread(refine_partition, edges)`), and `adopt` installs its result, reusing
the current labels by overlap and settling the nodes touched while it ran.

Refinement method: networkit's PLM (Staudt & Meyerhenke 2016: Louvain with a refinement phase,
MIT, a manylinux wheel) when importable, else networkx's `louvain_communities` with a fixed
seed. Measured here (2-core AMD EPYC):

- Off the loop for real: PLM runs in C++ without the GIL; the event loop kept 91 % of its pace
  while PLM ran in a worker thread, and 45 % while networkx Louvain (pure Python) did.
- Speed: 5-9 ms against 0.2-0.5 s on email-Eu-core (16k ties); GUIDE.md measured 0.4 s
  against 26 s on 479k edges. A refinement every few minutes of a large graph needs PLM.
- Quality: on par on LFR (NMI 0.977 vs 0.965-0.982 for networkx seeds 0-4 at mu 0.3; 0.827 vs
  0.808-0.834 at mu 0.4) and in modularity on email-Eu-core (0.4215 vs 0.426-0.428), but lower
  NMI against its departments there (0.542 vs 0.570-0.596): PLM finds 7 communities where
  networkx finds 8, and fewer, larger communities score lower against 42 departments.

It runs on one OpenMP thread, set in the calling thread (OpenMP settings are per thread): two
threads were 50 times slower on this 2-core host, and one thread is deterministic.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from service.core.graph import EdgeChange, StrongTieGraph

__all__ = [
    "DEFAULT_COMMUNITY_PARAMS",
    "CommunityParams",
    "IncrementalCommunities",
    "Method",
    "Refinement",
    "available_methods",
    "modularity",
    "refine_partition",
]

Method = Literal["auto", "networkit", "networkx"]


@dataclass(frozen=True, slots=True)
class CommunityParams:
    """Resolution and per-change work bound of the incremental detector."""

    resolution: float = 1.0  # gamma of modularity; above 1 finds smaller communities
    max_visits: int = 64  # node visits per edge change (the endpoints and the frontier)
    follow_neighbours: bool = True  # a moved node queues its neighbours (dynamic frontier)

    def __post_init__(self) -> None:
        if not self.resolution > 0.0:
            raise ValueError("resolution must be positive")
        if self.max_visits < 2:
            raise ValueError("max_visits must be at least 2 (the two endpoints)")


DEFAULT_COMMUNITY_PARAMS = CommunityParams()


class IncrementalCommunities:
    """A partition of the graph's nodes kept near a modularity optimum (module docstring).

    Labels are ints from a deterministic counter: the same changes in the same order give the
    same labels. They are internal; clusters.py gives clusters their public, stable ids.
    """

    def __init__(
        self, graph: StrongTieGraph, params: CommunityParams = DEFAULT_COMMUNITY_PARAMS
    ) -> None:
        self.graph = graph
        self.params = params
        self._label: dict[str, int] = {}
        self._tot: dict[int, float] = {}
        self._k: dict[str, float] = {}  # each node's strength as the totals count it
        self._members: dict[int, set[str]] = {}
        self._next = 0
        self._touched: set[str] | None = None  # recorded while a refinement runs
        self.moves = 0  # local moves made, all told

    # -- reads ----------------------------------------------------------------------------

    def __len__(self) -> int:
        """The number of communities (singletons included)."""
        return len(self._members)

    def community_of(self, node: str) -> int | None:
        return self._label.get(node)

    def members(self, label: int) -> frozenset[str]:
        return frozenset(self._members.get(label, ()))

    def labels(self) -> dict[str, int]:
        """A copy of node -> community label."""
        return dict(self._label)

    def communities(self, min_size: int = 1) -> dict[int, frozenset[str]]:
        """Label -> members, for communities of at least `min_size` members."""
        return {c: frozenset(m) for c, m in self._members.items() if len(m) >= min_size}

    def total(self, label: int) -> float:
        """The sum of the members' strengths (weighted degrees)."""
        return self._tot.get(label, 0.0)

    def modularity(self) -> float:
        return modularity(self.graph, self._label, self.params.resolution)

    # -- incremental updates ----------------------------------------------------------------

    def apply(self, change: EdgeChange | None) -> int:
        """Account for one edge change and settle around it; return the moves made."""
        if change is None:
            return 0
        a, b = change.a, change.b
        graph = self.graph
        known = self._k
        for u in (a, b):
            # The node's strength as the graph has it now; the totals take the difference
            # from what they hold, so changes handed over in a batch (remove_node) add up.
            k = graph.strength(u)
            c = self._label.get(u)
            if c is None:
                if u in graph:
                    self._singleton(u, k)
            else:
                self._tot[c] += k - known[u]
                known[u] = k
                if u not in graph:
                    self._forget(u, c)
        if self._touched is not None:
            self._touched.add(a)
            self._touched.add(b)
        return self._settle((a, b), self.params.max_visits)

    def apply_all(self, changes: Iterable[EdgeChange]) -> int:
        return sum(self.apply(change) for change in changes)

    def expire(self, now: float) -> int:
        """Drop the ties that decayed below the threshold by `now`; return the moves made."""
        return self.apply_all(self.graph.expire(now))

    def revalue(self, now: float) -> int:
        """Value every weight at `now` (`StrongTieGraph.revalue`) and recompute the totals.

        O(E). Call it right before `snapshot_for_refinement`, so the refinement sees current
        weights. Returns the moves made around the ties that expired.
        """
        changes = self.graph.revalue(now)
        self._rebuild_totals()
        seeds = [u for c in changes for u in (c.a, c.b) if u in self.graph]
        if self._touched is not None:
            self._touched.update(seeds)
        return self._settle(seeds, self.params.max_visits * max(1, len(changes)))

    # -- refinement -------------------------------------------------------------------------

    def snapshot_for_refinement(self) -> list[tuple[str, str, float]]:
        """A copy of the edges for `refine_partition`; records the nodes touched until `adopt`."""
        self._touched = set()
        return self.graph.edge_list()

    def adopt(self, communities: Iterable[Iterable[str]]) -> int:
        """Install a refined partition; return the number of nodes whose label changed.

        Each refined community, largest first, takes the current label most of its members
        hold (ties: the smaller label) unless an earlier community took it; otherwise a new
        label. Nodes the refinement did not see (they joined the graph while it ran) keep
        their label if it survived, else start alone; then every node touched since
        `snapshot_for_refinement` is settled again, so no change made meanwhile is lost.
        """
        graph = self.graph
        refined = [[u for u in c if u in graph] for c in communities]
        refined = [c for c in refined if c]
        refined.sort(key=len, reverse=True)  # stable: equal sizes keep the input order
        old = self._label
        taken: set[int] = set()
        new_label: dict[str, int] = {}
        for nodes in refined:
            counts: dict[int, int] = {}
            for u in nodes:
                c = old.get(u)
                if c is not None and c not in taken:
                    counts[c] = counts.get(c, 0) + 1
            label = min(counts, key=lambda c: (-counts[c], c)) if counts else self._take_label()
            taken.add(label)
            for u in nodes:
                new_label[u] = label
        for u in graph.nodes():
            if u not in new_label:
                c = old.get(u)
                new_label[u] = c if c is not None and c in taken else self._take_label()
                taken.add(new_label[u])
        changed = sum(1 for u, c in new_label.items() if old.get(u) != c)
        self._label = new_label
        self._rebuild_totals()
        touched, self._touched = self._touched, None
        if touched:
            seeds = sorted(u for u in touched if u in graph)
            self._settle(seeds, self.params.max_visits * len(seeds))
        return changed

    # -- state ------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Labels and the label counter; the graph itself is rebuilt from the dyad updates."""
        return {"labels": dict(self._label), "next": self._next}

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        graph: StrongTieGraph,
        params: CommunityParams = DEFAULT_COMMUNITY_PARAMS,
    ) -> IncrementalCommunities:
        """Restore labels over a rebuilt graph; nodes new to it start alone and are settled."""
        out = cls(graph, params)
        out._next = int(data["next"])
        out._label = {str(u): int(c) for u, c in data["labels"].items() if u in graph}
        fresh = [u for u in graph.nodes() if u not in out._label]
        for u in fresh:
            out._label[u] = out._take_label()
        out._rebuild_totals()
        out._settle(fresh, params.max_visits * max(1, len(fresh)))
        return out

    # -- internals --------------------------------------------------------------------------

    def _take_label(self) -> int:
        label = self._next
        self._next += 1
        return label

    def _singleton(self, u: str, strength: float) -> int:
        label = self._take_label()
        self._label[u] = label
        self._k[u] = strength
        self._tot[label] = strength
        self._members[label] = {u}
        return label

    def _forget(self, u: str, c: int) -> None:
        del self._label[u]
        del self._k[u]
        members = self._members[c]
        members.discard(u)
        if not members:
            del self._members[c]
            del self._tot[c]

    def _rebuild_totals(self) -> None:
        graph = self.graph
        label = self._label
        for u in [u for u in label if u not in graph]:
            del label[u]
        tot: dict[int, float] = {}
        members: dict[int, set[str]] = {}
        known = self._k = {u: graph.strength(u) for u in label}
        for u, c in label.items():
            tot[c] = tot.get(c, 0.0) + known[u]
            m = members.get(c)
            if m is None:
                members[c] = {u}
            else:
                m.add(u)
        self._tot = tot
        self._members = members

    def _settle(self, seeds: Iterable[str], budget: int) -> int:
        """Local moving from `seeds` along the dynamic frontier, at most `budget` visits."""
        graph = self.graph
        m2 = 2.0 * graph.total_weight
        if m2 <= 0.0:
            return 0
        label = self._label
        tot = self._tot
        known = self._k
        members = self._members
        gamma_over_m2 = self.params.resolution / m2
        follow = self.params.follow_neighbours
        touched = self._touched
        queue = deque(u for u in seeds if u in label)
        queued = set(queue)
        visits = moves = 0
        while queue and visits < budget:
            u = queue.popleft()
            queued.discard(u)
            visits += 1
            neighbours = graph.neighbors(u)
            if not neighbours:
                continue
            here = label.get(u)
            if here is None:
                continue  # its change is not applied yet (changes handed over in a batch)
            k = known[u]
            links: dict[int, float] = {}
            for v, w in neighbours.items():
                c = label.get(v)
                if c is not None:
                    links[c] = links.get(c, 0.0) + w
            scale = gamma_over_m2 * k
            tol = 1e-12 * (1.0 + k)
            best = here
            best_gain = links.get(here, 0.0) - scale * (tot[here] - k)
            for c, w in links.items():
                if c != here:
                    gain = w - scale * tot[c]
                    if gain > best_gain + tol:
                        best, best_gain = c, gain
            if best_gain < -tol:  # worse than alone (gain 0): a singleton of its own
                best = self._take_label()
                tot[best] = 0.0
                members[best] = set()
            elif best == here:
                continue
            # move u: here -> best
            old_members = members[here]
            old_members.discard(u)
            if old_members:
                tot[here] -= k
            else:
                del members[here]
                del tot[here]
            tot[best] += k
            members[best].add(u)
            label[u] = best
            moves += 1
            if touched is not None:
                touched.add(u)
            if follow:
                for v in neighbours:
                    if v not in queued:
                        queued.add(v)
                        queue.append(v)
        self.moves += moves
        return moves


# -- pure functions ------------------------------------------------------------------------


def modularity(graph: StrongTieGraph, labels: Mapping[str, int], resolution: float = 1.0) -> float:
    """Newman's weighted modularity of `labels` on `graph` (nodes without a label alone); O(E)."""
    m = graph.total_weight
    if m <= 0.0:
        return 0.0
    internal: dict[int, float] = {}
    tot: dict[object, float] = {}
    for u in graph.nodes():
        c: object = labels.get(u, ("alone", u))
        tot[c] = tot.get(c, 0.0) + graph.strength(u)
    for a, b, w in graph.edges():
        ca = labels.get(a)
        if ca is not None and ca == labels.get(b):
            internal[ca] = internal.get(ca, 0.0) + w
    q_in = math.fsum(internal.values()) / m
    q_null = math.fsum((t / (2.0 * m)) ** 2 for t in tot.values())
    return q_in - resolution * q_null


class Refinement(NamedTuple):
    """A full partition from `refine_partition`."""

    communities: list[list[str]]  # members sorted; largest community first
    method: str  # "networkit-plm" or "networkx-louvain"
    seconds: float  # wall time of the clustering itself


# Below this many edges networkx Louvain takes under ~0.15 s (measured on 2,000), while
# importing networkit (it pulls in scipy and matplotlib) costs ~1.7 s of CPU and 114 MiB of
# RSS: a small deployment never pays for it, and a worker's first refinement does not stall
# its stages on the import.
NETWORKIT_FROM_EDGES = 2_000


def available_methods() -> list[str]:
    """The refinement methods importable here, best first."""
    out = []
    try:
        import networkit  # noqa: F401

        out.append("networkit")
    except ImportError:
        pass
    out.append("networkx")
    return out


def refine_partition(
    edges: Sequence[tuple[str, str, float]],
    method: Method = "auto",
    resolution: float = 1.0,
    seed: int = 0,
    threads: int = 1,
) -> Refinement:
    """A full modularity clustering of `edges` (a, b, weight); pure, safe in a worker thread.

    `auto` uses networkit PLM when it imports and the graph has at least
    `NETWORKIT_FROM_EDGES` edges, else networkx Louvain (seeded). Deterministic: the same
    edges in the same order give the same partition.
    """
    if method == "auto":
        large = len(edges) >= NETWORKIT_FROM_EDGES
        method = "networkit" if large and "networkit" in available_methods() else "networkx"
    if method == "networkit":
        return _refine_networkit(edges, resolution, seed, threads)
    if method == "networkx":
        return _refine_networkx(edges, resolution, seed)
    raise ValueError(f"unknown refinement method {method!r}")


def _refine_networkit(
    edges: Sequence[tuple[str, str, float]], resolution: float, seed: int, threads: int
) -> Refinement:
    import networkit as nk

    index: dict[str, int] = {}
    names: list[str] = []
    pairs: list[tuple[int, int, float]] = []
    for a, b, w in edges:
        ia = index.get(a)
        if ia is None:
            ia = index[a] = len(names)
            names.append(a)
        ib = index.get(b)
        if ib is None:
            ib = index[b] = len(names)
            names.append(b)
        pairs.append((ia, ib, w))
    started = time.perf_counter()
    # OpenMP settings belong to the calling thread, so they are set here, in the worker.
    nk.setNumberOfThreads(threads)
    nk.setSeed(seed, False)
    g = nk.Graph(len(names), weighted=True)
    for ia, ib, w in pairs:
        g.addEdge(ia, ib, w)
    plm = nk.community.PLM(g, refine=True, gamma=resolution)
    plm.run()
    vector = plm.getPartition().getVector()
    seconds = time.perf_counter() - started
    groups: dict[int, list[str]] = {}
    for i, c in enumerate(vector):
        groups.setdefault(c, []).append(names[i])
    return Refinement(_ordered(groups.values()), "networkit-plm", seconds)


def _refine_networkx(
    edges: Sequence[tuple[str, str, float]], resolution: float, seed: int
) -> Refinement:
    import networkx as nx

    g = nx.Graph()
    g.add_weighted_edges_from(edges)
    started = time.perf_counter()
    found = nx.community.louvain_communities(g, weight="weight", resolution=resolution, seed=seed)
    seconds = time.perf_counter() - started
    return Refinement(_ordered(found), "networkx-louvain", seconds)


def _ordered(groups: Iterable[Iterable[str]]) -> list[list[str]]:
    out = [sorted(g) for g in groups]
    out.sort(key=lambda g: (-len(g), g[0]))
    return out
