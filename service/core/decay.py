"""Exponential time decay in O(1) per event, on event time, without overflow.

A decayed sum `S(now) = sum_i c_i * exp(-lam * (now - t_i))` is kept as the pair
(`value`, `ref`): its value at the reference time `ref`, the newest contribution time seen.
This is forward decay (Cormode, Shkapenyuk, Srivastava & Xu, ICDE 2009) with the landmark
moved forward on every in-order contribution, so the stored value never grows beyond the
plain sum of the contributions: there is no `exp(+lam * t)` term to overflow, however many
years of event time pass.

- In-order contribution (t >= ref): `value = value * exp(-lam * (t - ref)) + c`, `ref = t`.
- Late contribution (t < ref): `value += c * exp(-lam * (ref - t))`; `ref` stays.
- Read at `now`: `value * exp(-lam * max(0, now - ref))`; reading before `ref` gives the
  value at `ref` (decay never runs backwards, so reads are monotone non-increasing in `now`).

With `lam = ln 2 / half_life` a contribution is worth half as much one half-life later.
The functions work on plain floats so the hot path allocates nothing but the result tuple.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

LN2 = math.log(2.0)


def decay_rate(half_life_s: float) -> float:
    """The rate `lam` at which a contribution halves every `half_life_s` seconds."""
    if not half_life_s > 0.0:
        raise ValueError(f"half-life must be positive, got {half_life_s!r}")
    return LN2 / half_life_s


def decay_factor(dt: float, lam: float) -> float:
    """`exp(-lam * dt)` for `dt > 0`, else 1.0. Underflows to 0.0, never overflows."""
    return math.exp(-lam * dt) if dt > 0.0 else 1.0


def add_decayed(value: float, ref: float, c: float, t: float, lam: float) -> tuple[float, float]:
    """Add contribution `c` made at time `t`; return the new `(value, ref)`."""
    if t >= ref:
        return value * math.exp(-lam * (t - ref)) + c, t
    return value + c * math.exp(-lam * (ref - t)), ref


def read_decayed(value: float, ref: float, now: float, lam: float) -> float:
    """The decayed sum at time `now` (the value at `ref` when `now <= ref`)."""
    return value * math.exp(-lam * (now - ref)) if now > ref else value


@dataclass(slots=True)
class DecayedSum:
    """One decayed sum as an object, for code off the hot path (starts empty at `-inf`)."""

    lam: float
    value: float = 0.0
    ref: float = -math.inf

    def add(self, c: float, t: float) -> None:
        self.value, self.ref = add_decayed(self.value, self.ref, c, t, self.lam)

    def read(self, now: float) -> float:
        return read_decayed(self.value, self.ref, now, self.lam)
