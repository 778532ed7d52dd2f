"""`closeknit evaluate alerts FILE`: the alerts a file raises, replayed through the core."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import orjson
from rich.console import Console
from rich.table import Table

from service.cli.render import render_alert
from service.config import load_settings
from service.core.brand_accounts import load_brand_accounts
from service.evaluation.alerts import AlertReplay
from service.shell.pipeline import signal_params
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
    parser.add_argument(
        "--brand-accounts",
        type=Path,
        metavar="TOML",
        default=os.environ.get("CLOSEKNIT_BRAND_ACCOUNTS") or None,
        help="brand accounts file (default: $CLOSEKNIT_BRAND_ACCOUNTS); see deploy/brand-accounts/",
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    if not args.file.exists():
        print(f"closeknit evaluate alerts: {args.file}: no such file", file=sys.stderr)
        return 2
    settings = load_settings()
    replay = AlertReplay(
        brand_accounts=load_brand_accounts(args.brand_accounts),
        signal_params=signal_params(settings),
        stale_after_s=settings.critic_stale_hours * 3600.0,
    )
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
    accounts = replay.brand_account_review()
    for what, found in (
        ("marked by the source as the company", accounts["marked_by_source"]),
        ("reply like a support desk", [s["id"] for s in accounts["suspected"]]),
    ):
        if found:
            shown = ", ".join(found[:12]) + (
                f" and {len(found) - 12} more" if len(found) > 12 else ""
            )
            console.print(f"Brand accounts {what}, not configured ({len(found)}): {shown}.")
    if accounts["marked_by_source"] or accounts["suspected"]:
        console.print(f"They never page. {accounts['hint']}")
    return 0
