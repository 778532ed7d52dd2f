"""Person influence from the person's relationships, built from absolute dyad snapshots.

A person's state keeps, per partner, the newest snapshot of their dyad it has seen (`seq`,
the decayed weights each way valued at `ref`, total intensity, inbound weight per scope).
Snapshots are absolute, so applying one is idempotent and order-safe: a snapshot replaces
the partner's entry only when its `seq` is higher; stale or repeated ones are ignored.
Updates are O(1), and so are reads at or after every tie's `ref` (service.core.tie_index
keeps running sums and a ranking); an earlier read is O(degree), one exp per partner.

Three measures per person, overall and per scope (brand, product or topic):

- **influence**, the strength of their two-way ties::

      influence(p, scope) = sum over partners q of
          w_in(q -> p, scope) * exp(-lam (now - ref_q)) * (eps + (1 - eps) * reciprocity(p, q))

  with `eps = TieParams.one_way_influence`, 0 by default: a one-way tie adds nothing, so
  influence cannot grow from one-way mentions however many (they count in reach). Each term
  is the attention a partner pays the person times how much the person returns it
  (reciprocity `2 min / sum`), decayed on event time (half-life 14 days), kind-weighted (a
  reply counts twice a mention) and, through the tie's intensity in its weights,
  emotional: frequency, recency, intensity and reciprocity, Granovetter's strength of a tie.
  Influence flows through relationships (Bond et al., Nature 2012: a mobilisation message
  spread through close friends, not acquaintances), and in-degree is a poor predictor of
  influence (Cha et al., ICWSM 2010, "the million follower fallacy").
- **reach**, the one-way audience: the same sum with every inbound tie in full (eps = 1),
  decayed. How many hear them, not who listens.
- **relevance** in a scope: the share of their influence that lies in it. Nobody is
  influential in everything; `/api/people/top?topic=X` ranks by influence within X, so the
  people whose circle talks back about X (the category experts) come first.

Reciprocity, unlike strength, is a ratio of two weights that decay alike, so each term stays
a forward-decayed weight and scores of different people compare on one scale. Within a
scope, the reciprocity of the whole tie is used: scoped exchanges are too sparse to judge a
relationship by.

Worked example (the tests pin it): a micro-influencer with 10 friends, each of whom replied
twice and got two replies back, has influence 10 * (2 * 2.0) * 1.0 = 40 and reach 40. An
account mentioned once by each of 300 accounts and answering none has influence 0 and reach
300: first by reach, last by influence.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from service.core.tie_index import TieIndex
from service.core.ties import (
    DEFAULT_TIE_PARAMS,
    DyadState,
    TieParams,
    reciprocity,
    strength_mass,
    strength_of,
)


@dataclass(slots=True)
class PartnerTie:
    """A person's view of one dyad, from the newest snapshot of it: valued at `ref`."""

    seq: int
    ref: float
    w_in: float  # partner -> person
    w_out: float  # person -> partner
    intensity: float  # both directions
    scopes_in: dict[str, float]  # scope -> inbound weight (only scopes with weight)

    def decay_to(self, now: float, params: TieParams = DEFAULT_TIE_PARAMS) -> float:
        dt = now - self.ref
        return math.exp(-params.decay_rate * dt) if dt > 0.0 else 1.0

    def strength(self, now: float, params: TieParams = DEFAULT_TIE_PARAMS) -> float:
        d = self.decay_to(now, params)
        return strength_of(self.w_in * d, self.w_out * d, self.intensity * d, params)


