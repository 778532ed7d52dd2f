"""The records of the standing fuzz test: hostile ones with the reason each must get, good
events, and redeliveries of good events. Seeded, so a failure can be replayed exactly.

Every hostile record is a valid event broken in one known way (or one of the issue's own
cases), so its expected reason code is known by construction, not asked of the validator.
Person ids all start with `fzid` and every text holds `fuzztext`: the test looks for both in
the worker's log.
"""

from __future__ import annotations

import random
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

ID_MARK = "fzid"
TEXT_MARK = "fuzztext"
MAX_MESSAGE_BYTES = 65536  # the worker's default CLOSEKNIT_MAX_MESSAGE_BYTES
TOPIC_OF = {"mention": "mentions", "reply": "replies"}
OTHER_TOPIC = {"mentions": "replies", "replies": "mentions"}


@dataclass(frozen=True)
class Bad:
    """A record that must be dead-lettered exactly once with `reason` (and `field`, if set)."""

    id: str  # the key up to its first "|": a cut key still starts with it
    topic: str
    key: bytes
    value: bytes | None
    reason: str
    field: str | None = None


@dataclass(frozen=True)
class Good:
    """A valid event: `actor` -> each of `targets` once (ids as ingest stores them, NFC)."""

    topic: str
    key: bytes
    value: bytes
    kind: str
    actor: str
    targets: tuple[str, ...]


@dataclass
class Plan:
    bad: list[Bad] = field(default_factory=list)
    good: list[Good] = field(default_factory=list)
    redelivered: list[Good] = field(default_factory=list)
    stream: list[Bad | Good] = field(default_factory=list)  # in the order to produce


