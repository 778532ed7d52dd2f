"""An event delivered twice changes state once: a replayed file, and a worker killed mid-stream.

In both, the final dyad weights (and the people built from them) must equal a clean single
run of the same core over the same events, to float tolerance.

About the embedded broker: Tansu answers ListOffsets(latest) with the newest batch's base
offset + 1 (GUIDE.md, defect 1), and Faust restores a table only up to that offset, so a
restarted worker can miss the tail of the last changelog batch. The worker fences every
changelog partition with a one-record batch before recovery on the embedded broker
(service.shell.runtime); `test_changelog_fence.py` pins that mechanism on its own. In our
runs the SIGKILL test also passed with the fence disabled (whether the lost tail matters
depends on where the kill lands relative to the last offset commit), so this test does not
prove the fence; it proves the end result. The assertions are exact and not loosened.

This test used to fail in about two of three loaded runs (a dyad back at seq 3 where a clean
run has 6; people missing a tie), from two defects below closeknit: Faust's producer-buffer
flush let an offset commit overtake a changelog record (service.shell.patches.delivery), and after
restoring changelogs Faust's second flow-control resume emptied the stream queues the
consumer had already moved past (service.shell.patches.flow). `tests/shell/test_delivery.py` and
`tests/shell/test_flow.py` pin each mechanism on its own.
"""

from __future__ import annotations

import asyncio
import math
import random
import time

import pytest

from service.broker.admin import consumer_lag
from service.config import Settings
from service.core import ties
from service.core.influence import PersonState, apply_snapshot
from service.shell.drained import STAGE_TOPICS
from service.shell.pipeline import tie_params
from service.shell.process import WorkerProcess
from service.shell.runtime import prepare_broker
from tests.integration.harness import (
    as_records,
    clean_run,
    mention,
    produce,
    reply,
    running_worker,
    wait_until,
)

pytestmark = pytest.mark.integration


def synthetic_events(count: int, people: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    start = time.time() - 2 * 86400
    events = []
    for n in range(count):
        a, b = rng.sample(range(people), 2)
        t = start + n * (86400.0 / count)
        make = reply if rng.random() < 0.4 else mention
        topics = {"topics": ["running"]} if rng.random() < 0.3 else {}
        events.append(make(n, f"p{a}", f"p{b}", t, **topics))
    return events


def interactions_in(events: list[dict]) -> int:
    return len(events)  # one target each


def stage_total(worker: WorkerProcess) -> float:
    return sum(worker.get_json("/api/stats")["dyad_events"].values())


def matches_clean_run(worker: WorkerProcess, expected: dict, at: float) -> list[str]:
    """The dyads whose weights differ from the clean run (empty when all match)."""
    wrong = []
    for (a, b), state in expected.items():
        snapshot = ties.snapshot(state, (a, b), at)
        try:
            got = worker.get_json(f"/api/dyads/{a}/{b}?at={at}")
        except OSError:
            wrong.append(f"{a}-{b}: missing")
            continue
        for field in ("weight_ab", "weight_ba", "seq", "mentions_ab", "replies_ba"):
            if not math.isclose(got[field], snapshot[field], rel_tol=1e-9, abs_tol=1e-12):
                wrong.append(f"{a}-{b}: {field} {got[field]} != {snapshot[field]}")
    return wrong


def influence_matches(worker: WorkerProcess, expected: dict, at: float, people: list[str]) -> None:
    reference: dict[str, PersonState] = {}
    for (a, b), state in expected.items():
        snapshot = ties.snapshot(state, (a, b), state.ref)
        for person in (a, b):
            apply_snapshot(reference.setdefault(person, PersonState()), person, snapshot)
    for person in people:
        got = worker.get_json(f"/api/people/{person}?at={at}")
        assert math.isclose(got["influence"], reference[person].influence(at), rel_tol=1e-9)
        assert got["ties"] == len(reference[person].ties)


def test_replaying_the_same_events_twice_changes_nothing(isolated_settings: Settings) -> None:
    events = synthetic_events(600, 40, seed=1)
    expected = clean_run(events, tie_params(isolated_settings))
    at = max(state.ref for state in expected.values()) + 3600
    with running_worker(isolated_settings) as worker:
        produce(isolated_settings, as_records(events))
        assert wait_until(lambda: stage_total(worker) >= len(events), 60)
        produce(isolated_settings, as_records(events))  # the same file, replayed
        assert wait_until(lambda: stage_total(worker) >= 2 * len(events), 60)
        outcomes = worker.get_json("/api/stats")["dyad_events"]
        assert outcomes == {"applied": len(events), "duplicate": len(events)}
        assert matches_clean_run(worker, expected, at) == []
        assert wait_until(lambda: not _influence_differs(worker, expected, at), 120, 1.0)


def _influence_differs(worker: WorkerProcess, expected: dict, at: float) -> bool:
    try:
        influence_matches(worker, expected, at, [f"p{n}" for n in range(0, 40, 7)])
    except AssertionError:
        return True
    return False


def test_sigkill_mid_stream_then_restart_matches_a_clean_run(isolated_settings: Settings) -> None:
    events = synthetic_events(6000, 80, seed=2)
    expected = clean_run(events, tie_params(isolated_settings))
    at = max(state.ref for state in expected.values()) + 3600
    with prepare_broker(isolated_settings, start_embedded=False) as settings:
        produce(settings, as_records(events))  # all waiting before the worker starts
        first = WorkerProcess(settings, settings.data_dir / "worker-1.log")
        first.start()
        first.wait_ready(timeout_s=90)
        assert wait_until(lambda: stage_total(first) > 0, 60, interval_s=0.02)
        first.kill()
        # A stage's batch can take in all its input has so far, so counts jump; what makes
        # the kill mid-stream is work the group had not committed when it died.
        uncommitted = asyncio.run(
            consumer_lag(
                settings.bootstrap_servers(),
                settings.app_id,
                [settings.topic(t) for t in STAGE_TOPICS],
            )
        )
        assert sum(uncommitted.values()) > 0, "the kill must land mid-stream"

        second = WorkerProcess(settings, settings.data_dir / "worker-2.log")
        second.start()
        try:
            second.wait_ready(timeout_s=120)
            # Generous: a restarted worker waits out the dead member's session, then restores.
            assert wait_until(lambda: not matches_clean_run(second, expected, at), 180, 1.0), (
                matches_clean_run(second, expected, at)[:5]
            )
            # The people stage trails the dyad stage (about three records per event): wait
            # for it to drain; the comparison itself stays exact.
            assert wait_until(lambda: not _influence_differs(second, expected, at), 180, 1.0)
        finally:
            second.stop()
