"""End-to-end throughput: real worker processes on pre-filled input topics.

One run: fresh topics and app id, the workload published to the input topics first, then
`workers` real `closeknit worker` processes started at once (one consumer group). The run is
timed from the start of consumption (the last poll of `/api/stats` at which no worker had
taken in an event) until the dyad stage has seen every interaction, or until `max_seconds`
have passed, whichever comes first; a capped run reports the rate over what it finished.
An event counts once the dyad stage has seen its interactions; the people, critic, burst
and alert stages run in the same process, and what they still had to commit at the end is
reported as `downstream_lag_at_end`.

Also taken: the CPU share of each worker, of the broker and of this process over the timed
span (on a 2-core machine, two workers and the broker share two cores), the workers' RSS,
and, once per bench, the records every stage wrote per input event (all topics and
changelogs, after the pipeline drained), and optionally a py-spy profile of one worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from service.bench import Workload, process_cpu_s, process_rss
from service.bench.ceiling import prefill
from service.broker.admin import consumer_lag, ensure_topics, high_watermarks
from service.broker.child import BrokerProcess
from service.broker.probe import find_free_port
from service.config import Settings, load_settings
from service.shell.drained import wait_drained
from service.shell.process import WorkerFailed, WorkerProcess
from service.shell.topics import topic_specs

POLL_S = 0.1
START_TIMEOUT_S = 120.0
DRAIN_TIMEOUT_S = 120.0  # every stage committed can trail the dyad stage by a minute on Kafka
DOWNSTREAM_TOPICS = ("interactions", "person-ties", "complaints", "alert-signals")
PROFILE_RATE_HZ = 100
STOP_GRACE_S = 5.0


def run_settings(
    broker: BrokerProcess, tag: str, data_root: Path, *, partitions: int, workers: int = 1
) -> list[Settings]:
    """One Settings per worker: the same topics and group, their own web port and data dir.

    The workers take `broker` for their embedded broker, so its kind's settings apply.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSEKNIT_")}
    base = load_settings(
        env,
        embedded_port=broker.port,
        embedded_broker=broker.kind,
        topic_prefix=f"bench-{tag}.",
        app_id=f"closeknit-bench-{tag}",
        partitions=partitions,
    )
    out = []
    for n in range(workers):
        data_dir = data_root / f"{tag}-w{n}"
        data_dir.mkdir(parents=True, exist_ok=True)
        out.append(replace(base, web_port=find_free_port(), data_dir=data_dir))
    return out


@contextlib.contextmanager
def worker_environment(extra: Mapping[str, str]) -> Iterator[None]:
    """While workers are spawned: no CLOSEKNIT_* of the caller's (a CLOSEKNIT_BROKER would send
    them elsewhere, a token would lock the stats out), plus `extra` (e.g. Faust settings)."""
    saved = dict(os.environ)
    for name in [k for k in os.environ if k.startswith("CLOSEKNIT_")]:
        del os.environ[name]
    os.environ.update(extra)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def start_workers(
    settings: Sequence[Settings], log_dir: Path, extra_env: Mapping[str, str]
) -> list[WorkerProcess]:
    workers = [WorkerProcess(s, log_dir / f"{s.app_id}-w{n}.log") for n, s in enumerate(settings)]
    with worker_environment(extra_env):
        for worker in workers:
            worker.start()
    return workers


