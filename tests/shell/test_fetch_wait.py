"""The worker's consumer lets the broker hold a fetch for the configured time, not Faust's 1.5 s."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from service.config import load_settings
from service.shell.app import build_app


def worker_consumer_fetch_wait(environ: dict[str, str], tmp_path: Path) -> int:
    """The wait of the aiokafka consumer the worker's consumer thread would start."""
    app = build_app(load_settings(environ, data_dir=tmp_path))

    async def create() -> int:  # aiokafka wants a running loop to build a consumer
        consumer = app.consumer._thread._create_worker_consumer(app.transport)
        return int(consumer._fetch_max_wait_ms)

    return asyncio.run(create())


def test_the_embedded_broker_gets_a_short_fetch_wait(tmp_path: Path) -> None:
    assert worker_consumer_fetch_wait({}, tmp_path) == 25


def test_kafka_keeps_fausts_fetch_wait(tmp_path: Path) -> None:
    assert worker_consumer_fetch_wait({"CLOSEKNIT_BROKER": "kafka.example:9092"}, tmp_path) == 1500


@pytest.mark.parametrize("broker", ["", "kafka.example:9092"])
def test_the_setting_wins_on_either_broker(broker: str, tmp_path: Path) -> None:
    environ = {"CLOSEKNIT_FETCH_MAX_WAIT_MS": "100", "CLOSEKNIT_BROKER": broker}
    assert worker_consumer_fetch_wait(environ, tmp_path) == 100
