"""`closeknit evaluate bursts`: the moment-of-truth detector's delay curve and false pages,
by seeded simulation (service.evaluation.burst_delays)."""

from __future__ import annotations

import argparse
import statistics

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from service.cli.arguments import positive_int
from service.evaluation.burst_delays import (
    delay_curve,
    false_alarms_per_week,
    first_day_delay,
)

RATES = (5.0, 10.0, 20.0, 40.0, 100.0)
RATIOS = (3.0, 5.0)


def add_subparser(evaluate_subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = evaluate_subparsers.add_parser(
        "bursts",
        help="simulate the moment-of-truth detector: delays against the Poisson limit",
        description=(
            "Seeded simulation of seasonal complaint traffic through the worker's burst "
            "detectors and incident rule: the delay from a surge's onset to its page, against "
            "baseline rate and surge ratio, beside the Poisson limit (Lorden's bound at one "
            "false page a week); false pages per brand-week; a brand's first day."
        ),
    )
    parser.add_argument("--seeds", type=positive_int, default=10, help="runs per cell (10)")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    console = Console(highlight=False)
    rows = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("simulating", total=len(RATES) * len(RATIOS) + len(RATES))
        for per_hour in RATES:
            for ratio in RATIOS:
                rows.extend(delay_curve((per_hour,), (ratio,), args.seeds))
                progress.advance(task)
        false_pages = {}
        for per_hour in RATES:
            runs = [false_alarms_per_week(per_hour, seed) for seed in range(args.seeds)]
            false_pages[per_hour] = statistics.mean(runs)
            progress.advance(task)
        first_day = sorted(first_day_delay(1.0, 25.0, seed) for seed in range(args.seeds))
    table = Table(title="minutes from onset to page (median, p90) against the Poisson limit")
    for column in ("complaints/h", "surge", "median", "p90", "limit", "median/limit"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(f"{row.per_hour:g}", f"{row.ratio:g}x", f"{row.median_min:.1f}",
                      f"{row.p90_min:.0f}", f"{row.limit_min:.1f}",
                      f"{row.median_min / row.limit_min:.2f}")  # fmt: skip
    console.print(table)
    shown = ", ".join(f"{rate:g}/h: {pages:.2f}" for rate, pages in false_pages.items())
    console.print(f"False pages per brand-week (two categories, learned): {shown}.")
    console.print(
        f"A brand first seen at 1/h whose complaints jump to 25/h an hour later pages after "
        f"a median {statistics.median(first_day):.0f} min (max {max(first_day):.0f})."
    )
    return 0
