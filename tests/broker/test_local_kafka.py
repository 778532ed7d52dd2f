"""LocalKafka and its jars: a real Apache Kafka in KRaft mode, started, crashed, restarted."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
import yaml
from aiokafka import AIOKafkaProducer

from service.broker import kafka_jars
from service.broker.admin import TopicSpec, ensure_topics, high_watermarks
from service.broker.child import BrokerProcess
from service.broker.errors import BrokerStartError
from service.broker.local_kafka import LocalKafka
from service.broker.probe import broker_answers

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".closeknit"


def test_the_pinned_version_matches_the_compose_image() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    image = compose["services"]["kafka"]["image"]
    tag = image.rsplit(":", 1)[1]
    major_minor = re.match(r"\d+\.\d+", kafka_jars.kafka_version())
    assert major_minor is not None
    assert tag.startswith(major_minor.group(0) + "."), (image, kafka_jars.kafka_version())


def test_missing_java_names_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on it: no java, no mvn
    reason = kafka_jars.missing_prerequisite()
    assert reason is not None
    assert "Java is not installed" in reason
    assert "openjdk-17-jre-headless" in reason
    with pytest.raises(kafka_jars.KafkaUnavailable, match="set CLOSEKNIT_BROKER"):
        kafka_jars.ensure_kafka_jars(tmp_path / "empty-cache")


def test_missing_maven_names_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    java = Path(tmp_path / "java")
    java.write_text("#!/bin/sh\n")
    java.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    reason = kafka_jars.missing_prerequisite()
    assert reason is not None and "Maven is not installed" in reason


async def produce_and_count(bootstrap: str, topic: str, n: int) -> int:
    await ensure_topics(bootstrap, [TopicSpec(topic, 1)])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for i in range(n):
            await producer.send(topic, f"r{i}".encode(), partition=0)
        await producer.flush()
    finally:
        await producer.stop()
    return (await high_watermarks(bootstrap, topic))[0]


@pytest.mark.integration
def test_a_crashed_broker_restarts_on_its_log_and_ports(
    kafka_broker: BrokerProcess, tmp_path: Path
) -> None:
    """SIGKILL loses nothing acknowledged with acks=all: the log is on disk (the fault
    suite's broker-kill case builds on this)."""
    broker = LocalKafka(0, data_dir=tmp_path / "kafka", cache_dir=CACHE)
    broker.start()
    try:
        port = broker.port
        assert asyncio.run(produce_and_count(broker.bootstrap, "survives", 100)) == 100
        broker.kill()
        assert not broker_answers(f"127.0.0.1:{port}", timeout=1)
        broker.start()
        assert broker.port == port
        assert (tmp_path / "kafka" / "log" / "meta.properties").exists()
        assert asyncio.run(produce_and_count(broker.bootstrap, "survives", 1)) == 101
    finally:
        broker.stop()
    assert (tmp_path / "kafka").exists()  # a directory the caller gave is kept


@pytest.mark.integration
def test_a_temporary_broker_removes_its_data_and_frees_its_port(
    kafka_broker: BrokerProcess,
) -> None:
    with LocalKafka(0, cache_dir=CACHE) as broker:
        data = broker.data_dir
        assert broker.timings["ready"] > 0
        assert broker_answers(broker.bootstrap, timeout=5)
    assert not data.exists()
    assert not broker.running
    assert not broker_answers(broker.bootstrap, timeout=1)


@pytest.mark.integration
def test_a_busy_port_says_what_to_do(kafka_broker: BrokerProcess, tmp_path: Path) -> None:
    with pytest.raises(BrokerStartError) as raised:
        LocalKafka(kafka_broker.port, cache_dir=CACHE, log_dir=tmp_path).start()
    message = str(raised.value)
    assert f"a Kafka broker already answers on 127.0.0.1:{kafka_broker.port}" in message
    assert "CLOSEKNIT_EMBEDDED_PORT" in message
