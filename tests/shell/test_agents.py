"""The real Faust agents, driven with `agent.test_context()` and no broker.

`build_app` wires the app exactly as a worker does. The one stand-in is `app.producer`: a
recorder in place of the Kafka producer, so every record the agents send (`Pipeline.send`
hands raw bytes to the producer) lands in `producer.records`, and `producer.sent` reads
them item by item, envelopes unpacked (each checked against its schema and for keys
that all belong to its partition). Every table write (Faust buffers changelog records with
`send_soon`; `WriteBehind` sends them itself) lands in `producer.changelog`. Nothing else is
faked: the agents' own code, tables, codecs and metrics run as in production.

Pacing: `test_context().put()` returns once the agent has *taken* a record, not once it has
finished with it (the agents yield nothing). So a test waits for the sends it expects, and
to show that a record produced nothing it puts a second record after it: once the second
has been taken, the first is done.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust
import orjson
import pytest
from faust.types.tuples import TP, RecordMetadata

from service.broker.probe import find_free_port
from service.core import ties
from service.core.envelope import partition_for, unpack
from service.core.influence import PersonState
from service.core.interaction import Interaction
from service.core.routing import dyad_key
from service.core.schemas import compiled
from service.core.validation import OptOut
from service.shell.app import build_app
from service.shell.pipeline import Pipeline

NOW = time.time()
T0 = NOW - 3600.0
PREFIX = "t."
PARTITIONS = 4
INTERNAL = {"interactions", "person-ties"}


@dataclass(frozen=True)
class Sent:
    topic: str  # short name, prefix removed
    key: bytes | None
    value: bytes | None
    partition: int | None = None

    def json(self) -> Any:
        assert self.value is not None, f"a tombstone on {self.topic}"
        return orjson.loads(self.value)


class RecordingProducer:
    """Takes the place of `app.producer`: records instead of talking to Kafka."""

    def __init__(self) -> None:
        self.records: list[Sent] = []
        self.changelog: list[Sent] = []

    @property
    def sent(self) -> list[Sent]:
        """What was sent, item by item: envelopes on internal topics unpacked."""
        out = []
        for record in self.records:
            data = orjson.loads(record.value) if record.value else None
            if record.topic not in INTERNAL or not isinstance(data, dict) or "items" not in data:
                out.append(record)
                continue
            compiled("envelope.v1")(data)
            assert record.key is not None
            home = partition_for(record.key, PARTITIONS)
            for item in unpack(record.key, record.value or b""):
                assert partition_for(item.key, PARTITIONS) == home, "an item off its partition"
                out.append(Sent(record.topic, item.key, orjson.dumps(item.value), None))
        return out

    async def maybe_start(self) -> None:
        return None

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None,
        timestamp: float | None,
        headers: Any,
        *,
        transactional_id: str | None = None,
    ) -> asyncio.Future[RecordMetadata]:
        sent = Sent(short(topic), key, value, partition)
        # Rows written through WriteBehind go to their changelog by plain sends.
        (self.changelog if topic.endswith("-changelog") else self.records).append(sent)
        done: asyncio.Future[RecordMetadata] = asyncio.get_running_loop().create_future()
        tp = TP(topic, partition or 0)
        done.set_result(RecordMetadata(topic, tp.partition, tp, len(self.records), 0.0, 0))
        return done

    def send_soon(self, fut: Any) -> None:
        message = fut.message
        name = message.channel.get_topic_name()
        self.changelog.append(Sent(name, message.key, message.value, message.partition))

    def key_partition(self, topic: str, key: bytes) -> TP:
        return TP(topic, 0)

    def on(self, topic: str) -> list[Sent]:
        return [s for s in self.sent if s.topic == topic]


def short(topic: str) -> str:
    return topic.removeprefix(PREFIX)


@dataclass
class Harness:
    app: faust.App
    pipeline: Pipeline
    producer: RecordingProducer

    def agent(self, name: str) -> Any:
        return self.app.agents[f"closeknit.{name}"].test_context()


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    from service.config import load_settings

    settings = load_settings(
        {},
        embedded_port=find_free_port(),  # never contacted
        topic_prefix=PREFIX,
        data_dir=tmp_path / "data",
        partitions=PARTITIONS,
    )
    app = build_app(settings)
    producer = RecordingProducer()
    app.producer = producer
    pipeline: Pipeline = app.pipeline  # type: ignore[attr-defined]
    # On a worker a background task sets this once the opt-out registry is read.
    pipeline.optouts_loaded.set()
    return Harness(app, pipeline, producer)


def run(test: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(test(), timeout=30))


async def until(check: Callable[[], bool], what: str, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


def at(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def mention(event_id: str, author: str, targets: list[str], t: float = T0) -> bytes:
    return orjson.dumps(
        {
            "type": "mention",
            "schema_version": 1,
            "event_id": event_id,
            "event_time": at(t),
            "author_id": author,
            "target_ids": targets,
            "text": "great run today",
            "brands": ["Acme"],
        }
    )


def interaction(event_id: str, actor: str, target: str, t: float = T0) -> bytes:
    return Interaction(
        event_id, "mention", actor, (target,), t, "hi", 0.5, topics=("run",)
    ).to_json()


def opted_out(person: str, t: float = T0 - 60) -> OptOut:
    return OptOut(event_id=f"opt-{person}", person_id=person, opted_out=True, event_time=t)


# --- ingest ------------------------------------------------------------------------------


def test_ingest_sends_one_interaction_per_target_keyed_by_dyad(harness: Harness) -> None:
    producer = harness.producer

    async def test() -> None:
        async with harness.agent("ingest") as agent:
            await agent.put(mention("e1", "carol", ["bob", "alice", "bob", "carol"]), b"e1")
            await until(lambda: len(producer.sent) >= 2, "two interactions")
            await agent.put(mention("e2", "dave", ["erin"]), b"e2")  # e1 is done now
            await until(lambda: len(producer.sent) >= 3, "e2's interaction")

    run(test)

    first = producer.sent[:2]
    assert [s.topic for s in producer.sent] == ["interactions"] * 3
    assert [s.key for s in first] == [b"bob\tcarol", b"alice\tcarol"]
    records = [s.json() for s in first]
    for record in records:
        compiled("interaction.v1")(record)
    assert [r["targets"] for r in records] == [["bob"], ["alice"]]
    assert {(r["event_id"], r["actor"], r["brands"][0]) for r in records} == {
        ("e1", "carol", "acme")
    }
    assert harness.pipeline.metrics.totals("closeknit_interactions_out") == {"": 3.0}


def test_ingest_dead_letters_a_bad_record_with_its_source_position(harness: Harness) -> None:
    producer = harness.producer
    raw = b'{"type": "mention", "event_id": '

    async def test() -> Any:
        async with harness.agent("ingest") as agent:
            await agent.put(mention("e1", "alice", ["bob"]), b"e1", partition=2)
            event = await agent.put(raw, b"bad-1", partition=3)
            await until(lambda: len(producer.sent) >= 2, "the dead letter")
            return event.message

    message = run(test)

    (letter_sent,) = producer.on("dead-letters")
    assert letter_sent.key == b"bad-1"
    letter = letter_sent.json()
    compiled("dead_letter.v1")(letter)
    assert letter["reason_code"] == "invalid_json"
    assert base64.b64decode(letter["original_b64"]) == raw
    # The test wrapper numbers offsets itself and cannot name one topic of a two-topic
    # source ("<internal>"); the letter must carry whatever position the agent was given.
    assert letter["source"] == {
        "topic": message.topic,
        "partition": 3,
        "offset": message.offset,
    }
    assert message.offset == 1
    assert harness.pipeline.metrics.totals("closeknit_dead_letters") == {"invalid_json": 1.0}


def test_ingest_drops_events_of_an_opted_out_person(harness: Harness) -> None:
    producer = harness.producer
    harness.pipeline.optouts.record(opted_out("dave"))

    async def test() -> None:
        async with harness.agent("ingest") as agent:
            await agent.put(mention("e1", "dave", ["alice", "bob"]), b"e1")  # author opted out
            await agent.put(mention("e2", "alice", ["dave", "bob"]), b"e2")  # a target did
            await agent.put(mention("e3", "erin", ["frank"]), b"e3")  # e1 and e2 are done
            await until(lambda: len(producer.sent) >= 2, "e2's and e3's interactions")
            await asyncio.sleep(0.05)

    run(test)

    assert [(s.topic, s.key) for s in producer.sent] == [
        ("interactions", b"alice\tbob"),
        ("interactions", b"erin\tfrank"),
    ]
    assert b"dave" not in b"".join(s.value or b"" for s in producer.sent)
    assert harness.pipeline.metrics.totals("closeknit_opted_out_events_dropped") == {"": 3.0}


# --- dyads -------------------------------------------------------------------------------


def test_dyads_apply_once_and_resend_the_same_snapshot_on_a_duplicate(harness: Harness) -> None:
    producer = harness.producer
    key = b"alice\tbob"
    record = interaction("e1", "bob", "alice")

    async def test() -> None:
        async with harness.agent("dyads") as agent:
            await agent.put(record, key, partition=1)
            await until(lambda: len(producer.sent) >= 4, "the snapshot sends and the post")
            await agent.put(record, key, partition=1)  # redelivered
            await until(lambda: len(producer.sent) >= 7, "the snapshot re-sent")

    run(test)

    first, post, again = producer.sent[:3], producer.sent[3], producer.sent[4:]
    assert [(s.topic, s.key) for s in first] == [
        ("dyad-updates", key),
        ("person-ties", b"alice"),
        ("person-ties", b"bob"),
    ]
    assert (post.topic, post.key) == ("person-ties", b"bob"), "the author's post, once"
    assert post.json()["op"] == "post" and post.json()["role"] == "own"
    assert again == first, "a duplicate re-sends the very same snapshot, and no post"
    snapshot = first[0].json()
    compiled("dyad_update.v1")(snapshot)
    assert (snapshot["a"], snapshot["b"], snapshot["seq"]) == ("alice", "bob", 1)
    assert (snapshot["mentions_ba"], snapshot["mentions_ab"]) == (1, 0)
    # Exactly one table write, in the partition the record came from.
    (write,) = producer.changelog
    assert (write.topic, write.key, write.partition) == ("closeknit-dyads-changelog", key, 1)
    state = harness.pipeline.dyads[key]
    assert (state.seq, state.mentions_ba) == (1, 1)
    assert harness.pipeline.metrics.totals("closeknit_dyad_events") == {
        "applied": 1.0,
        "duplicate": 1.0,
    }


def test_dyads_dead_letter_an_event_older_than_the_dedup_horizon(harness: Harness) -> None:
    producer = harness.producer
    key = b"alice\tbob"
    late = interaction("e0", "alice", "bob", T0 - 8 * 86400)

    async def test() -> None:
        async with harness.agent("dyads") as agent:
            await agent.put(interaction("e1", "alice", "bob"), key)
            await agent.put(late, key, partition=0)
            await until(lambda: bool(producer.on("dead-letters")), "the dead letter")

    run(test)

    (sent,) = producer.on("dead-letters")
    assert sent.key == key
    letter = sent.json()
    compiled("dead_letter.v1")(letter)
    assert letter["reason_code"] == "too_late"
    assert letter["source"] == {"topic": "t.interactions", "partition": 0, "offset": 1}
    assert base64.b64decode(letter["original_b64"]) == late
    assert len(producer.changelog) == 1, "the late event changed nothing"


def test_dyads_erase_deletes_the_row_tombstones_it_and_tells_the_partner(
    harness: Harness,
) -> None:
    producer = harness.producer
    key = b"alice\tbob"

    async def test() -> None:
        async with harness.agent("dyads") as agent:
            await agent.put(interaction("e1", "alice", "bob"), key)
            await until(lambda: len(producer.sent) >= 4, "the snapshot and the post")
            await agent.put(orjson.dumps({"op": "erase", "person": "alice"}), key)
            await until(lambda: len(producer.sent) >= 6, "the tombstone and the drop")

    run(test)

    tombstone, drop = producer.sent[4:]
    assert (tombstone.topic, tombstone.key, tombstone.value) == ("dyad-updates", key, None)
    assert (drop.topic, drop.key) == ("person-ties", b"bob")
    assert drop.json() == {"op": "drop", "partner": "alice"}
    compiled("dyad_update.v1")(drop.json())
    assert key not in harness.pipeline.dyads
    assert [(c.key, c.value) for c in producer.changelog][-1] == (key, None)


# --- people ------------------------------------------------------------------------------


def snapshots(a: str, b: str, events: int) -> list[dict[str, Any]]:
    """Snapshots seq 1..events of one dyad, as the dyad stage sends them."""
    state = None
    out = []
    for n in range(events):
        actor, target = (a, b) if n % 2 == 0 else (b, a)
        state = ties.apply(state, actor, target, "reply", T0 + n, 0.2, ("run",), f"e{n}").state
        out.append(ties.snapshot(state, ties.dyad_key(a, b), state.ref))
    return out


def held(producer: RecordingProducer, person: bytes) -> PersonState | None:
    """The person's row as the newest changelog write for it says."""
    writes = [c for c in producer.changelog if c.key == person]
    if not writes or writes[-1].value is None:
        return None
    return PersonState.from_dict(orjson.loads(writes[-1].value))


