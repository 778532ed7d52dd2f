"""The functional core without a broker: throughput, state size and memory, community updates.

- Core throughput: `AlertReplay` (validation, sentiment and failure scoring, dyads, people,
  critic and burst detectors, alert lifecycle: every stage of the worker, in one process)
  over the workload's records, already in memory. Events per second of validate + update
  time (`RelationshipReplay.run` times the file apart; here there is no file). The same for
  `RelationshipReplay` (validation, dyads, people only) shows what the signals cost.
- Memory: a fresh child process (`python -m service.bench.core --memory`) reads the Higgs
  file, then replays it through `AlertReplay`. State bytes per dyad are the stored (changelog)
  value, `len(orjson.dumps(ties.to_dict(state)))`, averaged over dyads; RSS is the child's
  VmRSS before and after the replay, after a full collection. RSS growth per dyad counts every
  Python object of the run (people, detectors, allocator slack): an upper bound.
- Community updates: `service.core.communities.IncrementalCommunities` fed the email-Eu-core
  edges one by one through `StrongTieGraph.add_weight`, as the evaluation does; edges per
  second of the whole loop. Reported as not available when the module is absent.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from service.bench import EMAIL_FILE, load_workload, process_rss, shared_data_dir
from service.config import Settings
from service.evaluation.alerts import AlertReplay
from service.evaluation.relationships import RelationshipReplay, state_size
from service.gc_policy import apply_gc_policy
from service.sources.record import SourceRecord

MEMORY_TIMEOUT_S = 600.0


def core_throughput(records: Sequence[SourceRecord], *, signals: bool = True) -> dict[str, Any]:
    """One replay of `records`: events/s of the core alone."""
    replay = AlertReplay() if signals else RelationshipReplay()
    # The worker's collector policy. It also freezes the workload, which sits in this
    # process's heap (a worker's input does not), so collections do not rescan it.
    thresholds = gc.get_threshold()
    apply_gc_policy(Settings().gc_young_threshold)
    try:
        timing = replay.run(records)
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
    core_s = timing.validate_s + timing.update_s
    return {
        "replay": type(replay).__name__,
        "events": replay.events_in,
        "seconds": core_s,
        "events_per_s": replay.events_in / core_s if core_s > 0 else 0.0,
        "validate_s": timing.validate_s,
        "update_s": timing.update_s,
        "cpu_s": timing.cpu_s,
    }


def memory_after_replay(
    limit: int | None, *, with_text: bool = True, data_dir: Path | None = None
) -> dict[str, Any]:
    """State size and RSS of a fresh process after replaying the Higgs file (or `limit`)."""
    command = [sys.executable, "-m", "service.bench.core", "--memory"]
    if data_dir is not None:
        command += ["--data", str(data_dir)]
    if limit is not None:
        command += ["--limit", str(limit)]
    if not with_text:
        command.append("--no-text")
    done = subprocess.run(command, capture_output=True, timeout=MEMORY_TIMEOUT_S, check=False)
    if done.returncode != 0:
        raise RuntimeError(
            "memory replay failed: " + done.stderr.decode(errors="replace").strip()[-800:]
        )
    result: dict[str, Any] = orjson.loads(done.stdout.splitlines()[-1])
    return result


def _memory_in_this_process(
    limit: int | None, with_text: bool, data_dir: Path | None
) -> dict[str, Any]:
    workload = load_workload(
        limit if limit is not None else 10**9, with_text=with_text, data_dir=data_dir
    )
    replay = AlertReplay()
    gc.collect()
    rss_before = process_rss()
    started = time.perf_counter()
    replay.run(workload.records)
    seconds = time.perf_counter() - started
    gc.collect()
    rss_after = process_rss()
    size = state_size(replay.dyads, replay.people)
    growth = rss_after - rss_before if rss_after is not None and rss_before is not None else None
    critic_bytes = sum(len(orjson.dumps(row)) for row in replay.critics.values())
    return {
        "source": workload.source,
        "events": replay.events_in,
        "dyads": size.dyads,
        "people": size.people,
        "bytes_per_dyad": size.bytes_per_dyad,
        "person_bytes_per_dyad": size.person_bytes_total / size.dyads if size.dyads else None,
        "critic_bytes_per_dyad": critic_bytes / size.dyads if size.dyads else None,
        "bytes_per_person": size.bytes_per_person,
        "rss_before_bytes": rss_before,
        "rss_after_bytes": rss_after,
        "rss_growth_per_dyad": growth / size.dyads if growth is not None and size.dyads else None,
        "replay_seconds": seconds,
    }


def community_updates(data_dir: Path | None = None, limit: int | None = None) -> dict[str, Any]:
    """Incremental community updates per second on email-Eu-core, or why not available."""
    try:
        communities = importlib.import_module("service.core.communities")
        graph_module = importlib.import_module("service.core.graph")
    except ImportError as exc:
        return {"available": False, "reason": f"not available: {exc}"}
    path = (data_dir or shared_data_dir()) / EMAIL_FILE
    if not path.exists():
        return {"available": False, "reason": f"not available: {path} not found"}
    edges = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] != parts[1]:
            edges.append((parts[0], parts[1]))
    edges = edges[:limit] if limit is not None else edges
    try:
        graph = graph_module.StrongTieGraph(graph_module.GraphParams(threshold=0.0))
        detector = communities.IncrementalCommunities(graph, communities.CommunityParams())
        gc.collect()
        started = time.perf_counter()
        for a, b in edges:
            detector.apply(graph.add_weight(a, b, 1.0))
        seconds = time.perf_counter() - started
    except (AttributeError, TypeError) as exc:  # the module changed shape under us
        return {"available": False, "reason": f"not available: {exc!r}"}
    return {
        "available": True,
        "edges": len(edges),
        "seconds": seconds,
        "events_per_s": len(edges) / seconds if seconds > 0 else 0.0,
        "communities": len(detector.communities(min_size=2)),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service.bench.core", allow_abbrev=False)
    parser.add_argument("--memory", action="store_true", required=True)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--no-text", action="store_true")
    parser.add_argument("--data", type=Path)
    args = parser.parse_args(argv)
    result = _memory_in_this_process(args.limit, not args.no_text, args.data)
    sys.stdout.buffer.write(orjson.dumps(result) + b"\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
