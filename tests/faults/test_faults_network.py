"""Network faults between a worker and Apache Kafka: the link drops for 30 s, or slows.

The drop: the worker runs in a network namespace of its own, joined to this one by a veth
pair, and Kafka listens on the host end, so every byte between them crosses the link.
Setting the host end down cuts it as a pulled cable would: packets vanish, no error comes
back. The listening system (this test's producer) reaches Kafka without crossing the link
and keeps publishing throughout.

The slow link: `tc netem` is the tool for it, but this machine's kernel has no netem qdisc
(`Specified qdisc kind is unknown`), so the 200 ms each way come from a proxy in front of
Kafka (`delay_proxy`) that every client, the producer too, goes through.

Either way the end state must equal a clean run of the core, exactly, as in the other fault
cases. The drop needs root and iproute2, and is skipped with the reason otherwise.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from service.broker.child import BrokerProcess
from service.broker.local_kafka import LocalKafka
from service.broker.probe import find_free_port
from service.config import Settings
from service.shell.process import WorkerProcess
from service.shell.runtime import prepare_broker
from tests.faults.delay_proxy import DelayProxy
from tests.faults.test_faults_kafka import REPO, assert_matches_clean_run, stream
from tests.integration.harness import as_records, produce, settings_on, wait_until
from tests.integration.test_idempotence import stage_total

pytestmark = [pytest.mark.faults, pytest.mark.integration]
LINK_DOWN_S = 30.0
LINK_DELAY_S = 0.200


@dataclasses.dataclass(frozen=True)
class VethLink:
    """A namespace `ns` whose only way out is the veth pair host_dev <-> ns_dev."""

    ns: str
    host_dev: str
    ns_dev: str
    host_ip: str
    ns_ip: str

    @property
    def launcher(self) -> tuple[str, ...]:
        return ("ip", "netns", "exec", self.ns)

    def cut(self) -> None:
        _run("ip", "link", "set", self.host_dev, "down")

    def heal(self) -> None:
        _run("ip", "link", "set", self.host_dev, "up")


def _run(*command: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise OSError(f"{' '.join(command)}: {done.stderr.strip()}")


@contextmanager
def veth_link() -> Iterator[VethLink]:
    if os.geteuid() != 0:
        pytest.skip("the link-drop case needs root (a network namespace and a veth pair)")
    if shutil.which("ip") is None:
        pytest.skip("the link-drop case needs `ip` (Debian: apt-get install iproute2)")
    tag = os.getpid() % 10000
    subnet = f"10.213.{os.getpid() % 250}"
    link = VethLink(f"ck-{tag}", f"ckh{tag}", f"ckw{tag}", f"{subnet}.1", f"{subnet}.2")
    try:
        _run("ip", "netns", "add", link.ns)
    except OSError as exc:
        pytest.skip(f"this machine cannot make a network namespace: {exc}")
    try:
        _run("ip", "link", "add", link.host_dev, "type", "veth", "peer", "name", link.ns_dev)
        _run("ip", "link", "set", link.ns_dev, "netns", link.ns)
        _run("ip", "addr", "add", f"{link.host_ip}/30", "dev", link.host_dev)
        _run("ip", "link", "set", link.host_dev, "up")
        inside = link.launcher
        _run(*inside, "ip", "addr", "add", f"{link.ns_ip}/30", "dev", link.ns_dev)
        _run(*inside, "ip", "link", "set", link.ns_dev, "up")
        _run(*inside, "ip", "link", "set", "lo", "up")
        yield link
    finally:
        subprocess.run(["ip", "link", "del", link.host_dev], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", link.ns], capture_output=True, check=False)


@pytest.fixture
def linked(kafka_broker: LocalKafka, tmp_path: Path) -> Iterator[tuple[VethLink, LocalKafka]]:
    """A veth link, and a Kafka of this test's own on its host end.

    `kafka_broker` is asked for only so that the jars are fetched (or the case skipped)
    the same way as everywhere else in the suite."""
    with veth_link() as link:
        broker = LocalKafka(
            0, data_dir=tmp_path / "kafka", cache_dir=REPO / ".closeknit", host=link.host_ip
        )
        broker.start()
        try:
            yield link, broker
        finally:
            broker.stop()


def configured(broker: LocalKafka, url: str, **overrides: object) -> Settings:
    """Settings for a worker that reaches `broker` at `url`, a configured broker."""
    settings = settings_on(broker, broker_kind="kafka", **overrides)
    return dataclasses.replace(settings, broker=url)


def linked_settings(link: VethLink, broker: LocalKafka, tmp_path: Path, tag: str) -> Settings:
    return configured(
        broker,
        broker.url,  # the embedded broker's address would be 127.0.0.1
        topic_prefix=f"fault-{tag}-{os.getpid()}.",
        app_id=f"closeknit-fault-{tag}-{os.getpid()}",
        web_host=link.ns_ip,  # the test reaches the worker's API across the link too
        web_port=find_free_port(),
        data_dir=tmp_path / "data",
        partitions=4,
    )


def linked_worker(settings: Settings, link: VethLink, name: str) -> WorkerProcess:
    process = WorkerProcess(settings, settings.data_dir / f"{name}.log", launcher=link.launcher)
    process.start()
    process.wait_ready(timeout_s=120)
    return process


def test_the_link_to_the_broker_drops_for_thirty_seconds(
    linked: tuple[VethLink, LocalKafka], tmp_path: Path
) -> None:
    link, broker = linked
    settings = linked_settings(link, broker, tmp_path, "link-drop")
    events, expected, at = stream(settings, 6000, seed=16)
    with prepare_broker(settings, start_embedded=False) as ready:
        produce(ready, as_records(events[:3000]))
        running = linked_worker(ready, link, "worker")
        try:
            assert wait_until(lambda: stage_total(running) >= 1000, 90, interval_s=0.05)
            link.cut()
            dropped_at = time.monotonic()
            produce(ready, as_records(events[3000:]))  # the listening system carries on
            time.sleep(max(0.0, LINK_DOWN_S - (time.monotonic() - dropped_at)))
            link.heal()
            time.sleep(15.0)
            # The worker either rejoins its group or, if its app crashed, exits for its
            # supervisor, which starts it again (as in the broker-kill case).
            if running.process is not None and running.process.poll() is not None:
                running = linked_worker(ready, link, "worker-restarted")
            assert_matches_clean_run(running, expected, at)
        finally:
            running.stop()


@pytest.fixture
def slow_link(
    kafka_broker: BrokerProcess, tmp_path: Path
) -> Iterator[tuple[DelayProxy, LocalKafka]]:
    """A Kafka of this test's own that clients reach only through a `DelayProxy`."""
    proxy_port = find_free_port()
    broker = LocalKafka(
        0,
        data_dir=tmp_path / "kafka",
        cache_dir=REPO / ".closeknit",
        advertised=f"127.0.0.1:{proxy_port}",
    )
    broker.start()
    try:
        with DelayProxy(proxy_port, broker.host, broker.port) as proxy:
            yield proxy, broker
    finally:
        broker.stop()


