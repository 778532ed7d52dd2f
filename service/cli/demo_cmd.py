"""`closeknit demo`: the seeded scenario end to end on the embedded broker."""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType

from rich.console import Console

from service.config import load_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the seeded scenario end to end and print alerts as they arrive",
        description=(
            "Start the embedded broker (unless CLOSEKNIT_BROKER is set) and a worker, replay a "
            "seeded scenario on the real karate-club graph with planted ground truth, print "
            "alerts and dead letters as they arrive, then a summary. Serves until Ctrl-C."
        ),
    )
    parser.add_argument("--once", action="store_true", help="exit 0 once the scenario has drained")
    parser.add_argument("--seed", type=int, default=7, help="scenario seed (default 7)")
    parser.add_argument("--web-port", type=int, help="worker web port (default CLOSEKNIT_WEB_PORT)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from service.demo.runner import DemoFailed, run_demo
    from service.shell.process import WorkerFailed
    from service.shell.runtime import BrokerUnavailable

    settings = load_settings(web_port=args.web_port)
    console = Console(highlight=False)
    # SIGTERM stops the demo as Ctrl-C does: the worker and the broker it started are
    # stopped on the way out (their `finally` blocks), instead of being left running.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return run_demo(settings, once=args.once, seed=args.seed, console=console)
    except (DemoFailed, WorkerFailed, BrokerUnavailable) as exc:
        print(f"closeknit demo: {exc}", file=sys.stderr)
        return 1


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
