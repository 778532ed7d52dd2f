"""`closeknit replay FILE`: publish a file of mentions and replies to the input topics."""

from __future__ import annotations

import argparse
import asyncio
import math
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from service.cli.arguments import positive_float, positive_int
from service.config import Settings, load_settings
from service.core.validation import EventValidator, Rejection
from service.sources.detect import FORMATS, UnknownFormatError, detect_format, open_source
from service.sources.publish import (
    BrokerUnavailableError,
    PacePlan,
    PublishError,
    PublishStats,
    dry_run,
    plan_pace,
    publish,
)
from service.sources.record import LineError, SourceItem, SourceRecord

MAX_SHOWN_ERRORS = 20
EXIT_OK, EXIT_INVALID_LINES, EXIT_USAGE = 0, 1, 2


def register(subparsers: argparse._SubParsersAction) -> None:
    formats = "; ".join(f"{name}: {doc}" for name, doc in FORMATS.items())
    parser = subparsers.add_parser(
        "replay",
        help="publish a file of mentions/replies (or a known data set) to the input topics",
        description="Publish FILE to the mentions and replies topics, keyed by event_id. "
        f"Formats: {formats}. Invalid lines are reported as FILE:LINE and the good ones are "
        "still published; the exit status is 1 if any line was invalid, 2 on usage errors.",
    )
    parser.add_argument("file", type=Path, metavar="FILE", help="the file to replay")
    parser.add_argument(
        "--format",
        choices=["auto", *FORMATS],
        default="auto",
        help="input format (default: auto, from the name and the first line)",
    )
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument(
        "--rate", type=positive_float, metavar="N", help="send at N events per second"
    )
    pace.add_argument(
        "--speedup",
        type=positive_float,
        metavar="X",
        help="send at the pace of the event times, X times faster",
    )
    parser.add_argument("--limit", type=positive_int, metavar="N", help="stop after N events")
    parser.add_argument(
        "--include-retweets",
        action="store_true",
        help="higgs: publish retweets as mentions tagged `retweet` (default: skip them)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="parse and validate only; no broker needed (pacing is ignored)",
    )
    parser.add_argument(
        "--broker",
        metavar="URL",
        help="bootstrap URL (default: CLOSEKNIT_BROKER, else the embedded broker)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings(broker=args.broker)
    out, err = Console(highlight=False), Console(stderr=True, highlight=False)
    path: Path = args.file
    if not path.exists():
        _say(err, f"closeknit replay: {path}: no such file")
        return EXIT_USAGE
    if not path.is_file():
        _say(err, f"closeknit replay: {path}: not a file")
        return EXIT_USAGE
    try:
        fmt = detect_format(path) if args.format == "auto" else args.format
    except UnknownFormatError as exc:
        _say(err, f"closeknit replay: {exc}")
        return EXIT_USAGE
    validator = EventValidator(
        max_message_bytes=settings.max_message_bytes,
        max_future_skew_s=settings.max_future_skew_s,
    )
    items = open_source(path, fmt, validator=validator, include_retweets=args.include_retweets)
    reporter = _ErrorReporter(path, err)
    checker = validator if args.dry_run and fmt != "jsonl" else None
    stream = reporter.watch(_limited(items, args.limit, checker))

    paced = not args.dry_run and (args.rate is not None or args.speedup is not None)
    plan = None
    if paced and err.is_terminal:  # a second pass over the file, only to show an ETA
        reread = open_source(path, fmt, validator=validator, include_retweets=args.include_retweets)
        plan = plan_pace(reread, args.limit)
    progress = _progress(err)
    verb = "checking" if args.dry_run else "publishing"
    total = plan.events if plan is not None else args.limit
    task = progress.add_task(f"{verb} {path.name}", total=total, rate=0.0, eta="")

    def on_progress(stats: PublishStats) -> None:
        eta = eta_text(plan, args.rate, args.speedup, stats.elapsed)
        progress.update(task, completed=stats.total_published, rate=stats.events_per_s, eta=eta)

    try:
        with progress:
            if args.dry_run:
                stats = dry_run(stream, on_progress=on_progress)
            else:
                stats = asyncio.run(
                    publish(
                        stream,
                        bootstrap=settings.bootstrap_servers(),
                        settings=settings,
                        rate=args.rate,
                        speedup=args.speedup,
                        on_progress=on_progress,
                    )
                )
    except BrokerUnavailableError as exc:
        _say(err, f"closeknit replay: {_no_broker(exc, settings)}")
        return EXIT_USAGE
    except PublishError as exc:
        _say(err, f"closeknit replay: {exc}")
        return EXIT_INVALID_LINES
    reporter.finish()
    out.print(_summary(stats, path, fmt, args.dry_run))
    if stats.line_errors:
        done = "would still be published" if args.dry_run else "were published"
        _say(
            out,
            f"{stats.line_errors:,} invalid line(s) in {path}; the good ones {done}. "
            "Exit status 1.",
        )
        return EXIT_INVALID_LINES
    return EXIT_OK


def _progress(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f} events"),
        TextColumn("{task.fields[rate]:,.0f}/s"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[eta]}"),
        console=console,
        disable=not console.is_terminal,
    )


