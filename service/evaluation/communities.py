"""Community detection on SNAP email-Eu-core: quality against departments, and speed.

The stream: each directed edge `src dst` of `email-Eu-core.txt`, in file order, is one
interaction that adds weight 1 to the undirected pair (so a pair that wrote both ways weighs 2);
self-loops are dropped. Methods, all on the same final graph:

- incremental: `IncrementalCommunities.apply` after every edge (local moving around it);
- incremental + refinement: the same, plus a full refinement every `refine_every` edges, computed
  on the edge list copied at that point and adopted `refine_lag` edges later (as when it runs in
  a worker thread while updates go on), the updates in between settled again by `adopt`;
- offline: networkx Louvain (seeds 0..4: min, median, max) and networkit PLM when installed.

Quality: NMI (arithmetic normalisation, 2 I / (H(P) + H(T)), as scikit-learn's default) and ARI
(Hubert & Arabie 1985) against the department labels, over the nodes of the final graph (people
with at least one non-self edge), plus modularity and the number of communities. Computed here
in pure Python.

Speed: edges/s of the update work (graph update + incremental step, timed per update with
perf_counter) and p50/p99 microseconds per update, each the median of `runs` replays. The
refinement itself runs off the event loop in the service, so it is reported apart (its seconds,
and the on-loop `adopt`). `--weighting strength` feeds `StrongTieGraph.update` dyad snapshots
with the tie strength of the counts instead (threshold 0), the service's own path.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from service.core.communities import (
    CommunityParams,
    IncrementalCommunities,
    Method,
    available_methods,
    modularity,
    refine_partition,
)
from service.core.graph import GraphParams, StrongTieGraph
from service.core.ties import strength_of
from service.evaluation.machine import machine_info

EMAIL_DIR = "email_eu_core"
EDGES_FILE = "email-Eu-core.txt"
LABELS_FILE = "email-Eu-core-department-labels.txt"
OFFLINE_SEEDS = (0, 1, 2, 3, 4)

Weighting = Literal["count", "strength"]


class EvaluationDataError(ValueError):
    """The data files are missing or malformed."""


@dataclass(frozen=True, slots=True)
class EmailData:
    edges: list[tuple[str, str]]  # directed, file order, self-loops dropped
    labels: dict[str, int]  # person -> department
    self_loops: int


def resolve_email(path: Path) -> Path:
    """The directory holding the two files: `path` itself, or its `email_eu_core` child."""
    for candidate in (path, path / EMAIL_DIR):
        if (candidate / EDGES_FILE).is_file() and (candidate / LABELS_FILE).is_file():
            return candidate
    raise EvaluationDataError(f"{path}: no {EDGES_FILE} and {LABELS_FILE} there")


def load_email(path: Path) -> EmailData:
    folder = resolve_email(path)
    edges: list[tuple[str, str]] = []
    loops = 0
    for line in _lines(folder / EDGES_FILE):
        a, b = line
        if a == b:
            loops += 1
        else:
            edges.append((a, b))
    labels = {person: int(dept) for person, dept in _lines(folder / LABELS_FILE)}
    return EmailData(edges, labels, loops)


def _lines(path: Path) -> list[tuple[str, str]]:
    out = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2 or not all(p.isdigit() for p in parts):
                raise EvaluationDataError(f"{path}:{number}: expected two integers")
            out.append((parts[0], parts[1]))
    return out


# -- agreement measures ------------------------------------------------------------------------


def _contingency(
    pred: Sequence[Hashable], truth: Sequence[Hashable]
) -> tuple[dict[Hashable, int], dict[Hashable, int], dict[tuple[Hashable, Hashable], int]]:
    if len(pred) != len(truth):
        raise ValueError("pred and truth must have the same length")
    rows: dict[Hashable, int] = {}
    cols: dict[Hashable, int] = {}
    cells: dict[tuple[Hashable, Hashable], int] = {}
    for p, t in zip(pred, truth, strict=True):
        rows[p] = rows.get(p, 0) + 1
        cols[t] = cols.get(t, 0) + 1
        cells[(p, t)] = cells.get((p, t), 0) + 1
    return rows, cols, cells


def nmi(pred: Sequence[Hashable], truth: Sequence[Hashable]) -> float:
    """Normalised mutual information, 2 I(P; T) / (H(P) + H(T)); 1.0 when both are trivial."""
    n = len(pred)
    if n == 0:
        return 1.0
    rows, cols, cells = _contingency(pred, truth)
    mi = math.fsum(c / n * math.log(c * n / (rows[p] * cols[t])) for (p, t), c in cells.items())
    h_p = -math.fsum(c / n * math.log(c / n) for c in rows.values())
    h_t = -math.fsum(c / n * math.log(c / n) for c in cols.values())
    if h_p + h_t == 0.0:
        return 1.0
    return max(0.0, 2.0 * mi / (h_p + h_t))


def ari(pred: Sequence[Hashable], truth: Sequence[Hashable]) -> float:
    """Adjusted Rand index; 1.0 when both partitions are identical and trivial."""
    n = len(pred)
    rows, cols, cells = _contingency(pred, truth)

    def pairs(k: int) -> float:
        return k * (k - 1) / 2.0

    index = math.fsum(pairs(c) for c in cells.values())
    sum_rows = math.fsum(pairs(c) for c in rows.values())
    sum_cols = math.fsum(pairs(c) for c in cols.values())
    total = pairs(n)
    if total == 0.0:
        return 1.0
    expected = sum_rows * sum_cols / total
    top = (sum_rows + sum_cols) / 2.0
    if top == expected:
        return 1.0
    return (index - expected) / (top - expected)


@dataclass(frozen=True, slots=True)
class Scores:
    nmi: float
    ari: float
    modularity: float
    communities: int  # with at least two members
    nodes: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "nmi": round(self.nmi, 4),
            "ari": round(self.ari, 4),
            "modularity": round(self.modularity, 4),
            "communities": self.communities,
            "nodes": self.nodes,
        }


def score(
    graph: StrongTieGraph, labels: Mapping[str, int], truth: Mapping[str, Hashable]
) -> Scores:
    """Agreement of `labels` with `truth` over the graph's labelled nodes."""
    nodes = [u for u in graph.nodes() if u in truth]
    pred = [labels.get(u, -1 - i) for i, u in enumerate(nodes)]
    gold = [truth[u] for u in nodes]
    sizes: dict[int, int] = {}
    for c in labels.values():
        sizes[c] = sizes.get(c, 0) + 1
    return Scores(
        nmi=nmi(pred, gold),
        ari=ari(pred, gold),
        modularity=modularity(graph, labels),
        communities=sum(1 for n in sizes.values() if n >= 2),
        nodes=len(nodes),
    )