def test_the_link_gains_two_hundred_ms_of_latency_each_way(
    slow_link: tuple[DelayProxy, LocalKafka], tmp_path: Path
) -> None:
    proxy, broker = slow_link
    settings = configured(
        broker,
        f"kafka://127.0.0.1:{proxy.listen_port}",
        topic_prefix=f"fault-slow-{os.getpid()}.",
        app_id=f"closeknit-fault-slow-{os.getpid()}",
        web_port=find_free_port(),
        data_dir=tmp_path / "data",
        partitions=4,
    )
    events, expected, at = stream(settings, 6000, seed=17)
    with prepare_broker(settings, start_embedded=False) as ready:
        produce(ready, as_records(events[:2000]))
        running = WorkerProcess(ready, ready.data_dir / "worker.log")
        running.start()
        try:
            running.wait_ready(timeout_s=120)
            assert wait_until(lambda: stage_total(running) >= 500, 90, interval_s=0.05)
            proxy.delay_s = LINK_DELAY_S
            sender = threading.Thread(target=produce, args=(ready, as_records(events[2000:])))
            sender.start()
            # Every event gets through the slow link, and the worker is never restarted.
            assert wait_until(lambda: stage_total(running) >= len(events), 900, interval_s=2.0)
            sender.join(timeout=60)
            assert running.process is not None and running.process.poll() is None
            assert_matches_clean_run(running, expected, at)
        finally:
            running.stop()
