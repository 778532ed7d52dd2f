"""Forward exponential decay: half-life, order independence, late data, no overflow."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.core.decay import (
    DecayedSum,
    add_decayed,
    decay_factor,
    decay_rate,
    read_decayed,
)

DAY = 86400.0
HALF_LIFE = 14 * DAY
LAM = decay_rate(HALF_LIFE)
T0 = 1_795_000_000.0  # late 2026

amounts = st.floats(min_value=0.0, max_value=1e6, allow_nan=False)
offsets = st.floats(min_value=0.0, max_value=365 * DAY, allow_nan=False)
contributions = st.lists(st.tuples(amounts, offsets), min_size=1, max_size=40)


def total(items: list[tuple[float, float]], now: float) -> float:
    """Feed contributions in the given order; read at `now`."""
    s = DecayedSum(LAM)
    for c, dt in items:
        s.add(c, T0 + dt)
    return s.read(now)


def exact(items: list[tuple[float, float]], now: float) -> float:
    return math.fsum(c * math.exp(-LAM * (now - (T0 + dt))) for c, dt in items)


def test_value_halves_after_one_half_life() -> None:
    s = DecayedSum(LAM)
    s.add(8.0, T0)
    assert s.read(T0) == 8.0
    assert s.read(T0 + HALF_LIFE) == pytest.approx(4.0, rel=1e-12)
    assert s.read(T0 + 3 * HALF_LIFE) == pytest.approx(1.0, rel=1e-12)


def test_decay_factor_is_one_for_no_elapsed_time() -> None:
    assert decay_factor(0.0, LAM) == 1.0
    assert decay_factor(-5.0, LAM) == 1.0
    assert decay_factor(HALF_LIFE, LAM) == pytest.approx(0.5, rel=1e-12)


@pytest.mark.parametrize("half_life", [0.0, -1.0, math.nan])
def test_half_life_must_be_positive(half_life: float) -> None:
    with pytest.raises(ValueError):
        decay_rate(half_life)


@given(contributions, st.randoms(use_true_random=False))
def test_order_of_contributions_does_not_matter(
    items: list[tuple[float, float]], rnd: random.Random
) -> None:
    now = T0 + 400 * DAY
    shuffled = list(items)
    rnd.shuffle(shuffled)
    in_order = sorted(items, key=lambda item: item[1])
    expected = exact(items, now)
    tolerance = 1e-12 * math.fsum(c for c, _ in items)
    for order in (items, shuffled, in_order):
        assert math.isclose(total(order, now), expected, rel_tol=1e-9, abs_tol=tolerance)


@given(amounts, amounts, st.floats(min_value=0.0, max_value=60 * DAY))
def test_late_contribution_counts_as_if_it_came_in_order(c1: float, c2: float, lag: float) -> None:
    # c2 happened `lag` seconds before c1 but arrives after it.
    late_value, late_ref = add_decayed(0.0, T0, c1, T0, LAM)
    late_value, late_ref = add_decayed(late_value, late_ref, c2, T0 - lag, LAM)
    assert late_ref == T0  # a late contribution never moves the reference back
    ordered_value, ordered_ref = add_decayed(0.0, T0 - lag, c2, T0 - lag, LAM)
    ordered_value, ordered_ref = add_decayed(ordered_value, ordered_ref, c1, T0, LAM)
    assert math.isclose(late_value, ordered_value, rel_tol=1e-12, abs_tol=1e-12)


def test_no_overflow_over_fifty_years_of_event_time() -> None:
    s = DecayedSum(LAM)
    start = 0.0  # from 1970, to stress the largest gaps an exp(+lam t) scheme would hit
    days = 50 * 365
    for day in range(days):
        s.add(1.0 + (day % 7), start + day * DAY)
    bound = 7.0 / (1.0 - math.exp(-LAM * DAY))  # geometric series of the largest daily amount
    assert math.isfinite(s.value)
    assert 0.0 < s.read(start + days * DAY) <= bound
    # Fifty silent years later the sum has decayed to nothing, without an error.
    assert s.read(start + 100 * 365 * DAY) == 0.0
    # A contribution fifty years after the last one starts afresh.
    s.add(3.0, start + 100 * 365 * DAY)
    assert s.value == 3.0


@given(contributions, offsets, offsets)
def test_reading_is_monotone_non_increasing_in_now(
    items: list[tuple[float, float]], a: float, b: float
) -> None:
    s = DecayedSum(LAM)
    for c, dt in items:
        s.add(c, T0 + dt)
    early, late = sorted((a, b))
    assert s.read(T0 + late) <= s.read(T0 + early)
    assert s.read(s.ref - 1.0) == s.value  # reading before the reference never grows it


@given(amounts, offsets)
def test_read_decayed_matches_the_closed_form(c: float, dt: float) -> None:
    assert math.isclose(
        read_decayed(c, T0, T0 + dt, LAM), c * 0.5 ** (dt / HALF_LIFE), rel_tol=1e-9
    )
