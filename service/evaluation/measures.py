"""Influence, reach and in-degree side by side, and which of them predicts relationships.

- `top_k_overlaps`: how many of the top k by one measure are in the top k by another (k = 10
  and 100), for influence (two-way ties), reach (the one-way audience, decayed) and raw
  in-degree (distinct people who addressed the person).
- `predictive_check`: rank people on the first half (in event time) of a file, then ask
  which ranking better predicts who keeps two-way conversations in the second half: the
  number of distinct partners a person exchanged with in both directions there. Reported as
  precision@k (the share of a measure's top k among the top k of the outcome) and Spearman's
  rho (rank correlation, average ranks for ties) over everyone seen in the first half.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from service.core import ties
from service.core.influence import PersonState
from service.core.interaction import Interaction

KS = (10, 100)
MEASURE_NAMES = ("influence", "reach", "in_degree")


def scores(
    dyads: Mapping[tuple[str, str], ties.DyadState],
    people: Mapping[str, PersonState],
    at: float,
    params: ties.TieParams = ties.DEFAULT_TIE_PARAMS,
) -> dict[str, dict[str, float]]:
    """measure -> person -> score, for every person held."""
    in_degree: Counter[str] = Counter()
    for (a, b), state in dyads.items():
        if state.mentions_ab + state.replies_ab:
            in_degree[b] += 1
        if state.mentions_ba + state.replies_ba:
            in_degree[a] += 1
    return {
        "influence": {p: s.influence(at, None, params) for p, s in people.items()},
        "reach": {p: s.reach(at, None, params) for p, s in people.items()},
        "in_degree": {p: float(in_degree[p]) for p in people},
    }


def top(values: Mapping[str, float], k: int) -> list[str]:
    """The `k` highest (people scoring 0 left out), equal scores by id."""
    best = heapq.nsmallest(k, ((-v, p) for p, v in values.items() if v > 0.0))
    return [p for _, p in best]


def top_k_overlaps(
    measured: Mapping[str, Mapping[str, float]], ks: Sequence[int] = KS
) -> dict[str, dict[str, int]]:
    """ "k" -> "a_vs_b" -> people shared by the top k of measures a and b."""
    out: dict[str, dict[str, int]] = {}
    for k in ks:
        tops = {name: set(top(measured[name], k)) for name in MEASURE_NAMES}
        out[str(k)] = {
            "influence_vs_in_degree": len(tops["influence"] & tops["in_degree"]),
            "reach_vs_in_degree": len(tops["reach"] & tops["in_degree"]),
            "influence_vs_reach": len(tops["influence"] & tops["reach"]),
        }
    return out


def reciprocal_partners(interactions: Sequence[Interaction]) -> Counter[str]:
    """Per person, the distinct partners they exchanged with in both directions."""
    directed = {(i.actor, target) for i in interactions for target in i.targets}
    partners: Counter[str] = Counter()
    for a, b in directed:
        if a < b and (b, a) in directed:
            partners[a] += 1
            partners[b] += 1
    return partners


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rho: Pearson's correlation of the average ranks."""
    if len(x) != len(y) or len(x) < 3:
        return None
    rx, ry = _ranks(x), _ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx = sum((a - mx) ** 2 for a in rx)
    vy = sum((b - my) ** 2 for b in ry)
    return cov / math.sqrt(vx * vy) if vx > 0 and vy > 0 else None


def _ranks(values: Sequence[float]) -> list[float]:
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for n in range(i, j + 1):
            ranks[order[n]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


@dataclass(frozen=True, slots=True)
class Prediction:
    split_at: float
    people: int  # seen in the first half
    with_partners: int  # of them, with a two-way partner in the second half
    precision: dict[str, dict[str, float]]  # k -> measure -> precision@k
    spearman: dict[str, float | None]  # measure -> rho

    def to_dict(self) -> dict[str, Any]:
        return {
            "split_at": self.split_at,
            "people": self.people,
            "with_partners": self.with_partners,
            "precision": self.precision,
            "spearman": self.spearman,
        }


def predictive_check(
    interactions: Sequence[Interaction],
    params: ties.TieParams = ties.DEFAULT_TIE_PARAMS,
    ks: Sequence[int] = KS,
) -> Prediction | None:
    """The check of the module docstring; None with too little data."""
    from service.evaluation.relationships import RelationshipReplay  # it imports this module

    ordered = sorted(interactions, key=lambda i: i.event_time)
    if len(ordered) < 10:
        return None
    split = ordered[len(ordered) // 2].event_time
    first = [i for i in ordered if i.event_time < split]
    second = [i for i in ordered if i.event_time >= split]
    replay = RelationshipReplay(params)
    for interaction in first:
        replay.apply(interaction)
    measured = scores(replay.dyads, replay.people, split, params)
    outcome = reciprocal_partners(second)
    people = sorted(replay.people)
    truth = {p: float(outcome[p]) for p in people}
    precision = {
        str(k): {
            name: len(set(top(measured[name], k)) & set(top(truth, k))) / k
            for name in MEASURE_NAMES
        }
        for k in ks
    }
    rho = {
        name: spearman([measured[name][p] for p in people], [truth[p] for p in people])
        for name in MEASURE_NAMES
    }
    return Prediction(split, len(people), sum(1 for p in people if truth[p] > 0), precision, rho)
