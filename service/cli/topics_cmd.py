"""`closeknit topics`: create the catalog's topics on a broker, or list the catalog.

`closeknit topics create` is the one-shot job docker-compose runs before any worker starts,
so every topic gets the catalog's partition count and cleanup policy, not the broker's
auto-creation defaults. Topics that already exist are left as they are.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
import time
from collections.abc import Iterator

from aiokafka.errors import KafkaConnectionError, KafkaError
from rich.console import Console
from rich.table import Table

from service.broker.admin import TopicCreationError, TopicSpec, ensure_topics
from service.config import Settings, load_settings
from service.kafka_security import KafkaSecurity
from service.shell.topics import CATALOG, topic_specs

RETRY_PAUSE_S = 1.0


class Unreachable(RuntimeError):
    """No broker answered within the time allowed."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "topics",
        help="create closeknit's topics on a broker, or list the topic catalog",
        description=(
            "`topics create` creates every topic in the catalog with its partition count "
            "(CLOSEKNIT_PARTITIONS) and cleanup policy, and leaves existing topics alone; "
            "docker-compose runs it once before the workers start. `topics list` prints the "
            "catalog: name, partitions, cleanup policy, key and value."
        ),
    )
    parser.set_defaults(func=lambda _args: _usage(parser))
    actions = parser.add_subparsers(dest="action", metavar="ACTION")

    create = actions.add_parser(
        "create",
        help="create the catalog's topics that do not exist yet",
        description="Create every catalog topic that does not exist yet on the broker "
        "(CLOSEKNIT_BROKER or --broker) and print what was created and what was there. "
        "Exit status 2 if no broker answers.",
    )
    create.add_argument("--broker", help="Kafka URL (overrides CLOSEKNIT_BROKER)")
    create.add_argument(
        "--replication-factor",
        type=int,
        default=1,
        metavar="N",
        help="replicas of each new topic (default 1; use 3 on a production cluster)",
    )
    create.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="keep trying to reach the broker for this many seconds (default 10)",
    )
    create.set_defaults(func=run_create)

    listing = actions.add_parser(
        "list",
        help="print the topic catalog",
        description="Print every topic closeknit uses, with the prefix and partition count "
        "in effect (CLOSEKNIT_TOPIC_PREFIX, CLOSEKNIT_PARTITIONS).",
    )
    listing.add_argument("--json", action="store_true", help="print one JSON object per topic")
    listing.set_defaults(func=run_list)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def run_list(args: argparse.Namespace) -> int:
    settings = load_settings()
    specs = topic_specs(settings)
    if args.json:
        for info, spec in zip(CATALOG, specs, strict=True):
            row = {
                "topic": spec.name,
                "short_name": info.short_name,
                "partitions": spec.partitions,
                "cleanup": _cleanup(spec),
                "key": info.key,
                "value": info.value,
            }
            print(json.dumps(row))
        return 0
    table = Table(title=f"closeknit topics (prefix {settings.topic_prefix!r})")
    table.add_column("topic", no_wrap=True)  # whole names, so they can be copied
    table.add_column("partitions", justify="right")
    table.add_column("cleanup")
    table.add_column("key", ratio=1, overflow="fold")
    table.add_column("value", ratio=2, overflow="fold")
    for info, spec in zip(CATALOG, specs, strict=True):
        table.add_row(spec.name, str(spec.partitions), _cleanup(spec), info.key, info.value)
    Console(highlight=False).print(table)
    return 0


def run_create(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.replication_factor < 1:
        print("closeknit topics: --replication-factor must be at least 1", file=sys.stderr)
        return 2
    settings = load_settings(broker=args.broker)
    KafkaSecurity.from_env()  # fail early: a ConfigError names the variable (exit 2)
    specs = topic_specs(settings)
    bootstrap = settings.bootstrap_servers()
    print(f"Creating closeknit's topics on {settings.broker_url()}")
    try:
        created = asyncio.run(_create(bootstrap, specs, args.replication_factor, args.timeout))
    except Unreachable as exc:
        print(f"closeknit topics: {exc}. {_advice(settings)}", file=sys.stderr)
        return 2
    except (TopicCreationError, KafkaError) as exc:
        print(f"closeknit topics: {exc}", file=sys.stderr)
        return 1
    for spec in specs:
        status = "created" if spec.name in created else "exists "
        print(f"{status}  {spec.name}  ({spec.partitions} partitions, {_cleanup(spec)})")
    print(f"{len(created)} created, {len(specs) - len(created)} already there")
    return 0


async def _create(
    bootstrap: str, specs: list[TopicSpec], replication_factor: int, timeout: float
) -> list[str]:
    """`ensure_topics`, retried until the broker answers or `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        try:
            with _quiet_bootstrap():
                return await asyncio.wait_for(
                    ensure_topics(bootstrap, specs, replication_factor=replication_factor),
                    timeout=max(remaining, 1.0),
                )
        except (KafkaConnectionError, TimeoutError, OSError) as exc:
            if time.monotonic() + RETRY_PAUSE_S >= deadline:
                reason = type(exc).__name__
                raise Unreachable(
                    f"no Kafka broker answers at {bootstrap} after {timeout:g} s ({reason})"
                ) from exc
        await asyncio.sleep(RETRY_PAUSE_S)


def _cleanup(spec: TopicSpec) -> str:
    return "compact" if spec.compacted else "delete"


def _advice(settings: Settings) -> str:
    if settings.uses_embedded_broker:
        return (
            "Start one with `closeknit broker`, or set CLOSEKNIT_BROKER / --broker to your "
            "Kafka cluster."
        )
    return "Check CLOSEKNIT_BROKER / --broker and that the broker is up."


@contextlib.contextmanager
def _quiet_bootstrap() -> Iterator[None]:
    """aiokafka logs every refused connection; one clear message is printed instead."""
    logger = logging.getLogger("aiokafka")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)
