"""The fault suite on Apache Kafka: each fault, then the end state against a clean run.

Each case feeds a real worker the same kind of synthetic stream as the SIGKILL test, does
one thing a production system lives through, and then requires every dyad (weights, seq,
counts) and a sample of people (influence, ties) to equal a clean single run of the core,
exactly: no event lost, none counted twice.

Run with `make faults` (several minutes; not part of `make test`). Kafka keeps its log on
disk, so a broker killed with SIGKILL comes back with every acknowledged record.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.broker.child import BrokerProcess
from service.broker.local_kafka import LocalKafka
from service.broker.probe import find_free_port
from service.config import Settings
from service.shell.pipeline import tie_params
from service.shell.process import WorkerProcess
from service.shell.runtime import prepare_broker
from tests.integration.harness import as_records, clean_run, produce, settings_on, wait_until
from tests.integration.test_idempotence import (
    _influence_differs,
    matches_clean_run,
    stage_total,
    synthetic_events,
)

pytestmark = [pytest.mark.faults, pytest.mark.integration]
REPO = Path(__file__).resolve().parents[2]
SETTLE_S = 240.0


@pytest.fixture
def own_kafka(kafka_broker: BrokerProcess, tmp_path: Path) -> Iterator[LocalKafka]:
    """A Kafka of this test's own, on disk, that the test may kill or pause."""
    broker = LocalKafka(0, data_dir=tmp_path / "kafka", cache_dir=REPO / ".closeknit")
    broker.start()
    try:
        yield broker
    finally:
        if broker.pid is not None:
            os.kill(broker.pid, signal.SIGCONT)  # in case a test left it paused
        broker.stop()


def fault_settings(broker: BrokerProcess, tmp_path: Path, tag: str) -> Settings:
    return settings_on(
        broker,
        topic_prefix=f"fault-{tag}-{os.getpid()}.",
        app_id=f"closeknit-fault-{tag}-{os.getpid()}",
        web_port=find_free_port(),
        data_dir=tmp_path / "data",
        partitions=4,
    )


def worker(settings: Settings, name: str, **changes: object) -> WorkerProcess:
    from dataclasses import replace

    process = WorkerProcess(replace(settings, **changes), settings.data_dir / f"{name}.log")  # type: ignore[arg-type]
    process.start()
    return process


def supervised(process: WorkerProcess, settings: Settings, name: str) -> WorkerProcess:
    """What a supervisor does: a worker that exited (its app crashed) is started again."""
    if process.process is not None and process.process.poll() is None:
        return process
    restarted = worker(settings, name)
    restarted.wait_ready(timeout_s=120)
    return restarted


def assert_matches_clean_run(last: WorkerProcess, expected: dict, at: float) -> None:
    assert wait_until(lambda: not matches_clean_run(last, expected, at), SETTLE_S, 1.0), (
        matches_clean_run(last, expected, at)[:5]
    )
    assert wait_until(lambda: not _influence_differs(last, expected, at), SETTLE_S, 1.0)


def stream(settings: Settings, count: int, seed: int) -> tuple[list[dict], dict, float]:
    events = synthetic_events(count, 80, seed=seed)
    expected = clean_run(events, tie_params(settings))
    at = max(state.ref for state in expected.values()) + 3600
    return events, expected, at


def test_the_broker_killed_and_restarted_mid_stream(own_kafka: LocalKafka, tmp_path: Path) -> None:
    settings = fault_settings(own_kafka, tmp_path, "broker-kill")
    events, expected, at = stream(settings, 6000, seed=11)
    with prepare_broker(settings, start_embedded=False) as ready:
        produce(ready, as_records(events))
        running = worker(ready, "worker")
        try:
            running.wait_ready(timeout_s=90)
            assert wait_until(lambda: stage_total(running) >= 1500, 90, interval_s=0.05)
            own_kafka.kill()
            time.sleep(3.0)
            own_kafka.start()  # same directory, same ports
            # The worker either reconnects or, if its app crashed, exits for its supervisor.
            time.sleep(15.0)
            running = supervised(running, ready, "worker-restarted")
            assert_matches_clean_run(running, expected, at)
        finally:
            running.stop()


