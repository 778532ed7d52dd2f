"""Has this person turned negative? A lower CUSUM on their sentiment against their own baseline.

One `ChangeState` per person (pooled: the sentiment of their own posts and of the replies they
draw, fed in arrival order). Each observation `x` in [-1, 1] costs O(1) and no allocation beyond
the result tuple.

Baseline. An EWMA of the mean and variance of the person's sentiment, with weight
`max(baseline_alpha, 1/n)` on the n-th observation, so the first `1/baseline_alpha` observations
give a plain running mean and variance and later ones a memory of about `1/baseline_alpha`
observations. The variance is West's (1979) EWMA form `var = (1 - a) (var + a d^2)`.

Detector. Page's (1954) one-sided lower CUSUM on standardized deviations::

    sd = max(sqrt(var), sd_floor)
    z  = clip((x - mean) / sd, -z_clip, +z_clip)
    S  = max(0, S - z - k)                      alarm when S >= h

- `k` (in sd) is half the smallest drop worth catching quickly; `h` sets the false-alarm rate.
- `sd_floor` keeps a perfectly consistent person (sd near 0) from alarming on a tiny change: a
  drop smaller than `k * sd_floor` never moves S.
- `z_clip` bounds what one post can add (`z_clip - k`), so a single furious post cannot fire
  the alarm alone; it also winsorizes what the baseline learns.
- No alarm during the first `warmup` observations (the baseline is being learned).
- The baseline learns an observation only if S was 0 before it. That choice depends on the
  past only, so with nothing changing it does not bias the baseline; once a drop has started
  to build S up, the baseline stops following it (learning every quiet observation let it
  absorb a 0.9 sd drop before the alarm in about 5 % of simulated cases, never caught).
  While alarmed the baseline is frozen: learning the negative level would normalize the
  criticism and end the alarm without any recovery.
- While alarmed S is capped at `alarm_cap` (so recovery does not first have to drain an
  arbitrarily long episode) and the alarm resolves with hysteresis: when S has fallen to
  `resolve_cusum` or below AND the short-term mean (an EWMA with weight `short_alpha`) is back
  within `recover_sd` sd of the baseline.
- `adopt_after` (0: never) bounds an alarm's life in observations: then the person's new level
  is adopted as their baseline and the alarm resolves with `adopted` set.

The change point of an alarm is estimated as the CUSUM's usual one: the observation after which
S last left 0 (`run_start`, with `run_len` observations since); an alert's window starts there.

Parameters (`ChangeParams`, defaults): k = 0.5, h = 5.5, warm-up 20, baseline memory 1/0.02,
sd floor 0.15 (on the [-1, 1] scale), clip 3 sd. Measured by simulation in
`tests/core/test_change.py` (stable people: Gaussian sentiment clipped to [-1, 1], and a
VADER-like mix with 30 % exact zeros): 1.16 and 0.84 false alarms per 1000 posts, and a median
delay of 11 posts (mean 15) for a 0.9 sd drop. For a known baseline Siegmund's approximation
gives ARL0 = 1555 and ARL1(0.9 sd) = 13.6 at h = 5.5 (938 and 12.3 at h = 5): estimating the
baseline as it goes costs false alarms, which is why h is 5.5 rather than the textbook 5.

State is stored with `to_dict` (about 150-200 bytes of JSON); `from_dict(to_dict(s))` continues
exactly as `s` would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

__all__ = [
    "DEFAULT_CHANGE_PARAMS",
    "ChangeParams",
    "ChangeResult",
    "ChangeState",
    "Transition",
    "evidence",
    "from_dict",
    "observe",
    "to_dict",
]


class Transition(StrEnum):
    """What one observation did to the alarm."""

    NONE = "none"  # quiet (or warming up), and still quiet
    OPENED = "opened"  # the alarm fired on this observation
    STILL_OPEN = "still_open"  # alarmed before and after this observation
    RESOLVED = "resolved"  # the alarm ended on this observation


@dataclass(frozen=True, slots=True)
class ChangeParams:
    """Tuning of the turned-negative detector (the module docstring explains each)."""

    k: float = 0.5
    h: float = 5.5
    warmup: int = 20
    baseline_alpha: float = 0.02
    short_alpha: float = 0.2
    sd_floor: float = 0.15
    z_clip: float = 3.0
    alarm_cap: float = 5.5
    resolve_cusum: float = 1.0
    recover_sd: float = 0.5
    adopt_after: int = 0

    def __post_init__(self) -> None:
        for name in ("h", "sd_floor", "z_clip", "alarm_cap"):
            if not getattr(self, name) > 0.0:
                raise ValueError(f"{name} must be positive")
        for name in ("k", "resolve_cusum", "recover_sd"):
            if not getattr(self, name) >= 0.0:
                raise ValueError(f"{name} must not be negative")
        for name in ("baseline_alpha", "short_alpha"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in (0, 1]")
        if self.warmup < 2:
            raise ValueError("warmup must be at least 2 observations")
        if self.adopt_after < 0:
            raise ValueError("adopt_after must not be negative")
        if self.resolve_cusum >= self.alarm_cap:
            raise ValueError("resolve_cusum must be below alarm_cap")


DEFAULT_CHANGE_PARAMS = ChangeParams()


@dataclass(slots=True)
class ChangeState:
    """One person's detector state, mutated in place by `observe`."""

    n: int = 0  # observations seen
    mean: float = 0.0  # baseline mean
    var: float = 0.0  # baseline variance
    short: float = 0.0  # short-term mean
    cusum: float = 0.0  # lower CUSUM, >= 0
    alarm: bool = False
    run_len: int = 0  # observations since the CUSUM last left 0 (0 while it is 0)
    run_start: float = 0.0  # event time of the first of them
    since_open: int = 0  # observations since the alarm opened (1 on the opening one)
    opened_at: float = 0.0  # event time of the opening observation
    last_t: float = -math.inf  # newest event time seen

    def sd(self, params: ChangeParams = DEFAULT_CHANGE_PARAMS) -> float:
        """The baseline sd the detector standardizes with (floored)."""
        return max(math.sqrt(self.var), params.sd_floor)


