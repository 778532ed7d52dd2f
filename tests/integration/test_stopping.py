"""A stop signal ends everything a command started, within a bounded time (issue #12, 6-7)."""

from __future__ import annotations

import dataclasses
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from service.broker.child import BrokerProcess
from service.broker.probe import broker_answers, find_free_port, port_is_free
from service.broker.tansu import TansuBroker
from service.shell.patches.bounded_stop import EXIT_STATUS_FORCED, STOP_GRACE_S
from service.shell.process import WorkerProcess
from service.shell.runtime import prepare_broker
from tests.integration.harness import (
    as_records,
    cli_env,
    mention,
    produce,
    settings_on,
)

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
EXIT_STATUS_CRASHED = 1  # mode.worker re-raises the crash, and `exiting` turns it into 1


def test_a_worker_whose_broker_is_gone_still_stops_within_the_grace(tmp_path: Path) -> None:
    """Measured before the fix: still running 60 s after SIGTERM, retrying a dead broker."""
    with TansuBroker(0, log_dir=tmp_path) as broker:
        settings = settings_on(
            broker, web_port=find_free_port(), data_dir=tmp_path / "data", partitions=2
        )
        with prepare_broker(settings, start_embedded=False) as ready:
            worker = WorkerProcess(ready, ready.data_dir / "worker.log")
            worker.start()
            try:
                worker.wait_ready(timeout_s=90)
                events = [
                    mention(n, f"a{n % 9}", f"b{n % 7}", time.time() - 100) for n in range(500)
                ]
                produce(ready, as_records(events))
                broker.stop()
                began = time.monotonic()
                assert worker.process is not None
                worker.process.send_signal(signal.SIGTERM)
                status = worker.process.wait(timeout=STOP_GRACE_S + 10)
                took = time.monotonic() - began
            finally:
                worker.kill()
    # Three honest endings: a clean stop (0); the app crashed on the lost broker first and
    # then stopped within the grace (1, mode's status for a crash); the grace ran out (70).
    assert status in (0, EXIT_STATUS_CRASHED, EXIT_STATUS_FORCED)
    assert took < STOP_GRACE_S + 5
    log_text = (tmp_path / "data" / "worker.log").read_text()
    if status == EXIT_STATUS_FORCED:
        assert "did not stop within" in log_text
    if status == EXIT_STATUS_CRASHED:
        assert "the app crashed" in log_text


def test_a_worker_with_its_broker_stops_cleanly_and_quickly(
    broker: BrokerProcess, tmp_path: Path
) -> None:
    settings = settings_on(
        broker, web_port=find_free_port(), data_dir=tmp_path / "data", partitions=2
    )
    with prepare_broker(settings, start_embedded=False) as ready:
        worker = WorkerProcess(ready, ready.data_dir / "worker.log")
        worker.start()
        try:
            worker.wait_ready(timeout_s=90)
            assert worker.process is not None
            began = time.monotonic()
            worker.process.send_signal(signal.SIGTERM)
            assert worker.process.wait(timeout=STOP_GRACE_S + 10) == 0
            assert time.monotonic() - began < STOP_GRACE_S
        finally:
            worker.kill()


def test_a_demo_gets_a_private_broker_even_when_one_answers_on_the_port(
    tansu_broker: BrokerProcess, tmp_path: Path
) -> None:
    """Two demos once shared one broker and one group, and the second never finished."""
    settings = settings_on(tansu_broker, data_dir=tmp_path / "d", partitions=1)
    with prepare_broker(settings, private=True) as ready:
        assert ready.embedded_port != tansu_broker.port
        assert broker_answers(ready.bootstrap_servers(), timeout=5)
    assert not broker_answers(ready.bootstrap_servers(), timeout=1)  # stopped with the block


def test_sigterm_to_the_demo_stops_its_worker_and_broker(
    tansu_broker: BrokerProcess, tmp_path: Path
) -> None:
    """Measured before the fix: SIGTERM left the demo's worker running and serving."""
    env = cli_env(
        settings_on(
            tansu_broker,  # only its kind matters: the demo starts a private broker
            web_port=find_free_port(),
            data_dir=tmp_path / "data",
            partitions=2,
        ),
        COLUMNS="200",
    )
    demo = subprocess.Popen(
        [sys.executable, "-m", "service", "demo"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert demo.stdout is not None
        broker_at = web_port = None
        for line in demo.stdout:
            found = re.search(r"broker at (127\.0\.0\.1:\d+)", line)
            broker_at = found.group(1) if found else broker_at
            ready = re.search(r"worker ready: API and metrics at http://127\.0\.0\.1:(\d+)/", line)
            if ready:
                web_port = int(ready.group(1))
                break
        assert broker_at is not None and web_port is not None
        demo.send_signal(signal.SIGTERM)
        demo.wait(timeout=STOP_GRACE_S + 20)
        assert port_is_free(web_port), "the worker is gone"
        assert not broker_answers(broker_at, timeout=1), "the broker is gone"
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()


def test_private_on_a_configured_broker_uses_it_and_starts_none(
    tansu_broker: BrokerProcess, tmp_path: Path
) -> None:
    """With CLOSEKNIT_BROKER set there is no embedded broker to make private: the demo keeps
    apart by its own topic prefix and group instead (service.demo.runner)."""
    settings = dataclasses.replace(
        settings_on(tansu_broker, data_dir=tmp_path / "d"), broker=tansu_broker.url
    )
    with prepare_broker(settings, private=True) as ready:
        assert ready.bootstrap_servers() == tansu_broker.bootstrap
        assert ready.broker_kind == "tansu"  # read from the cluster id
        assert not (tmp_path / "d" / "broker.log").exists()  # nothing was started