def partition_labels(communities: Sequence[Sequence[str]]) -> dict[str, int]:
    return {u: i for i, members in enumerate(communities) for u in members}


# -- the stream ------------------------------------------------------------------------------


@dataclass(slots=True)
class StreamRun:
    graph: StrongTieGraph
    labels: dict[str, int]
    latencies_ns: list[int]
    refinements: list[dict[str, Any]] = field(default_factory=list)

    @property
    def update_seconds(self) -> float:
        return sum(self.latencies_ns) / 1e9


def replay(
    edges: Sequence[tuple[str, str]],
    weighting: Weighting = "count",
    refine_every: int | None = None,
    refine_lag: int = 0,
    method: Method = "auto",
    params: CommunityParams | None = None,
) -> StreamRun:
    """Feed the edges one by one; optionally refine every `refine_every` edges (module doc)."""
    graph = StrongTieGraph(GraphParams(threshold=0.0))
    comms = IncrementalCommunities(graph, params or CommunityParams())
    latencies: list[int] = []
    refinements: list[dict[str, Any]] = []
    pending: tuple[int, list[tuple[str, str, float]]] | None = None
    directed: dict[tuple[str, str], float] = {}
    seqs: dict[tuple[str, str], int] = {}
    clock = time.perf_counter_ns
    for i, (a, b) in enumerate(edges, 1):
        if weighting == "count":
            t0 = clock()
            comms.apply(graph.add_weight(a, b, 1.0))
            latencies.append(clock() - t0)
        else:
            snapshot = _strength_snapshot(a, b, directed, seqs)
            t0 = clock()
            comms.apply(graph.update(snapshot))
            latencies.append(clock() - t0)
        if refine_every:
            if pending is None and i % refine_every == 0:
                pending = (i + refine_lag, comms.snapshot_for_refinement())
            if pending is not None and i >= pending[0]:
                result = refine_partition(pending[1], method=method)
                t0 = clock()
                changed = comms.adopt(result.communities)
                refinements.append(
                    {
                        "at_edge": i,
                        "method": result.method,
                        "seconds": round(result.seconds, 4),
                        "adopt_ms": round((clock() - t0) / 1e6, 3),
                        "relabelled": changed,
                    }
                )
                pending = None
    return StreamRun(graph, comms.labels(), latencies, refinements)


