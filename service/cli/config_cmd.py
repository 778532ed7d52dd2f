"""`closeknit config`: list every configuration variable, its default and current value."""

from __future__ import annotations

import argparse
import os

from service.config import load_settings, settings_doc


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "config",
        help="list configuration variables with defaults and current values",
        description="List every CLOSEKNIT_* variable, its default, and the value in effect.",
    )
    parser.add_argument("--markdown", action="store_true", help="print the README table")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    load_settings()  # fail early, with the variable's name, on a bad value
    rows = settings_doc()
    if args.markdown:
        print("| variable | default | meaning |\n|---|---|---|")
        for var, default, doc in rows:
            print(f"| `{var}` | {default} | {doc} |")
        return 0
    for var, default, doc in rows:
        current = os.environ.get(var)
        secret = any(word in var for word in ("TOKEN", "PASSWORD"))
        now = f" (now: {'(set)' if secret else current})" if current else ""
        print(f"{var:32} default {default}{now}\n    {doc}")
    return 0
