"""`closeknit evaluate EVALUATION`: broker-free evaluations in this process.

`closeknit evaluate relationships FILE` replays a file through the worker's validation, dyad
and people core in this process (see `service.evaluation.relationships`) and prints what the
relationships look like: state size, reciprocity, strong ties, the most influential people
next to the most addressed ones, and the throughput of the core.

Other evaluations plug in from the modules in `EVALUATION_MODULES`, each with
`add_subparser(evaluate_subparsers)`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

import orjson
from rich.console import Console, Group
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from service.cli.arguments import positive_int
from service.evaluation.relationships import RelationshipReport, evaluate_relationships
from service.sources.detect import FORMATS, UnknownFormatError, detect_format, open_source

EXIT_OK, EXIT_INVALID_LINES, EXIT_USAGE = 0, 1, 2

# Each adds its evaluation under `closeknit evaluate` with `add_subparser(evaluate_subparsers)`.
EVALUATION_MODULES = (
    "service.cli.evaluate_sentiment",
    "service.cli.evaluate_alerts",
    "service.cli.evaluate_bursts",
    "service.cli.evaluate_communities",
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="replay a file through the core in this process (no broker) and report",
        description="Deterministic, broker-free evaluations in this process: no worker, no broker.",
    )
    evaluations = parser.add_subparsers(dest="evaluation", metavar="EVALUATION")
    parser.set_defaults(func=lambda _args: _usage(parser))
    formats = "; ".join(f"{name}: {doc}" for name, doc in FORMATS.items())
    relationships = evaluations.add_parser(
        "relationships",
        help="dyads, reciprocity, strong ties and influence vs in-degree on a file",
        description="Replay FILE through the worker's validation, dyad and people core in "
        "this process, then report state size, reciprocity, strong ties, the top people by "
        "influence next to the top by in-degree and inbound count, and throughput. "
        f"Formats: {formats}. Exit status 1 if some lines or events were invalid, "
        "2 on usage errors.",
    )
    relationships.add_argument("file", type=Path, metavar="FILE", help="the file to replay")
    relationships.add_argument(
        "--format",
        choices=["auto", *FORMATS],
        default="auto",
        help="input format (default: auto, from the name and the first line)",
    )
    relationships.add_argument(
        "--limit", type=positive_int, metavar="N", help="stop after N events"
    )
    relationships.add_argument(
        "--json",
        action="store_true",
        help="print the report as JSON on stdout instead of tables",
    )
    relationships.set_defaults(func=run_relationships)
    for name in EVALUATION_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue  # an evaluation still being built is simply absent
        module.add_subparser(evaluations)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_USAGE


def run_relationships(args: argparse.Namespace) -> int:
    out, err = Console(highlight=False), Console(stderr=True, highlight=False)
    path: Path = args.file
    if not path.is_file():
        what = "not a file" if path.exists() else "no such file"
        _say(err, f"closeknit evaluate: {path}: {what}")
        return EXIT_USAGE
    try:
        fmt = detect_format(path) if args.format == "auto" else args.format
    except UnknownFormatError as exc:
        _say(err, f"closeknit evaluate: {exc}")
        return EXIT_USAGE

    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f} events"),
        TextColumn("{task.fields[rate]:,.0f}/s"),
        TimeElapsedColumn(),
        console=err,
        disable=not err.is_terminal,
    )
    task = progress.add_task(f"evaluating {path.name}", total=args.limit, rate=0.0)
    started = time.monotonic()

    def on_progress(events: int) -> None:
        elapsed = time.monotonic() - started
        progress.update(task, completed=events, rate=events / elapsed if elapsed > 0 else 0.0)

    with progress:
        report = evaluate_relationships(
            open_source(path, fmt),
            source=path.name,
            fmt=fmt,
            limit=args.limit,
            on_progress=on_progress,
        )
    if args.json:
        sys.stdout.write(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode())
        sys.stdout.write("\n")
    else:
        out.print(render_report(report))
    counts = report.counts
    rejected = sum(counts.rejected.values())
    if counts.line_errors or rejected:
        _say(
            err,
            f"{counts.line_errors:,} invalid line(s) and {rejected:,} rejected event(s) in "
            f"{path}; `closeknit replay --dry-run` lists them. Exit status 1.",
        )
        return EXIT_INVALID_LINES
    return EXIT_OK


def _say(console: Console, text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def render_report(report: RelationshipReport) -> Group:
    """The report as readable tables: counts, state, reciprocity, top people, throughput."""
    return Group(
        _counts_table(report),
        _state_table(report),
        _reciprocity_table(report),
        _top_table(report),
        _measures_table(report),
        _throughput_table(report),
    )


def _measures_table(report: RelationshipReport) -> Table:
    """Top-k overlaps of influence, reach and in-degree, and the predictive check."""
    table = _two_columns(
        "influence, reach and in-degree",
        caption="influence: two-way ties; reach: the one-way audience, decayed; in-degree: "
        "distinct people who addressed them. Predicted: distinct two-way partners in the "
        "second half of the file, from rankings on the first half.",
    )
    for k, shared in report.overlaps.items():
        for pair, n in shared.items():
            table.add_row(f"top {k}: {pair.replace('_', ' ')}", f"{n} shared")
    prediction = report.prediction
    if prediction:
        for k, by_measure in prediction["precision"].items():
            shown = ", ".join(f"{name} {value:.2f}" for name, value in by_measure.items())
            table.add_row(f"precision@{k}", shown)
        rho = ", ".join(
            f"{name} {_number(value, '.3f')}" for name, value in prediction["spearman"].items()
        )
        table.add_row("Spearman's rho", rho)
        table.add_row(
            "people (first half)", f"{prediction['people']:,} ({prediction['with_partners']:,} "
            "with a two-way partner after)"
        )  # fmt: skip
    return table


def _two_columns(title: str, caption: str | None = None) -> Table:
    table = Table(
        title=title,
        caption=caption,
        header_style="bold",
        title_justify="left",
        caption_justify="left",
    )
    table.add_column("what")
    table.add_column("value", justify="right")
    return table


def _counts_table(report: RelationshipReport) -> Table:
    counts = report.counts
    limit = f", first {report.limit:,} events" if report.limit else ""
    table = _two_columns(
        f"relationships: {report.source}", caption=f"format: {report.format}{limit}"
    )
    table.add_row("events in", f"{counts.events_in:,}")
    for code, n in counts.rejected.items():
        table.add_row(f"rejected: {code}", f"{n:,}")
    table.add_row("interactions applied (one per target)", f"{counts.applied:,}")
    table.add_row("duplicates (not applied again)", f"{counts.duplicates:,}")
    if counts.too_late:
        table.add_row("too late (beyond the dedup horizon)", f"{counts.too_late:,}")
    for reason, n in counts.skipped_lines.items():
        table.add_row(f"lines skipped: {reason}", f"{n:,}")
    table.add_row("invalid lines", f"{counts.line_errors:,}")
    if counts.first_event_time is not None and counts.last_event_time is not None:
        span = f"{_utc(counts.first_event_time)} to {_utc(counts.last_event_time)}"
        table.add_row("event time", span)
    table.add_row("dyads", f"{report.state.dyads:,}")
    table.add_row("people", f"{report.state.people:,}")
    return table


def _state_table(report: RelationshipReport) -> Table:
    state, process = report.state, report.process
    table = _two_columns(
        "state size",
        caption="stored: the table values as the changelog codecs write them (orjson).\n"
        f"RSS ({process.method}): Python objects in one process, dyads + people + allocator "
        "slack: an upper bound.",
    )
    table.add_row("stored bytes per dyad (mean)", _number(state.bytes_per_dyad, ",.0f"))
    table.add_row("stored bytes per person (mean)", _number(state.bytes_per_person, ",.0f"))
    table.add_row("stored bytes, all dyads", f"{state.dyad_bytes_total:,}")
    table.add_row("stored bytes, all people", f"{state.person_bytes_total:,}")
    table.add_row("RSS growth per dyad", _number(process.growth_per_dyad, ",.0f"))
    if process.growth_bytes is not None:
        table.add_row("RSS growth", f"{process.growth_bytes / 2**20:,.1f} MiB")
    return table


def _reciprocity_table(report: RelationshipReport) -> Table:
    r = report.reciprocity
    at = f" at {_utc(r.at)}" if r.at is not None else ""
    table = _two_columns("reciprocity 2·min/sum", caption=f"strength read{at}")
    table.add_row("one-way dyads (reciprocity 0)", _share(r.one_way_share))
    table.add_row("two-way dyads", f"{r.two_way:,}")
    for name, value in (r.two_way_quantiles or {}).items():
        table.add_row(f"  {name}", f"{value:.3f}")
    table.add_row("  share >= 0.5", _share(r.two_way_at_least_half))
    table.add_row(f"strong ties (strength >= {r.strong_threshold:g})", _share(r.strong_share))
    return table


def _top_table(report: RelationshipReport) -> Table:
    ranking = report.ranking
    vs_degree = ranking.influence_vs_in_degree
    vs_inbound = ranking.influence_vs_inbound
    vs_strength = ranking.influence_vs_decayed_in_strength
    caption = (
        f"shared with the top {len(ranking.by_influence)} by influence: in-degree "
        f"{vs_degree.shared} (Jaccard {_number(vs_degree.jaccard, '.2f')}), inbound "
        f"{vs_inbound.shared} (Jaccard {_number(vs_inbound.jaccard, '.2f')}), decayed "
        f"in-strength {vs_strength.shared} (Jaccard {_number(vs_strength.jaccard, '.2f')}).\n"
        "Decayed in-strength is influence with one-way ties counted in full: it differs from "
        "in-degree by recency, and from influence by reciprocity."
    )
    at = f" at {_utc(ranking.at)}" if ranking.at is not None else ""
    table = Table(
        title=f"who, not how many: top people by influence{at}",
        caption=caption,
        header_style="bold",
        title_justify="left",
        caption_justify="left",
    )
    for name in ("#", "by influence", "score", "in-degree (rank)", "inbound (rank)"):
        table.add_column(name, justify="left" if name == "by influence" else "right")
    table.add_column("in-strength rank", justify="right")
    table.add_column("two-way partners", justify="right")
    table.add_column("by in-degree")
    table.add_column("by inbound")
    rows = max(len(ranking.by_influence), len(ranking.by_in_degree), len(ranking.by_inbound))
    for i in range(rows):
        cells = [str(i + 1)]
        if i < len(ranking.by_influence):
            p = ranking.by_influence[i]
            cells += [
                p.person,
                f"{p.influence:,.1f}",
                f"{p.in_degree:,} ({p.in_degree_rank:,})",
                f"{p.inbound:,} ({p.inbound_rank:,})",
                f"{p.decayed_in_strength_rank:,}",
                f"{p.two_way_partners:,}",
            ]
        else:
            cells += [""] * 6
        for column in (ranking.by_in_degree, ranking.by_inbound):
            cells.append(f"{column[i][0]} ({column[i][1]:,})" if i < len(column) else "")
        table.add_row(*cells)
    return table


def _throughput_table(report: RelationshipReport) -> Table:
    t, process = report.throughput, report.process
    load = (
        ", load " + " ".join(f"{x:.2f}" for x in process.load_average)
        if process.load_average
        else ""
    )
    table = _two_columns(
        "throughput of the in-process core",
        caption=f"{process.cpu_count} CPU(s), {process.cpu_model}, Python {process.python}{load}",
    )
    table.add_row("wall time (file reading included)", f"{t.wall_s:.2f} s")
    table.add_row("  reading and converting the file", f"{t.parse_s:.2f} s")
    table.add_row("  validation", f"{t.validate_s:.2f} s")
    table.add_row("  dyads + people", f"{t.update_s:.2f} s")
    table.add_row("events/s, wall", _number(t.wall_events_per_s, ",.0f"))
    table.add_row("events/s per CPU second", _number(t.cpu_events_per_s, ",.0f"))
    table.add_row("events/s, core (validation + dyads + people)", _number(t.core_events_per_s))
    table.add_row("events/s, dyads + people", _number(t.update_events_per_s, ",.0f"))
    return table


def _number(value: float | None, spec: str = ",.0f") -> str:
    return "n/a" if value is None else format(value, spec)


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _utc(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(seconds))
