"""`closeknit evaluate alerts FILE`: the alerts a file raises, replayed through the core."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson
from rich.console import Console
from rich.table import Table

from service.cli.render import render_alert
from service.evaluation.alerts import AlertReplay
from service.sources.detect import open_source


def add_subparser(evaluate_subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = evaluate_subparsers.add_parser(
        "alerts",
        help="replay a file through the whole core without a broker and list its alerts",
        description=(
            "Replay FILE (JSON Lines, Higgs, TWCS or CollegeMsg) in file order through the same "
            "steps as the worker: sentiment and failure scoring, dyads, people, critic and "
            "burst detectors, alert lifecycle. Deterministic: the same file gives the same "
            "alerts, ids included."
        ),
    )
    parser.add_argument("file", type=Path, metavar="FILE")
    parser.add_argument("--format", default="auto", help="auto, jsonl, higgs, twcs or college")
    parser.add_argument("--limit", type=int, help="stop after N events")
    parser.add_argument("--json", action="store_true", help="print alert records as JSON lines")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    if not args.file.exists():
        print(f"closeknit evaluate alerts: {args.file}: no such file", file=sys.stderr)
        return 2
    replay = AlertReplay()
    replay.run(open_source(args.file, args.format), limit=args.limit)
    replay.finish()
    if args.json:
        for record in replay.records:
            sys.stdout.write(orjson.dumps(record).decode() + "\n")
        return 0
    console = Console(highlight=False)
    for record in replay.records:
        if record["state"] != "update":
            console.print(render_alert(record))
    table = Table(title=f"alerts replayed from {args.file.name}")
    table.add_column("what")
    table.add_column("count", justify="right")
    for key, value in replay.summary().items():
        if isinstance(value, dict):
            for inner, count in value.items():
                table.add_row(inner, str(count))
        else:
            table.add_row(key, str(value))
    console.print(table)
    return 0
