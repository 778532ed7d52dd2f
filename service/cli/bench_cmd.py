"""`closeknit bench`: every figure of service.bench on a private embedded broker, then a table.

Targets are reported, not asserted: the command exits 0 whatever the figures are, and 1 only
when the harness itself failed (a measurement could not be taken).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from service.broker.child import BrokerProcess
from service.broker.quirks import BROKER_KINDS, BrokerKind

DEFAULT_OUT = Path("bench-results")
SHORT_RUN_S = 3.0
STEADY_STATE_S = 20.0  # shorter runs are dominated by group joins and commit intervals
SKIPPABLE = ("ceiling", "e2e", "scale-out", "latency", "core", "memory", "communities")


@dataclass
class BenchConfig:
    runs: int = 3
    events: int = 30_000  # end-to-end workload, per run: 20 s or more at today's rates
    max_seconds: float = 120.0  # cap on one timed end-to-end run
    ceiling_events: int = 150_000
    core_events: int = 15_000
    memory_events: int | None = None  # None: the whole Higgs file
    latency_rates: tuple[float, ...] = (2000.0, 10000.0)  # the first also paces the raw hop
    latency_seconds: float = 20.0
    latency_critics: int = 60
    latency_drain_s: float = 5.0
    hop_seconds: float = 3.0
    partitions: int = 4
    scale_out_workers: int = 2
    profile: bool = False
    skip: tuple[str, ...] = ()
    worker_env: dict[str, str] = field(default_factory=dict)
    out: Path = DEFAULT_OUT
    data_dir: Path | None = None  # None: ../shared/data beside the repository
    brokers: tuple[BrokerKind, ...] = BROKER_KINDS

    @classmethod
    def quick(cls) -> BenchConfig:
        """Tiny sizes: a smoke test of the harness, not a measurement."""
        return cls(
            runs=1,
            events=2_000,
            max_seconds=10.0,
            ceiling_events=20_000,
            core_events=2_000,
            memory_events=2_000,
            latency_rates=(500.0,),
            latency_seconds=4.0,
            latency_critics=10,
            latency_drain_s=8.0,
            hop_seconds=1.0,
        )


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="measure throughput, latency and memory on a private embedded broker",
        description=(
            "Start a private embedded broker on a free port and measure: the raw consume "
            "ceiling, one worker end to end, two workers, the in-process core, event-to-alert "
            "latency at a fixed offered load, state size and RSS, and community updates. "
            "Prints a table (median of the runs, min-max, ratio to the ceiling, targets) and "
            "writes the JSON report to bench-results/. Targets are reported, not asserted."
        ),
    )
    parser.add_argument("--runs", type=int, help="runs per figure (default 3; --quick: 1)")
    parser.add_argument("--events", type=int, help="events per end-to-end run (default 30000)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the harness")
    parser.add_argument(
        "--max-seconds", type=float, help="cap on one timed end-to-end run (default 120)"
    )
    parser.add_argument(
        "--latency-rate",
        type=float,
        action="append",
        help="offered events/s of a latency run; repeat for several (default 2000 and 10000)",
    )
    parser.add_argument(
        "--latency-seconds", type=float, help="length of the offered window (default 20)"
    )
    parser.add_argument(
        "--skip", action="append", choices=SKIPPABLE, default=[], help="leave a measurement out"
    )
    parser.add_argument(
        "--profile", action="store_true", help="py-spy profile of the first end-to-end worker"
    )
    parser.add_argument(
        "--worker-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the workers, e.g. Faust's PRODUCER_LINGER=0.005",
    )
    parser.add_argument(
        "--broker",
        choices=("both", *BROKER_KINDS),
        default="both",
        help="which broker the end-to-end figures run on: both (the default; Kafka is left "
        "out, with a note, where Java or Maven is missing), tansu or kafka",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="report directory")
    parser.add_argument(
        "--data",
        type=Path,
        help="directory of the data sets (default: ../shared/data beside the repository); "
        "without the Higgs file a synthetic stream of the same shape is used",
    )
    parser.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> BenchConfig:
    config = BenchConfig.quick() if args.quick else BenchConfig()
    if args.runs is not None:
        config.runs = max(1, args.runs)
    if args.events is not None:
        config.events = max(1, args.events)
    if args.max_seconds is not None:
        config.max_seconds = args.max_seconds
    if args.latency_rate:
        config.latency_rates = tuple(args.latency_rate)
    if args.latency_seconds is not None:
        config.latency_seconds = max(4.0, args.latency_seconds)
    config.skip = tuple(args.skip)
    config.brokers = BROKER_KINDS if args.broker == "both" else (args.broker,)
    config.profile = args.profile
    config.out = args.out
    config.data_dir = args.data
    for item in args.worker_env:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"closeknit bench: --worker-env wants NAME=VALUE, got {item!r}")
        config.worker_env[name] = value
    return config


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    # Piped (make bench | tee): wide enough for the table rather than rich's 80 columns.
    width = None if sys.stdout.isatty() else 120
    console = Console(highlight=False, width=width)
    report = run_bench(config, console)
    return 1 if report.errors else 0


def run_bench(config: BenchConfig, console: Console) -> Any:
    """Every measurement not skipped; prints the table, writes the JSON; returns the report.

    The broker-bound measurements (ceiling, end to end, scale-out, latency) run on each broker
    of `config.brokers` in turn, each against the ceiling measured on that broker; the
    broker-free ones (core, memory, communities) run once, with the first broker's pass.
    """
    from service.bench import load_workload, machine
    from service.bench.report import BenchReport, render, write_json

    started = time.time()
    report = BenchReport(started_at=started, machine=machine(), config=_config_dict(config))
    work_dir = Path(tempfile.mkdtemp(prefix="closeknit-bench-"))
    console.print(f"[bold]closeknit bench[/]: work files in {work_dir}")
    size = max(config.events, config.ceiling_events, config.core_events)
    workload = load_workload(size, data_dir=config.data_dir)
    report.workload = workload.source
    console.print(f"workload: {workload.source}")
    brokers = _available_brokers(config, report, console)
    for n, kind in enumerate(brokers):
        _bench_on(kind, first=n == 0, config=config, report=report, console=console,
                  workload=workload, work_dir=work_dir)  # fmt: skip
    report.duration_s = time.time() - started
    console.print()
    render(report, console)
    path = write_json(report, config.out)
    console.print(f"report: {path} ({report.duration_s:.0f} s)")
    if report.errors:
        console.print(f"logs kept in {work_dir}")
    else:
        shutil.rmtree(work_dir, ignore_errors=True)
    return report


def _available_brokers(config: BenchConfig, report: Any, console: Console) -> list[BrokerKind]:
    """The brokers asked for, less a Kafka that cannot run here (said, and kept in the report)."""
    from service.broker.kafka_jars import missing_prerequisite

    kinds = list(config.brokers)
    reason = missing_prerequisite() if "kafka" in kinds else None
    if reason is not None:
        console.print(f"[yellow]Apache Kafka left out:[/] {reason}")
        report.details["kafka_left_out"] = reason
        if config.brokers == ("kafka",):
            report.errors.append(f"kafka: {reason}")
        kinds.remove("kafka")
    return kinds


def _bench_on(
    kind: BrokerKind,
    *,
    first: bool,
    config: BenchConfig,
    report: Any,
    console: Console,
    workload: Any,
    work_dir: Path,
) -> None:
    from service.bench.report import broker_prefix
    from service.broker.embedded import embedded_broker
    from service.config import load_settings

    cache = load_settings().data_dir
    broker = embedded_broker(kind, 0, log_dir=work_dir / kind, cache_dir=cache)
    prefix = broker_prefix(kind)
    try:
        began = time.monotonic()
        broker.start()
        console.print(f"broker: {broker.describe()}, ready in {time.monotonic() - began:.1f} s")
        report.details.setdefault("brokers", {})[kind] = {
            "name": broker.name,
            "start_seconds": broker.timings,
        }
        steps = _Steps(config, report, console, workload, broker, work_dir, prefix)
        for name, step in steps.plan(broker_free=first):
            if name in config.skip:
                continue
            began = time.monotonic()
            try:
                step()
            except Exception as exc:  # one failed measurement must not hide the others
                report.errors.append(f"{prefix}{name}: {type(exc).__name__}: {exc}")
                console.print(f"[red]{prefix}{name} failed:[/] {exc}")
            seconds = report.details.setdefault("step_seconds", {})
            seconds[f"{prefix}{name}"] = time.monotonic() - began
    except Exception as exc:  # e.g. the broker would not start: say so, bench the rest
        report.errors.append(f"{kind}: {type(exc).__name__}: {exc}")
        console.print(f"[red]{kind} broker failed:[/] {exc}")
    finally:
        broker.stop()


@dataclass
class _Steps:
    config: BenchConfig
    report: Any
    console: Console
    workload: Any
    broker: BrokerProcess
    work_dir: Path
    prefix: str = ""  # figure-key prefix of this broker ("" for Tansu)

    def plan(self, *, broker_free: bool) -> list[tuple[str, Callable[[], None]]]:
        steps = [
            ("ceiling", self.ceiling),
            ("e2e", self.e2e),
            ("scale-out", self.scale_out),
            ("latency", self.latency),
        ]
        if broker_free:
            steps += [
                ("core", self.core),
                ("memory", self.memory),
                ("communities", self.communities),
            ]
        return steps

    def add(self, figure: Any) -> Any:
        """Add a figure under this broker's prefix, its ratio against this broker's base."""
        if self.prefix:
            figure.key = self.prefix + figure.key
            figure.label = f"{self.broker.name}: {figure.label.strip()}"
            if figure.ratio_to is not None:
                figure.ratio_to = self.prefix + figure.ratio_to
        return self.report.add(figure)

    def say(self, text: str) -> None:
        self.console.print(f"[{self.broker.kind}] {text}", highlight=False, markup=False)
        sys.stdout.flush()

    def ceiling(self) -> None:
        import asyncio

        from service.bench.ceiling import consume_rate, hop_latency, prefill
        from service.bench.pipeline import run_settings
        from service.bench.report import Figure, values_of

        c = self.config
        records = self.workload.records[: c.ceiling_events]
        (settings,) = run_settings(
            self.broker, f"{self.prefix}ceiling", self.work_dir, partitions=c.partitions
        )
        filled = asyncio.run(prefill(settings, records))
        self.say(
            f"ceiling: pre-filled {filled['events']:,} events at {filled['events_per_s']:,.0f}/s"
        )
        topics = [settings.topic("mentions"), settings.topic("replies")]
        runs, hops = [], []
        for n in range(c.runs):
            result = asyncio.run(consume_rate(self.broker.bootstrap, topics, len(records)))
            runs.append(result)
            hop = asyncio.run(
                hop_latency(
                    self.broker.bootstrap,
                    f"bench-hop-{n}",
                    rate=c.latency_rates[0],
                    seconds=c.hop_seconds,
                )
            )
            hops.append(hop)
            self.say(
                f"ceiling run {n + 1}/{c.runs}: {result['events_per_s']:,.0f} events/s; one hop "
                f"at {c.latency_rates[0]:,.0f}/s: p50 {_ms(hop['p50_s'], 1)}, "
                f"p99 {_ms(hop['p99_s'], 1)}"
            )
        self.report.details[f"{self.prefix}producer_prefill"] = filled
        self.add(
            Figure(
                "ceiling",
                "1 ceiling: raw consume",
                "events/s",
                values_of(runs, "events_per_s"),
                ratio_to="ceiling",
                runs=runs,
                note="getmany(max_records=10000) over the pre-filled input topics",
            )
        )
        self.add(
            Figure(
                "ceiling_cpu_per_event",
                "  raw consumer CPU per event",
                "us",
                [r["cpu_us_per_event"] for r in runs if r["cpu_us_per_event"] is not None],
                note="CPU time of the consuming process over the read, per record",
            )
        )
        self.add(
            Figure(
                "hop_p50",
                "  one raw hop p50",
                "s",
                values_of(hops, "p50_s"),
                runs=hops,
            )
        )
        self.add(
            Figure(
                "hop_p99",
                "  one raw hop p99",
                "s",
                values_of(hops, "p99_s"),
                runs=hops,
            )
        )

    def e2e(self, workers: int = 1) -> None:
        from service.bench.pipeline import measure_e2e
        from service.bench.report import Figure, values_of

        c = self.config
        records = self.workload.records[: c.events]
        workload = type(self.workload)(records, self.workload.source, self.workload.with_text)
        runs = []
        for n in range(c.runs):
            profile = None
            if c.profile and n == 0 and workers == 1:
                profile = c.out / f"profile-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.txt"
            result = measure_e2e(
                self.broker,
                workload,
                tag=f"{self.prefix}e2e{workers}w-{n}",
                work_dir=self.work_dir,
                workers=workers,
                partitions=c.partitions,
                max_seconds=c.max_seconds,
                worker_env=c.worker_env,
                amplification=(n == 0 and workers == 1),
                profile_to=profile,
            )
            runs.append(result)
            cpu = result["cpu_share"]
            self.say(
                f"{workers} worker(s) run {n + 1}/{c.runs}: {result['events_per_s']:,.0f} events/s "
                f"over {result['interactions_seen']:,.0f} interactions in {result['seconds']:.1f} s"
                f"{'' if result['completed'] else ' (capped)'}; CPU workers "
                f"{', '.join(_pct(x) for x in cpu['workers'])}, broker {_pct(cpu['broker'])}"
            )
        note = (
            f"{len(records):,} events pre-filled; timed from the start of consumption until the "
            "dyad stage had seen every interaction"
        )
        if any(not r["completed"] for r in runs):
            note += (
                f"; CAPPED at {c.max_seconds:.0f} s, so the rate is over the part finished "
                "(the stages do not progress evenly): use fewer --events"
            )
        elif min(r["seconds"] for r in runs) < SHORT_RUN_S:
            note += f"; runs under {SHORT_RUN_S:.0f} s time poorly: use more --events"
        spans = [r["all_stages_seconds"] for r in runs if "all_stages_seconds" in r]
        committed_note = (
            "until the group had committed every record of every stage (people, critics, "
            "bursts, alerts); offsets are committed every few seconds, so a lower bound"
        )
        if spans and min(spans) < STEADY_STATE_S:
            committed_note += (
                f"; a run took {min(spans):.0f} s, under {STEADY_STATE_S:.0f} s of steady "
                "state: use more --events"
            )
        one = workers == 1
        committed = self.add(
            Figure(
                "e2e_all" if one else "scale_out_all",
                "2 end to end, 1 worker, every stage committed"
                if one
                else f"  {workers} workers, every stage committed",
                "events/s",
                values_of(runs, "all_stages_events_per_s"),
                target=10_000 if one else None,
                ratio_to="ceiling",
                lower_bound=True,
                runs=runs,
                note=committed_note
                + ("" if one else f"; {workers} workers in one group, {c.partitions} partitions"),
            )
        )
        self.add(
            Figure(
                "e2e" if one else "scale_out",
                f"  {workers} worker{'' if one else 's'}, until the dyad stage saw every event",
                "events/s",
                values_of(runs, "events_per_s"),
                ratio_to="ceiling",
                note=note,
            )
        )
        # What a worker's core spends per event, over the span the dyad stage was timed.
        cpu_us = [
            1e6 * sum(x for x in r["cpu_share"]["workers"] if x is not None) / r["events_per_s"]
            for r in runs
            if r["events_per_s"] > 0
        ]
        self.add(
            Figure(
                "cpu_per_event" if one else "scale_out_cpu_per_event",
                f"  worker CPU per event, {workers} worker{'' if one else 's'}",
                "us",
                cpu_us,
                ratio_to="ceiling_cpu_per_event",
                direction="at most",
                note="CPU seconds of the workers over the dyad-timed span, per event; the "
                "ratio is to the raw consumer's CPU per event",
            )
        )
        if one:
            amplification = [
                r["records_per_event"]["total"] for r in runs if "records_per_event" in r
            ]
            self.add(
                Figure(
                    "records_per_event",
                    "  records written per event",
                    "records",
                    amplification,
                    target=4.0,
                    direction="at most",
                    note="what every topic and changelog held after the drain, per input event",
                )
            )
        else:
            single = self.report.figures.get(self.prefix + "e2e_all")
            if single is not None and single.median and committed.median:
                self.add(
                    Figure(
                        "scale_out_ratio",
                        f"  {workers} workers / 1 worker, every stage committed",
                        "x",
                        [committed.median / single.median],
                        note="CPU shares per run are in the report's runs",
                    )
                )

    def scale_out(self) -> None:
        self.e2e(workers=self.config.scale_out_workers)

    def latency(self) -> None:
        for n, rate in enumerate(self.config.latency_rates):
            self.latency_at(rate, suffix="" if n == 0 else f"@{rate:.0f}")

    def latency_at(self, rate: float, suffix: str) -> None:
        from service.bench.latency import build_scenario, measure_latency
        from service.bench.report import Figure, values_of

        c = self.config
        scenario = build_scenario(c.latency_critics, rate, c.latency_seconds)
        runs = []
        for n in range(c.runs):
            result = measure_latency(
                self.broker,
                scenario,
                tag=f"{self.prefix}latency{rate:.0f}-{n}",
                work_dir=self.work_dir,
                partitions=c.partitions,
                drain_s=c.latency_drain_s,
                worker_env=c.worker_env,
            )
            runs.append(result)
            self.say(
                f"latency at {rate:,.0f}/s, run {n + 1}/{c.runs}: {result['alerts']} of "
                f"{result['expected_alerts']} alerts, "
                f"p50 {_ms(result['p50_s'])}, p99 {_ms(result['p99_s'])}"
                f"{' (lower bound)' if result['p99_lower_bound'] else ''}; backlog at the end "
                f"of the window {result['backlog_at_window_end']}"
            )
        offered = f"{rate:,.0f} events/s offered for {c.latency_seconds:.0f} s"
        censored = sum(r["censored"] for r in runs)
        note = f"{offered}; alert record timestamp - send time of the event that raised it"
        if censored:
            note += (
                f"; {censored} alerts not out {c.latency_drain_s:.0f} s after the window (censored)"
            )
        self.add(
            Figure(
                "latency_p50" + suffix,
                f"4 event to alert p50 at {rate:,.0f}/s",
                "s",
                values_of(runs, "p50_s"),
                ratio_to="hop_p50",
                runs=runs,
                lower_bound=any(r["p50_lower_bound"] for r in runs),
            )
        )
        self.add(
            Figure(
                "latency_p99" + suffix,
                f"  event to alert p99 at {rate:,.0f}/s",
                "s",
                values_of(runs, "p99_s"),
                target=0.25 if not suffix else None,
                direction="at most",
                ratio_to="hop_p99",
                note=note,
                lower_bound=any(r["p99_lower_bound"] for r in runs),
            )
        )

    def core(self) -> None:
        from service.bench.core import core_throughput
        from service.bench.report import Figure, values_of

        c = self.config
        records = self.workload.records[: c.core_events]
        full, relationships = [], []
        for n in range(c.runs):
            full.append(core_throughput(records, signals=True))
            relationships.append(core_throughput(records, signals=False))
            self.say(
                f"core run {n + 1}/{c.runs}: {full[-1]['events_per_s']:,.0f} events/s all stages, "
                f"{relationships[-1]['events_per_s']:,.0f} events/s dyads and people only"
            )
        self.add(
            Figure(
                "core",
                "3 in-process core",
                "events/s",
                values_of(full, "events_per_s"),
                target=100_000,
                ratio_to="ceiling",
                runs=full,
                note=f"AlertReplay over {len(records):,} events in memory, validate + update time",
            )
        )
        self.add(
            Figure(
                "core_relationships",
                "  core: dyads and people only",
                "events/s",
                values_of(relationships, "events_per_s"),
                ratio_to="ceiling",
                runs=relationships,
            )
        )

    def memory(self) -> None:
        from service.bench.core import memory_after_replay
        from service.bench.report import Figure, values_of

        result = memory_after_replay(
            self.config.memory_events, with_text=False, data_dir=self.config.data_dir
        )
        runs = [result]
        self.say(
            f"memory: {result['dyads']:,} dyads, {result['bytes_per_dyad']:.0f} bytes each stored; "
            f"RSS {result['rss_after_bytes'] / 2**20:,.0f} MiB"
        )
        self.add(
            Figure(
                "bytes_per_dyad",
                "5 state bytes per dyad",
                "bytes",
                values_of(runs, "bytes_per_dyad"),
                target=300,
                direction="at most",
                runs=runs,
                note=f"a fresh process replaying {result['events']:,} events of the Higgs file as "
                "published (no text) through AlertReplay: the mean stored dyad value, and VmRSS "
                "growth over the dyads (all state, an upper bound); one run, it is deterministic",
            )
        )
        self.add(
            Figure(
                "rss_per_dyad",
                "  RSS growth per dyad",
                "bytes",
                values_of(runs, "rss_growth_per_dyad"),
                runs=runs,
            )
        )
        self.add(
            Figure(
                "rss",
                "  RSS after the replay",
                "bytes",
                values_of(runs, "rss_after_bytes"),
                runs=runs,
            )
        )

    def communities(self) -> None:
        from service.bench.core import community_updates
        from service.bench.report import Figure, values_of

        runs = [community_updates(self.config.data_dir) for _ in range(self.config.runs)]
        if not runs[0].get("available"):
            self.add(
                Figure(
                    "communities",
                    "6 community updates",
                    "edges/s",
                    available=False,
                    note=runs[0]["reason"],
                )
            )
            self.say(f"communities: {runs[0]['reason']}")
            return
        self.say(f"communities: {runs[0]['events_per_s']:,.0f} edge updates/s")
        self.add(
            Figure(
                "communities",
                "6 community updates",
                "edges/s",
                values_of(runs, "events_per_s"),
                ratio_to="ceiling",
                runs=runs,
            )
        )


def _config_dict(config: BenchConfig) -> dict[str, Any]:
    data = {k: v for k, v in config.__dict__.items()}
    data["out"] = str(config.out)
    data["data_dir"] = str(config.data_dir) if config.data_dir else None
    data["skip"] = list(config.skip)
    return data


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def _ms(x: float | None, digits: int = 0) -> str:
    return "-" if x is None else f"{x * 1000:,.{digits}f} ms"