def stop_workers(workers: Sequence[WorkerProcess], grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM to all at once, then SIGKILL whoever is still up after `grace_s`: the run is
    measured by then, and a clean shutdown with a backlog can take a while."""
    running = [w.process for w in workers if w.process is not None and w.process.poll() is None]
    for process in running:
        process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for process in running:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def poll_stats(workers: Sequence[WorkerProcess]) -> dict[str, float] | None:
    """Summed counters of all workers, or None while any of them does not answer yet."""
    events_in = interactions = dyads = 0.0
    outcomes: Counter[str] = Counter()
    for worker in workers:
        if worker.process is not None and worker.process.poll() is not None:
            raise WorkerFailed(f"a worker exited during the benchmark; see {worker.log_path}")
        try:
            stats = worker.get_json("/api/stats")
        except (urllib.error.URLError, OSError, ValueError):
            return None
        events_in += sum(stats["events_in"].values())
        interactions += stats["interactions_out"]
        dyads += sum(stats["dyad_events"].values())
        outcomes.update(stats["dyad_events"])
    return {"events_in": events_in, "interactions": interactions, "dyads": dyads, **outcomes}


def measure_e2e(
    broker: BrokerProcess,
    workload: Workload,
    *,
    tag: str,
    work_dir: Path,
    workers: int = 1,
    partitions: int = 4,
    max_seconds: float = 20.0,
    worker_env: Mapping[str, str] | None = None,
    amplification: bool = False,
    profile_to: Path | None = None,
) -> dict[str, Any]:
    """One timed run (the module docstring); raises BenchError or WorkerFailed."""
    settings = run_settings(broker, tag, work_dir, partitions=partitions, workers=workers)
    first = settings[0]
    bootstrap = first.bootstrap_servers()
    asyncio.run(ensure_topics(bootstrap, topic_specs(first)))
    filled = asyncio.run(prefill(first, workload.records))
    expected = workload.interactions
    procs = start_workers(settings, work_dir, worker_env or {})
    profiler: list[subprocess.Popen[bytes] | None] = []

    def on_start() -> None:
        if profile_to is not None and procs[0].process is not None:
            profiler.append(start_profiler(procs[0].process.pid, profile_to))

    try:
        timed = _time_consumption(procs, expected, max_seconds, broker.pid, on_start)
        started = timed.pop("started_at")
        events = len(workload.records)
        result: dict[str, Any] = {
            "workers": workers,
            "partitions": partitions,
            "events": events,
            "interactions_expected": expected,
            "prefill": filled,
            **timed,
            # An event is done once its interactions reached the dyad stage.
            "events_per_s": timed["interactions_seen"] * events / expected / timed["seconds"],
        }
        result["downstream_lag_at_end"] = asyncio.run(
            consumer_lag(bootstrap, first.app_id, [first.topic(t) for t in DOWNSTREAM_TOPICS])
        )
        if result["completed"]:
            drained_at = asyncio.run(wait_drained(first, DRAIN_TIMEOUT_S))
            if drained_at is not None:
                # Committed offsets move once per commit interval (and the lag is polled every
                # second or so): the time is an upper bound, the rate a lower bound.
                result["all_stages_seconds"] = drained_at - started
                result["all_stages_events_per_s"] = events / (drained_at - started)
        # Stopped after the drain, so the profile covers the stages that trail the dyads.
        spy = profiler.pop() if profiler else None
        if spy is not None:
            result["profile"] = stop_profiler(spy, profile_to)
        elif profile_to is not None:
            result["profile"] = {"error": "py-spy not found (pip install py-spy)"}
        if result["completed"] and amplification:
            result["records_per_event"] = asyncio.run(records_per_event(first, events))
            result["records_per_event"]["drained"] = drained_at is not None
        return result
    finally:
        for spy in profiler:
            if spy is not None:
                spy.kill()
        stop_workers(procs)


def _time_consumption(
    procs: Sequence[WorkerProcess],
    expected: int,
    max_seconds: float,
    broker_pid: int | None,
    on_start: Callable[[], None],
) -> dict[str, Any]:
    launched = time.monotonic()
    idle_at: float | None = None
    start: float | None = None
    cpu_before: list[float | None] = []
    while True:
        now = time.monotonic()
        stats = poll_stats(procs)
        if stats is None or stats["events_in"] == 0:
            if stats is not None:
                idle_at = now
            if now - launched > START_TIMEOUT_S:
                logs = ", ".join(str(p.log_path) for p in procs)
                raise WorkerFailed(f"no worker consumed within {START_TIMEOUT_S:.0f} s; see {logs}")
            time.sleep(POLL_S / 2 if stats is None else POLL_S)
            continue
        if start is None:
            start = idle_at if idle_at is not None else now
            cpu_before, cpu_from = _cpu_readings(procs, broker_pid), time.monotonic()
            on_start()
        if stats["dyads"] >= expected or now - start >= max_seconds:
            cpu_after, cpu_span = _cpu_readings(procs, broker_pid), time.monotonic() - cpu_from
            break
        time.sleep(POLL_S)
    seconds = now - start
    shares = [
        (after - before) / cpu_span if before is not None and after is not None else None
        for before, after in zip(cpu_before, cpu_after, strict=True)
    ]
    return {
        "completed": stats["dyads"] >= expected,
        "start_uncertain": idle_at is None,
        "started_at": start,  # time.monotonic()
        "seconds": seconds,
        "events_ingested": stats["events_in"],
        "interactions_seen": stats["dyads"],
        "ingest_events_per_s": stats["events_in"] / seconds,
        "dyad_outcomes": {
            k: v for k, v in stats.items() if k not in ("events_in", "interactions", "dyads")
        },
        "cpu_share": {
            "workers": shares[: len(procs)],
            "broker": shares[len(procs)],
            "bench": shares[len(procs) + 1],
        },
        "worker_rss_bytes": [
            process_rss(p.process.pid) if p.process is not None else None for p in procs
        ],
    }


def _cpu_readings(procs: Sequence[WorkerProcess], broker_pid: int | None) -> list[float | None]:
    pids = [p.process.pid if p.process is not None else None for p in procs]
    return [process_cpu_s(pid) for pid in (*pids, broker_pid, os.getpid())]


async def records_per_event(settings: Settings, events: int) -> dict[str, Any]:
    """Records on every topic and changelog of the run per input event (call once drained)."""
    bootstrap = settings.bootstrap_servers()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = sorted(
            t
            for t in await admin.list_topics()
            if t.startswith(settings.topic_prefix) or t.startswith(f"{settings.app_id}-")
        )
    finally:
        await admin.close()
    inputs = {settings.topic("mentions"), settings.topic("replies")}
    by_topic: dict[str, float] = {}
    for name in names:
        if name in inputs:
            continue
        records = sum((await high_watermarks(bootstrap, name)).values())
        if records:
            short = name.removeprefix(settings.topic_prefix).removeprefix(f"{settings.app_id}-")
            by_topic[short] = records / events
    return {
        "total": sum(by_topic.values()),
        "by_topic": dict(sorted(by_topic.items(), key=lambda item: -item[1])),
    }


# -- profiling -------------------------------------------------------------------------------


def profiler_binary() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def start_profiler(pid: int, out: Path) -> subprocess.Popen[bytes] | None:
    """py-spy sampling `pid` into collapsed stacks at `out`, or None without py-spy."""
    binary = profiler_binary()
    if binary is None:
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    command = [binary, "record", "-p", str(pid), "-o", str(out), "-f", "raw"]
    command += ["-r", str(PROFILE_RATE_HZ), "--nonblocking"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def stop_profiler(profiler: subprocess.Popen[bytes], out: Path | None) -> dict[str, Any]:
    profiler.send_signal(signal.SIGINT)
    try:
        _, err = profiler.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        profiler.kill()
        _, err = profiler.communicate()
    if out is None or not out.exists():
        return {"error": err.decode(errors="replace").strip()[-500:] or "py-spy wrote nothing"}
    return summarize_profile(out)


def summarize_profile(path: Path, top: int = 25) -> dict[str, Any]:
    """Inclusive and self shares of the sampled functions in a collapsed-stack file."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_frame_name(frame) for frame in stack.split(";")]
        for name in set(frames):
            inclusive[name] += n
        own[frames[-1]] += n
    if not total:
        return {"file": str(path), "samples": 0}

    def shares(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, round(n / total, 4)) for name, n in counter.most_common(top)]

    return {
        "file": str(path),
        "samples": total,
        "inclusive": shares(inclusive),
        "self": shares(own),
    }


def _frame_name(frame: str) -> str:
    """`func (path/to/module.py:12)` -> `func [module path below site-packages]`."""
    func, _, where = frame.partition(" (")
    file = where.rstrip(")").rpartition(":")[0]
    for marker in ("site-packages/", "/lib/python3.11/", str(Path.cwd()) + "/"):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    return f"{func} [{file}]" if file else func
