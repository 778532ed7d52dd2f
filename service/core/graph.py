"""The strong-tie graph: a weighted undirected graph of the ties that are strong right now.

Fed by dyad snapshots (`service.core.ties.snapshot`, the dyad-updates topic). An edge a-b is in
the graph while the tie's strength is at or above `GraphParams.threshold` (by default the
`TieParams.strong_tie_threshold` of 0.6); its modularity weight is that strength.

Why strength and not the decayed total weight `w_ab + w_ba`:

- It is the tie measure: frequency, recency, reciprocity and emotional intensity in one number
  (ties.py), and the threshold that admits an edge is defined on it, so an edge's presence and
  its weight say the same thing. The raw weight ignores reciprocity, so a one-way barrage would
  weigh as much as a conversation.
- It saturates below 1. A node's weighted degree is then at most its number of strong ties, and
  one hyperactive pair (a bot, a flame war) cannot dominate the modularity of its neighbourhood:
  tribes are found from how many strong ties people share, not from who posts most.
- It still decays in closed form: `strength = 1 - exp(-x / k)` where the mass `x` decays
  exponentially, so the time an edge falls below the threshold is known when it is written:
  `ref + ln(x_ref / x_threshold) / lam`. `expire(now)` pops those times from a heap; nothing is
  rescanned.

The price of a non-linear weight: an edge's weight is valued when its dyad last changed (at the
graph clock, the newest time seen), so a tie that stays silent keeps its last weight until it
expires or `revalue(now)` values every weight at `now` again. Call `revalue` with each full
refinement (communities.py does): staleness is bounded by the refinement period, and in between
only the silent ties that still sit above the threshold carry a weight that is too high.

Cost: `update`, `remove` and `set_weight` are O(1) plus O(log E) for the expiry heap (stale heap
entries are skipped lazily and the heap is rebuilt when it holds twice the edges), and
O(scopes) to copy the snapshot's scope weights. Per-node strength (weighted degree) and the
total weight `m` are kept as the sums modularity needs.

Each change returns an `EdgeChange(a, b, old, new)` (weights; 0 for an absent edge) that the
community detector applies.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from service.core.ties import DEFAULT_TIE_PARAMS, TieParams

__all__ = [
    "DEFAULT_GRAPH_PARAMS",
    "EdgeChange",
    "GraphParams",
    "StrongTieGraph",
    "TieEdge",
]

_NEVER = math.inf


@dataclass(frozen=True, slots=True)
class GraphParams:
    """Which ties are in the graph, and how strength decays (the module docstring)."""

    tie: TieParams = DEFAULT_TIE_PARAMS
    threshold: float | None = None  # None: tie.strong_tie_threshold; 0 keeps every tie
    threshold_mass: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        threshold = self.tie.strong_tie_threshold if self.threshold is None else self.threshold
        if not 0.0 <= threshold < 1.0:
            raise ValueError("threshold must be in [0, 1)")
        object.__setattr__(self, "threshold", threshold)
        # The strength mass x at which strength 1 - exp(-x / k) equals the threshold.
        mass = -self.tie.strength_scale * math.log1p(-threshold)
        object.__setattr__(self, "threshold_mass", mass)

    @property
    def strength_threshold(self) -> float:
        return self.tie.strong_tie_threshold if self.threshold is None else self.threshold


DEFAULT_GRAPH_PARAMS = GraphParams()


class EdgeChange(NamedTuple):
    """One edge's weight before and after a change (0.0: the edge is absent)."""

    a: str
    b: str
    old: float
    new: float


@dataclass(slots=True)
class TieEdge:
    """One strong tie. Decayed numbers are valued at `ref`."""

    weight: float  # the modularity weight: the strength at `ref`
    mass: float  # the strength mass x at `ref` (0.0 for a static weight: it never decays)
    ref: float
    seq: int | None  # the dyad snapshot's seq; older or equal snapshots are ignored
    expires_at: float  # when the strength falls below the threshold (inf: never)
    scopes: dict[str, float]  # scope -> w_ab + w_ba at `ref`: what the pair talks about
    began: float = -math.inf  # the pair's first interaction (the snapshot's first seen)


