"""The schemas are the real contract: every record a real worker writes validates against them.

One worker on the session broker gets good mentions and replies, bad input of several kinds,
a bad opt-out, an event too late for its dyad and one valid opt-out of a person with ties.
Then every topic the catalog says the worker writes is read back from the broker, and every
record is checked against the schema the catalog names for it, and its key against the
topic's key rule. Tombstones are allowed only on dyad-updates. So that the check is not
vacuous, the test also asserts that each kind of record (snapshot, erase and drop commands,
tombstone, dead letters of three stages) was actually on the wire.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from service.broker.child import BrokerProcess
from service.broker.probe import find_free_port
from service.broker.reader import Record, read_topic
from service.config import Settings
from service.core.envelope import partition_for, unpack
from service.core.routing import dyad_key, split_dyad_key
from service.core.schemas import JsonSchemaValueException, compiled
from service.shell.process import WorkerProcess
from service.shell.runtime import prepare_broker
from service.shell.topics import CATALOG
from tests.integration.harness import cli_env, settings_on

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
NOW = time.time()
T0 = NOW - 3600.0
DAY_S = 86400.0
SCHEMA_PATH = re.compile(r"schemas/([A-Za-z0-9_]+\.v[0-9]+)\.json")

# Topics the worker writes, with the schema the catalog names for each.
CATALOG_SCHEMAS = {
    info.short_name: SCHEMA_PATH.search(info.value).group(1)  # type: ignore[union-attr]
    for info in CATALOG
    if info.direction != "in" and SCHEMA_PATH.search(info.value)  # cluster-owner: no records
}
# The internal hops carry envelopes; the tests read their items, with the items' schema.
ITEM_SCHEMAS = {"interactions": "interaction.v1", "person-ties": "dyad_update.v1"}
WRITTEN = {**CATALOG_SCHEMAS, **ITEM_SCHEMAS}
TOMBSTONES_ALLOWED = {"dyad-updates"}  # the compacted snapshot topic


def at(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def mention(event_id: str, author: str, targets: list[str], t: float, **extra: Any) -> bytes:
    return orjson.dumps(
        {
            "type": "mention",
            "schema_version": 1,
            "event_id": event_id,
            "event_time": at(t),
            "author_id": author,
            "target_ids": targets,
            "text": "see you at the trail run",
            **extra,
        }
    )


def reply(event_id: str, author: str, to: str, t: float, **extra: Any) -> bytes:
    return orjson.dumps(
        {
            "type": "reply",
            "schema_version": 1,
            "event_id": event_id,
            "event_time": at(t),
            "author_id": author,
            "in_reply_to_author_id": to,
            "text": "thanks!",
            **extra,
        }
    )


def opt_out(event_id: str, person: str, t: float, opted_out: bool = True) -> bytes:
    return orjson.dumps(
        {
            "type": "opt_out",
            "schema_version": 1,
            "event_id": event_id,
            "event_time": at(t),
            "person_id": person,
            "opted_out": opted_out,
        }
    )


GOOD_INPUT: list[tuple[str, bytes, bytes]] = [
    ("mentions", b"m1", mention("m1", "alice", ["bob", "carol"], T0, sentiment=0.4,
                                brands=["Acme"], topics=["Running", "running"])),
    ("mentions", b"m2", mention("m2", "bob", ["alice"], T0 + 10)),
    ("replies", b"r1", reply("r1", "carol", "alice", T0 + 20, sentiment=-0.2)),
    ("mentions", b"m3", mention("m3", "dave", ["alice", "erin"], T0 + 30)),
    ("replies", b"r2", reply("r2", "alice", "dave", T0 + 40, products=["X2"])),
]  # fmt: skip
GOOD_TARGETS = 2 + 1 + 1 + 2 + 1
# Bad input: (topic, key, bytes, the reason code it must be dead-lettered with).
BAD_INPUT: list[tuple[str, bytes, bytes, str]] = [
    ("mentions", b"bad-json", b'{"type": "mention", "event_id": ', "invalid_json"),
    ("replies", b"bad-utf8", b"\xff\xfe not utf-8", "not_utf8"),
    ("mentions", b"bad-self", mention("bad-self", "alice", ["alice"], T0), "self_mention"),
    ("mentions", b"bad-future", mention("bad-future", "bob", ["carol"], NOW + 86400),
     "future_timestamp"),
    ("replies", b"bad-missing", orjson.dumps({"type": "reply", "schema_version": 1}),
     "missing_field"),
    ("opt-outs", b"carol", b'{"type": "opt_out", "person_id": "carol"}', "missing_field"),
]  # fmt: skip
# Ten days older than alice-bob's newest event: beyond the 7-day dedup horizon.
TOO_LATE_INPUT = ("mentions", b"late", mention("late", "alice", ["bob"], T0 - 10 * DAY_S))
OPTED_OUT = "dave"
DAVES_PARTNERS = {"alice", "erin"}


@dataclass
class Wire:
    settings: Settings
    # short topic name -> every record, in offset order; envelopes read as their items
    records: dict[str, list[Record]]
    envelopes: dict[str, list[Record]]  # the internal topics' records as they are


@pytest.fixture(scope="module")
def wire(broker: BrokerProcess, tmp_path_factory: pytest.TempPathFactory) -> Wire:
    data_dir = tmp_path_factory.mktemp("wire") / "data"
    settings = settings_on(
        broker,
        topic_prefix=f"wire-{os.getpid()}.",
        app_id=f"closeknit-wire-{os.getpid()}",
        web_port=find_free_port(),
        data_dir=data_dir,
        partitions=2,
    )
    with running_worker(settings) as worker:
        produce(settings, [*GOOD_INPUT, *((t, k, v) for t, k, v, _ in BAD_INPUT)])
        # dave's ties must reach the people table before he opts out, so that the erasure
        # runs the whole way: people -> interactions (erase) -> dyads -> tombstone + drop.
        assert wait_until(lambda: ties_held(worker, OPTED_OUT) == len(DAVES_PARTNERS), 60), (
            f"the people stage never held dave's ties; see {worker.log_path}"
        )
        assert wait_until(lambda: applied(worker) == GOOD_TARGETS, 30), worker.log_path
        produce(
            settings,
            [TOO_LATE_INPUT, ("opt-outs", OPTED_OUT.encode(), opt_out("o1", OPTED_OUT, NOW))],
        )

        def settled() -> bool:
            tombstones = [r for r in read_all(settings, "dyad-updates") if r.value is None]
            drops = [r for r in read_all(settings, "person-ties") if r.value and b"drop" in r.value]
            letters = read_all(settings, "dead-letters")
            return (
                len(tombstones) >= len(DAVES_PARTNERS)
                and len(drops) >= len(DAVES_PARTNERS)
                and len(letters) >= len(BAD_INPUT) + 1
            )

        assert wait_until(settled, 60), (
            f"the erasure or a dead letter is missing; see {worker.log_path}"
        )
        records = {short: read_all(settings, short) for short in WRITTEN}
        envelopes = {short: records[short] for short in ITEM_SCHEMAS}
        records.update({short: items_of(envelopes[short]) for short in ITEM_SCHEMAS})
        assert worker.process is not None and worker.process.poll() is None, "worker survived"
    return Wire(settings, records, envelopes)


def items_of(records: list[Record]) -> list[Record]:
    """Each item of each envelope as a record of its own, at the envelope's position."""
    out = []
    for record in records:
        for item in unpack(record.key, record.value or b""):
            out.append(dataclasses.replace(record, key=item.key, value=orjson.dumps(item.value)))
    return out


