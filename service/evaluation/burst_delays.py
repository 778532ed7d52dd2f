"""How fast a moment of truth opens, and how often one opens for nothing: by simulation.

Seeded Poisson traffic on realistic shapes, through the same detectors as the worker
(service.core.signals.burst_apply: one overall, one per failure category, one incident):

- `seasonal(rate)`: complaints over the day (x0.5 at night to x1.5 in the afternoon) and the
  week (two quieter days at x0.8);
- `surge_delay`: a learned brand (two weeks), then at a random minute of the third week one
  category's rate jumps `ratio` times; the delay is from onset to the incident's first page;
- `first_day_delay`: a brand first seen near zero, its complaints rising `ratio` times an
  hour later, on its first day (the warm-up);
- `false_alarms_per_week`: pages of a learned brand over weeks of ordinary traffic.

The *Poisson limit* beside each delay is Lorden's lower bound for any detector at that false
alarm rate, `ln(ARL0) / KL` with ARL0 one week of minutes and KL the per-minute
Kullback-Leibler information of the surge, `lam1 ln(lam1/lam0) - (lam1 - lam0)`: no detector
of minute counts can be faster on average (it is optimistic: it ignores overshoot).
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass

from service.core.incidents import IncidentBook
from service.core.signals import BurstRow, SignalParams, burst_apply

WEEK_MINUTES = 7 * 1440
T0 = 1_795_000_000 - 1_795_000_000 % (7 * 86400)  # a week boundary
PARAMS = SignalParams()
Rates = Callable[[int], dict[str, float]]  # minute -> per-minute rate by category


def seasonal(per_hour: float) -> Callable[[int], float]:
    """A per-minute rate with a day and a week in it, averaging `per_hour` an hour."""
    mean = per_hour / 60.0

    def rate(minute: int) -> float:
        day = (minute % 1440) / 1440.0
        value = mean * (1.0 + 0.5 * math.sin(2.0 * math.pi * (day - 0.25)))
        return value * (0.8 if (minute // 1440) % 7 in (2, 3) else 1.0)

    return rate


def poisson(rng: random.Random, lam: float) -> int:
    if lam > 30.0:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


@dataclass
class Brand:
    """One brand's burst row and incident book, fed minute by minute."""

    rng: random.Random
    row: BurstRow
    book: IncidentBook
    pages: list[float]  # event times of the records that paged

    @classmethod
    def new(cls, seed: int) -> Brand:
        return cls(random.Random(seed), BurstRow(), IncidentBook(), [])

    def feed(self, m0: int, m1: int, rates: Rates) -> None:
        for minute in range(m0, m1):
            t = T0 + minute * 60 + 30.0
            for category, lam in rates(minute).items():
                for _ in range(poisson(self.rng, lam)):
                    self._apply({"t": t, "person": "p", "influence": 0.0, "partners": [],
                                 "event_id": "e", "excerpt": "", "s": -0.5,
                                 "failure": [category]})  # fmt: skip
            self._apply({"op": "tick", "t": t})

    def _apply(self, record: dict[str, object]) -> None:
        for signal in burst_apply(self.row, "acme", record, PARAMS):
            for emitted in self.book.observe(signal):
                if emitted.pages:
                    self.pages.append(signal.at)


def poisson_limit_min(per_hour: float, ratio: float, arl0_min: float = WEEK_MINUTES) -> float:
    """Lorden's lower bound on the mean delay, in minutes (the module docstring)."""
    lam0 = per_hour / 60.0
    lam1 = ratio * lam0
    kl = lam1 * math.log(lam1 / lam0) - (lam1 - lam0)
    return math.log(arl0_min) / kl


def surge_delay(per_hour: float, ratio: float, seed: int, noise_per_hour: float = 0.0) -> float:
    """Minutes from onset to the first page of a `ratio` surge in one category of a learned
    brand (math.inf: none within 4 hours). `noise_per_hour`: other categories' traffic."""
    brand = Brand.new(seed)
    base, noise = seasonal(per_hour), seasonal(noise_per_hour)

    def quiet(m: int) -> dict[str, float]:
        return (
            {"cancellation_delay": base(m), "outage": noise(m)}
            if noise_per_hour
            else {"cancellation_delay": base(m)}
        )

    brand.feed(0, 2 * WEEK_MINUTES, quiet)
    onset = 2 * WEEK_MINUTES + brand.rng.randrange(1440)
    brand.feed(2 * WEEK_MINUTES, onset, quiet)
    before = len(brand.pages)

    def surging(m: int) -> dict[str, float]:
        return {**quiet(m), "cancellation_delay": ratio * base(m)}

    brand.feed(onset, onset + 240, surging)
    pages = brand.pages[before:]
    return (pages[0] - (T0 + onset * 60)) / 60.0 if pages else math.inf


def first_day_delay(before_per_hour: float, surge_per_hour: float, seed: int) -> float:
    """Minutes from onset to the first page when a brand first seen at `before_per_hour`
    jumps to `surge_per_hour` an hour later (math.inf: none within 4 hours, -1: a page
    before the onset)."""
    brand = Brand.new(seed)
    brand.feed(0, 60, lambda m: {"cancellation_delay": before_per_hour / 60.0})
    if brand.pages:
        return -1.0
    brand.feed(60, 300, lambda m: {"cancellation_delay": surge_per_hour / 60.0})
    return (brand.pages[0] - (T0 + 3600)) / 60.0 if brand.pages else math.inf


def false_alarms_per_week(per_hour: float, seed: int, weeks: int = 4) -> float:
    """Pages per week of a brand learned for two weeks, over `weeks` of ordinary traffic
    in two categories (two thirds and one third of `per_hour`)."""
    brand = Brand.new(seed)
    base = seasonal(per_hour)

    def rates(m: int) -> dict[str, float]:
        return {"cancellation_delay": base(m) * 2 / 3, "outage": base(m) / 3}

    brand.feed(0, 2 * WEEK_MINUTES, rates)
    before = len(brand.pages)
    brand.feed(2 * WEEK_MINUTES, (2 + weeks) * WEEK_MINUTES, rates)
    return (len(brand.pages) - before) / weeks


@dataclass(frozen=True)
class DelayRow:
    per_hour: float
    ratio: float
    median_min: float
    p90_min: float
    limit_min: float


def delay_curve(
    rates: tuple[float, ...] = (5.0, 10.0, 20.0, 40.0, 100.0),
    ratios: tuple[float, ...] = (3.0, 5.0),
    seeds: int = 10,
) -> list[DelayRow]:
    """Median and p90 delay against baseline rate and surge ratio, beside the limit."""
    rows = []
    for per_hour in rates:
        for ratio in ratios:
            delays = sorted(surge_delay(per_hour, ratio, seed) for seed in range(seeds))
            rows.append(DelayRow(per_hour, ratio, statistics.median(delays),
                                 delays[max(0, math.ceil(0.9 * seeds) - 1)],
                                 poisson_limit_min(per_hour, ratio)))  # fmt: skip
    return rows
