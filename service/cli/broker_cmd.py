"""`closeknit broker`: run the embedded broker (Tansu or a local Kafka) until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from service.broker.child import BrokerProcess
from service.broker.embedded import embedded_broker
from service.broker.errors import BrokerStartError
from service.broker.local_kafka import LocalKafka
from service.config import load_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "broker",
        help="run the embedded broker (Tansu, or Apache Kafka with --kafka) in the foreground",
        description="Start a broker on 127.0.0.1 and keep it up until Ctrl-C or SIGTERM. "
        "Tansu (the default, CLOSEKNIT_EMBEDDED_BROKER=tansu) keeps its data in memory. "
        "--kafka runs Apache Kafka in KRaft mode: its jars are fetched from Maven Central on "
        "first use (Java 17+ and Maven needed) and cached under CLOSEKNIT_DATA_DIR; its log "
        "lives in --data-dir, or in a temporary directory removed on exit. Workers find the "
        "broker when CLOSEKNIT_BROKER points at it (or is unset and the port is "
        "CLOSEKNIT_EMBEDDED_PORT).",
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--kafka",
        dest="kind",
        action="store_const",
        const="kafka",
        help="run Apache Kafka (default: CLOSEKNIT_EMBEDDED_BROKER, tansu)",
    )
    which.add_argument(
        "--tansu", dest="kind", action="store_const", const="tansu", help="run Tansu"
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
        help="directory of the broker's log (default: CLOSEKNIT_DATA_DIR, .closeknit)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="Kafka only: keep the broker's log here across runs (default: a temporary "
        "directory, removed on exit)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings(embedded_broker=args.kind)
    log_dir = args.log_dir if args.log_dir is not None else settings.data_dir
    if args.data_dir is not None and settings.embedded_broker != "kafka":
        print(
            "closeknit broker: --data-dir is for --kafka; Tansu keeps data in memory",
            file=sys.stderr,
        )
        return 2
    # --port 0 asks for a free port: a port to listen on, never one a client could be
    # configured with, so it does not go through CLOSEKNIT_EMBEDDED_PORT's range.
    port = settings.embedded_port if args.port is None else args.port
    broker = embedded_broker(
        settings.resolved_broker_kind,
        port,
        log_dir=log_dir,
        cache_dir=settings.data_dir,
        data_dir=args.data_dir,
    )
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        began = time.monotonic()
        if isinstance(broker, LocalKafka):
            print(f"starting Apache Kafka {broker.version} (the first start fetches its jars)")
        try:
            broker.start()
        except BrokerStartError as exc:
            print(f"closeknit broker: {exc}", file=sys.stderr)
            return 1
        print(
            f"{broker.name} ready at {broker.url} in {time.monotonic() - began:.1f} s"
            f"{_timings(broker)}; log: {broker.log_path}"
        )
        print(f"  export CLOSEKNIT_BROKER={broker.url}")
        print("Ctrl-C stops it.", flush=True)
        while not stop.wait(0.5):
            if not broker.running:
                print(
                    f"closeknit broker: the broker exited unexpectedly; see {broker.log_path}",
                    file=sys.stderr,
                )
                return 1
        print("stopping the broker", flush=True)
        return 0
    finally:
        broker.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _timings(broker: BrokerProcess) -> str:
    if not broker.timings:
        return ""
    parts = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in broker.timings.items())
    return f" ({parts})"