@dataclass(slots=True)
class PersonState:
    """The ties of one person, keyed by partner id, and their critic detector's row
    (service.core.signals.critic_step): both keyed by the person, so one table row.

    Change `ties` only through `set_tie` and `drop_tie` (or this module's functions): they
    keep the `TieIndex` that makes influence and top-tie reads O(1) current.
    """

    ties: dict[str, PartnerTie] = field(default_factory=dict)
    critic: dict[str, Any] | None = None
    _indexes: dict[TieParams, TieIndex] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def set_tie(self, partner: str, tie: PartnerTie) -> None:
        old = self.ties.get(partner)
        self.ties[partner] = tie
        for index in self._indexes.values():
            index.replace(self.ties, partner, old, tie)

    def drop_tie(self, partner: str) -> bool:
        old = self.ties.pop(partner, None)
        if old is None:
            return False
        for index in self._indexes.values():
            index.replace(self.ties, partner, old, None)
        return True

    def _index(self, params: TieParams) -> TieIndex:
        index = self._indexes.get(params)
        if index is None:
            index = self._indexes[params] = TieIndex(self.ties, params)
        return index

    def influence(
        self, now: float, scope: str | None = None, params: TieParams = DEFAULT_TIE_PARAMS
    ) -> float:
        """Reciprocity-weighted, decayed in-strength (see the module docstring)."""
        fast = self._index(params).influence(now, scope)
        return fast if fast is not None else self.influence_by_scan(now, scope, params)

    def influence_by_scan(
        self, now: float, scope: str | None = None, params: TieParams = DEFAULT_TIE_PARAMS
    ) -> float:
        """`influence` term by term, O(degree): what the index answers for a `now` at or
        after every tie's `ref`, and the answer for an earlier one."""
        eps = params.one_way_influence
        lam = params.decay_rate
        total = 0.0
        for tie in self.ties.values():
            w = tie.w_in if scope is None else tie.scopes_in.get(scope, 0.0)
            if w <= 0.0:
                continue
            dt = now - tie.ref
            if dt > 0.0:
                w *= math.exp(-lam * dt)
            total += w * (eps + (1.0 - eps) * reciprocity(tie.w_in, tie.w_out))
        return total

    def reach(
        self, now: float, scope: str | None = None, params: TieParams = DEFAULT_TIE_PARAMS
    ) -> float:
        """The one-way audience: decayed in-strength with every inbound tie in full, whether
        or not the person talks back (how many hear them, not who listens)."""
        return self.influence(now, scope, _full(params))

    def relevance(self, now: float, scope: str, params: TieParams = DEFAULT_TIE_PARAMS) -> float:
        """The share of the person's influence that lies in `scope` (0 with no influence):
        what they are influential about."""
        overall = self.influence(now, None, params)
        return min(1.0, self.influence(now, scope, params) / overall) if overall > 0.0 else 0.0

    def scopes(self, params: TieParams = DEFAULT_TIE_PARAMS) -> list[str]:
        """The scopes the person's inbound ties carry weight in."""
        return sorted({scope for tie in self.ties.values() for scope in tie.scopes_in})

    def strong_ties(self, now: float, params: TieParams = DEFAULT_TIE_PARAMS) -> int:
        """How many ties are at or above `params.strong_tie_threshold` at `now`."""
        threshold = params.strong_tie_threshold
        return sum(1 for tie in self.ties.values() if tie.strength(now, params) >= threshold)

    def top_ties(
        self, now: float, limit: int = 10, params: TieParams = DEFAULT_TIE_PARAMS
    ) -> list[tuple[str, float]]:
        """The `limit` strongest ties as (partner, strength), strongest first.

        Ranked by decayed strength mass, so ties whose strength has saturated near 1 still
        rank by how strong they are; equal masses by partner id.
        """
        partners = self._index(params).top_partners(self.ties, now, limit)
        if partners is None:
            partners = self.top_partners_by_scan(now, limit, params)
        return [(partner, self.ties[partner].strength(now, params)) for partner in partners]

    def top_partners_by_scan(
        self, now: float, limit: int = 10, params: TieParams = DEFAULT_TIE_PARAMS
    ) -> list[str]:
        """The ranking of `top_ties` by scanning every tie, O(degree log limit)."""
        scored = (
            (-strength_mass(t.w_in, t.w_out, t.intensity, params) * t.decay_to(now, params), p)
            for p, t in self.ties.items()
        )
        return [partner for _, partner in heapq.nsmallest(limit, scored)]

    @property
    def empty(self) -> bool:
        return not self.ties and self.critic is None

    def to_dict(self) -> dict[str, Any]:
        """Stored form: {"t": {partner: [seq, ref, w_in, w_out, intensity, {scope: w_in}]},
        "c": critic row}, "c" only when there is one."""
        stored: dict[str, Any] = {
            "t": {
                partner: [tie.seq, tie.ref, tie.w_in, tie.w_out, tie.intensity, tie.scopes_in]
                for partner, tie in self.ties.items()
            }
        }
        if self.critic is not None:
            stored["c"] = self.critic
        return stored

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PersonState:
        # The form before the critic row moved in was the ties mapping alone; a partner's
        # value there is a list, never a mapping, so "t" is unambiguous.
        ties = data["t"] if isinstance(data.get("t"), Mapping) else data
        return cls(
            {
                partner: PartnerTie(
                    int(seq), float(ref), float(w_in), float(w_out), float(intensity),
                    {scope: float(w) for scope, w in scopes.items()},
                )
                for partner, (seq, ref, w_in, w_out, intensity, scopes) in ties.items()
            },
            data.get("c") if ties is not data else None,
        )  # fmt: skip