class ChangeResult(NamedTuple):
    """The outcome of one observation, with the numbers an alert shows as evidence."""

    transition: Transition
    baseline: float  # baseline mean (frozen while alarmed)
    sd: float  # floored baseline sd
    current: float  # short-term mean
    cusum: float
    since_open: int  # observations since the alarm opened; 0 when quiet
    run_len: int  # observations since the estimated change point
    window_start: float  # event time of the estimated change point (or of this observation)
    adopted: bool = False  # RESOLVED by adopting the new level, not by recovery

    @property
    def drop_sd(self) -> float:
        """How far the short-term mean is below the baseline, in sd (the alert's score)."""
        return (self.baseline - self.current) / self.sd


def observe(
    state: ChangeState, x: float, t: float, params: ChangeParams = DEFAULT_CHANGE_PARAMS
) -> ChangeResult:
    """Feed one sentiment observation `x` (in [-1, 1]) made at event time `t`."""
    if not -1.0 <= x <= 1.0:  # also rejects NaN
        raise ValueError(f"sentiment must be in [-1, 1], got {x!r}")
    if t > state.last_t:
        state.last_t = t
    n = state.n + 1
    state.n = n
    if n == 1:
        state.mean = state.short = x
        state.var = 0.0
        return _result(state, Transition.NONE, params, t)
    state.short += params.short_alpha * (x - state.short)
    if n <= params.warmup:
        _learn(state, x - state.mean, max(params.baseline_alpha, 1.0 / n))
        return _result(state, Transition.NONE, params, t)

    sd = max(math.sqrt(state.var), params.sd_floor)
    clip = params.z_clip
    z = (x - state.mean) / sd
    if z > clip:
        z = clip
    elif z < -clip:
        z = -clip
    s = state.cusum - z - params.k
    if s < 0.0:
        s = 0.0

    if not state.alarm:
        if s > 0.0:
            if state.run_len == 0:
                state.run_start = t
            state.run_len += 1
        else:
            state.run_len = 0
        if s >= params.h:
            state.cusum = min(s, params.alarm_cap)
            state.alarm = True
            state.since_open = 1
            state.opened_at = t
            return _result(state, Transition.OPENED, params, t)
        if state.cusum == 0.0:
            _learn(state, z * sd, max(params.baseline_alpha, 1.0 / n))
        state.cusum = s
        return _result(state, Transition.NONE, params, t)

    state.cusum = min(s, params.alarm_cap)
    state.since_open += 1
    state.run_len += 1
    recovered = (
        state.cusum <= params.resolve_cusum and state.short >= state.mean - params.recover_sd * sd
    )
    adopted = not recovered and 0 < params.adopt_after <= state.since_open
    if recovered or adopted:
        result = _result(state, Transition.RESOLVED, params, t, adopted)
        if adopted:
            state.mean = state.short
        state.alarm = False
        state.cusum = 0.0
        state.run_len = 0
        state.since_open = 0
        return result
    return _result(state, Transition.STILL_OPEN, params, t)


