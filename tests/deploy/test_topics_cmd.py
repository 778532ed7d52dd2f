"""`closeknit topics`: the compose file's one-shot job creates exactly the catalog's topics.

The command is run in-process through its own parser (as `closeknit topics ...` runs it);
creation is checked against the session's embedded broker.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid

import pytest
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from service.broker.admin import admin_client
from service.broker.child import BrokerProcess
from service.broker.probe import find_free_port
from service.cli import topics_cmd
from service.config import load_settings
from service.shell.topics import CATALOG, CATALOG_NAMES


def closeknit_topics(*argv: str) -> int:
    root = argparse.ArgumentParser(prog="closeknit")
    topics_cmd.register(root.add_subparsers())
    args = root.parse_args(["topics", *argv])
    return int(args.func(args))


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in [n for n in os.environ if n.startswith("CLOSEKNIT_")]:
        monkeypatch.delenv(name)


def test_list_prints_every_catalog_topic_with_prefix_partitions_and_cleanup(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CLOSEKNIT_TOPIC_PREFIX", "acme.")
    monkeypatch.setenv("CLOSEKNIT_PARTITIONS", "6")

    assert closeknit_topics("list", "--json") == 0

    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["topic"] for row in rows] == [f"acme.{name}" for name in CATALOG_NAMES]
    for row, info in zip(rows, CATALOG, strict=True):
        assert row["partitions"] == (info.partitions or 6)
        assert row["cleanup"] == ("compact" if info.compacted else "delete")
        assert (row["key"], row["value"]) == (info.key, info.value)


def test_list_as_a_table_names_every_topic(capsys: pytest.CaptureFixture[str]) -> None:
    assert closeknit_topics("list") == 0

    out = capsys.readouterr().out
    for name in CATALOG_NAMES:
        assert f"closeknit.{name}" in out


def test_topics_without_an_action_prints_help_and_exits_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert closeknit_topics() == 2

    assert "usage: closeknit topics" in capsys.readouterr().out


def test_create_against_a_closed_port_exits_2_and_says_what_to_do(
    capsys: pytest.CaptureFixture[str],
) -> None:
    port = find_free_port()

    code = closeknit_topics("create", "--broker", f"kafka://127.0.0.1:{port}", "--timeout", "1")

    captured = capsys.readouterr()
    assert code == 2
    assert f"no Kafka broker answers at 127.0.0.1:{port}" in captured.err
    assert "CLOSEKNIT_BROKER" in captured.err
    assert "Traceback" not in captured.err


def test_create_refuses_a_replication_factor_below_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert closeknit_topics("create", "--replication-factor", "0") == 2
    assert "--replication-factor" in capsys.readouterr().err


async def describe(bootstrap: str, prefix: str) -> dict[str, tuple[int, str | None]]:
    """{topic: (partitions, cleanup.policy as the broker reports it)} for topics with `prefix`.

    Only listed topics are described: naming a missing one would make Tansu auto-create it.
    """
    out: dict[str, tuple[int, str | None]] = {}
    async with admin_client(bootstrap) as admin:
        present = [name for name in await admin.list_topics() if name.startswith(prefix)]
        for description in await admin.describe_topics(present):
            resource = ConfigResource(ConfigResourceType.TOPIC, description["topic"])
            (response,) = await admin.describe_configs([resource])
            entries = {e[0]: e[1] for r in response.resources for e in r[4]}
            out[description["topic"]] = (
                len(description["partitions"]),
                entries.get("cleanup.policy"),
            )
    return out


@pytest.mark.integration
def test_create_makes_exactly_the_catalog_topics_and_is_idempotent(
    broker: BrokerProcess,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    prefix = f"topics-{uuid.uuid4().hex[:8]}."
    monkeypatch.setenv("CLOSEKNIT_BROKER", broker.url)
    monkeypatch.setenv("CLOSEKNIT_TOPIC_PREFIX", prefix)
    monkeypatch.setenv("CLOSEKNIT_PARTITIONS", "3")
    names = [f"{prefix}{name}" for name in CATALOG_NAMES]

    assert closeknit_topics("create") == 0

    first = capsys.readouterr().out
    assert f"{len(CATALOG)} created, 0 already there" in first
    topics = asyncio.run(describe(broker.bootstrap, prefix))
    assert sorted(topics) == sorted(names)
    for info in CATALOG:
        partitions, cleanup = topics[f"{prefix}{info.short_name}"]
        assert partitions == (info.partitions or 3)
        if info.compacted:
            # Tansu accepts and reports the policy, though it never compacts (GUIDE.md).
            assert cleanup == "compact", info.short_name
        else:
            assert cleanup in (None, "delete"), info.short_name

    assert closeknit_topics("create") == 0

    again = capsys.readouterr().out
    assert f"0 created, {len(CATALOG)} already there" in again
    assert all(f"exists   {name}" in again for name in names)


def test_the_settings_the_job_uses_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLOSEKNIT_BROKER", "kafka:9092")

    assert load_settings().broker_url() == "kafka://kafka:9092"
