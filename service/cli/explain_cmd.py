"""`closeknit explain person ID` / `closeknit explain brand ID`: why an alert fired or stayed
silent, gate by gate, from the running worker (`/api/explain/...`)."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.parse
from typing import Any

from rich.console import Console
from rich.table import Table

from service.cli.worker_api import WorkerUnavailable, get_json
from service.config import load_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="say why a person's or a brand's alert fired or stayed silent",
        description=(
            "Ask the running worker why a critic alert (person) or a moment of truth (brand) "
            "fired or stayed silent: each gate (brand account, warm-up, the drop below their "
            "baseline, sounding negative, the influence gate; or per detector the baseline, "
            "warm-up and surge evidence) with the numbers behind it."
        ),
    )
    parser.add_argument("what", choices=("person", "brand"), help="person or brand")
    parser.add_argument("id", metavar="ID", help="the person id or brand tag")
    parser.add_argument("--at", type=float, help="event time (Unix seconds); default: now")
    parser.add_argument("--json", action="store_true", help="print the worker's JSON answer")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    path = f"/api/explain/{args.what}/{urllib.parse.quote(args.id, safe='')}"
    if args.at is not None:
        path += f"?at={args.at}"
    try:
        answer = get_json(settings, path)
    except WorkerUnavailable as exc:
        print(f"closeknit explain: {exc}", file=sys.stderr)
        return 1
    if "error" in answer:
        print(f"closeknit explain: {answer['error']}. {answer.get('hint', '')}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(answer, indent=2))
        return 0
    console = Console(highlight=False)
    if args.what == "person":
        _print_gates(console, f"{args.id}: the critic detector's gates", answer["gates"])
    else:
        for detector in answer["detectors"]:
            title = f"{args.id}, {detector['detector']}: {'OPEN' if detector['open'] else 'quiet'}"
            _print_gates(console, title, detector["gates"])
    blocked = answer.get("silent_because")
    verdict = "every gate is open" if blocked is None else f"silent because of {blocked}"
    console.print(f"{verdict}. {answer.get('hint', '')}")
    return 0


def _print_gates(console: Console, title: str, gates: list[dict[str, Any]]) -> None:
    table = Table(title=title)
    for column in ("gate", "", "value", "needed", "what it is"):
        table.add_column(column)
    for gate in gates:
        mark = "ok" if gate["passed"] else "HOLDS"
        needed = "" if gate["needed"] is None else str(gate["needed"])
        table.add_row(gate["gate"], mark, str(gate["value"]), needed, gate["why"])
    console.print(table)