class StrongTieGraph:
    """Strong ties with per-node strength and total weight (the module docstring)."""

    def __init__(self, params: GraphParams = DEFAULT_GRAPH_PARAMS) -> None:
        self.params = params
        self.now = -math.inf  # the graph clock: the newest snapshot ref or expire time seen
        self.origin = math.inf  # the earliest first interaction of any tie seen: its history
        self.total_weight = 0.0  # m: the sum of edge weights
        self._adj: dict[str, dict[str, float]] = {}
        self._strength: dict[str, float] = {}
        self._edges: dict[tuple[str, str], TieEdge] = {}
        self._expiry: list[tuple[float, str, str]] = []

    # -- reads ----------------------------------------------------------------------------

    def __contains__(self, node: object) -> bool:
        return node in self._adj

    def __len__(self) -> int:
        """The number of nodes (people with at least one strong tie)."""
        return len(self._adj)

    @property
    def number_of_edges(self) -> int:
        return len(self._edges)

    def nodes(self) -> Iterator[str]:
        return iter(self._adj)

    def neighbors(self, node: str) -> Mapping[str, float]:
        """Neighbour -> weight. A live view: do not change it, copy it to keep it."""
        return self._adj.get(node, _EMPTY)

    def strength(self, node: str) -> float:
        """The node's weighted degree (0.0 when absent)."""
        return self._strength.get(node, 0.0)

    def weight(self, a: str, b: str) -> float:
        return self._adj.get(a, _EMPTY).get(b, 0.0)

    def edge(self, a: str, b: str) -> TieEdge | None:
        return self._edges.get(_key(a, b))

    def edges(self) -> Iterator[tuple[str, str, float]]:
        """(a, b, weight) with a < b, in insertion order."""
        for (a, b), e in self._edges.items():
            yield a, b, e.weight

    def edge_list(self) -> list[tuple[str, str, float]]:
        """A copy of the edges, safe to hand to another thread (a full refinement)."""
        return [(a, b, e.weight) for (a, b), e in self._edges.items()]

    def scope_weights(self, a: str, b: str, now: float | None = None) -> dict[str, float]:
        """What a-b talk about: scope -> w_ab + w_ba, decayed to `now` (default: the clock)."""
        e = self._edges.get(_key(a, b))
        if e is None or not e.scopes:
            return {}
        factor = self._decay(e, self.now if now is None else now)
        return {scope: w * factor for scope, w in e.scopes.items()}

    def began(self, a: str, b: str) -> float:
        """When the pair first interacted (-inf when unknown or absent)."""
        e = self._edges.get(_key(a, b))
        return -math.inf if e is None else e.began

    def strength_at(self, a: str, b: str, now: float) -> float:
        """The tie's strength decayed to `now` (its weight for a static edge; 0.0 if absent)."""
        e = self._edges.get(_key(a, b))
        if e is None:
            return 0.0
        return self._weight_at(e, now)

    # -- writes ---------------------------------------------------------------------------

    def update(self, snapshot: Mapping[str, Any]) -> EdgeChange | None:
        """Apply one dyad snapshot; return the edge change, or None when nothing changed.

        The tie's strength is valued at max(snapshot ref, graph clock): a late snapshot decays
        to the graph's time like every other weight. Below the threshold the edge is removed
        (or not added). A snapshot whose `seq` is not newer than the edge's is ignored, so a
        replayed or repeated snapshot changes nothing.
        """
        a = str(snapshot["a"])
        b = str(snapshot["b"])
        if a == b:
            return None
        key = _key(a, b)
        seq_raw = snapshot.get("seq")
        seq = None if seq_raw is None else int(seq_raw)
        current = self._edges.get(key)
        if (
            current is not None
            and seq is not None
            and current.seq is not None
            and seq <= current.seq
        ):
            return None
        ref = float(snapshot["ref"])
        if not math.isfinite(ref):
            raise ValueError(f"snapshot ref must be finite, got {ref!r}")
        began = min(
            (float(t) for t in (snapshot.get("first_seen_ab"), snapshot.get("first_seen_ba"))
             if t is not None),
            default=ref,
        )  # fmt: skip
        if began < self.origin:
            self.origin = began
        strength = float(snapshot["strength"])
        if not 0.0 <= strength < 1.0:
            raise ValueError(f"strength must be in [0, 1), got {strength!r}")
        tie = self.params.tie
        mass = -tie.strength_scale * math.log1p(-strength)
        at = ref if ref > self.now else self.now
        factor = math.exp(-tie.decay_rate * (at - ref)) if at > ref else 1.0
        mass *= factor
        self.now = at
        weight = -math.expm1(-mass / tie.strength_scale)
        if weight <= 0.0 or weight < self.params.strength_threshold:
            return self._drop(key) if current is not None else None
        raw_scopes = snapshot.get("scopes") or {}
        scopes = {str(s): (float(p[0]) + float(p[1])) * factor for s, p in raw_scopes.items()}
        threshold_mass = self.params.threshold_mass
        if threshold_mass > 0.0:
            expires_at = at + math.log(mass / threshold_mass) / tie.decay_rate
        else:
            expires_at = _NEVER
        edge = TieEdge(weight, mass, at, seq, expires_at, scopes, began)
        return self._put(key, edge, current)

    def set_weight(
        self, a: str, b: str, weight: float, scopes: Mapping[str, float] | None = None
    ) -> EdgeChange | None:
        """Set a static weight that never decays (replays of static graphs, evaluations).

        A weight <= 0 removes the edge.
        """
        if a == b:
            return None
        if not math.isfinite(weight):
            raise ValueError(f"weight must be finite, got {weight!r}")
        key = _key(a, b)
        current = self._edges.get(key)
        if weight <= 0.0:
            return self._drop(key) if current is not None else None
        began = current.began if current is not None else self.now
        edge = TieEdge(weight, 0.0, self.now, None, _NEVER, dict(scopes or {}), began)
        return self._put(key, edge, current)

    def add_weight(self, a: str, b: str, delta: float) -> EdgeChange | None:
        """Add to a static weight (an interaction in a static replay)."""
        return self.set_weight(a, b, self.weight(a, b) + delta)

    def remove(self, a: str, b: str) -> EdgeChange | None:
        """Drop the edge a-b (a tombstone on the dyad-updates topic); None if it is absent."""
        key = _key(a, b)
        return self._drop(key) if key in self._edges else None

    def remove_node(self, node: str) -> list[EdgeChange]:
        """Drop every edge of `node` (the person opted out); the changes in neighbour order."""
        return [self._drop(_key(node, other)) for other in list(self._adj.get(node, ()))]

    def expire(self, now: float) -> list[EdgeChange]:
        """Advance the clock to `now` and drop the ties that decayed below the threshold."""
        if now > self.now:
            self.now = now
        heap = self._expiry
        changes = []
        while heap and heap[0][0] < now:
            at, a, b = heapq.heappop(heap)
            key = (a, b)
            e = self._edges.get(key)
            if e is not None and e.expires_at == at:
                changes.append(self._drop(key))
        return changes

    def revalue(self, now: float) -> list[EdgeChange]:
        """Drop expired ties, then value every decaying weight at `now`; O(E).

        Returns the drops. The other weights change too, so node strengths and the total are
        recomputed here and a community detector must recompute its totals (communities.py).
        """
        changes = self.expire(now)
        at = self.now
        tie = self.params.tie
        for e in self._edges.values():
            if e.mass > 0.0 and at > e.ref:
                factor = math.exp(-tie.decay_rate * (at - e.ref))
                e.mass *= factor
                e.ref = at
                for scope in e.scopes:
                    e.scopes[scope] *= factor
                e.weight = -math.expm1(-e.mass / tie.strength_scale)
        self._recompute()
        return changes

    # -- internals ------------------------------------------------------------------------

    def _put(self, key: tuple[str, str], edge: TieEdge, current: TieEdge | None) -> EdgeChange:
        a, b = key
        old = 0.0 if current is None else current.weight
        new = edge.weight
        self._edges[key] = edge
        adj = self._adj
        row_a = adj.get(a)
        if row_a is None:
            row_a = adj[a] = {}
        row_b = adj.get(b)
        if row_b is None:
            row_b = adj[b] = {}
        row_a[b] = new
        row_b[a] = new
        delta = new - old
        strength = self._strength
        strength[a] = strength.get(a, 0.0) + delta
        strength[b] = strength.get(b, 0.0) + delta
        self.total_weight += delta
        if edge.expires_at != _NEVER:
            heap = self._expiry
            heapq.heappush(heap, (edge.expires_at, a, b))
            if len(heap) > 2 * len(self._edges) + 64:
                self._rebuild_expiry()
        return EdgeChange(a, b, old, new)

    def _drop(self, key: tuple[str, str]) -> EdgeChange:
        a, b = key
        edge = self._edges.pop(key)
        old = edge.weight
        adj = self._adj
        strength = self._strength
        for u, v in ((a, b), (b, a)):
            row = adj[u]
            del row[v]
            if row:
                strength[u] -= old
            else:
                del adj[u]
                del strength[u]
        self.total_weight -= old
        if not self._edges:
            self.total_weight = 0.0
        return EdgeChange(a, b, old, 0.0)

    def _rebuild_expiry(self) -> None:
        self._expiry = [
            (e.expires_at, a, b) for (a, b), e in self._edges.items() if e.expires_at != _NEVER
        ]
        heapq.heapify(self._expiry)

    def _recompute(self) -> None:
        """Strengths and the total from the edges, exactly (drift from many +/- removed)."""
        adj = self._adj
        for (a, b), e in self._edges.items():
            adj[a][b] = e.weight
            adj[b][a] = e.weight
        self._strength = {u: math.fsum(row.values()) for u, row in adj.items()}
        self.total_weight = math.fsum(e.weight for e in self._edges.values())
        self._rebuild_expiry()

    def _decay(self, e: TieEdge, now: float) -> float:
        if e.mass == 0.0 or now <= e.ref:
            return 1.0
        return math.exp(-self.params.tie.decay_rate * (now - e.ref))

    def _weight_at(self, e: TieEdge, now: float) -> float:
        if e.mass == 0.0 or now <= e.ref:
            return e.weight
        mass = e.mass * self._decay(e, now)
        return -math.expm1(-mass / self.params.tie.strength_scale)


_EMPTY: Mapping[str, float] = {}


def _key(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)
