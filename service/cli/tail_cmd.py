"""`closeknit tail TOPIC`: print alerts, dead letters or any topic readably."""

from __future__ import annotations

import argparse
import asyncio
import sys

from rich.console import Console

from service.broker.reader import read_topic
from service.cli.render import render_record
from service.config import load_settings
from service.core.characters import escape_invisible
from service.shell.topics import CATALOG_NAMES

SHORT_NAMES = CATALOG_NAMES


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "tail",
        help="print alerts, dead letters or any topic as records arrive",
        description=(
            "Print a topic's records. TOPIC is a short name (alerts, dead-letters, "
            "dyad-updates, ...; the prefix is added) or a full topic name."
        ),
    )
    parser.add_argument("topic", metavar="TOPIC")
    parser.add_argument("--json", action="store_true", help="print raw JSON records, one a line")
    parser.add_argument("--from-beginning", action="store_true", help="start at the oldest record")
    parser.add_argument(
        "--no-follow",
        action="store_true",
        help="print what the topic holds now, from the oldest record, and stop",
    )
    parser.add_argument("--limit", type=int, help="stop after N records")
    parser.add_argument("--broker", help="Kafka URL (overrides CLOSEKNIT_BROKER)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings(broker=args.broker)
    short = args.topic if args.topic in SHORT_NAMES else None
    topic = settings.topic(args.topic) if short else args.topic
    console = Console(highlight=False)
    try:
        return asyncio.run(_tail(settings.bootstrap_servers(), topic, short or "", args, console))
    except LookupError as exc:
        print(
            f"closeknit tail: {exc}. Known short names: {', '.join(SHORT_NAMES)}.", file=sys.stderr
        )
        return 2
    except OSError as exc:
        print(
            f"closeknit tail: cannot reach the broker at {settings.bootstrap_servers()} ({exc}). "
            "Start one with `closeknit broker` or set CLOSEKNIT_BROKER.",
            file=sys.stderr,
        )
        return 2


def raw_line(value: bytes | None) -> str:
    """A record as one line of its own text. Control and format characters become JSON
    escapes, which inside a JSON string mean the same: the JSON is unchanged, the terminal
    safe. JSON's whitespace (tab, newline, carriage return) is left as it is."""
    text = (value or b"null").decode("utf-8", "replace")
    return escape_invisible(text, keep="\t\n\r") + "\n"


async def _tail(
    bootstrap: str, topic: str, kind: str, args: argparse.Namespace, console: Console
) -> int:
    from aiokafka.errors import KafkaConnectionError

    shown = 0
    try:
        # Without following, starting at the end would print nothing: start at the oldest.
        from_beginning = args.from_beginning or args.no_follow
        async for record in read_topic(
            bootstrap, topic, from_beginning=from_beginning, follow=not args.no_follow
        ):
            if args.json:
                sys.stdout.write(raw_line(record.value))
                sys.stdout.flush()
            else:
                console.print(render_record(kind, record.value))
            shown += 1
            if args.limit and shown >= args.limit:
                break
    except KafkaConnectionError as exc:
        raise OSError(str(exc)) from exc
    return 0
