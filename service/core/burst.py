"""A moment of truth: a burst of complaints about one brand or product, on event time.

One `BurstState` per brand (or product). Complaint events are counted into event-time minutes;
each closed minute (count `x`, zero when no event fell in it) feeds a Poisson CUSUM
(Lucas 1985) against a baseline rate `lam0` that knows the hour of the day and of the week::

    S = max(0, S + x ln(ratio) - (ratio - 1) lam0)        open when S >= h

This is the log-likelihood ratio of "the rate is `ratio` times the baseline" against "it is the
baseline", so h is in nats; at ratio 2 it gains 0.386 lam0 per minute on average during a 2x
burst and loses 0.307 lam0 per minute when all is calm.

Minutes. An event at time t counts in minute `floor(t / 60)`. The watermark is the newest event
time minus `allowed_lateness_s`; a minute closes once the watermark has passed its end. An event
for a closed minute is refused (`BurstAdd.accepted` is False: the caller counts or dead-letters
it). A brand with no events closes no minutes: call `advance` with the stream's event-time
watermark (never the wall clock) so that a burst can end when the complaints stop.

Baseline. 168 hour-of-week slots, 24 hour-of-day slots and one global rate, each an EWMA of the
per-minute count with weight `max(alpha, 1/n)` on its n-th minute (a running mean at first).
A slot's estimate leans on the coarser level until it has seen `learn_minutes` minutes:
`est = w own + (1 - w) prior` with `w = min(1, n / learn_minutes)` (hour of week <- hour of day
<- global). `lam0` interpolates linearly between the estimates of neighbouring slot centres, so
a rate that rises through the hour is followed, and is at least `floor_rate`.

A minute is learned only if the CUSUM was 0 before it (the choice depends on the past only, so
it does not bias the baseline when nothing changes) and never while a burst is open: a burst is
not learned into the baseline, nor are the minutes in which evidence for one was building up.
The first minute of a burst (S was 0 before it) is learned winsorized, as at most
`lam0 + learn_clip_sd * sqrt(lam0) + 1`, so it moves its slot by a fraction of a percent.

Two statistics. Beside the CUSUM for a `ratio` (2x) rise runs one for a `jump_ratio` (4x)
jump, with the same h: a small brand's crisis is a big jump on a small baseline, and a CUSUM
tuned to 2x needs twice as long to see it. A burst opens when either crosses h.

Cold start. A brand seen for the first time starts from a prior, not from silence: the global
rate leans on `prior_rate` as on `prior_minutes` minutes of observation, and for the first
`warmup_minutes` (a day) the baseline is the last hour's rate (an EWMA, `recent_alpha`),
because a day's hour slots have seen too little. The warm-up raises the bar, it never mutes:
the CUSUM looks for a `warm_ratio` (4x) jump and h is up to `1 + warm_boost` times higher,
falling to h by the end of the day. Warming up, a minute is learned unless evidence is
building (S > 0); an open burst is learned until it calms, so a brand first seen far above
the prior (which looks like a crisis, and pages once) settles within the hour.

Lifecycle (`BurstTransition`): OPENED when a statistic crosses h; UPDATE while open when the
count since the burst's start has grown by
`update_growth` since the last signal or the peak per-minute count has risen by `peak_growth`;
RESOLVED after `calm_minutes` consecutive minutes in which the short-term rate (an EWMA of the
per-minute count, weight `calm_alpha`) is at most `calm_ratio * lam0 + calm_slack`. The start of a
burst is the CUSUM's change-point estimate: the minute in which S last left 0.

Cost. O(1) per event. Closing a long quiet gap costs O(1) per minute only while S > 0 or a burst
is open (both end within a bounded number of quiet minutes); the rest of the gap is learned in
closed form per hour-of-week segment, at most 168 + 2 steps however long the gap.

Parameters (`BurstParams`, defaults): ratio 2 and jump 4, h = 10 nats, lateness 2 minutes,
slot memory about 4 weeks, warm-up 1 day, prior 2 complaints an hour, resolve after 10 calm
minutes. h = 10 keeps a brand under one false page a week with its overall detector and one per
failure category (service.core.signals.BurstRow) under one incident. Measured by simulation
(`tests/core/test_burst.py`, `tests/core/test_burst_simulation.py`, `closeknit evaluate
bursts`): on seasonal traffic 0.1 to 0.8 false pages a brand-week; a 3x surge at 40 an hour
opens after a median 10 minutes (Lorden's bound: 11), at 20 an hour 27 (bound 21); a 2x burst
at 2 to 6 a minute after a median 8; a brand first seen at 1 an hour whose complaints jump
to 25 an hour pages after a median 29 minutes.

State: about 2.8 KB as JSON (`to_dict`), nearly all of it the 192 slot rates; about 2.5 us per
event in CPython, about 150 us to store and load the state.
"""

