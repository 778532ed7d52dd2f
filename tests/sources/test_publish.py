"""Publishing to a real (embedded) broker: topic by kind, key = event_id, value = payload."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from service.broker.admin import topic_partitions
from service.broker.child import BrokerProcess
from service.cli.main import main
from service.config import Settings
from service.sources.detect import open_source
from service.sources.publish import PublishStats, publish
from service.sources.record import SourceRecord

pytestmark = pytest.mark.integration

HIGGS = Path(__file__).parent / "fixtures" / "higgs-activity_time-sample.txt"


async def _read_all(bootstrap: str, topic: str, expected: int) -> list[tuple[bytes, bytes]]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=10,
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in await topic_partitions(bootstrap, topic)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        got: list[tuple[bytes, bytes]] = []
        deadline = time.monotonic() + 10
        while len(got) < expected and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=100)
            for messages in batches.values():
                got.extend((m.key, m.value) for m in messages if m.key and m.value)
        return got
    finally:
        await consumer.stop()


def test_records_land_on_their_kind_topic_keyed_by_event_id(
    broker: BrokerProcess, isolated_settings: Settings
) -> None:
    settings = isolated_settings
    records = [item for item in open_source(HIGGS) if isinstance(item, SourceRecord)]
    progress: list[int] = []

    def on_progress(stats: PublishStats) -> None:
        progress.append(stats.total_published)

    stats = asyncio.run(
        publish(
            open_source(HIGGS),
            bootstrap=broker.bootstrap,
            settings=settings,
            rate=None,
            speedup=None,
            on_progress=on_progress,
        )
    )

    assert dict(stats.published) == {"mention": 1, "reply": 2}
    assert dict(stats.skipped) == {
        "retweet: not a mention or reply": 2,
        "mention recorded again as a reply": 1,
    }
    assert progress[-1] == 3
    mentions = asyncio.run(_read_all(broker.bootstrap, settings.topic("mentions"), 1))
    replies = asyncio.run(_read_all(broker.bootstrap, settings.topic("replies"), 2))
    expected = {r.event_id.encode(): r.payload for r in records}
    assert sorted(mentions + replies) == sorted(expected.items())
    assert {key for key, _ in mentions} == {b"higgs:4"}  # higgs:1 is the twin of higgs:2
    # the input topics are created as the catalog says, not left to auto-creation
    partitions = asyncio.run(topic_partitions(broker.bootstrap, settings.topic("mentions")))
    assert len(partitions) == settings.partitions


def test_a_fixed_rate_paces_the_sends(broker: BrokerProcess, isolated_settings: Settings) -> None:
    stats = asyncio.run(
        publish(
            open_source(HIGGS),
            bootstrap=broker.bootstrap,
            settings=isolated_settings,
            rate=20.0,
            speedup=None,
            on_progress=None,
        )
    )

    assert stats.total_published == 3
    assert stats.elapsed >= 2 / 20  # the 3rd event leaves 100 ms after the first


def test_rate_and_speedup_together_are_refused(isolated_settings: Settings) -> None:
    with pytest.raises(ValueError, match="not both"):
        asyncio.run(
            publish(
                [],
                bootstrap="127.0.0.1:1",
                settings=isolated_settings,
                rate=1.0,
                speedup=1.0,
                on_progress=None,
            )
        )


def test_the_cli_publishes_and_summarises(
    broker: BrokerProcess,
    isolated_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CLOSEKNIT_TOPIC_PREFIX", isolated_settings.topic_prefix)
    monkeypatch.delenv("CLOSEKNIT_BROKER", raising=False)

    code = main(["replay", "--broker", broker.url, str(HIGGS)])

    out, err = capsys.readouterr()
    assert code == 0, err
    assert "published: mentions" in out
    replies = asyncio.run(_read_all(broker.bootstrap, isolated_settings.topic("replies"), 2))
    assert {key for key, _ in replies} == {b"higgs:2", b"higgs:7"}