def rfc3339(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


class Generator:
    """Seeded events around `now`, with a pool of people (some non-ASCII, some spelled NFD)."""

    def __init__(self, rng: random.Random, now: float, people: int = 300) -> None:
        self.rng = rng
        self.now = now
        self.ascii_people = [f"{ID_MARK}{n:04d}" for n in range(people)]
        accented = [f"{ID_MARK}-jos\u00e9-{n}" for n in range(12)] + [
            f"{ID_MARK}-zo\u00eb-{n}" for n in range(12)
        ]
        self.people = self.ascii_people + accented
        self.serial = 0

    def event(self, kind: str | None = None, *, ascii_only: bool = False) -> dict[str, Any]:
        """A valid mention or reply; ascii_only keeps every byte ASCII (for byte-level cuts)."""
        self.serial += 1
        rng = self.rng
        pool = self.ascii_people if ascii_only else self.people
        kind = kind or rng.choice(["mention", "mention", "reply"])
        author, *others = rng.sample(pool, 4)
        event: dict[str, Any] = {
            "type": kind,
            "schema_version": 1,
            "event_id": f"fz-{self.serial}",
            "event_time": rfc3339(self.now - 3 * 3600 + rng.uniform(0, 3 * 3600 - 60)),
            "author_id": author,
            "text": f"{TEXT_MARK} {self.serial} " + rng.choice(TEXTS),
        }
        if kind == "mention":
            event["target_ids"] = others[: rng.randint(1, 3)]
        else:
            event["in_reply_to_author_id"] = others[0]
        if rng.random() < 0.3:
            event["sentiment"] = round(rng.uniform(-1, 1), 3)
        if rng.random() < 0.3:
            event["brands"] = [rng.choice(["Acme", "Umbrella", "Initech"])]
        return event


TEXTS = [
    "loving the new trail shoes",
    "the battery died again, total outage",
    "thanks, that helped",
    "see you at practice: 6 pm",
    'she said "no refunds": unbelievable',
]


def good_record(gen: Generator, *, nfd: bool = False) -> Good:
    event = gen.event()
    if nfd:  # the same people, spelled with combining accents: ingest must merge them
        for name in ("author_id", "in_reply_to_author_id"):
            if name in event:
                event[name] = unicodedata.normalize("NFD", event[name])
        if "target_ids" in event:
            event["target_ids"] = [unicodedata.normalize("NFD", t) for t in event["target_ids"]]
    nfc = [unicodedata.normalize("NFC", t) for t in event.get("target_ids", [])]
    targets = tuple(nfc) if event["type"] == "mention" else (event["in_reply_to_author_id"],)
    return Good(
        TOPIC_OF[event["type"]],
        event["event_id"].encode(),
        orjson.dumps(event),
        event["type"],
        unicodedata.normalize("NFC", event["author_id"]),
        tuple(unicodedata.normalize("NFC", t) for t in targets),
    )


# --- hostile records -------------------------------------------------------------------------

Breaker = Callable[[Generator, dict[str, Any]], tuple[bytes | None, str, str | None]]
"""Breaks a valid ASCII event: (value, reason code, field or None)."""


def _dumps(event: dict[str, Any]) -> bytes:
    return orjson.dumps(event)


def truncated(gen: Generator, event: dict[str, Any]) -> tuple[bytes | None, str, str | None]:
    raw = _dumps(event)
    return raw[: gen.rng.randrange(0, len(raw) - 1)], "invalid_json", None


def not_utf8(gen: Generator, event: dict[str, Any]) -> tuple[bytes | None, str, str | None]:
    raw = _dumps(event)
    at = gen.rng.randrange(1, len(raw) - 1)
    return (
        raw[:at]
        + gen.rng.choice([b"\xff", b"\xfe", b"\xc0\xaf", b"\x80", b"\xed\xa0\x80"])
        + raw[at:],
        "not_utf8",
        None,
    )


def not_an_object(gen: Generator, event: dict[str, Any]) -> tuple[bytes | None, str, str | None]:
    value = gen.rng.choice([[event], "mention", 1, None, True, [], 1.5])
    return orjson.dumps(value), "not_an_object", "$"


def repeated_key(gen: Generator, event: dict[str, Any]) -> tuple[bytes | None, str, str | None]:
    name = gen.rng.choice(sorted(event))
    decoy = orjson.dumps({name: gen.rng.choice(["bogus", 0, None, [f"{ID_MARK}9999"]])})
    spacing = gen.rng.choice([b"", b" ", b"\n  "])
    return decoy[:-1] + b"," + spacing + _dumps(event)[1:], "duplicate_key", f"$.{name}"


def missing(gen: Generator, event: dict[str, Any]) -> tuple[bytes | None, str, str | None]:
    required = ["schema_version", "event_id", "event_time", "author_id", "text"]
    required.append("target_ids" if event["type"] == "mention" else "in_reply_to_author_id")
    name = gen.rng.choice(required)
    del event[name]
    return _dumps(event), "missing_field", f"$.{name}"


WRONG_TYPES: dict[str, list[Any]] = {
    "event_id": [7, ["fz"], None],
    "event_time": [1795339800, None, {"t": 1}],
    "author_id": [42, [f"{ID_MARK}1"], True],
    "text": [12345, None, ["x"]],
    "sentiment": ["negative", True, [0.5]],
    "brands": ["acme", 3],
}


def wrong_type(gen: Generator, event: dict[str, Any]) -> tuple[bytes | None, str, str | None]:
    name = gen.rng.choice(sorted(WRONG_TYPES))
    event[name] = gen.rng.choice(WRONG_TYPES[name])
    return _dumps(event), "wrong_type", f"$.{name}"


INVALID_VALUES: dict[str, list[Any]] = {
    "schema_version": [2, 0, "1", 1.0, 1.5, True],
    "event_id": ["", "x" * 129],
    "author_id": [f"{ID_MARK} 1", f"{ID_MARK}\t1", f"{ID_MARK}\u200b1", f"{ID_MARK}\x7f"],
    "sentiment": [1.5, -2],
    "lang": ["x" * 17],
}


def invalid_value(gen: Generator, event: dict[str, Any]) -> tuple[bytes | None, str, str | None]:
    name = gen.rng.choice(sorted(INVALID_VALUES))
    event[name] = gen.rng.choice(INVALID_VALUES[name])
    return _dumps(event), "invalid_value", f"$.{name}"


BAD_TIMES = [
    "2026-11-22T10:30:00+0100",
    "2026-11-22T10:30:00-05",
    "2026-11-22T10:30:00",
    "2026-11-22",
    "2026-13-45T99:00:00Z",
    "2026-11-22 10:30:00Z",
    "1999-12-31T23:59:59Z",
    "yesterday",
]


def bad_time(gen: Generator, event: dict[str, Any]) -> tuple[bytes | None, str, str | None]:
    event["event_time"] = gen.rng.choice(BAD_TIMES)
    return _dumps(event), "bad_timestamp", "$.event_time"


def future(gen: Generator, event: dict[str, Any]) -> tuple[bytes | None, str, str | None]:
    event["event_time"] = rfc3339(gen.now + gen.rng.uniform(3600, 10 * 365 * 86400))
    return _dumps(event), "future_timestamp", "$.event_time"


def unknown_type(gen: Generator, event: dict[str, Any]) -> tuple[bytes | None, str, str | None]:
    kind = gen.rng.choice(["share", "like", "Mention", "", 7, None, "DELETE"])
    if kind is None:
        del event["type"]
    else:
        event["type"] = kind
    return _dumps(event), "unknown_event_type", "$.type"


def oversize_text(gen: Generator, event: dict[str, Any]) -> tuple[bytes | None, str, str | None]:
    event["text"] = TEXT_MARK + "x" * gen.rng.randint(10_001, 30_000)
    return _dumps(event), "oversize_text", "$.text"


def self_mention(gen: Generator, event: dict[str, Any]) -> tuple[bytes | None, str, str | None]:
    if event["type"] == "mention":
        event["target_ids"] = [event["author_id"]] * gen.rng.randint(1, 3)
        return _dumps(event), "self_mention", "$.target_ids"
    event["in_reply_to_author_id"] = event["author_id"]
    return _dumps(event), "self_mention", "$.in_reply_to_author_id"


def other_topic(gen: Generator, event: dict[str, Any]) -> tuple[bytes | None, str, str | None]:
    return _dumps(event), "wrong_topic", "$.type"  # build_plan sends it to the other topic


def no_targets(gen: Generator, event: dict[str, Any]) -> tuple[bytes | None, str, str | None]:
    event.pop("in_reply_to_author_id", None)
    event.update(type="mention", target_ids=[])
    return _dumps(event), "empty_targets", "$.target_ids"


BREAKERS: list[Breaker] = [
    other_topic,
    no_targets,
    truncated,
    not_utf8,
    not_an_object,
    repeated_key,
    missing,
    wrong_type,
    invalid_value,
    bad_time,
    future,
    unknown_type,
    oversize_text,
    self_mention,
]


def corpus(gen: Generator) -> list[tuple[str | None, bytes | None, str, str | None, bytes]]:
    """The issue's own cases: (topic or None for the event's own, value, reason, field, key
    padding). Padding makes a key huge."""
    mention = gen.event("mention", ascii_only=True)
    reply = gen.event("reply", ascii_only=True)
    raw_mention, raw_reply = _dumps(mention), _dumps(reply)
    huge_value = b'{"type": "mention", "text": "' + TEXT_MARK.encode() + b"x" * 1_000_000 + b'"}'
    cases: list[tuple[str | None, bytes | None, str, str | None, bytes]] = [
        # 1. records over the broker-side limit of a dead letter, and huge keys
        ("mentions", huge_value, "oversize_message", None, b""),
        ("replies", huge_value[:800_000] + b'"}', "oversize_message", None, b""),
        (
            "mentions",
            raw_mention[:-1] + b',"pad":"' + b"p" * 70_000 + b'"}',
            "oversize_message",
            None,
            b"",
        ),
        ("mentions", raw_mention, "oversize_message", None, b"k" * 900_000),
        ("replies", raw_reply, "oversize_message", None, b"k" * 70_000),
        # 2. repeated keys: the last one wins in orjson
        (None, b'{"type":"bogus",' + raw_mention[1:], "duplicate_key", "$.type", b""),
        (
            None,
            raw_mention[:-1] + b',"author_id":"' + ID_MARK.encode() + b'-other"}',
            "duplicate_key",
            "$.author_id",
            b"",
        ),
        (None, b'{"type" :"bogus", ' + raw_reply[1:], "duplicate_key", "$.type", b""),
        (None, b'{"ty\\u0070e":"bogus",' + raw_mention[1:], "duplicate_key", "$.type", b""),
        (None, raw_mention[:-1] + b',"meta":{"x":1,"x":2}}', "duplicate_key", "$.meta.x", b""),
        # 3. offsets that are not RFC 3339
        (
            None,
            _dumps({**mention, "event_time": "2026-11-22T10:30:00+0100"}),
            "bad_timestamp",
            "$.event_time",
            b"",
        ),
        (
            None,
            _dumps({**reply, "event_time": "2026-11-22T04:30:00-0500"}),
            "bad_timestamp",
            "$.event_time",
            b"",
        ),
        # 4. the other topic's events
        ("replies", raw_mention, "wrong_topic", "$.type", b""),
        ("mentions", raw_reply, "wrong_topic", "$.type", b""),
        # 5. control and format characters in ids, float schema versions
        *[
            (
                None,
                _dumps({**mention, "author_id": f"{ID_MARK}{c}x"}),
                "invalid_value",
                "$.author_id",
                b"",
            )
            for c in ("\x7f", "\x9b", "\x85", "\u200b", "\ufeff", "\u202e", "\U000e0001")
        ],
        (
            None,
            _dumps({**reply, "in_reply_to_author_id": f"{ID_MARK}\u2060"}),
            "invalid_value",
            "$.in_reply_to_author_id",
            b"",
        ),
        (
            None,
            _dumps({**mention, "target_ids": [f"{ID_MARK}1", f"{ID_MARK}\u00ad"]}),
            "invalid_value",
            "$.target_ids[1]",
            b"",
        ),
        (
            None,
            raw_mention.replace(b'"schema_version":1', b'"schema_version":1.0'),
            "invalid_value",
            "$.schema_version",
            b"",
        ),
        (
            None,
            raw_mention.replace(b'"schema_version":1', b'"schema_version":1e0'),
            "invalid_value",
            "$.schema_version",
            b"",
        ),
        (
            None,
            raw_reply.replace(b'"schema_version":1', b'"schema_version":true'),
            "invalid_value",
            "$.schema_version",
            b"",
        ),
        # odds and ends: an empty value, a tombstone, an empty object, targets
        ("mentions", b"", "invalid_json", None, b""),
        ("replies", None, "invalid_json", None, b""),
        ("mentions", b"{}", "unknown_event_type", "$.type", b""),
        (None, _dumps({**mention, "target_ids": []}), "empty_targets", "$.target_ids", b""),
    ]
    return cases


def build_plan(rng: random.Random, now: float, *, bad: int, good: int) -> Plan:
    """`bad` hostile records (the corpus first, the rest generated), `good` good events
    (a tenth spelled NFD), and a tenth of the good ones delivered twice."""
    gen = Generator(rng, now)
    plan = Plan()
    for topic, value, reason, where, padding in corpus(gen):
        n = len(plan.bad)
        own = _own_topic(value, rng)
        plan.bad.append(
            Bad(f"bad-{n}", topic or own, f"bad-{n}|".encode() + padding, value, reason, where)
        )
    while len(plan.bad) < bad:
        n = len(plan.bad)
        value, reason, where = rng.choice(BREAKERS)(gen, gen.event(ascii_only=True))
        topic = _own_topic(value, rng)
        if reason == "wrong_topic":
            topic = OTHER_TOPIC[topic]
        plan.bad.append(Bad(f"bad-{n}", topic, f"bad-{n}".encode(), value, reason, where))
    plan.good = [good_record(gen, nfd=rng.random() < 0.1) for _ in range(good)]
    plan.redelivered = rng.sample(plan.good, good // 10)
    plan.stream = _interleave(rng, plan)
    return plan


def _own_topic(value: bytes | None, rng: random.Random) -> str:
    """The topic of the record's own type, so it is refused for its planted fault and not as
    wrong_topic; records without a readable type go to either."""
    try:
        data = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        data = None
    kind = data.get("type") if isinstance(data, dict) else None
    either = rng.choice(["mentions", "replies"])
    return TOPIC_OF.get(kind, either) if isinstance(kind, str) else either


def _interleave(rng: random.Random, plan: Plan) -> list[Bad | Good]:
    stream: list[Bad | Good] = [*plan.bad, *plan.good]
    rng.shuffle(stream)
    position = {id(record): n for n, record in enumerate(stream)}
    after: dict[int, list[Good]] = {}
    for again in plan.redelivered:  # at least once: a repeat lands somewhere after the first
        slot = rng.randint(position[id(again)], len(stream) - 1)
        after.setdefault(slot, []).append(again)
    return [r for n, record in enumerate(stream) for r in (record, *after.get(n, ()))]