def test_the_catalog_names_a_schema_for_every_topic_the_worker_writes() -> None:
    assert set(WRITTEN) >= {"interactions", "dyad-updates", "person-ties", "dead-letters"}
    assert CATALOG_SCHEMAS["interactions"] == CATALOG_SCHEMAS["person-ties"] == "envelope.v1"
    by_name = {info.short_name: info.value for info in CATALOG}
    for short, item_schema in ITEM_SCHEMAS.items():
        assert f"schemas/{item_schema}.json" in by_name[short], f"{short} names its items"
    assert WRITTEN["dyad-updates"] == "dyad_update.v1"


def test_every_envelope_holds_only_items_of_its_own_partition(wire: Wire) -> None:
    partitions = wire.settings.partitions
    enveloped = 0
    for short, records in wire.envelopes.items():
        for record in records:
            data = orjson.loads(record.value or b"")
            if "items" not in data:  # a single control record
                continue
            compiled("envelope.v1")(data)
            enveloped += 1
            assert record.key is not None
            assert record.key.decode() == data["items"][0]["k"], f"{short}: keyed by item 1"
            for item in data["items"]:
                assert partition_for(item["k"].encode(), partitions) == record.partition, short
    assert enveloped > 0


def test_every_record_on_every_written_topic_validates_against_its_schema(wire: Wire) -> None:
    problems = []
    checked = 0
    for short, schema in WRITTEN.items():
        validate = compiled(schema)
        for record in wire.records[short]:
            where = f"{short}[{record.partition}]@{record.offset}"
            if record.value is None:
                if short not in TOMBSTONES_ALLOWED:
                    problems.append(f"{where}: a tombstone, allowed only on {TOMBSTONES_ALLOWED}")
                continue
            try:
                validate(orjson.loads(record.value))
            except (orjson.JSONDecodeError, JsonSchemaValueException) as exc:
                problems.append(f"{where}: {exc} in {record.value[:300]!r}")
            checked += 1
    assert not problems, "\n".join(problems)
    assert checked > 0


