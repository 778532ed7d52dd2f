"""`closeknit evaluate sentiment [PATH]`: plain VADER vs the domain lexicon on labelled text.

Wired by the `evaluate` command: `add_subparser(evaluate_subparsers)` adds `sentiment` under it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson
from rich.console import Console

from service.evaluation.paths import SHARED_DATA
from service.evaluation.sentiment import (
    FAILURE_SENTENCES,
    EvaluationDataError,
    main_sentiment_eval,
    print_sentiment_report,
)

DEFAULT_SANDERS = SHARED_DATA / "sanders_twitter_corpus"
EXIT_OK, EXIT_USAGE = 0, 2


def add_subparser(evaluate_subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = evaluate_subparsers.add_parser(
        "sentiment",
        help="accuracy and macro-F1 of plain VADER vs VADER + domain lexicon",
        description="Score the Sanders Twitter corpus (positive/neutral/negative; irrelevant "
        "left out) and the hand-labelled product-failure sentences with plain VADER and with "
        "LexiconScorer; print accuracy, macro-F1, per-class precision/recall/F1, confusion "
        "matrices and optionally the speed.",
    )
    parser.add_argument(
        "path",
        nargs="?",
        type=Path,
        default=DEFAULT_SANDERS,
        metavar="PATH",
        help=f"full-corpus.csv or a directory holding it (default: {DEFAULT_SANDERS})",
    )
    parser.add_argument(
        "--failures",
        type=Path,
        default=FAILURE_SENTENCES,
        metavar="JSONL",
        help="hand-labelled sentences, one {text, label} per line (default: the test fixture)",
    )
    parser.add_argument(
        "--timing-runs",
        type=int,
        default=5,
        metavar="N",
        help="time each scorer over the corpus N times and report the median (0: skip)",
    )
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    failures: Path | None = args.failures
    if failures is not None and not failures.is_file():
        if failures != FAILURE_SENTENCES:
            print(f"closeknit: {failures} not found", file=sys.stderr)
            return EXIT_USAGE
        failures = None  # the default fixture is absent outside a repository checkout
    try:
        result = main_sentiment_eval(
            args.path, failure_path=failures, timing_runs=max(0, args.timing_runs)
        )
    except (EvaluationDataError, OSError) as exc:
        print(f"closeknit: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print_sentiment_report(result, Console())
    return EXIT_OK
