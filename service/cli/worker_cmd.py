"""`closeknit worker`: run one Faust worker of the closeknit pipeline."""

from __future__ import annotations

import argparse
import logging
import sys

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
    try:
        with prepare_broker(settings) as ready_settings:
            return run_worker(ready_settings)
    except BrokerUnavailable as exc:
        print(f"closeknit worker: {exc}", file=sys.stderr)
        return 2