def _strength_snapshot(
    a: str,
    b: str,
    directed: dict[tuple[str, str], float],
    seqs: dict[tuple[str, str], int],
) -> dict[str, Any]:
    """A dyad snapshot as ties.snapshot shapes it (no decay: every event at time 0)."""
    directed[(a, b)] = directed.get((a, b), 0.0) + 1.0
    lo, hi = (a, b) if a < b else (b, a)
    w_ab = directed.get((lo, hi), 0.0)
    w_ba = directed.get((hi, lo), 0.0)
    seq = seqs[(lo, hi)] = seqs.get((lo, hi), 0) + 1
    return {
        "a": lo,
        "b": hi,
        "seq": seq,
        "ref": 0.0,
        "weight_ab": w_ab,
        "weight_ba": w_ba,
        "scopes": {},
        "strength": strength_of(w_ab, w_ba, 0.0),
    }


def _percentile(sorted_values: Sequence[int], q: float) -> float:
    if not sorted_values:
        return 0.0
    k = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return float(sorted_values[k])


def _speed(runs: Sequence[StreamRun]) -> dict[str, Any]:
    per_run = []
    for run in runs:
        lat = sorted(run.latencies_ns)
        seconds = run.update_seconds
        per_run.append(
            {
                "edges_per_s": len(lat) / seconds if seconds > 0 else 0.0,
                "p50_us": _percentile(lat, 0.50) / 1e3,
                "p99_us": _percentile(lat, 0.99) / 1e3,
                "max_us": lat[-1] / 1e3 if lat else 0.0,
            }
        )
    return {
        key: round(statistics.median(r[key] for r in per_run), 1)
        for key in ("edges_per_s", "p50_us", "p99_us", "max_us")
    } | {"runs": len(per_run)}


def _stream_result(
    edges: Sequence[tuple[str, str]],
    truth: Mapping[str, int],
    runs: int,
    **options: Any,
) -> dict[str, Any]:
    replays = [replay(edges, **options) for _ in range(max(1, runs))]
    first = replays[0]
    if any(r.labels != first.labels for r in replays[1:]):
        raise AssertionError(
            "replays of the same stream disagree: the detector is not deterministic"
        )
    out: dict[str, Any] = {
        **score(first.graph, first.labels, truth).to_dict(),
        "speed": _speed(replays),
    }
    if first.refinements:
        out["refinements"] = len(first.refinements)
        out["refinement_method"] = first.refinements[0]["method"]
        out["refinement_s_median"] = round(
            statistics.median(r["seconds"] for r in first.refinements), 4
        )
        out["adopt_ms_median"] = round(
            statistics.median(r["adopt_ms"] for r in first.refinements), 3
        )
    return out