def test_a_worker_killed_five_times_at_random_points(
    kafka_broker: BrokerProcess, tmp_path: Path
) -> None:
    settings = fault_settings(kafka_broker, tmp_path, "kill5")
    events, expected, at = stream(settings, 8000, seed=12)
    rng = random.Random(12)
    with prepare_broker(settings, start_embedded=False) as ready:
        produce(ready, as_records(events))
        applied = 0.0
        for n in range(5):
            victim = worker(ready, f"worker-{n}")
            victim.wait_ready(timeout_s=120)
            target = applied + rng.uniform(200, 1200)
            wait_until(lambda v=victim, t=target: stage_total(v) >= t, 60, interval_s=0.02)
            applied = max(applied, stage_total(victim))
            victim.kill()
        last = worker(ready, "worker-last")
        try:
            last.wait_ready(timeout_s=120)
            assert_matches_clean_run(last, expected, at)
        finally:
            last.stop()


def test_a_second_worker_joins_and_leaves_mid_stream(
    kafka_broker: BrokerProcess, tmp_path: Path
) -> None:
    settings = fault_settings(kafka_broker, tmp_path, "rebalance")
    events, expected, at = stream(settings, 8000, seed=13)
    with prepare_broker(settings, start_embedded=False) as ready:
        produce(ready, as_records(events[:4000]))
        first = worker(ready, "first")
        try:
            first.wait_ready(timeout_s=90)
            assert wait_until(lambda: stage_total(first) >= 1000, 90, interval_s=0.05)
            second = worker(
                ready, "second", web_port=find_free_port(), data_dir=ready.data_dir / "second"
            )
            second.wait_ready(timeout_s=120)
            produce(ready, as_records(events[4000:]))  # arriving while the group rebalances
            time.sleep(5.0)
            second.stop()  # leaves cleanly: its partitions move back to the first worker
            assert_matches_clean_run(first, expected, at)
        finally:
            first.stop()


def test_the_broker_paused_for_ten_seconds_while_events_keep_coming(
    own_kafka: LocalKafka, tmp_path: Path
) -> None:
    settings = fault_settings(own_kafka, tmp_path, "pause")
    events, expected, at = stream(settings, 6000, seed=14)
    with prepare_broker(settings, start_embedded=False) as ready:
        produce(ready, as_records(events[:3000]))
        running = worker(ready, "worker")
        try:
            running.wait_ready(timeout_s=90)
            assert wait_until(lambda: stage_total(running) >= 1000, 90, interval_s=0.05)
            assert own_kafka.pid is not None
            os.kill(own_kafka.pid, signal.SIGSTOP)
            paused_at = time.monotonic()
            # The listening system keeps publishing: its sends wait in the producer until
            # the broker answers again (aiokafka retries within its delivery timeout).
            import threading

            sender = threading.Thread(target=produce, args=(ready, as_records(events[3000:])))
            sender.start()
            time.sleep(max(0.0, 10.0 - (time.monotonic() - paused_at)))
            os.kill(own_kafka.pid, signal.SIGCONT)
            sender.join(timeout=120)
            assert not sender.is_alive()
            time.sleep(15.0)
            running = supervised(running, ready, "worker-restarted")
            assert_matches_clean_run(running, expected, at)
        finally:
            running.stop()


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


BACKLOG = int(os.environ.get("CLOSEKNIT_FAULT_BACKLOG", "100000"))


def test_a_worker_behind_by_a_large_backlog_catches_up_in_bounded_memory(
    kafka_broker: BrokerProcess, tmp_path: Path
) -> None:
    settings = fault_settings(kafka_broker, tmp_path, "backlog")
    events, expected, at = stream(settings, BACKLOG, seed=15)
    with prepare_broker(settings, start_embedded=False) as ready:
        produce(ready, as_records(events))  # the whole backlog waits before the worker starts
        running = worker(ready, "worker")
        peak = 0
        try:
            running.wait_ready(timeout_s=120)
            assert running.process is not None
            started_rss = rss_bytes(running.process.pid)

            def caught_up() -> bool:
                nonlocal peak
                peak = max(peak, rss_bytes(running.process.pid))  # type: ignore[union-attr]
                return stage_total(running) >= len(events)

            assert wait_until(caught_up, 1800, interval_s=1.0)
            assert_matches_clean_run(running, expected, at)
        finally:
            running.stop()
    # 80 people, so at most 3,160 dyads: the state is small, and memory must not grow with
    # the backlog (queued records are bounded by Faust's buffers, not by the lag).
    print(f"backlog {len(events)}: RSS {started_rss / 2**20:.0f} -> peak {peak / 2**20:.0f} MiB")
    assert peak - started_rss < 300 * 2**20
