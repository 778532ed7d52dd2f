"""A person's influence and strongest ties in O(1), kept as their ties change.

`PersonState.influence` is a sum over every partner and `top_ties` a ranking of them: for
a celebrity with 20,000 partners, each read costs 20,000 exps, and the critic step reads
both on every post while an episode is open (measured: 37 ms per post, half the core's
time on Higgs). Both survive being kept up to date, because every tie decays at one rate:

- Forward decay (Cormode, Shkapenyuk, Srivastava & Xu, ICDE 2009): a term `w exp(-lam (now
  - ref))` equals `w exp(lam (ref - A)) * exp(-lam (now - A))` for any anchor `A`. The
  index keeps `sum of w exp(lam (ref - A))` per scope; a read multiplies by one exp. A
  changed tie subtracts its old term and adds its new one.
- The ranking key `mass exp(lam (ref - A))` orders ties as their decayed strength mass at
  any `now` does, so the strongest `CAPACITY` ties stay the strongest as time passes. A
  tie's key only grows with its new snapshots (weights are decayed, then added to); a key
  that shrinks, or a top tie that goes, drops the ranking, which is rebuilt on next read.

Both hold only while `now` is at or after every tie's `ref` (a later post: the common case);
the caller falls back to the exact loop otherwise. Sums are rebuilt from scratch every
`len(ties)` updates (amortised O(1)), so subtraction error cannot accumulate, and when the
anchor is so far behind that the exponentials would overflow.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

from service.core.ties import TieParams, reciprocity, strength_mass

if TYPE_CHECKING:
    from service.core.influence import PartnerTie

CAPACITY = 16  # strongest ties kept ranked; a read of more scans every tie
MAX_EXPONENT = 600.0  # exp(600) is far from float overflow (exp(709))
MIN_REBUILD_UPDATES = 256


class TieIndex:
    """Running sums and a top-`CAPACITY` ranking over one person's ties, for one `params`."""

    __slots__ = (
        "anchor",
        "members",
        "newest_ref",
        "params",
        "scoped",
        "size",
        "top",
        "total",
        "updates"
    )  # fmt: skip

    def __init__(self, ties: dict[str, PartnerTie], params: TieParams) -> None:
        self.params = params
        self.rebuild(ties)

    def rebuild(self, ties: dict[str, PartnerTie]) -> None:
        self.anchor = max((tie.ref for tie in ties.values()), default=0.0)
        self.newest_ref = self.anchor
        self.total = 0.0
        self.scoped: dict[str, float] = {}
        for tie in ties.values():
            self._add(tie, 1.0)
        self.top: list[tuple[float, str]] | None = None  # ranked on the first read
        self.members: set[str] = set()  # the partners in `top`
        self.updates = 0
        self.size = len(ties)

    def influence(self, now: float, scope: str | None) -> float | None:
        """The influence at `now`, or None when `now` is before a tie's `ref` (use the loop)."""
        if now < self.newest_ref:
            return None
        held = self.total if scope is None else self.scoped.get(scope, 0.0)
        return max(held, 0.0) * math.exp(-self.params.decay_rate * (now - self.anchor))

    def top_partners(self, ties: dict[str, PartnerTie], now: float, limit: int) -> list[str] | None:
        """The `limit` strongest partners, or None when the ranking cannot answer."""
        if now < self.newest_ref or limit > CAPACITY:
            return None
        if self.top is None:
            self.top = self._rank(ties.items())
            self.members = {partner for _, partner in self.top}
        return [partner for _, partner in self.top[:limit]]

    def replace(
        self,
        ties: dict[str, PartnerTie],
        partner: str,
        old: PartnerTie | None,
        new: PartnerTie | None,
    ) -> None:
        """Take a change already made to `ties`: `partner`'s tie went from `old` to `new`."""
        self.updates += 1
        if new is not None and self.params.decay_rate * (new.ref - self.anchor) > MAX_EXPONENT:
            self.rebuild(ties)
            return
        if self.updates > max(MIN_REBUILD_UPDATES, self.size):
            self.rebuild(ties)
            return
        if old is not None:
            self._add(old, -1.0)
        if new is not None:
            self._add(new, 1.0)
            self.newest_ref = max(self.newest_ref, new.ref)
        self._rerank(partner, new)

    def _add(self, tie: PartnerTie, sign: float) -> None:
        factor = sign * math.exp(self.params.decay_rate * (tie.ref - self.anchor))
        eps = self.params.one_way_influence
        weight = eps + (1.0 - eps) * reciprocity(tie.w_in, tie.w_out)
        self.total += tie.w_in * weight * factor
        scoped = self.scoped
        for scope, w in tie.scopes_in.items():
            scoped[scope] = scoped.get(scope, 0.0) + w * weight * factor

    def _key(self, tie: PartnerTie) -> float:
        mass = strength_mass(tie.w_in, tie.w_out, tie.intensity, self.params)
        return mass * math.exp(self.params.decay_rate * (tie.ref - self.anchor))

    def _rank(self, ties: Iterable[tuple[str, PartnerTie]]) -> list[tuple[float, str]]:
        return heapq.nsmallest(CAPACITY, ((-self._key(tie), partner) for partner, tie in ties))

    def _rerank(self, partner: str, new: PartnerTie | None) -> None:
        """Keep `top` the strongest min(CAPACITY, len(ties)) ties, or drop it (None)."""
        top = self.top
        if top is None:
            return
        ranked = partner in self.members
        if new is None:
            if ranked:
                self.top = None  # a top tie went: the next one is unknown
            return
        entry = (-self._key(new), partner)
        if ranked:
            at = next(i for i, (_, p) in enumerate(top) if p == partner)
            if entry[0] > top[at][0]:
                self.top = None  # a top tie weakened: another may overtake it unseen
                return
            top[at] = entry
        elif len(top) < CAPACITY:
            top.append(entry)  # fewer ties than CAPACITY: every one is ranked
            self.members.add(partner)
        elif entry < top[-1]:
            self.members.discard(top[-1][1])
            top[-1] = entry
            self.members.add(partner)
        else:
            return
        top.sort()
