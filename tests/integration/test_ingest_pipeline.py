"""1,000 events, 10% corrupted ten ways, through a real worker on the real broker.

Every bad record must land in the dead-letter topic with its reason; every good one must be
re-keyed by dyad and reach the dyad stage exactly once; the worker must still be up.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

import orjson
import pytest

from service.config import Settings
from service.shell.process import WorkerProcess
from tests.integration.harness import produce, read_all, read_items, running_worker, wait_until

pytestmark = pytest.mark.integration

NOW = time.time()


def good_event(n: int) -> dict[str, object]:
    t = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW - 3600 + n))
    if n % 3 == 0:
        return {
            "type": "reply",
            "schema_version": 1,
            "event_id": f"good-{n}",
            "event_time": t,
            "author_id": f"p{n % 50}",
            "in_reply_to_author_id": f"p{(n + 1) % 50}",
            "text": "thanks, that helped",
            "brands": ["Acme"],
        }
    return {
        "type": "mention",
        "schema_version": 1,
        "event_id": f"good-{n}",
        "event_time": t,
        "author_id": f"p{n % 50}",
        "target_ids": [f"p{(n + 7) % 50}", f"p{(n + 9) % 50}"],
        "text": "loving the new trail shoes",
        "topics": ["running"],
    }


def corrupted(n: int, way: int) -> tuple[bytes, str]:
    """The n-th bad record, broken in one of ten ways, with the reason code it must get."""
    base = good_event(n)
    base["event_id"] = f"bad-{n}"
    if way == 0:
        return b'{"type": "mention", "event_id": "bad-' + str(n).encode(), "invalid_json"
    if way == 1:
        return b"\xff\xfe\x00 not utf-8", "not_utf8"
    if way == 2:
        return orjson.dumps({**base, "text": 12345}), "wrong_type"
    if way == 3:
        return orjson.dumps({k: v for k, v in base.items() if k != "author_id"}), "missing_field"
    if way == 4:
        return orjson.dumps({**base, "type": "like"}), "unknown_event_type"
    if way == 5:
        return orjson.dumps({**base, "event_time": "2026-13-45T99:00:00Z"}), "bad_timestamp"
    if way == 6:
        return orjson.dumps({**base, "event_time": "2999-01-01T00:00:00Z"}), "future_timestamp"
    if way == 7:
        return orjson.dumps({**base, "text": "x" * 20_000}), "oversize_text"
    if way == 8:
        mention = {**base, "type": "mention", "target_ids": []}
        mention.pop("in_reply_to_author_id", None)
        return orjson.dumps(mention), "empty_targets"
    mention = {**base, "type": "mention", "target_ids": [base["author_id"]]}
    mention.pop("in_reply_to_author_id", None)
    return orjson.dumps(mention), "self_mention"


def own_topic(payload: bytes, n: int) -> str:
    """The topic of the record's own type, so that it is refused for its planted fault and
    not as wrong_topic; records without a known type alternate between the two."""
    if b'"type":"reply"' in payload:
        return "replies"
    if b'"type":"mention"' in payload:
        return "mentions"
    return "mentions" if n % 20 else "replies"


@pytest.fixture
def worker(isolated_settings: Settings) -> Iterator[WorkerProcess]:
    with running_worker(isolated_settings) as process:
        yield process


def collect(settings: Settings, short_name: str, expected: int, timeout_s: float) -> list:
    """The topic's records (an internal topic's items) once there are `expected` of them."""
    topic = settings.topic(short_name)
    read = read_items if short_name == "interactions" else read_all
    wait_until(lambda: len(read(settings, topic)) >= expected, timeout_s)
    return read(settings, topic)


def test_bad_input_is_dead_lettered_and_good_input_is_processed(
    worker: WorkerProcess, isolated_settings: Settings
) -> None:
    settings = isolated_settings
    records: list[tuple[str, bytes | None, bytes]] = []
    expected_reason: dict[str, str] = {}
    expected_targets = 0
    for n in range(1000):
        if n % 10 == 9:
            payload, reason = corrupted(n, (n // 10) % 10)
            key = f"bad-{n}".encode()
            expected_reason[key.decode()] = reason
            records.append((own_topic(payload, n), key, payload))
        else:
            event = good_event(n)
            expected_targets += 2 if event["type"] == "mention" else 1
            topic = "replies" if event["type"] == "reply" else "mentions"
            records.append((topic, str(event["event_id"]).encode(), orjson.dumps(event)))
    # At-least-once producers redeliver: 25 good events arrive a second time.
    redelivered = [r for r in records if r[1] and r[1].startswith(b"good-")][:25]
    redelivered_targets = sum(2 if b'"mention"' in r[2] else 1 for r in redelivered)
    produce(settings, records + redelivered)

    letters = collect(settings, "dead-letters", 100, timeout_s=60)
    assert len(letters) == 100
    got_reason = {}
    for record in letters:
        letter = orjson.loads(record.value)
        got_reason[record.key.decode()] = letter["reason_code"]
        assert letter["reason"], "every dead letter says why"
        assert letter["source"]["topic"] in {settings.topic("mentions"), settings.topic("replies")}
    assert got_reason == expected_reason
    assert Counter(got_reason.values()) == Counter(
        {code: 10 for code in set(expected_reason.values())}
    )

    interactions = collect(
        settings, "interactions", expected_targets + redelivered_targets, timeout_s=60
    )
    assert len(interactions) == expected_targets + redelivered_targets
    ids = {orjson.loads(r.value)["event_id"] for r in interactions}
    assert ids == {f"good-{n}" for n in range(1000) if n % 10 != 9}

    stats = wait_for_dyad_stage(worker, expected_targets + redelivered_targets)
    assert stats["dyad_events"].get("applied") == expected_targets
    assert stats["dyad_events"].get("duplicate") == redelivered_targets
    assert sum(stats["dead_letters"].values()) == 100
    assert worker.process is not None and worker.process.poll() is None, "the worker survived"
    assert worker.get_json("/health")["status"] == "ok"


def wait_for_dyad_stage(worker: WorkerProcess, expected: int, timeout_s: float = 60) -> dict:
    wait_until(lambda: sum(worker.get_json("/api/stats")["dyad_events"].values()) >= expected,
               timeout_s)  # fmt: skip
    return worker.get_json("/api/stats")