def evaluate_email(
    path: Path,
    runs: int = 3,
    refine_every: int = 5000,
    refine_lag: int = 500,
    weighting: Weighting = "count",
    method: Method = "auto",
    max_visits: int = CommunityParams().max_visits,
) -> dict[str, Any]:
    """Every method's NMI, ARI, modularity and speed on email-Eu-core (module docstring)."""
    data = load_email(path)
    params = CommunityParams(max_visits=max_visits)
    incremental = _stream_result(data.edges, data.labels, runs, weighting=weighting, params=params)
    refined = _stream_result(
        data.edges,
        data.labels,
        runs,
        weighting=weighting,
        params=params,
        refine_every=refine_every,
        refine_lag=refine_lag,
        method=method,
    )
    graph = replay(data.edges, weighting=weighting, params=params).graph
    edge_list = graph.edge_list()
    offline: dict[str, Any] = {}
    louvain = []
    for seed in OFFLINE_SEEDS:
        result = refine_partition(edge_list, method="networkx", seed=seed)
        louvain.append(
            (score(graph, partition_labels(result.communities), data.labels), result.seconds)
        )
    by_nmi = sorted(louvain, key=lambda s: s[0].nmi)
    median_scores, _ = by_nmi[len(by_nmi) // 2]
    offline["networkx_louvain"] = {
        **median_scores.to_dict(),
        "nmi_min": round(by_nmi[0][0].nmi, 4),
        "nmi_max": round(by_nmi[-1][0].nmi, 4),
        "seeds": list(OFFLINE_SEEDS),
        "seconds_median": round(statistics.median(s for _, s in louvain), 4),
    }
    if "networkit" in available_methods():
        result = refine_partition(edge_list, method="networkit")
        offline["networkit_plm"] = {
            **score(graph, partition_labels(result.communities), data.labels).to_dict(),
            "seconds": round(result.seconds, 4),
        }
    reference = offline["networkx_louvain"]["nmi"]
    return {
        "data": {
            "path": str(resolve_email(path)),
            "directed_edges": len(data.edges),
            "self_loops_dropped": data.self_loops,
            "undirected_edges": graph.number_of_edges,
            "nodes": len(graph),
            "labelled_people": len(data.labels),
            "departments": len(set(data.labels.values())),
        },
        "weighting": weighting,
        "refine_every": refine_every,
        "refine_lag": refine_lag,
        "max_visits": max_visits,
        "incremental": incremental,
        "incremental_refined": refined,
        "offline": offline,
        "ratio_to_offline_median": {
            "incremental": round(incremental["nmi"] / reference, 4) if reference else None,
            "incremental_refined": round(refined["nmi"] / reference, 4) if reference else None,
        },
        "machine": machine_info(),
    }


# -- report ----------------------------------------------------------------------------------


def print_communities_report(result: Mapping[str, Any], console: Any = None) -> None:
    """Quality per method, then the speed of the incremental paths."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    out = console if console is not None else Console()
    data = result["data"]
    louvain = result["offline"]["networkx_louvain"]
    refined = result["incremental_refined"]
    caption = (
        f"Q: modularity; groups: communities of 2 or more; ratio: NMI / offline networkx "
        f"Louvain's median over seeds "
        f"{', '.join(map(str, louvain['seeds']))} (NMI {louvain['nmi_min']:.3f}-"
        f"{louvain['nmi_max']:.3f}). Refinement: {refined.get('refinement_method', 'none')} "
        f"every {result['refine_every']:,} edges, adopted {result['refine_lag']:,} edges later."
    )
    quality = Table(
        title=f"email-Eu-core: {data['nodes']} people, {data['undirected_edges']:,} ties, "
        f"{data['departments']} departments ({result['weighting']} weights)",
        caption=caption,
        title_justify="left",
        caption_justify="left",
        box=box.SIMPLE_HEAD,
    )
    for header in ("method", "NMI", "ARI", "Q", "groups", "ratio"):
        quality.add_column(header, justify="left" if header == "method" else "right", no_wrap=True)
    ratios = result["ratio_to_offline_median"]
    rows = [
        ("incremental", result["incremental"], ratios["incremental"]),
        ("incremental + refinement", refined, ratios["incremental_refined"]),
        ("offline Louvain (networkx)", louvain, 1.0),
    ]
    if "networkit_plm" in result["offline"]:
        plm = result["offline"]["networkit_plm"]
        rows.append(("offline PLM (networkit)", plm, plm["nmi"] / louvain["nmi"]))
    for name, s, ratio in rows:
        quality.add_row(
            name,
            f"{s['nmi']:.4f}",
            f"{s['ari']:.4f}",
            f"{s['modularity']:.4f}",
            str(s["communities"]),
            "" if ratio is None else f"{ratio:.3f}",
        )
    out.print(quality)
    machine = result["machine"]
    parts = []
    for key in ("incremental", "incremental_refined"):
        s = result[key]
        if "refinements" in s:
            parts.append(
                f"refinement: {s['refinements']} x {s['refinement_method']}, median "
                f"{s['refinement_s_median'] * 1e3:.0f} ms off the loop; adopt (on the loop) "
                f"{s['adopt_ms_median']:.1f} ms"
            )
    speed = Table(
        title=f"Speed per update, median of {result['incremental']['speed']['runs']} runs: "
        f"{machine['nproc']} x {machine['cpu']}, Python {machine['python']}, "
        f"load {machine.get('load_avg_1m') or 0:.2f}",
        caption="; ".join(parts) or None,
        title_justify="left",
        caption_justify="left",
        box=box.SIMPLE_HEAD,
    )
    for header in ("path", "edges/s", "p50 µs", "p99 µs", "max µs"):
        speed.add_column(header, justify="left" if header == "path" else "right", no_wrap=True)
    for name, key in (
        ("incremental", "incremental"),
        ("incremental + refinement", "incremental_refined"),
    ):
        t = result[key]["speed"]
        speed.add_row(
            name,
            f"{t['edges_per_s']:,.0f}",
            f"{t['p50_us']:.1f}",
            f"{t['p99_us']:.1f}",
            f"{t['max_us']:,.0f}",
        )
    out.print(speed)