def _learn(state: ChangeState, d: float, a: float) -> None:
    """Move the baseline by deviation `d` with weight `a` (West's EWMA variance)."""
    state.mean += a * d
    state.var = (1.0 - a) * (state.var + a * d * d)


def _result(
    state: ChangeState,
    transition: Transition,
    params: ChangeParams,
    t: float,
    adopted: bool = False,
) -> ChangeResult:
    return ChangeResult(
        transition,
        state.mean,
        max(math.sqrt(state.var), params.sd_floor),
        state.short,
        state.cusum,
        state.since_open,
        state.run_len,
        state.run_start if state.run_len else t,
        adopted,
    )


def evidence(result: ChangeResult) -> dict[str, Any]:
    """The detector's numbers in the shape an alert's `evidence` takes (alerts.py)."""
    return {
        "baseline": round(result.baseline, 4),
        "current": round(result.current, 4),
        "sd": round(result.sd, 4),
        "drop_sd": round(result.drop_sd, 3),
        "cusum": round(result.cusum, 3),
        "posts": result.run_len,
        "posts_since_open": result.since_open,
    }


def to_dict(state: ChangeState) -> dict[str, Any]:
    """The compact stored form; `from_dict(to_dict(s)) == s` exactly.

    Keys: n, m (mean), v (var), s (short), c (cusum), a (alarm 0/1), r ([run_len, run_start]),
    o ([since_open, opened_at], only while alarmed), t (newest event time). Floats are kept
    exact (JSON round-trips a float's repr), integral ones as ints.
    """
    out: dict[str, Any] = {
        "n": state.n,
        "m": _num(state.mean),
        "v": _num(state.var),
        "s": _num(state.short),
        "c": _num(state.cusum),
        "a": 1 if state.alarm else 0,
        "r": [state.run_len, _num(state.run_start)],
        "t": None if state.last_t == -math.inf else _num(state.last_t),
    }
    if state.alarm or state.since_open:
        out["o"] = [state.since_open, _num(state.opened_at)]
    return out


def from_dict(data: dict[str, Any]) -> ChangeState:
    """Inverse of `to_dict`."""
    run_len, run_start = data["r"]
    since_open, opened_at = data.get("o", (0, 0.0))
    last_t = data["t"]
    return ChangeState(
        n=int(data["n"]),
        mean=float(data["m"]),
        var=float(data["v"]),
        short=float(data["s"]),
        cusum=float(data["c"]),
        alarm=bool(data["a"]),
        run_len=int(run_len),
        run_start=float(run_start),
        since_open=int(since_open),
        opened_at=float(opened_at),
        last_t=-math.inf if last_t is None else float(last_t),
    )


def _num(x: float) -> float | int:
    return int(x) if x.is_integer() and abs(x) < 2**53 else x