def apply_snapshot(person_state: PersonState, person_id: str, snapshot: Mapping[str, Any]) -> bool:
    """Take in a dyad snapshot (`ties.snapshot`) that involves `person_id`.

    Returns True when applied, False when its `seq` is not above the one held for that
    partner (a stale or repeated snapshot). Raises ValueError if the person is not in it.
    """
    a = snapshot["a"]
    b = snapshot["b"]
    if person_id == a:
        partner, side_in, w_in, w_out = b, 1, snapshot["weight_ba"], snapshot["weight_ab"]
    elif person_id == b:
        partner, side_in, w_in, w_out = a, 0, snapshot["weight_ab"], snapshot["weight_ba"]
    else:
        raise ValueError(f"{person_id!r} is not in dyad ({a!r}, {b!r})")
    seq = snapshot["seq"]
    held = person_state.ties.get(partner)
    if held is not None and seq <= held.seq:
        return False
    scopes_in = {
        scope: pair[side_in] for scope, pair in snapshot["scopes"].items() if pair[side_in] > 0.0
    }
    person_state.set_tie(
        partner,
        PartnerTie(
            seq=seq,
            ref=snapshot["ref"],
            w_in=w_in,
            w_out=w_out,
            intensity=snapshot["intensity_ab"] + snapshot["intensity_ba"],
            scopes_in=scopes_in,
        ),
    )
    return True


def apply_dyad(
    person_state: PersonState, person_id: str, key: tuple[str, str], state: DyadState
) -> bool:
    """`apply_snapshot(person_state, person_id, ties.snapshot(state, key, state.ref))`, for a
    caller that holds the dyad's state itself (the broker-free replay).

    Skips building the snapshot dict (and its strength and reciprocity, which a person does
    not keep). Valued at its own `ref` nothing decays (the snapshot's factor is exactly 1.0),
    so the numbers taken are the very ones `apply_snapshot` would take.
    """
    a, b = key
    if person_id == a:
        partner, side_in, w_in, w_out = b, 1, state.w_ba, state.w_ab
    elif person_id == b:
        partner, side_in, w_in, w_out = a, 0, state.w_ab, state.w_ba
    else:
        raise ValueError(f"{person_id!r} is not in dyad ({a!r}, {b!r})")
    held = person_state.ties.get(partner)
    if held is not None and state.seq <= held.seq:
        return False
    scopes_in = {
        scope: pair[side_in] for scope, pair in state.scopes.items() if pair[side_in] > 0.0
    }
    person_state.set_tie(
        partner, PartnerTie(state.seq, state.ref, w_in, w_out, state.i_ab + state.i_ba, scopes_in)
    )
    return True


def remove_partner(person_state: PersonState, partner: str) -> bool:
    """Forget one partner (erasure, or a dyad tombstone); True if it was there.

    It leaves no tombstone: a re-delivered older snapshot of the erased dyad would add the
    partner back, so the caller drops snapshots of opted-out people before applying them.
    """
    return person_state.drop_tie(partner)


Measure = Literal["influence", "reach"]
MEASURES: tuple[Measure, ...] = ("influence", "reach")


def _full(params: TieParams) -> TieParams:
    """`params` with one-way ties counted in full: reach's parameters (cached, so a person's
    reach index is found again)."""
    full = _FULL.get(params)
    if full is None:
        full = _FULL[params] = replace(params, one_way_influence=1.0)
    return full


_FULL: dict[TieParams, TieParams] = {}


def rank_people(
    states: Mapping[str, PersonState],
    now: float,
    scope: str | None = None,
    limit: int = 10,
    params: TieParams = DEFAULT_TIE_PARAMS,
    measure: Measure = "influence",
) -> list[tuple[str, float]]:
    """The `limit` highest people by `measure` as (person, score), highest first.

    People who score 0 (in the scope) are left out; equal scores order by id.
    """
    use = params if measure == "influence" else _full(params)
    scored = ((person, state.influence(now, scope, use)) for person, state in states.items())
    return heapq.nsmallest(
        limit, (item for item in scored if item[1] > 0.0), key=lambda item: (-item[1], item[0])
    )