def eta_text(
    plan: PacePlan | None, rate: float | None, speedup: float | None, elapsed: float
) -> str:
    """`eta 0:01:05`: the time the pacer still needs, or "" when it does not pace. The pacing
    schedule, not the rate so far, decides it: --speedup follows the gaps in event time."""
    duration = plan.duration(rate, speedup) if plan is not None else None
    if duration is None:
        return ""
    left = max(0, math.ceil(duration - elapsed))
    return f"eta {timedelta(seconds=left)}"


def _say(console: Console, text: str) -> None:
    """Print plain text: no markup, no highlighting, no wrapping (paths stay greppable)."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _no_broker(exc: BrokerUnavailableError, settings: Settings) -> str:
    if settings.uses_embedded_broker:
        return (
            f"no broker at {exc.bootstrap}: start one with `closeknit broker`, "
            "or set CLOSEKNIT_BROKER"
        )
    return f"no broker at {exc.bootstrap} (from --broker or CLOSEKNIT_BROKER)"


def _limited(
    items: Iterator[SourceItem], limit: int | None, checker: EventValidator | None
) -> Iterator[SourceItem]:
    """Stop after `limit` events; with `checker`, validate converted events too (dry run)."""
    count = 0
    try:
        for item in items:
            if checker is not None and isinstance(item, SourceRecord):
                result = checker.validate(item.payload, time.time())
                if isinstance(result, Rejection):
                    yield LineError(0, f"event {item.event_id}: {result.message()}")
                    continue
            yield item
            if isinstance(item, SourceRecord):
                count += 1
                if limit is not None and count >= limit:
                    return
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()


class _ErrorReporter:
    """Prints the first few invalid lines as `FILE:LINE: message`, then a count."""

    def __init__(self, path: Path, console: Console) -> None:
        self.path = path
        self.console = console
        self.count = 0

    def watch(self, items: Iterator[SourceItem]) -> Iterator[SourceItem]:
        for item in items:
            if isinstance(item, LineError):
                self.count += 1
                if self.count <= MAX_SHOWN_ERRORS:
                    where = f"{self.path}:{item.line_no}" if item.line_no > 0 else str(self.path)
                    _say(self.console, f"{where}: {item.message}")
            yield item

    def finish(self) -> None:
        if self.count > MAX_SHOWN_ERRORS:
            _say(self.console, f"... and {self.count - MAX_SHOWN_ERRORS:,} more")


def _summary(stats: PublishStats, path: Path, fmt: str, dry: bool) -> Table:
    title = f"replay{' (dry run)' if dry else ''}: {path.name}"
    table = Table(title=title, caption=f"format: {fmt}", header_style="bold")
    table.add_column("what")
    table.add_column("count", justify="right")
    verb = "would publish" if dry else "published"
    for kind, plural in (("mention", "mentions"), ("reply", "replies")):
        table.add_row(f"{verb}: {plural}", f"{stats.published.get(kind, 0):,}")
    for reason, count in sorted(stats.skipped.items()):
        table.add_row(f"skipped: {reason}", f"{count:,}")
    table.add_row("invalid lines", f"{stats.line_errors:,}")
    if stats.failed:
        table.add_row("failed to publish", f"{stats.failed:,}")
    table.add_row("elapsed", f"{stats.elapsed:.2f} s")
    table.add_row("events/s", f"{stats.events_per_s:,.0f}")
    return table
