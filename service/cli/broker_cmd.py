"""`closeknit broker`: run the embedded Tansu broker in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from service.broker.embedded import BrokerStartError, EmbeddedBroker
from service.config import load_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "broker",
        help="run the embedded Kafka-protocol broker (Tansu) in the foreground",
        description="Start Tansu on 127.0.0.1 with in-memory storage and keep it up until "
        "Ctrl-C or SIGTERM. Data is lost when it stops. Workers find it when CLOSEKNIT_BROKER "
        "points at it (or is unset and the port is CLOSEKNIT_EMBEDDED_PORT).",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help="port to listen on (default: CLOSEKNIT_EMBEDDED_PORT, 19092; 0 picks a free one)",
    )
    parser.add_argument(
        "--log-dir",
        type=Path,
        default=None,
        help="directory of broker.log (default: CLOSEKNIT_DATA_DIR, .closeknit)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    log_dir = args.log_dir if args.log_dir is not None else settings.data_dir
    # --port 0 asks for a free port: a port to listen on, never one a client could be
    # configured with, so it does not go through CLOSEKNIT_EMBEDDED_PORT's range.
    port = settings.embedded_port if args.port is None else args.port
    broker = EmbeddedBroker(port, log_dir=log_dir)
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            broker.start()
        except BrokerStartError as exc:
            print(f"closeknit broker: {exc}", file=sys.stderr)
            return 1
        print(f"Tansu broker ready at {broker.url} (in-memory; log: {broker.log_path})")
        print(f"  export CLOSEKNIT_BROKER={broker.url}")
        print("Ctrl-C stops it.", flush=True)
        while not stop.wait(0.5):
            if not broker.running:
                print(
                    f"closeknit broker: tansu exited unexpectedly; see {broker.log_path}",
                    file=sys.stderr,
                )
                return 1
        print("stopping the broker", flush=True)
        return 0
    finally:
        broker.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
