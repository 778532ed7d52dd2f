"""`closeknit alert ack|snooze|resolve KEY`: act on an alert seen on the alerts topic.

The alert is looked up on the alerts topic by dedup_key or alert_id, so a typo is refused
with what was found instead of being sent into the void; the alert_action v1 record goes to
alert-actions under the alert's route key (service.core.incidents), where its lifecycle is
owned. The worker answers with an update record on the alerts topic.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
import time
import uuid
from datetime import datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError

from service.broker.reader import read_topic
from service.config import Settings, load_settings
from service.core.alerts import action_record
from service.core.incidents import route_key_of
from service.core.schemas import JsonSchemaValueException, compiled
from service.kafka_security import client_kwargs

ACTIONS = ("ack", "snooze", "resolve")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "alert",
        help="ack, snooze or resolve an alert (writes an alert_action v1 record)",
        description=(
            "Act on an alert: ACTION is ack, snooze or resolve; KEY is the alert's dedup_key "
            "(e.g. moment_of_truth:acme) or alert_id, as `closeknit tail alerts` shows. The "
            "alert must be on the alerts topic. The action's event time is now, unless --at."
        ),
    )
    parser.add_argument("action", choices=ACTIONS, metavar="ACTION", help="ack, snooze, resolve")
    parser.add_argument("key", metavar="KEY", help="dedup_key or alert_id")
    parser.add_argument(
        "--until",
        help="snooze until this RFC 3339 time, or for a duration such as 30m, 2h, 1d (event time)",
    )
    parser.add_argument("--by", default=None, help="who acts (default: your login name)")
    parser.add_argument(
        "--at",
        help="event time of the action, RFC 3339 (default: now; for replays of past data, "
        "give a time inside the replay)",
    )
    parser.add_argument("--broker", help="Kafka URL (overrides CLOSEKNIT_BROKER)")
    parser.set_defaults(func=run)


class Refused(ValueError):
    """What the user typed cannot become an action; the message says what to type."""


def parse_time(text: str, what: str) -> float:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Refused(f"{what} {text!r}: expected RFC 3339, e.g. 2026-01-27T10:30:00Z") from None
    if moment.tzinfo is None:
        raise Refused(f"{what} {text!r}: give a time zone, e.g. a trailing Z for UTC")
    return moment.timestamp()


def parse_until(text: str, at: float) -> float:
    units = {"m": 60.0, "h": 3600.0, "d": 86400.0}
    if text[-1:] in units and text[:-1].replace(".", "", 1).isdigit():
        return at + float(text[:-1]) * units[text[-1]]
    return parse_time(text, "--until")


def run(args: argparse.Namespace) -> int:
    settings = load_settings(broker=args.broker)
    try:
        if args.action == "snooze" and not args.until:
            raise Refused("snooze needs --until, e.g. --until 2h or --until 2026-01-27T12:00:00Z")
        if args.action != "snooze" and args.until:
            raise Refused("--until is only for snooze")
        return asyncio.run(_act(settings, args))
    except Refused as exc:
        print(f"closeknit alert: {exc}", file=sys.stderr)
        return 2
    except (KafkaConnectionError, OSError) as exc:
        print(
            f"closeknit alert: cannot reach the broker at {settings.bootstrap_servers()} ({exc}). "
            "Start one with `closeknit broker` or set CLOSEKNIT_BROKER.",
            file=sys.stderr,
        )
        return 2


async def find_alert(settings: Settings, key: str) -> dict[str, Any] | None:
    """The newest record on the alerts topic whose dedup_key or alert_id is `key`."""
    found = None
    try:
        async for record in read_topic(
            settings.bootstrap_servers(), settings.topic("alerts"), follow=False
        ):
            try:
                alert = orjson.loads(record.value or b"")
            except orjson.JSONDecodeError:
                continue
            if isinstance(alert, dict) and key in (alert.get("dedup_key"), alert.get("alert_id")):
                found = alert
    except LookupError:
        return None  # no alerts topic: no alert yet
    return found


async def _act(settings: Settings, args: argparse.Namespace) -> int:
    alert = await find_alert(settings, args.key)
    if alert is None:
        raise Refused(
            f"no alert with dedup_key or alert_id {args.key!r} on {settings.topic('alerts')}; "
            "`closeknit tail alerts --no-follow` lists them"
        )
    at = parse_time(args.at, "--at") if args.at else time.time()
    until = parse_until(args.until, at) if args.until else None
    record = action_record(
        alert["dedup_key"], args.action, at, args.by or getpass.getuser(), until,
        event_id=f"cli-{uuid.uuid4().hex[:16]}",
    )  # fmt: skip
    try:
        compiled("alert_action.v1")(record)
    except JsonSchemaValueException as exc:
        raise Refused(f"the action would not be valid alert_action v1: {exc}") from None
    producer = AIOKafkaProducer(
        **client_kwargs(), bootstrap_servers=settings.bootstrap_servers(), acks="all"
    )
    await producer.start()
    try:
        await producer.send_and_wait(
            settings.topic("alert-actions"), orjson.dumps(record),
            key=route_key_of(alert).encode(),
        )  # fmt: skip
    finally:
        await producer.stop()
    print(
        f"{args.action} sent for {alert['dedup_key']} ({alert['alert_id']}); the worker "
        "answers with an update on the alerts topic (`closeknit tail alerts`)."
    )
    return 0
