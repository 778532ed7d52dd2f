"""A seeded demo scenario with known ground truth, on the real Zachary karate-club graph.

Planted, so that tests and the demo can check what closeknit finds:
- strong ties: the club's heaviest friendships (Zachary's interaction weights) talk most;
- a critic: the club's best-connected member (node 33, "the Officer") is a fan of the brand
  for three weeks, then turns negative, and the circle replies;
- a moment of truth: a one-hour burst of outage complaints about the brand's router;
- a tribe: eight newcomers who start talking trail running with each other, densely;
- who, not how many: a micro-influencer (`mia`) whose five cycling friends talk with her
  both ways, and a celebrity (`celeb`) mentioned once by ninety people and answering none:
  mia leads on influence, celeb on reach;
- bad input: a few records corrupted in each way the validator knows, and a few duplicates.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime

import networkx as nx
import orjson

from service.core.interaction import Kind

DAY = 86400.0
START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday, safely in the past for every run
BRAND = "acme"
PRODUCT = "acme-router"
CRITIC = "k33"
TRIBE = tuple(f"trail{n}" for n in range(1, 9))
MICRO = "mia"
CELEBRITY = "celeb"

POSITIVE = (
    "love my new {p}, setup took two minutes",
    "great chat today, thanks for the tips",
    "the {p} has been rock solid all week",
    "brilliant run this morning, see you saturday",
    "thanks, that really helped",
)
NEUTRAL = (
    "anyone going to the meetup on thursday?",
    "sharing the notes from practice",
    "what time does the club open tomorrow",
    "saw the {p} in the shop window",
)
NEGATIVE = (
    "my {p} keeps dropping the connection, really disappointed",
    "done with {b}: third failure this month, support is useless",
    "do not buy the {p}, it broke again and no refund",
)
OUTAGE = (
    "@{b} total outage, my {p} is down and no internet since 10am",
    "{b} service down again?? router offline, stranded working from home",
    "is anyone else's {p} down? @{b} outage all over town",
    "@{b} the {p} is broken after the update, no connection at all, refund please",
)
TRIBE_TALK = (
    "ridge loop at dawn tomorrow? bringing the new trail shoes",
    "that descent was unreal, best trail run this year",
    "mapping a new 20k route through the forest, who is in",
    "great pace today, same time next week",
)


@dataclass(frozen=True, slots=True)
class ScenarioEvent:
    kind: Kind  # which input topic it goes to
    key: bytes
    payload: bytes
    event_time: float
    corrupt_reason: str | None = None  # the dead-letter reason code expected, if corrupted


@dataclass
class Scenario:
    events: list[ScenarioEvent]
    critic: str = CRITIC
    tribe: tuple[str, ...] = TRIBE
    micro: str = MICRO
    celebrity: str = CELEBRITY
    brand: str = BRAND
    burst_start: float = 0.0
    burst_end: float = 0.0
    strongest_pairs: list[tuple[str, str]] = field(default_factory=list)
    duplicates: int = 0

    @property
    def expected_dead_letters(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for event in self.events:
            if event.corrupt_reason:
                counts[event.corrupt_reason] = counts.get(event.corrupt_reason, 0) + 1
        return counts


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Builder:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.events: list[dict[str, object]] = []

    def post(
        self,
        t: float,
        author: str,
        target: str,
        text: str,
        *,
        reply: bool,
        brands: tuple[str, ...] = (),
        topics: tuple[str, ...] = (),
    ) -> dict[str, object]:
        event: dict[str, object] = {
            "type": "reply" if reply else "mention",
            "schema_version": 1,
            "event_id": f"demo-{len(self.events):05d}",
            "event_time": _iso(t),
            "author_id": author,
            "text": text.format(p=PRODUCT, b=BRAND),
            "source": "demo",
        }
        if reply:
            event["in_reply_to_author_id"] = target
        else:
            event["target_ids"] = [target]
        if brands:
            event["brands"] = list(brands)
            event["products"] = [PRODUCT]
        if topics:
            event["topics"] = list(topics)
        self.events.append(event)
        return event


def build_scenario(seed: int = 7) -> Scenario:
    """The whole scenario, in event-time order, deterministic for a seed."""
    b = _Builder(seed)
    rng = b.rng
    club = nx.karate_club_graph()
    person = {n: f"k{n:02d}" for n in club.nodes}
    t0 = START.timestamp()

    # Three weeks of everyday club life; heavier friendships talk more, both ways.
    for u, v, data in club.edges(data=True):
        weight = int(data.get("weight", 1))
        for _ in range(weight * 5):
            t = t0 + rng.uniform(0, 21 * DAY)
            a, c = (person[u], person[v]) if rng.random() < 0.5 else (person[v], person[u])
            about_brand = rng.random() < 0.2
            b.post(
                t,
                a,
                c,
                rng.choice(POSITIVE + NEUTRAL),
                reply=rng.random() < 0.5,
                brands=(BRAND,) if about_brand else (),
                topics=("club",),
            )

    # The critic: a fan for three weeks, then turns on the brand; the circle answers.
    critic_node = 33
    for day in range(21):
        for _ in range(2):
            friend = person[rng.choice(list(club.neighbors(critic_node)))]
            b.post(
                t0 + day * DAY + rng.uniform(0, DAY),
                CRITIC,
                friend,
                rng.choice(POSITIVE),
                reply=False,
                brands=(BRAND,),
            )
    turn = t0 + 21 * DAY
    for i in range(14):
        friend = person[rng.choice(list(club.neighbors(critic_node)))]
        t = turn + i * 3 * 3600
        b.post(t, CRITIC, friend, rng.choice(NEGATIVE), reply=False, brands=(BRAND,))
        b.post(
            t + 900,
            friend,
            CRITIC,
            "ugh, same here. {b} support never answers",
            reply=True,
            brands=(BRAND,),
        )

    # The moment of truth: an hour of outage complaints to the brand account.
    burst_start = t0 + 22 * DAY + 10 * 3600
    complainers = [person[n] for n in club.nodes] + [f"cust{n:03d}" for n in range(60)]
    for i in range(150):
        t = burst_start + i * 24.0 + rng.uniform(0, 20)
        b.post(t, rng.choice(complainers), BRAND, rng.choice(OUTAGE), reply=False, brands=(BRAND,))

    # A tribe forms: newcomers talk trail running with each other, often and both ways.
    for day in range(14, 24):
        for a_i, a in enumerate(TRIBE):
            for c in TRIBE[a_i + 1 :]:
                if rng.random() < 0.7:
                    t = t0 + day * DAY + rng.uniform(0, DAY)
                    b.post(t, a, c, rng.choice(TRIBE_TALK), reply=False, topics=("trail-running",))
                    b.post(
                        t + 600, c, a, rng.choice(TRIBE_TALK), reply=True, topics=("trail-running",)
                    )

    # Who, not how many: mia's five friends talk cycling with her, both ways, for three weeks;
    # ninety people mention celeb once each, and celeb never answers.
    for friend in (f"cyclist{n}" for n in range(1, 6)):
        for week in range(3):
            t = t0 + DAY + week * 7 * DAY + rng.uniform(0, 6 * DAY)
            b.post(t, friend, MICRO, rng.choice(POSITIVE), reply=True, topics=("cycling",))
            b.post(t + 1800, MICRO, friend, rng.choice(POSITIVE), reply=True, topics=("cycling",))
    fans = [person[n] for n in club.nodes] + [f"cust{n:03d}" for n in range(56)]
    for fan in fans:
        b.post(t0 + rng.uniform(DAY, 20 * DAY), fan, CELEBRITY, rng.choice(NEUTRAL), reply=False)

    b.events.sort(key=lambda e: (str(e["event_time"]), str(e["event_id"])))
    events = [_encode(e) for e in b.events]
    events, duplicates = _with_duplicates(events, rng)
    events = _with_corruptions(events, rng)
    strongest = sorted(club.edges(data=True), key=lambda e: -int(e[2].get("weight", 1)))[:5]
    return Scenario(
        events=events,
        burst_start=burst_start,
        burst_end=burst_start + 3600,
        strongest_pairs=[(person[u], person[v]) for u, v, _ in strongest],
        duplicates=duplicates,
    )


def _encode(event: dict[str, object]) -> ScenarioEvent:
    t = datetime.fromisoformat(str(event["event_time"])).timestamp()
    return ScenarioEvent(
        kind="reply" if event["type"] == "reply" else "mention",
        key=str(event["event_id"]).encode(),
        payload=orjson.dumps(event),
        event_time=t,
    )


def _with_duplicates(
    events: list[ScenarioEvent], rng: random.Random
) -> tuple[list[ScenarioEvent], int]:
    """Redeliver 1% of events a little later, as an at-least-once producer would."""
    out = list(events)
    picks = rng.sample(range(len(events)), k=max(1, len(events) // 100))
    for offset, index in enumerate(sorted(picks, reverse=True)):
        out.insert(min(len(out), index + 5 + offset), events[index])
    return out, len(picks)


def _with_corruptions(events: list[ScenarioEvent], rng: random.Random) -> list[ScenarioEvent]:
    """A few records broken in each way the validator names, spread through the stream."""
    good = orjson.loads(events[0].payload)
    far_future = dict(good, event_id="bad-future", event_time="2999-01-01T00:00:00Z")
    self_mention = dict(good, event_id="bad-self", type="mention", target_ids=[good["author_id"]])
    self_mention.pop("in_reply_to_author_id", None)
    missing = {k: v for k, v in good.items() if k != "author_id"} | {"event_id": "bad-missing"}
    wrong_type = dict(good, event_id="bad-type", text=42)
    unknown = dict(good, event_id="bad-kind", type="retweet")
    oversize = dict(good, event_id="bad-long", text="x" * 20000)
    repeated = b'{"type": "share", ' + orjson.dumps(dict(good, event_id="bad-repeat"))[1:]
    broken: list[tuple[bytes, str]] = [
        (b'{"type": "mention", "event_id": ', "invalid_json"),
        (b"\xff\xfe not utf-8 \xc3\x28", "not_utf8"),
        (orjson.dumps(far_future), "future_timestamp"),
        (orjson.dumps(self_mention), "self_mention"),
        (orjson.dumps(missing), "missing_field"),
        (orjson.dumps(wrong_type), "wrong_type"),
        (orjson.dumps(unknown), "unknown_event_type"),
        (orjson.dumps(oversize), "oversize_text"),
        (repeated, "duplicate_key"),
        (orjson.dumps(dict(good, event_id="bad-topic")), "wrong_topic"),
    ]
    out = list(events)
    for n, (payload, reason) in enumerate(broken * 3):
        index = rng.randrange(len(out))
        kind = _topic_for(payload, reason, n)
        out.insert(index, ScenarioEvent(kind, b"bad", payload, out[index].event_time, reason))
    return out


def _topic_for(payload: bytes, reason: str, n: int) -> Kind:
    """The topic a corrupted record goes to: its own kind's, so that it is refused for the
    fault planted in it and not as wrong_topic (the one planted on the other topic)."""
    try:
        own = orjson.loads(payload).get("type")
    except (orjson.JSONDecodeError, AttributeError):
        own = None
    if own not in ("mention", "reply"):
        return "mention" if n % 2 == 0 else "reply"
    if reason == "wrong_topic":
        return "reply" if own == "mention" else "mention"
    return "mention" if own == "mention" else "reply"
