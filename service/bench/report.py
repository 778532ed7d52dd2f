"""Figures from runs: median with min-max, the ratio to the ceiling, targets; JSON and a table.

A figure holds one value per run. Rates are shown against the consume-rate ceiling measured
in the same bench run (`value / ceiling`), latencies as a multiple of one raw broker hop at
the same offered load (also measured in the same run); sizes have no ceiling. Targets are
reported, never asserted: a bench run that misses them still succeeds.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson
from rich.console import Console
from rich.table import Table

SCHEMA = "closeknit-bench/1"
# Table order: the numbering, each figure's companions under it.
# Latencies at other offered loads ("latency_p99@10000") follow the first load's.
ORDER = (
    "ceiling", "ceiling_cpu_per_event", "hop_p50", "hop_p99",
    "e2e_all", "e2e", "cpu_per_event", "records_per_event",
    "scale_out_all", "scale_out", "scale_out_cpu_per_event", "scale_out_ratio",
    "core", "core_relationships",
    "latency_p50", "latency_p99", "bytes_per_dyad", "rss_per_dyad", "rss", "communities",
)  # fmt: skip
Direction = Literal["at least", "at most"]


def broker_prefix(kind: str) -> str:
    """The figure-key prefix of a broker's figures: none for Tansu, `kafka_` for Kafka."""
    return "" if kind == "tansu" else f"{kind}_"


def _rank(key: str) -> tuple[bool, int, float]:
    """Table order: Tansu's figures by ORDER, then each other broker's in the same order."""
    rank = {name: n for n, name in enumerate(ORDER)}
    base = key.split("_", 1)[1] if key.startswith("kafka_") else key
    name, _, load = base.partition("@")
    return (key != base, rank.get(name, len(ORDER)), float(load or 0))


@dataclass
class Figure:
    """One measured quantity over the runs."""

    key: str
    label: str
    unit: str  # "events/s", "s", "bytes", ...
    values: list[float] = field(default_factory=list)
    target: float | None = None
    direction: Direction = "at least"
    ratio_to: str | None = None  # the figure key this one is divided by, e.g. "ceiling"
    lower_bound: bool = False  # some run only gave a lower bound (censored latencies)
    note: str = ""
    available: bool = True
    runs: list[dict[str, Any]] = field(default_factory=list)  # per-run details

    @property
    def median(self) -> float | None:
        return statistics.median(self.values) if self.values else None

    @property
    def low(self) -> float | None:
        return min(self.values) if self.values else None

    @property
    def high(self) -> float | None:
        return max(self.values) if self.values else None

    def met(self) -> bool | None:
        if self.target is None or self.median is None:
            return None
        if self.direction == "at least":
            return self.median >= self.target
        return self.median <= self.target and not self.lower_bound


@dataclass
class BenchReport:
    started_at: float
    machine: dict[str, Any]
    config: dict[str, Any]
    workload: str = ""
    figures: dict[str, Figure] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    duration_s: float = 0.0

    def add(self, figure: Figure) -> Figure:
        self.figures[figure.key] = figure
        return figure

    def ratio(self, figure: Figure) -> float | None:
        if figure.ratio_to is None or figure.median is None:
            return None
        base = self.figures.get(figure.ratio_to)
        if base is None or not base.median:
            return None
        return figure.median / base.median

    def to_dict(self) -> dict[str, Any]:
        figures = {}
        for key, figure in self.figures.items():
            data = asdict(figure)
            data.update(
                median=figure.median,
                min=figure.low,
                max=figure.high,
                ratio=self.ratio(figure),
                target_met=figure.met(),
            )
            figures[key] = data
        return {
            "schema": SCHEMA,
            "started_at": _iso(self.started_at),
            "duration_s": self.duration_s,
            "machine": self.machine,
            "config": self.config,
            "workload": self.workload,
            "figures": figures,
            "details": self.details,
            "errors": self.errors,
        }


def write_json(report: BenchReport, directory: Path) -> Path:
    """`<directory>/bench-<UTC timestamp>.json`."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(report.started_at))
    path = directory / f"bench-{stamp}.json"
    path.write_bytes(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2))
    return path


def render(report: BenchReport, console: Console) -> None:
    m = report.machine
    table = Table(
        title=f"closeknit bench: {m.get('cpus')} x {m.get('cpu_model')}, Python {m.get('python')}",
        caption=f"median of {report.config.get('runs')} runs (min-max); {report.workload}",
        show_header=True,
    )
    table.add_column("figure")
    table.add_column("median", justify="right")
    table.add_column("min-max", justify="right")
    table.add_column("vs ceiling", justify="right")
    table.add_column("target", justify="right")
    table.add_column("met", justify="center")
    for figure in sorted(report.figures.values(), key=lambda f: _rank(f.key)):
        if not figure.available:
            table.add_row(figure.label, "not available", "", "", "", "", style="dim")
            continue
        bound = ">= " if figure.lower_bound else ""
        ratio = report.ratio(figure)
        table.add_row(
            figure.label,
            bound + fmt(figure.median, figure.unit),
            f"{fmt(figure.low, figure.unit, False)}-{fmt(figure.high, figure.unit, False)}",
            _ratio_text(figure, ratio),
            _target_text(figure),
            {True: "[green]yes[/]", False: "[red]no[/]", None: ""}[figure.met()],
        )
    console.print(table)
    notes = [f"- {f.label}: {f.note}" for f in report.figures.values() if f.note]
    if notes:
        console.print("\n".join(notes), highlight=False)
    for error in report.errors:
        console.print(f"[red]error:[/] {error}", highlight=False)


def fmt(value: float | None, unit: str, with_unit: bool = True) -> str:
    if value is None:
        return "-"
    if unit == "s":
        text = f"{value * 1000:,.0f} ms" if value < 10 else f"{value:,.1f} s"
        return text if with_unit else text.split()[0]
    if unit == "bytes" and value >= 10_000:
        text = f"{value / 2**20:,.1f} MiB"
        return text if with_unit else text.split()[0]
    digits = 0 if abs(value) >= 100 else 1
    text = f"{value:,.{digits}f}"
    return f"{text} {unit}" if with_unit else text


def _ratio_text(figure: Figure, ratio: float | None) -> str:
    if ratio is None:
        return "n/a"
    if figure.unit == "s":
        return f"{ratio:,.1f}x a raw hop"
    return f"{ratio:.2%}" if ratio < 10 else f"{ratio:,.0f}x"


def _target_text(figure: Figure) -> str:
    if figure.target is None:
        return ""
    sign = ">=" if figure.direction == "at least" else "<="
    return f"{sign} {fmt(figure.target, figure.unit)}"


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def values_of(runs: Sequence[dict[str, Any]], key: str) -> list[float]:
    """The numeric `key` of each run that has one."""
    return [float(run[key]) for run in runs if isinstance(run.get(key), int | float)]