from __future__ import annotations

import math
import struct
from binascii import a2b_base64, b2a_base64
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

__all__ = [
    "DEFAULT_BURST_PARAMS",
    "BurstAdd",
    "BurstParams",
    "BurstSignal",
    "BurstState",
    "BurstTransition",
    "add",
    "advance",
    "evidence",
    "expected_rate",
    "from_dict",
    "to_dict",
]

MINUTE_S = 60
HOURS_PER_WEEK = 168
HOURS_PER_DAY = 24
MINUTES_PER_HOUR = 60
MINUTES_PER_WEEK = HOURS_PER_WEEK * MINUTES_PER_HOUR


class BurstTransition(StrEnum):
    OPENED = "opened"
    UPDATE = "update"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class BurstParams:
    """Tuning of the complaint-burst detector (the module docstring explains each)."""

    ratio: float = 2.0
    h: float = 10.0
    allowed_lateness_s: float = 120.0
    week_alpha: float = 1.0 / 240.0  # a slot sees 60 minutes a week: about 4 weeks of memory
    day_alpha: float = 1.0 / 1680.0  # 60 minutes a day: about 4 weeks
    global_alpha: float = 1.0 / 1440.0  # about a day
    learn_minutes: int = 120  # a slot leans on its prior until it has seen this many minutes
    floor_rate: float = 0.05  # per minute
    learn_clip_sd: float = 4.0  # a minute is learned as at most lam0 + this * sqrt(lam0) + 1
    warmup_minutes: int = 1440
    prior_rate: float = 2.0 / 60.0  # per minute: a brand seen for the first time (2 an hour)
    prior_minutes: int = 60  # the prior weighs as much as this many minutes of observation
    recent_alpha: float = 1.0 / 60.0  # warm-up baseline: about an hour of memory
    warm_boost: float = 0.5  # h is (1 + warm_boost) times higher at the start of the warm-up
    warm_ratio: float = 4.0  # warming up, the CUSUM looks for this jump (ratio after)
    jump_ratio: float = 4.0  # a second CUSUM, tuned to big jumps on small baselines
    calm_alpha: float = 0.2
    calm_ratio: float = 1.5
    calm_slack: float = 0.25
    calm_minutes: int = 10
    update_growth: float = 2.0
    peak_growth: float = 1.5
    llr_gain: float = field(init=False, repr=False, compare=False)  # ln(ratio)
    llr_cost: float = field(init=False, repr=False, compare=False)  # ratio - 1
    jump_gain: float = field(init=False, repr=False, compare=False)  # ln(jump_ratio)
    caps: tuple[int, int, int] = field(init=False, repr=False, compare=False)  # n kept per level

    def __post_init__(self) -> None:
        if not min(self.ratio, self.warm_ratio, self.jump_ratio) > 1.0:
            raise ValueError("ratio, warm_ratio and jump_ratio must be above 1")
        for name in ("h", "floor_rate", "update_growth", "peak_growth", "calm_ratio", "prior_rate"):
            if not getattr(self, name) > 0.0:
                raise ValueError(f"{name} must be positive")
        for name in ("week_alpha", "day_alpha", "global_alpha", "calm_alpha"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in (0, 1]")
        if not self.allowed_lateness_s >= 0.0 or not self.calm_slack >= 0.0:
            raise ValueError("allowed_lateness_s and calm_slack must not be negative")
        if not self.warm_boost >= 0.0 or self.prior_minutes < 0:
            raise ValueError("warm_boost and prior_minutes must not be negative")
        if self.learn_minutes < 1 or self.calm_minutes < 1 or self.warmup_minutes < 0:
            raise ValueError("learn_minutes and calm_minutes must be >= 1, warmup_minutes >= 0")
        # A level's count n only matters until the weight max(alpha, 1/n) has become alpha
        # and the slot is learned, so it is kept no higher than that (16 bits when stored).
        caps = (
            max(_running_steps(self.week_alpha) + 1, self.learn_minutes),
            max(_running_steps(self.day_alpha) + 1, self.learn_minutes),
            _running_steps(self.global_alpha) + 1,
        )
        if max(caps) > 0xFFFF:
            raise ValueError("learning horizons must fit 16 bits (alpha >= 1/65535)")
        object.__setattr__(self, "llr_gain", math.log(self.ratio))
        object.__setattr__(self, "llr_cost", self.ratio - 1.0)
        object.__setattr__(self, "jump_gain", math.log(self.jump_ratio))
        object.__setattr__(self, "caps", caps)


def _running_steps(alpha: float) -> int:
    """The largest n with 1/n >= alpha: the steps that are a running mean."""
    return math.floor(1.0 / alpha + 1e-9)


DEFAULT_BURST_PARAMS = BurstParams()


@dataclass(slots=True)
class BurstState:
    """One brand's detector state, mutated in place by `add` and `advance`."""

    closed: int | None = None  # newest closed minute (None before the first event)
    newest: float = -math.inf  # newest event time seen (drives the watermark)
    pending: list[int] = field(default_factory=list)  # counts of minutes closed+1, closed+2, ...
    minutes: int = 0  # closed minutes so far (capped at warmup_minutes)
    week: list[float] = field(default_factory=lambda: [0.0] * HOURS_PER_WEEK)
    week_n: list[int] = field(default_factory=lambda: [0] * HOURS_PER_WEEK)
    day: list[float] = field(default_factory=lambda: [0.0] * HOURS_PER_DAY)
    day_n: list[int] = field(default_factory=lambda: [0] * HOURS_PER_DAY)
    glob: float = 0.0
    glob_n: int = 0
    cusum: float = 0.0
    jump: float = 0.0  # the second CUSUM's statistic (jump_ratio); 0 while warming up
    calm: float = 0.0  # short-term EWMA of the per-minute count
    is_open: bool = False
    run_start: int = 0  # minute in which S last left 0
    run_count: int = 0  # complaints since run_start
    run_expected: float = 0.0  # baseline complaints expected since run_start
    run_peak: int = 0  # largest per-minute count since run_start
    calm_run: int = 0  # consecutive calm minutes while open
    signalled_count: int = 0  # run_count at the last signal
    signalled_peak: int = 0  # run_peak at the last signal
    late: int = 0  # events refused because their minute had closed
    recent: float = 0.0  # warm-up baseline: an EWMA of the last hour or so, from the prior
    recent_n: int = 0


class BurstSignal(NamedTuple):
    """A lifecycle step, with the numbers an alert shows as evidence."""

    transition: BurstTransition
    at: float  # event time: the end of the minute that caused it
    start: float  # event time: the start of the burst's first minute
    window_count: int  # complaints since start
    window_expected: float  # baseline complaints expected since start
    peak_rate: int  # largest per-minute count since start
    rate: float  # short-term per-minute rate
    baseline_rate: float  # lam0 of the minute that caused it
    cusum: float

    @property
    def minutes(self) -> int:
        return round((self.at - self.start) / MINUTE_S)

    @property
    def ratio(self) -> float:
        """Complaints since start over the baseline's expectation (the alert's score)."""
        expected = self.window_expected
        return self.window_count / expected if expected > 0.0 else math.inf


class BurstAdd(NamedTuple):
    accepted: bool  # False: the event's minute had already closed (too late)
    signals: tuple[BurstSignal, ...]


def add(
    state: BurstState,
    t: float,
    count: int = 1,
    params: BurstParams = DEFAULT_BURST_PARAMS,
    *,
    close: bool = True,
) -> BurstAdd:
    """Count `count` complaints at event time `t`; close the minutes the watermark passed.

    With `close=False` the complaint is only counted and minutes close only when `advance`
    is called with an external watermark: for complaints that arrive out of event-time order
    (several upstream partitions), whose own times would close minutes too early. Until the
    first `advance`, an earlier complaint moves the start back instead of being late.
    """
    if not math.isfinite(t):
        raise ValueError(f"event time must be finite, got {t!r}")
    if count < 0:
        raise ValueError("count must not be negative")
    minute = math.floor(t / MINUTE_S)
    if state.closed is None:  # the first event: minutes within the lateness stay open
        state.closed = math.floor((t - params.allowed_lateness_s) / MINUTE_S) - 1
    signals = advance(state, t, params) if close else ()
    closed = state.closed
    if not close and state.newest == -math.inf:
        # Nothing has closed yet: start as if the earliest complaint so far had come first.
        start = math.floor((t - params.allowed_lateness_s) / MINUTE_S) - 1
        if start < closed:
            state.pending[:0] = [0] * (closed - start)
            state.closed = closed = start
    if minute <= closed:
        state.late += 1
        return BurstAdd(False, signals)
    pending = state.pending
    index = minute - closed - 1
    if index >= len(pending):
        pending.extend([0] * (index + 1 - len(pending)))
    pending[index] += count
    return BurstAdd(True, signals)


def advance(
    state: BurstState, t: float, params: BurstParams = DEFAULT_BURST_PARAMS
) -> tuple[BurstSignal, ...]:
    """Move the watermark to `t - allowed_lateness_s` (if later) and close passed minutes."""
    if t > state.newest:
        state.newest = t
    if state.closed is None:
        return ()
    through = math.floor((state.newest - params.allowed_lateness_s) / MINUTE_S) - 1
    if through <= state.closed:
        return ()
    return _close_through(state, through, params)


def expected_rate(
    state: BurstState, minute: int, params: BurstParams = DEFAULT_BURST_PARAMS
) -> float:
    """`lam0` of a minute: the baseline per-minute rate, interpolated and floored. While the
    detector warms up it is the last hour's rate, leaning on the prior at first: a brand's
    day rises and falls slowly, a moment of truth jumps."""
    if state.minutes < params.warmup_minutes:
        n, m = state.recent_n, params.prior_minutes
        rate = (n * state.recent + m * params.prior_rate) / (n + m) if n < m else state.recent
        return rate if rate > params.floor_rate else params.floor_rate
    hour, within = divmod(minute, MINUTES_PER_HOUR)
    slot = hour % HOURS_PER_WEEK
    position = (within + 0.5) / MINUTES_PER_HOUR - 0.5  # -0.5 .. 0.5 around the slot centre
    own = _slot_estimate(state, slot, params)
    if position < 0.0:
        other = _slot_estimate(state, (slot - 1) % HOURS_PER_WEEK, params)
        rate = own + (own - other) * position
    else:
        other = _slot_estimate(state, (slot + 1) % HOURS_PER_WEEK, params)
        rate = own + (other - own) * position
    return rate if rate > params.floor_rate else params.floor_rate


def _slot_estimate(state: BurstState, slot: int, params: BurstParams) -> float:
    learn = params.learn_minutes
    hod = slot % HOURS_PER_DAY
    n_day = state.day_n[hod]
    glob = _global_estimate(state, params)
    day = state.day[hod] if n_day >= learn else _blend(state.day[hod], n_day, glob, learn)
    n_week = state.week_n[slot]
    return state.week[slot] if n_week >= learn else _blend(state.week[slot], n_week, day, learn)


def _global_estimate(state: BurstState, params: BurstParams) -> float:
    """The global rate, leaning on the prior as on `prior_minutes` minutes seen at its rate."""
    n, m = state.glob_n, params.prior_minutes
    return (n * state.glob + m * params.prior_rate) / (n + m) if n + m else state.glob


def _blend(own: float, n: int, prior: float, learn: int) -> float:
    w = n / learn
    return w * own + (1.0 - w) * prior


def _close_through(state: BurstState, through: int, params: BurstParams) -> tuple[BurstSignal, ...]:
    assert state.closed is not None
    signals: list[BurstSignal] = []
    pending = state.pending
    while state.closed < through:
        if pending:
            signal = _close_minute(state, state.closed + 1, pending.pop(0), params)
            if signal is not None:
                signals.append(signal)
        elif state.cusum > 0.0 or state.jump > 0.0 or state.is_open:
            signal = _close_minute(state, state.closed + 1, 0, params)
            if signal is not None:
                signals.append(signal)
        else:
            _skip_quiet(state, through, params)
    return tuple(signals)


def _close_minute(
    state: BurstState, minute: int, count: int, params: BurstParams
) -> BurstSignal | None:
    state.closed = minute
    state.calm += params.calm_alpha * (count - state.calm)
    lam0 = expected_rate(state, minute, params)
    warming = state.minutes < params.warmup_minutes
    h, gain, cost = params.h, params.llr_gain, params.llr_cost
    if warming:
        state.minutes += 1
        h *= 1.0 + params.warm_boost * (1.0 - state.minutes / params.warmup_minutes)
        gain, cost = math.log(params.warm_ratio), params.warm_ratio - 1.0
    s = state.cusum + count * gain - cost * lam0
    if s < 0.0:
        s = 0.0
    jump = 0.0
    if not warming:
        jump = state.jump + count * params.jump_gain - (params.jump_ratio - 1.0) * lam0
        if jump < 0.0:
            jump = 0.0
    quiet = state.cusum == 0.0 and state.jump == 0.0  # no evidence building before this minute
    clip = lam0 + params.learn_clip_sd * math.sqrt(lam0) + 1.0
    clipped = count if count <= clip else clip
    if warming and (state.is_open or quiet):
        # Warming up, a minute is learned (winsorized) unless evidence of a surge is
        # building (S above 0): a brand's day is learned as it comes, a surge stands out
        # against the hour before it, and an open one is learned until it calms (a brand
        # first seen at a volume far above the prior settles so).
        _learn(state, minute, clipped, params)
        n = state.recent_n + 1
        state.recent += max(params.recent_alpha, 1.0 / n) * (clipped - state.recent)
        state.recent_n = min(n, params.prior_minutes)
    if not state.is_open:
        if s > 0.0 or jump > 0.0:
            if quiet:
                state.run_start = minute
                state.run_count = 0
                state.run_expected = 0.0
                state.run_peak = 0
            state.run_count += count
            state.run_expected += lam0
            if count > state.run_peak:
                state.run_peak = count
        if quiet and not warming:
            _learn(state, minute, clipped, params)
        state.cusum, state.jump = s, jump
        if s < h and jump < h:
            return None
        state.is_open = True
        state.calm_run = 0
        return _signal(state, BurstTransition.OPENED, minute, lam0)

    state.cusum, state.jump = s, jump
    state.run_count += count
    state.run_expected += lam0
    if count > state.run_peak:
        state.run_peak = count
    if state.calm <= params.calm_ratio * lam0 + params.calm_slack:
        state.calm_run += 1
        if state.calm_run >= params.calm_minutes:
            signal = _signal(state, BurstTransition.RESOLVED, minute, lam0)
            state.is_open = False
            state.cusum = state.jump = 0.0
            state.calm_run = 0
            return signal
    else:
        state.calm_run = 0
    if (
        state.run_count >= params.update_growth * state.signalled_count
        or state.run_peak >= params.peak_growth * state.signalled_peak
    ):
        return _signal(state, BurstTransition.UPDATE, minute, lam0)
    return None


def _signal(
    state: BurstState, transition: BurstTransition, minute: int, lam0: float
) -> BurstSignal:
    state.signalled_count = state.run_count
    state.signalled_peak = state.run_peak
    return BurstSignal(
        transition,
        float((minute + 1) * MINUTE_S),
        float(state.run_start * MINUTE_S),
        state.run_count,
        state.run_expected,
        state.run_peak,
        state.calm,
        lam0,
        max(state.cusum, state.jump),
    )


def _learn(state: BurstState, minute: int, count: float, params: BurstParams) -> None:
    hour = minute // MINUTES_PER_HOUR
    slot = hour % HOURS_PER_WEEK
    hod = hour % HOURS_PER_DAY
    cap_w, cap_d, cap_g = params.caps
    n = state.week_n[slot] + 1
    state.week[slot] += max(params.week_alpha, 1.0 / n) * (count - state.week[slot])
    state.week_n[slot] = min(n, cap_w)
    n = state.day_n[hod] + 1
    state.day[hod] += max(params.day_alpha, 1.0 / n) * (count - state.day[hod])
    state.day_n[hod] = min(n, cap_d)
    n = state.glob_n + 1
    state.glob += max(params.global_alpha, 1.0 / n) * (count - state.glob)
    state.glob_n = min(n, cap_g)


def _skip_quiet(state: BurstState, through: int, params: BurstParams) -> None:
    """Close minutes closed+1..through, all zero, while S = 0 and no burst is open."""
    assert state.closed is not None
    first = state.closed + 1
    k = through - first + 1
    state.closed = through
    state.calm *= (1.0 - params.calm_alpha) ** k
    warm = min(k, params.warmup_minutes - state.minutes)
    if warm > 0:
        state.minutes += warm
    # Zero counts: S stays 0 and every minute is learned (the warm-up ones as well).
    cap_w, cap_d, cap_g = params.caps
    state.glob, state.glob_n = _decay_zeros(state.glob, state.glob_n, k, params.global_alpha, cap_g)
    weeks, rest = divmod(k, MINUTES_PER_WEEK)
    # slot -> zero minutes in it. A dict of the slots touched: a gap is most often a minute
    # or two (a tick per minute), and walking all 168 + 24 slots cost more than the rest.
    per_week: dict[int, int] = {}
    if weeks:
        per_week = dict.fromkeys(range(HOURS_PER_WEEK), weeks * MINUTES_PER_HOUR)
    minute = first
    while rest > 0:
        hour, within = divmod(minute, MINUTES_PER_HOUR)
        take = min(MINUTES_PER_HOUR - within, rest)
        slot = hour % HOURS_PER_WEEK
        per_week[slot] = per_week.get(slot, 0) + take
        minute += take
        rest -= take
    per_day: dict[int, int] = {}
    week, week_n = state.week, state.week_n
    for slot, zeros in per_week.items():
        hod = slot % HOURS_PER_DAY
        per_day[hod] = per_day.get(hod, 0) + zeros
        week[slot], week_n[slot] = _decay_zeros(
            week[slot], week_n[slot], zeros, params.week_alpha, cap_w
        )
    day, day_n = state.day, state.day_n
    for hod, zeros in per_day.items():
        day[hod], day_n[hod] = _decay_zeros(day[hod], day_n[hod], zeros, params.day_alpha, cap_d)


def _decay_zeros(rate: float, n: int, zeros: int, alpha: float, cap: int) -> tuple[float, int]:
    """`zeros` EWMA steps towards 0 with weight max(alpha, 1/n), in closed form."""
    # While 1/n > alpha the steps form a running mean: rate * n0 / (n0 + j).
    running = max(0, min(zeros, _running_steps(alpha) - n))
    if running:
        rate = rate * n / (n + running) if n + running > 0 else 0.0
    rest = zeros - running
    if rest:
        rate *= (1.0 - alpha) ** rest
    return rate, min(n + zeros, cap)


def evidence(signal: BurstSignal) -> dict[str, Any]:
    """The detector's numbers in the shape an alert's `evidence` takes (alerts.py)."""
    return {
        "baseline": round(signal.baseline_rate, 4),
        "current": round(signal.rate, 4),
        "count": signal.window_count,
        "expected": round(signal.window_expected, 3),
        "ratio": round(signal.ratio, 3) if math.isfinite(signal.ratio) else None,
        "peak_rate": signal.peak_rate,
        "minutes": signal.minutes,
        "cusum": round(signal.cusum, 3),
    }


WARM_KEYS_UNTIL = 1 << 30  # `w` is always stored (rows written before it lack it: zeros)
_DOUBLES = struct.Struct(f"<{HOURS_PER_WEEK + HOURS_PER_DAY}d")
_COUNTS = struct.Struct(f"<{HOURS_PER_WEEK + HOURS_PER_DAY}H")


def to_dict(state: BurstState) -> dict[str, Any]:
    """The compact stored form; `from_dict(to_dict(s)) == s` exactly (about 3 KB of JSON).

    The 192 slot rates are packed as little-endian doubles and their counts as 16-bit ints,
    each base64 (`b`, `bn`): exact and about half the size of a JSON list of floats.
    """
    out: dict[str, Any] = {
        "c": state.closed,
        "t": None if state.newest == -math.inf else state.newest,
        "p": state.pending,
        "m": state.minutes,
        "b": _pack(_DOUBLES, [*state.week, *state.day]),
        "bn": _pack(_COUNTS, [*state.week_n, *state.day_n]),
        "g": [state.glob, state.glob_n],
        "s": state.cusum,
        "s2": state.jump,
        "k": state.calm,
        "o": 1 if state.is_open else 0,
        "r": [
            state.run_start,
            state.run_count,
            state.run_expected,
            state.run_peak,
            state.calm_run,
            state.signalled_count,
            state.signalled_peak,
        ],
        "l": state.late,
    }
    if state.minutes < WARM_KEYS_UNTIL or state.recent_n:
        out["w"] = [state.recent, state.recent_n]
    return out


def from_dict(data: dict[str, Any]) -> BurstState:
    """Inverse of `to_dict`."""
    rates = _DOUBLES.unpack(a2b_base64(data["b"]))
    counts = _COUNTS.unpack(a2b_base64(data["bn"]))
    glob, glob_n = data["g"]
    start, count, expected, peak, calm_run, s_count, s_peak = data["r"]
    newest = data["t"]
    return BurstState(
        closed=data["c"],
        newest=-math.inf if newest is None else float(newest),
        pending=[int(c) for c in data["p"]],
        minutes=int(data["m"]),
        week=list(rates[:HOURS_PER_WEEK]),
        week_n=list(counts[:HOURS_PER_WEEK]),
        day=list(rates[HOURS_PER_WEEK:]),
        day_n=list(counts[HOURS_PER_WEEK:]),
        glob=float(glob),
        glob_n=int(glob_n),
        cusum=float(data["s"]),
        jump=float(data.get("s2", 0.0)),
        calm=float(data["k"]),
        is_open=bool(data["o"]),
        run_start=int(start),
        run_count=int(count),
        run_expected=float(expected),
        run_peak=int(peak),
        calm_run=int(calm_run),
        signalled_count=int(s_count),
        signalled_peak=int(s_peak),
        late=int(data.get("l", 0)),
        recent=float(data.get("w", (0.0, 0))[0]),
        recent_n=int(data.get("w", (0.0, 0))[1]),
    )


def _pack(layout: struct.Struct, values: list[Any]) -> str:
    return b2a_base64(layout.pack(*values), newline=False).decode()