def ties_of(state: PersonState | None) -> list[str]:
    return sorted(state.ties) if state is not None else []


def test_people_ignore_a_stale_snapshot(harness: Harness) -> None:
    producer = harness.producer
    seq1, seq2 = snapshots("alice", "bob", 2)
    (carol,) = snapshots("alice", "carol", 1)

    async def test() -> None:
        async with harness.agent("people") as agent:
            await agent.put(orjson.dumps(seq2), b"alice")
            await until(lambda: len(producer.changelog) >= 1, "the row")
            await agent.put(orjson.dumps(seq1), b"alice")  # older: must change nothing
            await agent.put(orjson.dumps(carol), b"alice")  # seq1 is done once this is taken
            await until(lambda: len(producer.changelog) >= 2, "carol's tie")

    run(test)

    assert len(producer.changelog) == 2, "the stale snapshot wrote nothing"
    row = harness.pipeline.people[b"alice"]
    assert sorted(row.ties) == ["bob", "carol"]
    assert row.ties["bob"].seq == 2
    assert row.ties["bob"].w_in == seq2["weight_ba"]
    assert held(producer, b"alice") == row
    assert producer.sent == []


def test_people_erase_a_person_and_ask_the_dyad_stage_to_erase_their_dyads(
    harness: Harness,
) -> None:
    producer = harness.producer
    (bob,) = snapshots("alice", "bob", 1)
    (carol,) = snapshots("alice", "carol", 1)

    async def test() -> None:
        async with harness.agent("people") as agent:
            await agent.put(orjson.dumps(bob), b"alice")
            await agent.put(orjson.dumps(carol), b"alice")
            # One batch or two: one changelog write per batch for the row.
            await until(lambda: len(ties_of(held(producer, b"alice"))) == 2, "both ties")
            await agent.put(orjson.dumps({"op": "erase"}), b"alice")
            await until(lambda: len(producer.sent) >= 2, "the erase commands")

    run(test)

    assert [(s.topic, s.key) for s in producer.sent] == [
        ("interactions", dyad_key("alice", "bob").encode()),
        ("interactions", dyad_key("alice", "carol").encode()),
    ]
    for sent in producer.sent:
        assert sent.json() == {"op": "erase", "person": "alice"}
        compiled("interaction.v1")(sent.json())
    assert b"alice" not in harness.pipeline.people
    assert held(producer, b"alice") is None, "the changelog got a tombstone"
    assert harness.pipeline.metrics.totals("closeknit_erasures") == {"": 1.0}


