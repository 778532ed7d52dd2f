"""`closeknit doctor`: test a broker for what closeknit relies on, and say what a gap costs."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys

from rich.console import Console
from rich.text import Text

from service.broker.child import BrokerProcess
from service.broker.doctor import CheckResult, has_failures, run_checks, verdict
from service.broker.embedded import embedded_broker
from service.broker.errors import BrokerStartError
from service.cli.worker_api import WorkerUnavailable, get_json
from service.config import load_settings

STATUS_STYLE = {
    "pass": ("PASS", "bold green"),
    "warn": ("WARN", "bold yellow"),
    "fail": ("FAIL", "bold red"),
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="test a Kafka broker for what closeknit needs (and known Tansu defects)",
        description="Run quick checks against a broker: reachability, topic creation, "
        "produce/fetch, consumer-group join time, ListOffsets vs the fetch high watermark, "
        "whether a waiting fetch wakes, real compaction (an overwritten key and a tombstone "
        "removed by the log cleaner) and transaction isolation. With no --broker and "
        "CLOSEKNIT_BROKER unset, a temporary embedded broker "
        "is started, tested and stopped. Exit status 1 if any check fails.",
    )
    parser.add_argument("--broker", default=None, help="bootstrap URL, e.g. kafka://host:9092")
    parser.add_argument("--json", action="store_true", help="print machine-readable results")
    parser.add_argument(
        "--brand-accounts",
        action="store_true",
        help="instead of testing the broker, ask the running worker which accounts look like "
        "brand accounts (support desks, the source's outbound authors) and are not configured",
    )
    parser.add_argument(
        "--compaction-wait",
        type=float,
        default=None,
        metavar="SECONDS",
        help="how long to wait for the log cleaner (default 60, enough for two passes at "
        "Kafka's default 15 s cleaner backoff; 5 on Tansu, which never compacts)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.brand_accounts:
        return _brand_accounts(args)
    # aiokafka logs every refused connection; the checks report failures themselves.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    settings = load_settings(broker=args.broker)
    out = Console(highlight=False, soft_wrap=True)
    note = Console(stderr=True, highlight=False, soft_wrap=True) if args.json else out
    embedded: BrokerProcess | None = None
    if settings.uses_embedded_broker:
        embedded = embedded_broker(settings.resolved_broker_kind, 0, log_dir=settings.data_dir)
        try:
            embedded.start()
        except BrokerStartError as exc:
            note.print(Text(f"closeknit doctor: could not start the embedded broker: {exc}"))
            return 1
        url, bootstrap = embedded.url, embedded.bootstrap
        note.print(
            Text(
                f"No broker configured (CLOSEKNIT_BROKER unset): testing a temporary embedded "
                f"{embedded.name} broker at {url}; it is stopped afterwards."
            )
        )
    else:
        url, bootstrap = settings.broker_url(), settings.bootstrap_servers()
        note.print(Text(f"Testing the broker at {url}"))
    try:
        results = asyncio.run(run_checks(bootstrap, args.compaction_wait))
    finally:
        if embedded is not None:
            embedded.stop()
    unreachable = results[0].name == "reachable" and results[0].status == "fail"
    if args.json:
        print(json.dumps(_as_json(url, embedded is not None, results), indent=2))
    else:
        _print_results(out, results)
    if unreachable:
        note.print(
            Text(
                f"closeknit doctor: no Kafka broker answers at {url}. Start one with "
                "`closeknit broker` and export CLOSEKNIT_BROKER as it prints, fix "
                "CLOSEKNIT_BROKER / --broker, or unset both to test the embedded broker.",
                style="bold red",
            )
        )
    return 1 if has_failures(results) else 0


def _print_results(console: Console, results: list[CheckResult]) -> None:
    for result in results:
        label, style = STATUS_STYLE[result.status]
        line = Text()
        line.append(f"{label} ", style=style)
        line.append(result.name, style="bold")
        line.append(f"  {result.detail}  ({_duration(result.seconds)})")
        console.print(line)
        if result.consequence:
            console.print(Text(f"     -> {result.consequence}"))
    verdict_style = "bold red" if has_failures(results) else "bold"
    console.print(Text(f"Verdict: {verdict(results)}", style=verdict_style))


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def _as_json(url: str, embedded: bool, results: list[CheckResult]) -> dict[str, object]:
    return {
        "broker": url,
        "embedded": embedded,
        "ok": not has_failures(results),
        "verdict": verdict(results),
        "checks": [r.to_dict() for r in results],
    }


def _brand_accounts(args: argparse.Namespace) -> int:
    """The worker's review of brand accounts (`/api/brand-accounts`), for an operator."""
    settings = load_settings(broker=args.broker)
    try:
        answer = get_json(settings, "/api/brand-accounts")
    except WorkerUnavailable as exc:
        print(f"closeknit doctor: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(answer, indent=2))
        return 0
    out = Console(highlight=False, soft_wrap=True)
    configured = answer.get("configured", {})
    out.print(Text(f"Configured brands: {len(configured)}", style="bold"))
    marked = answer.get("marked_by_source", [])
    out.print(Text(f"Marked by the source as the company (inbound: false): {len(marked)}"))
    for account in marked:
        out.print(Text(f"  {account}"))
    suspects = answer.get("suspected", [])
    out.print(Text(f"Reply like a support desk, not configured: {len(suspects)}", style="bold"))
    for s in suspects:
        out.print(
            Text(f"  {s['id']}: {s['replies']} replies of {s['posts']} posts, "
                 f"to {s['people_replied_to']}+ people")
        )  # fmt: skip
    if marked or suspects:
        out.print(Text(answer.get("hint", "")))
    return 0
