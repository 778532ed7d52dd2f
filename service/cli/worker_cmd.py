"""`closeknit worker`: run one Faust worker of the closeknit pipeline."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from service.config import load_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "worker",
        help="run a stream-processing worker",
        description=(
            "Run one closeknit worker: ingest, dyad state, signals and the web API. "
            "With CLOSEKNIT_BROKER unset it uses the embedded broker on "
            "CLOSEKNIT_EMBEDDED_PORT, starting one if none answers there."
        ),
    )
    parser.add_argument("--broker", help="Kafka URL (overrides CLOSEKNIT_BROKER)")
    parser.add_argument("--web-host", help="interface to bind (overrides CLOSEKNIT_WEB_HOST)")
    parser.add_argument("--web-port", type=int, help="web port (overrides CLOSEKNIT_WEB_PORT)")
    parser.add_argument("--log-level", help="debug, info, warning (overrides CLOSEKNIT_LOG_LEVEL)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from service.shell.runtime import BrokerUnavailable, prepare_broker, run_worker

    settings = load_settings(
        broker=args.broker,
        web_host=args.web_host,
        web_port=args.web_port,
        log_level=args.log_level,
    )
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    problem = ensure_data_dir(settings.data_dir)
    if problem:
        print(f"closeknit worker: {problem}", file=sys.stderr)
        return 2
    try:
        with prepare_broker(settings) as ready_settings:
            return run_worker(ready_settings)
    except BrokerUnavailable as exc:
        print(f"closeknit worker: {exc}", file=sys.stderr)
        return 2


def ensure_data_dir(path: Path) -> str | None:
    """Create the data directory and its parents; Faust creates only the last level of its
    datadir and died with FileNotFoundError when CLOSEKNIT_DATA_DIR did not exist."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"cannot create CLOSEKNIT_DATA_DIR={path}: {exc.strerror or exc}"
    return None