def test_people_erase_again_a_snapshot_that_raced_an_erasure(harness: Harness) -> None:
    producer = harness.producer
    harness.pipeline.optouts.record(opted_out("carol"))
    (carol,) = snapshots("alice", "carol", 1)

    async def test() -> None:
        async with harness.agent("people") as agent:
            await agent.put(orjson.dumps(carol), b"alice")
            await until(lambda: len(producer.sent) >= 1, "the erase command")

    run(test)

    (sent,) = producer.sent
    assert (sent.topic, sent.key) == ("interactions", b"alice\tcarol")
    assert sent.json() == {"op": "erase", "person": "carol"}
    assert producer.changelog == []


# --- opt-outs ----------------------------------------------------------------------------


def test_opt_outs_record_the_choice_and_start_the_erasure(harness: Harness) -> None:
    producer = harness.producer
    choice = orjson.dumps(
        {
            "type": "opt_out",
            "schema_version": 1,
            "event_id": "o1",
            "event_time": at(T0),
            "person_id": "dave",
            "opted_out": True,
        }
    )

    async def test() -> None:
        async with harness.agent("opt-outs") as agent:
            await agent.put(b'{"type": "opt_out"}', b"erin")
            await agent.put(choice, b"dave")
            await until(lambda: len(producer.sent) >= 2, "dead letter and erase command")

    run(test)

    letter, erase = producer.sent
    assert (letter.topic, letter.key) == ("dead-letters", b"erin")
    compiled("dead_letter.v1")(letter.json())
    assert letter.json()["reason_code"] == "missing_field"
    assert (erase.topic, erase.key, erase.json()) == ("person-ties", b"dave", {"op": "erase"})
    assert harness.pipeline.optouts.is_opted_out("dave")
