"""`closeknit evaluate communities [PATH]`: incremental vs offline communities on email-Eu-core.

Wired by the `evaluate` command: `add_subparser(evaluate_subparsers)` adds `communities` under it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson
from rich.console import Console

from service.cli.arguments import positive_int
from service.core.communities import CommunityParams
from service.evaluation.communities import (
    EvaluationDataError,
    evaluate_email,
    print_communities_report,
)
from service.evaluation.paths import SHARED_DATA

DEFAULT_EMAIL = SHARED_DATA / "email_eu_core"
EXIT_OK, EXIT_USAGE = 0, 2


def add_subparser(evaluate_subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = evaluate_subparsers.add_parser(
        "communities",
        help="NMI/ARI and speed of incremental community detection vs offline Louvain",
        description="Replay SNAP email-Eu-core edge by edge (each directed edge one weight-1 "
        "interaction, self-loops dropped) through the incremental detector, with and without "
        "periodic full refinement, and cluster the final graph offline (networkx Louvain, "
        "networkit PLM when installed). Print NMI and ARI against the department labels, "
        "modularity, edges/s and p50/p99 time per update (median of the runs).",
    )
    parser.add_argument(
        "path",
        nargs="?",
        type=Path,
        default=DEFAULT_EMAIL,
        metavar="PATH",
        help=f"the directory holding email-Eu-core.txt and the labels (default: {DEFAULT_EMAIL})",
    )
    parser.add_argument(
        "--runs", type=positive_int, default=3, metavar="N", help="replays to time (default 3)"
    )
    parser.add_argument(
        "--refine-every",
        type=positive_int,
        default=5000,
        metavar="N",
        help="full refinement every N edges (default 5000)",
    )
    parser.add_argument(
        "--refine-lag",
        type=int,
        default=500,
        metavar="N",
        help="edges applied while a refinement runs, before it is adopted (default 500)",
    )
    parser.add_argument(
        "--weighting",
        choices=["count", "strength"],
        default="count",
        help="edge weight: interaction count (default) or tie strength of the counts",
    )
    parser.add_argument(
        "--method",
        choices=["auto", "networkit", "networkx"],
        default="auto",
        help="refinement method (default: networkit PLM if installed, else networkx Louvain)",
    )
    parser.add_argument(
        "--max-visits",
        type=positive_int,
        default=CommunityParams().max_visits,
        metavar="N",
        help="local-move visits per edge change (default %(default)s)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    if args.refine_lag < 0:
        print("closeknit: --refine-lag must not be negative", file=sys.stderr)
        return EXIT_USAGE
    if args.max_visits < 2:
        print("closeknit: --max-visits must be at least 2", file=sys.stderr)
        return EXIT_USAGE
    try:
        result = evaluate_email(
            args.path,
            runs=args.runs,
            refine_every=args.refine_every,
            refine_lag=args.refine_lag,
            weighting=args.weighting,
            method=args.method,
            max_visits=args.max_visits,
        )
    except (EvaluationDataError, OSError) as exc:
        print(f"closeknit: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print_communities_report(result, Console())
    return EXIT_OK
