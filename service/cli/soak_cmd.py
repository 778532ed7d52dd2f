"""`closeknit soak`: replay Higgs at a fixed rate for N minutes; RSS, lag, dead letters, alerts."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from service.config import load_settings

DEFAULT_OUT = Path("bench-results")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "soak",
        help="replay Higgs at a fixed rate for N minutes and chart RSS, lag and alerts",
        description="Start a private embedded broker (CLOSEKNIT_EMBEDDED_BROKER; or use "
        "CLOSEKNIT_BROKER) and one worker, replay the Higgs activity stream at --rate events/s "
        "for --minutes, and sample every --interval seconds: the worker's RSS, the consumer "
        "lag on the input topics, dead letters and alert records. Prints a table as it goes "
        "and writes CSV, JSON and a PNG plot to --out.",
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="how long (default 10)")
    parser.add_argument("--rate", type=float, default=200.0, help="events/s (default 200)")
    parser.add_argument(
        "--interval", type=float, default=10.0, help="seconds between samples (default 10)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="report directory")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from service.bench.soak import Sample, run_soak, write_report

    if args.minutes <= 0 or args.rate <= 0 or args.interval <= 0:
        print("closeknit soak: --minutes, --rate and --interval must be positive")
        return 2
    console = Console(highlight=False)
    console.print(
        f"[bold]closeknit soak[/]: {args.rate:,.0f} events/s for {args.minutes:g} min, "
        f"a sample every {args.interval:g} s"
    )

    def show(sample: Sample) -> None:
        console.print(
            f"{sample.seconds:7.0f} s  published {sample.published:>9,}  "
            f"RSS {sample.rss_mib:7.1f} MiB  lag {sample.lag:>8,}  "
            f"dead letters {sample.dead_letters:>6,}  alerts {sample.alerts:>5,}"
        )

    samples = run_soak(
        load_settings(), minutes=args.minutes, rate=args.rate, interval_s=args.interval,
        on_sample=show,
    )  # fmt: skip
    report, png = write_report(samples, args.out, rate=args.rate, minutes=args.minutes)
    table = Table(title="soak summary")
    for column in ("", "first", "max", "last"):
        table.add_column(column, justify="right")
    for name in ("rss_mib", "lag", "dead_letters", "alerts"):
        values = [getattr(s, name) for s in samples]
        table.add_row(name, f"{values[0]:,}", f"{max(values):,}", f"{values[-1]:,}")
    console.print(table)
    if png is None:
        console.print(f"report: {report} (no plot: `pip install matplotlib` for the PNG)")
    else:
        console.print(f"plot: {png} (and .csv, .json beside it)")
    return 0
