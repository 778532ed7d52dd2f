"""`closeknit` command line: one subcommand per module in this package."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from service.cli.arguments import Parser
from service.config import ConfigError
from service.core.brand_accounts import BrandAccountsError

# Each module exposes `register(subparsers)`, which adds its parser and sets `func`
# (a callable taking the parsed namespace and returning an exit code).
COMMAND_MODULES = (
    "service.cli.worker_cmd",
    "service.cli.broker_cmd",
    "service.cli.doctor_cmd",
    "service.cli.replay_cmd",
    "service.cli.tail_cmd",
    "service.cli.alert_cmd",
    "service.cli.explain_cmd",
    "service.cli.demo_cmd",
    "service.cli.config_cmd",
    "service.cli.evaluate_cmd",
    "service.cli.topics_cmd",
    "service.cli.bench_cmd",
    "service.cli.soak_cmd",
)


def build_parser() -> Parser:
    parser = Parser(
        prog="closeknit",
        description="Relationship-based influence on Kafka: dyads, tribes and critic alerts.",
        epilog="Configuration is by environment variables; `closeknit config` lists them.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue  # a command still being built is simply absent
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ConfigError, BrandAccountsError) as exc:
        print(f"closeknit: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