def test_keys_follow_the_topic_table(wire: Wire) -> None:
    for record in wire.records["interactions"]:
        data = orjson.loads(record.value or b"")
        assert record.key is not None
        if "op" in data:
            assert data["person"] in split_dyad_key(record.key.decode())
        else:
            assert record.key.decode() == dyad_key(data["actor"], data["targets"][0])
    for record in wire.records["dyad-updates"]:
        assert record.key is not None and "\t" in record.key.decode()
        if record.value is not None:
            data = orjson.loads(record.value)
            assert "op" not in data, "control records never go to dyad-updates"
            assert record.key.decode() == f"{data['a']}\t{data['b']}"
            assert data["a"] < data["b"]
    for record in wire.records["person-ties"]:
        data = orjson.loads(record.value or b"")
        assert record.key is not None
        if "op" not in data:
            assert record.key.decode() in (data["a"], data["b"])
    original_keys = {key for _, key, _, _ in BAD_INPUT}
    for record in wire.records["dead-letters"]:
        letter = orjson.loads(record.value or b"")
        if letter["reason_code"] == "too_late":
            # The dyad stage parks the internal record, under its dyad key.
            assert record.key == dyad_key("alice", "bob").encode()
            assert letter["source"]["topic"] == wire.settings.topic("interactions")
        else:
            assert record.key in original_keys


def test_every_kind_of_record_was_on_the_wire(wire: Wire) -> None:
    """Guards the two tests above against passing on an empty or partial run."""
    interactions = [orjson.loads(r.value or b"") for r in wire.records["interactions"]]
    assert sum(1 for i in interactions if "op" not in i) == GOOD_TARGETS + 1  # + the late one
    erases = {(i["person"]) for i in interactions if i.get("op") == "erase"}
    assert erases == {OPTED_OUT}

    updates = wire.records["dyad-updates"]
    tombstoned = {r.key.decode() for r in updates if r.value is None and r.key is not None}
    assert tombstoned == {dyad_key(OPTED_OUT, p) for p in DAVES_PARTNERS}

    person_ties = [(r.key, orjson.loads(r.value or b"")) for r in wire.records["person-ties"]]
    # One snapshot per changed dyad per envelope, to each endpoint: every applied dyad's.
    pairs = zip(wire.records["interactions"], interactions, strict=True)
    applied = {r.key.decode() for r, i in pairs if "op" not in i and r.key is not None}
    snapshots = {(k.decode(), f"{v['a']}\t{v['b']}") for k, v in person_ties
                 if "op" not in v and k is not None}  # fmt: skip
    assert {dyad for _, dyad in snapshots} == applied
    for _, dyad in snapshots:
        a, b = split_dyad_key(dyad)
        assert {(a, dyad), (b, dyad)} <= snapshots, f"both endpoints of {dyad!r}"
    assert (OPTED_OUT.encode(), {"op": "erase"}) in person_ties
    drops = {(k, v["partner"]) for k, v in person_ties if v.get("op") == "drop"}
    assert drops == {(p.encode(), OPTED_OUT) for p in DAVES_PARTNERS}

    letters = [orjson.loads(r.value or b"") for r in wire.records["dead-letters"]]
    got = sorted(letter["reason_code"] for letter in letters)
    assert got == sorted([code for *_, code in BAD_INPUT] + ["too_late"])


def test_tail_prints_the_dead_letters_as_json(wire: Wire) -> None:
    """`closeknit tail dead-letters --no-follow --json` against the broker the worker used."""
    settings = wire.settings
    result = run_cli(settings, "tail", "dead-letters", "--no-follow", "--json", "--from-beginning")

    assert result.returncode == 0, result.stderr
    printed = [orjson.loads(line) for line in result.stdout.splitlines() if line.strip()]
    on_topic = [orjson.loads(r.value or b"") for r in wire.records["dead-letters"]]
    assert sorted(printed, key=repr) == sorted(on_topic, key=repr)
    assert {letter["reason_code"] for letter in printed} >= {"invalid_json", "too_late"}


def test_tail_no_follow_alone_prints_what_the_topic_holds(wire: Wire) -> None:
    result = run_cli(wire.settings, "tail", "dead-letters", "--no-follow", "--json")

    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == len(wire.records["dead-letters"])


# --- helpers -------------------------------------------------------------------------------


@contextmanager
def running_worker(settings: Settings) -> Iterator[WorkerProcess]:
    with prepare_broker(settings, start_embedded=False) as ready:
        worker = WorkerProcess(ready, Path(ready.data_dir) / "worker.log")
        worker.start()
        try:
            worker.wait_ready(timeout_s=90)
            yield worker
        finally:
            worker.stop()


def produce(settings: Settings, records: list[tuple[str, bytes | None, bytes]]) -> None:
    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers(), linger_ms=5)
        await producer.start()
        try:
            for topic, key, value in records:
                await producer.send(settings.topic(topic), value, key=key)
            await producer.flush()
        finally:
            await producer.stop()

    asyncio.run(send())


def read_all(settings: Settings, short: str) -> list[Record]:
    async def read() -> list[Record]:
        topic = settings.topic(short)
        return [r async for r in read_topic(settings.bootstrap_servers(), topic, follow=False)]

    records = asyncio.run(read())
    return sorted(records, key=lambda r: (r.partition, r.offset))


def wait_until(check: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if check():
                return True
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.3)
    return False


def applied(worker: WorkerProcess) -> int:
    return int(worker.get_json("/api/stats")["dyad_events"].get("applied", 0))


def ties_held(worker: WorkerProcess, person: str) -> int:
    return int(worker.get_json(f"/api/people/{person}")["ties"])


def run_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = cli_env(settings)
    return subprocess.run(
        [sys.executable, "-m", "service", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
