"""Shared fixtures: one broker of each kind per test session, isolated names per test.

`broker` is parametrised over Tansu and Apache Kafka, so every broker-integration test runs
on both. The Kafka runs skip, naming what is missing, where Java or Maven is absent; with
CI=true they fail instead, since CI machines must have both (a silent skip would hide it).
`tansu_broker` and `kafka_broker` are for the tests about one broker's own behaviour.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.broker.child import BrokerProcess
from service.broker.embedded import start_test_broker
from service.broker.kafka_jars import missing_prerequisite
from service.broker.probe import find_free_port
from service.broker.quirks import BROKER_KINDS, BrokerKind
from service.config import Settings
from tests.integration.harness import settings_on

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
ARTIFACTS = REPO / "tests" / "artifacts"
_names = itertools.count()


def shared_data(*parts: str) -> Path:
    """A path in ../shared/data, or skip the test with the reason when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not found: the real data sets live in ../shared/data beside the repo")
    return path


def _session_broker(kind: BrokerKind) -> Iterator[BrokerProcess]:
    if kind == "kafka":
        reason = missing_prerequisite()
        if reason is not None:
            if os.environ.get("CI") == "true":
                pytest.fail(f"the Kafka runs cannot start on CI: {reason}")
            pytest.skip(f"Apache Kafka runs skipped: {reason}")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    started = start_test_broker(kind, ARTIFACTS / kind)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="session")
def tansu_broker() -> Iterator[BrokerProcess]:
    """A real Tansu broker speaking the Kafka protocol on a free loopback port."""
    yield from _session_broker("tansu")


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[BrokerProcess]:
    """A real Apache Kafka (KRaft, one node) on free loopback ports."""
    yield from _session_broker("kafka")


@pytest.fixture(scope="session", params=BROKER_KINDS)
def broker(request: pytest.FixtureRequest) -> BrokerProcess:
    """Each broker in turn: the test runs once on Tansu and once on Apache Kafka."""
    started: BrokerProcess = request.getfixturevalue(f"{request.param}_broker")
    return started


@pytest.fixture
def isolated_settings(broker: BrokerProcess, tmp_path: Path) -> Settings:
    """Settings on the session broker with this test's own topics, group and web port.

    CLOSEKNIT_BROKER stays unset and the embedded port points at the session broker, so a
    worker treats it as its embedded broker of that kind (on Tansu: short session timeout,
    changelog fence, short fetch wait).
    """
    n = next(_names)
    return settings_on(
        broker,
        topic_prefix=f"t{n}-{os.getpid()}.",
        app_id=f"closeknit-t{n}-{os.getpid()}",
        web_port=find_free_port(),
        data_dir=tmp_path / "data",
        partitions=2,
    )


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]
