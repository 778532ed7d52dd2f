"""Shared fixtures: one embedded broker per test session, isolated names per test."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.broker.embedded import EmbeddedBroker, find_free_port, start_test_broker
from service.config import Settings, load_settings

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


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    """A real Tansu broker speaking the Kafka protocol on a free loopback port."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    started = start_test_broker(ARTIFACTS)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def isolated_settings(broker: EmbeddedBroker, tmp_path: Path) -> Settings:
    """Settings on the session broker with this test's own topics, group and web port.

    CLOSEKNIT_BROKER stays unset and the embedded port points at the session broker, so a
    worker treats it as the embedded broker (short rebalance timeout, changelog fence).
    """
    n = next(_names)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSEKNIT_")}
    return load_settings(
        env,
        embedded_port=broker.port,
        topic_prefix=f"t{n}-{os.getpid()}.",
        app_id=f"closeknit-t{n}-{os.getpid()}",
        web_port=find_free_port(),
        data_dir=tmp_path / "data",
        partitions=2,
    )


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]
