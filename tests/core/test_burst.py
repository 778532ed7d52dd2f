"""Complaint-burst detector: delay for a 2x burst, false alarms over seasonal data, lifecycle,
minutes on event time (lateness, gaps, out of order), frozen baseline, state.

Seasonal complaint traffic, as used throughout: Poisson counts per minute at a rate of
4/min x (1 + 0.5 sin(day phase)) (2/min at night to 6/min at midday, UTC) and x 0.8 on two days of
the week. Measured at the default parameters (ratio 2, h = 8 nats), seeded:

- false alarms: 0.7 a week (14 in 20 weeks after 4 weeks of learning; 0.53-0.7 a week over
  30 weeks with other seeds); about 1.4 a week in the first two weeks from a cold start;
- delay for a 2x burst after 3 weeks of learning (40 bursts at random times of day): median
  6 minutes of burst up to the end of the opening minute (mean 7.5, worst 30 at night, when the
  baseline is 2/min); the signal comes out when that minute closes, `allowed_lateness_s`
  (2 minutes) later in event time;
- on a flat baseline the median delay is 11, 5 and 3 minutes at 2, 4 and 8 complaints a minute.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.core.burst import (
    DEFAULT_BURST_PARAMS,
    BurstParams,
    BurstSignal,
    BurstState,
    BurstTransition,
    add,
    advance,
    evidence,
    expected_rate,
    from_dict,
    to_dict,
)

P = DEFAULT_BURST_PARAMS
WEEK = 10080  # minutes
T0 = 1_795_000_000 - 1_795_000_000 % (7 * 86400)  # a week boundary (Thursday 00:00 UTC)


def poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method (fine for the small rates here)."""
    limit = math.exp(-lam)
    k = 0
    p = rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def seasonal(minute: int, mean: float = 4.0) -> float:
    day = (minute % 1440) / 1440.0
    rate = mean * (1.0 + 0.5 * math.sin(2.0 * math.pi * (day - 0.25)))
    return rate * (0.8 if (minute // 1440) % 7 in (2, 3) else 1.0)


def feed(
    state: BurstState,
    rng: random.Random,
    m0: int,
    m1: int,
    rate: Callable[[int], float] = seasonal,
    times: float = 1.0,
    params: BurstParams = P,
) -> list[BurstSignal]:
    """Each minute's complaints as one count at second 30 (the same counts, faster)."""
    signals: list[BurstSignal] = []
    for minute in range(m0, m1):
        t = T0 + minute * 60 + 30.0
        count = poisson(rng, rate(minute) * times)
        if count:
            signals.extend(add(state, t, count, params).signals)
        else:
            signals.extend(advance(state, t, params))
    return signals


def opened(signals: list[BurstSignal]) -> list[BurstSignal]:
    return [s for s in signals if s.transition is BurstTransition.OPENED]


# -- the measured operating point --------------------------------------------------------------


def test_false_alarms_over_seasonal_traffic_are_under_one_a_week() -> None:
    rng = random.Random(1)
    state = BurstState()
    feed(state, rng, 0, 4 * WEEK)
    weeks = 20
    alarms = opened(feed(state, rng, 4 * WEEK, (4 + weeks) * WEEK))
    print(f"false alarms: {len(alarms)} in {weeks} weeks of seasonal traffic")
    assert len(alarms) <= weeks


def test_the_first_two_weeks_from_a_cold_start_raise_few_alarms() -> None:
    """While week slots lean on hour-of-day priors (which blur weekdays and the two quieter
    days) the rate is higher: 3 in the first 2 weeks with this seed (about 1.4 a week over
    6 seeds), none in the first day, with a prior at the brand's scale (4 a minute)."""
    rng = random.Random(0)
    state = BurstState()
    params = BurstParams(prior_rate=4.0)
    alarms = opened(feed(state, rng, 0, 2 * WEEK, params=params))
    print(f"cold start: {len(alarms)} false alarms in 2 weeks")
    assert len(alarms) <= 4
    assert all(s.at >= T0 + 86400 for s in alarms)


def test_a_big_brand_first_seen_far_above_the_prior_pages_once_and_settles() -> None:
    """240 complaints an hour against the default prior of 2: indistinguishable from a
    crisis at first sight, so it opens once, then learns its volume and resolves."""
    rng = random.Random(0)
    state = BurstState()
    signals = feed(state, rng, 0, 2 * WEEK)
    first_day = [s for s in signals if s.at < T0 + 86400]
    assert [s.transition for s in first_day if s.transition != BurstTransition.UPDATE] == [
        BurstTransition.OPENED,
        BurstTransition.RESOLVED,
    ]
    assert first_day[-1].at - first_day[0].at <= 2 * 3600


def test_a_stable_day_after_learning_raises_no_alarm() -> None:
    """One seeded day (1440 minutes) after 3 weeks of learning. At 0.7 false alarms a week a
    given day is quiet with probability about 0.9: this pins one such run, the rate is
    measured above."""
    rng = random.Random(11)
    state = BurstState()
    feed(state, rng, 0, 3 * WEEK)
    assert opened(feed(state, rng, 3 * WEEK, 3 * WEEK + 1440)) == []


def test_a_2x_burst_over_a_learned_baseline_is_caught_in_about_eight_minutes() -> None:
    rng = random.Random(3)
    state = BurstState()
    feed(state, rng, 0, 3 * WEEK)
    minute = 3 * WEEK
    delays = []
    for _ in range(40):
        gap = rng.randrange(360, 720)
        feed(state, rng, minute, minute + gap)
        minute += gap
        if state.is_open:  # a false alarm still open: not a measurement of this burst
            feed(state, rng, minute, minute + 60)
            minute += 60
            continue
        start = T0 + minute * 60
        first = opened(feed(state, rng, minute, minute + 60, times=2.0))
        minute += 60
        delays.append(round((first[0].at - start) / 60) if first else 999)
        feed(state, rng, minute, minute + 120)
        minute += 120
    median = statistics.median(delays)
    print(f"2x burst: median {median}, mean {statistics.mean(delays):.1f}, max {max(delays)} "
          f"minutes over {len(delays)} bursts")  # fmt: skip
    assert median <= 8
    assert max(delays) <= 40


@pytest.mark.parametrize(("mean", "bound"), [(2.0, 13), (4.0, 7), (8.0, 5)])
def test_the_delay_shrinks_as_the_baseline_rate_grows(mean: float, bound: int) -> None:
    """A flat baseline: the CUSUM gains 0.386 lam0 a minute in a 2x burst."""
    rng = random.Random(4)
    state = BurstState()
    flat: Callable[[int], float] = lambda _m: mean  # noqa: E731
    feed(state, rng, 0, 2 * WEEK, flat)
    minute = 2 * WEEK
    delays = []
    for _ in range(15):
        feed(state, rng, minute, minute + 240, flat)
        minute += 240
        if state.is_open:
            continue
        first = opened(feed(state, rng, minute, minute + 60, flat, times=2.0))
        delays.append(round((first[0].at - T0 - minute * 60) / 60) if first else 999)
        minute += 60
    print(f"flat {mean}/min: median delay {statistics.median(delays)} minutes")
    assert statistics.median(delays) <= bound


# -- lifecycle ---------------------------------------------------------------------------------


def learned(weeks: int = 2, seed: int = 5) -> tuple[BurstState, random.Random, int]:
    rng = random.Random(seed)
    state = BurstState()
    feed(state, rng, 0, weeks * WEEK)
    minute = weeks * WEEK + 600
    feed(state, rng, weeks * WEEK, minute)
    return state, rng, minute


def test_a_three_hour_outage_is_one_open_a_few_updates_and_one_resolve() -> None:
    state, rng, minute = learned(weeks=4)  # every slot learns at its floor weight 1/240
    assert not state.is_open
    slot_before = [expected_rate(state, minute + i) for i in range(180)]
    signals = feed(state, rng, minute, minute + 180, times=18.0)
    signals += feed(state, rng, minute + 180, minute + 300)
    kinds = [s.transition for s in signals]
    assert kinds[0] is BurstTransition.OPENED and kinds.count(BurstTransition.OPENED) == 1
    assert kinds[-1] is BurstTransition.RESOLVED and kinds.count(BurstTransition.RESOLVED) == 1
    assert 1 <= kinds.count(BurstTransition.UPDATE) <= 12  # growth x2 of the count: log2
    first, last = signals[0], signals[-1]
    assert first.at - (T0 + minute * 60) <= 2 * 60  # an 18x burst opens in its first minutes
    assert first.start == last.start  # the change-point estimate: at or just before the start
    assert T0 + (minute - 10) * 60 <= first.start <= T0 + minute * 60
    assert 14 < last.ratio < 22 and last.peak_rate >= 18 * 2
    resolved_after = (last.at - (T0 + (minute + 180) * 60)) / 60
    print(f"resolved {resolved_after:.0f} minutes after the outage ended; {len(signals)} signals")
    assert resolved_after <= 40
    # The burst was not learned: the baseline of those minutes barely moved (its first
    # minute is learned, winsorized; nothing after it).
    after = [expected_rate(state, minute + i) for i in range(180)]
    assert after == pytest.approx(slot_before, rel=0.01)
    ev = evidence(last)
    assert ev["count"] == last.window_count and ev["minutes"] == last.minutes >= 180


def test_silence_closes_minutes_only_when_told_the_watermark() -> None:
    state, rng, minute = learned(weeks=1)
    signals = feed(state, rng, minute, minute + 30, times=10.0)
    assert opened(signals)
    # Complaints stop entirely: nothing closes for this brand until the shell advances the
    # watermark (event time from the rest of the stream).
    t_stop = T0 + (minute + 30) * 60
    assert state.is_open
    resolved = advance(state, t_stop + 3600.0)
    assert [s.transition for s in resolved][-1] is BurstTransition.RESOLVED
    assert not state.is_open and state.cusum == 0.0


def test_late_events_within_the_lateness_count_and_later_ones_are_refused() -> None:
    state = BurstState()
    t = float(T0)  # minute k is [t + 60k, t + 60k + 60)
    m0 = T0 // 60
    assert add(state, t + 200.0).accepted  # minute 3; watermark t + 80: nothing closed
    assert state.closed == m0 and state.pending == [0, 0, 1]  # minutes 1, 2, 3
    assert add(state, t + 130.0).accepted  # minute 2, 70 s late: still open
    assert state.pending == [0, 1, 1]
    assert add(state, t + 400.0).accepted  # watermark t + 280 closes minutes 1-3
    assert state.closed == m0 + 3 and state.pending == [0, 0, 1]  # minutes 4, 5, 6
    assert not add(state, t + 239.0).accepted  # minute 3 has closed: refused, counted
    assert state.late == 1
    assert add(state, t + 250.0).accepted
    assert state.pending == [1, 0, 1]


def test_out_of_order_events_within_the_lateness_give_the_same_state() -> None:
    rng = random.Random(6)
    times = sorted(T0 + rng.uniform(0, 6 * 3600) for _ in range(3000))
    shuffled = list(times)
    for i in range(0, len(shuffled) - 5, 5):  # local disorder, a few seconds
        window = shuffled[i : i + 5]
        rng.shuffle(window)
        shuffled[i : i + 5] = window
    a, b = BurstState(), BurstState()
    for t in times:
        assert add(a, t).accepted
    for t in shuffled:
        assert add(b, t).accepted
    advance(a, times[-1] + 600)
    advance(b, times[-1] + 600)
    assert to_dict(a) == to_dict(b)


def test_a_quiet_gap_is_learned_in_closed_form_like_minute_by_minute() -> None:
    state, _, minute = learned(weeks=1)
    stepwise = from_dict(to_dict(state))
    t = T0 + minute * 60
    started = time.perf_counter()
    advance(state, t + 3 * 86400.0)  # three days without a complaint, in one call
    elapsed = time.perf_counter() - started
    for k in range(1, 3 * 1440 + 1):  # the same, a minute at a time
        advance(stepwise, t + k * 60.0)
    assert state.closed == stepwise.closed
    assert state.glob == pytest.approx(stepwise.glob, rel=1e-9)
    assert state.week == pytest.approx(stepwise.week, rel=1e-9)
    assert state.day == pytest.approx(stepwise.day, rel=1e-9)
    assert state.week_n == stepwise.week_n and state.day_n == stepwise.day_n
    assert elapsed < 0.01


def test_a_year_of_silence_costs_a_bounded_step() -> None:
    state, _, minute = learned(weeks=1)
    started = time.perf_counter()
    add(state, T0 + minute * 60 + 365 * 86400.0)
    assert time.perf_counter() - started < 0.01
    assert len(state.pending) <= 3
    assert all(rate < 1e-3 for rate in state.week)  # a year of zeros is learned as zeros


def test_the_warm_up_raises_the_bar_but_never_mutes() -> None:
    state = BurstState()
    rng = random.Random(7)
    params = BurstParams(prior_rate=0.5)  # the brand's everyday 30 an hour
    rate: Callable[[int], float] = lambda m: 0.5 if m < 600 else 20.0  # noqa: E731
    signals = feed(state, rng, 0, P.warmup_minutes - 10, rate, params=params)
    first = opened(signals)
    assert first and T0 + 600 * 60 <= first[0].at <= T0 + 610 * 60, "a 40x jump on day one"


def test_a_sparse_brand_opens_on_a_real_cluster_of_complaints_only() -> None:
    rng = random.Random(8)
    state = BurstState()
    sparse: Callable[[int], float] = lambda _m: 0.02  # noqa: E731  (about 29 a day)
    assert opened(feed(state, rng, 0, 3 * WEEK, sparse)) == []
    t = T0 + 3 * WEEK * 60
    signals: list[BurstSignal] = []
    for i in range(20):  # 20 complaints in 10 minutes, against 0.2 expected
        signals.extend(add(state, t + 30.0 * i).signals)
    signals.extend(advance(state, t + 3600.0))
    assert [s.transition for s in signals][:1] == [BurstTransition.OPENED]


@pytest.mark.parametrize(
    "bad",
    [{"ratio": 1.0}, {"h": 0.0}, {"week_alpha": 0.0}, {"calm_minutes": 0}, {"day_alpha": 1e-6}],
)
def test_invalid_params_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        BurstParams(**bad)  # type: ignore[arg-type]


# -- properties ------------------------------------------------------------------------------

events = st.lists(
    st.tuples(st.floats(min_value=0.0, max_value=4 * 3600.0), st.integers(1, 30)),
    max_size=150,
)
small = BurstParams(warmup_minutes=30, learn_minutes=5)


def run(state: BurstState, items: list[tuple[float, int]], base: float) -> list[BurstSignal]:
    out: list[BurstSignal] = []
    for offset, count in sorted(items):
        out.extend(add(state, base + offset, count, small).signals)
        assert state.cusum >= 0.0
    return out


@settings(max_examples=150, deadline=None)
@given(events)
def test_cusum_is_never_negative_and_signals_follow_the_lifecycle(
    items: list[tuple[float, int]],
) -> None:
    state = BurstState()
    signals = run(state, items, float(T0))
    signals.extend(advance(state, T0 + 5 * 3600.0, small))
    assert state.cusum >= 0.0
    is_open = False
    for s in signals:
        if s.transition is BurstTransition.OPENED:
            assert not is_open
            is_open = True
        else:
            assert is_open
            is_open = s.transition is not BurstTransition.RESOLVED
        assert s.window_count >= 0 and s.window_expected > 0.0 and s.start < s.at
    assert is_open == state.is_open


@settings(max_examples=150, deadline=None)
@given(events, events)
def test_state_round_trips_and_continues_identically(
    first: list[tuple[float, int]], then: list[tuple[float, int]]
) -> None:
    original = BurstState()
    run(original, first, float(T0))
    stored = orjson.dumps(to_dict(original))
    assert len(stored) < 3200
    restored = from_dict(orjson.loads(stored))
    assert restored == original
    later = T0 + 4 * 3600.0
    assert run(restored, then, later) == run(original, then, later)
    assert to_dict(restored) == to_dict(original)


def test_out_of_order_complaints_count_when_minutes_close_on_an_external_watermark() -> None:
    # Complaints from several partitions arrive out of event-time order; with close=False
    # none is refused as late, and the same burst is found as from an ordered stream.
    rng = random.Random(11)
    # One complaint, two quiet days (past the warm-up), then 3 a minute for an hour.
    times = [T0] + [T0 + 2 * 86400 + i * 20.0 for i in range(180)]
    shuffled = times[:]
    rng.shuffle(shuffled)
    ordered, unordered = BurstState(), BurstState()
    for t in times:
        add(ordered, t, close=False)
    for t in shuffled:
        add(unordered, t, close=False)
    assert unordered.late == 0
    assert to_dict(unordered) == to_dict(ordered)
    opened = [s for s in advance(unordered, times[-1] + 3600) if s.transition == "opened"]
    assert len(opened) == 1
