"""From posts to alert signals: the critic step per person and the burst step per brand.

Pure and deterministic: rows are JSON-able dicts (what the Faust tables store), and each
step returns the new row plus what to send on. The shell's stages
(`service.shell.stages.critics`, `service.shell.stages.moments_of_truth`) and the broker-free
replay (`service.evaluation.alerts`) both call these, so they cannot drift apart.

- `critic_step`: one post (the person's own, or a reply they drew) goes into the person's
  change detector (service.core.change). A drop below their own baseline becomes an alert
  signal only when their recent level actually sounds negative (at or below VADER's -0.05:
  a fan going from delighted to neutral is not a critic) and their relationship-based
  influence, overall or in the topic they are negative about, clears `min_influence`: a
  low-influence person turning negative pages no one. An own post that names a product
  failure and is negative becomes a complaint that carries the author's influence and
  strongest ties.
- Brand accounts (service.core.brand_accounts) never reach a detector: configured ones are
  left out by `posts_for`, those the source marks and those that reply like a support
  desk are recognised in their row (`CriticRow.desk`) and stay silent.
- `burst_step`: complaints are counted into the brand's per-minute buckets in any order;
  ticks with a watermark close minutes and may open, update or resolve a burst. Evidence
  says which complainers are influential and which of them are tied to each other.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from service.core import burst, change
from service.core.alerts import AlertSignal, burst_signal, change_signal, signal_from_dict
from service.core.brand_accounts import NO_BRAND_ACCOUNTS, BrandAccounts, SupportPattern
from service.core.influence import PersonState
from service.core.interaction import Interaction
from service.core.sentiment import is_negative
from service.core.ties import DEFAULT_TIE_PARAMS, TieParams

EXCERPT_CHARS = 140
RECENT_MESSAGES = 5
NEGATIVE_LEVEL = -0.05  # VADER's threshold: a short-term mean at or below it sounds negative
RECENT_COMPLAINTS = 50
TOP_TIES = 5


@dataclass(frozen=True, slots=True)
class SignalParams:
    min_influence: float = 10.0
    change: change.ChangeParams = change.DEFAULT_CHANGE_PARAMS
    tie: TieParams = DEFAULT_TIE_PARAMS
    burst: burst.BurstParams = burst.DEFAULT_BURST_PARAMS


def posts_for(
    interaction: Interaction, accounts: BrandAccounts = NO_BRAND_ACCOUNTS
) -> list[tuple[str, dict[str, Any]]]:
    """(person, post) for each sentiment detector an applied interaction feeds: its author's
    own post, and for a reply also the one who drew it. Empty without a sentiment.

    A brand account's posts feed no detector (service.core.brand_accounts): they are the
    brand's side of the relationship, not a person's sentiment. A complaint counts for each
    brand it names, and for its products only when it names no brand: a product's burst is
    part of its brand's incident, and the products travel in the complaint as evidence."""
    if interaction.sentiment is None:
        return []
    if accounts.is_brand_account(interaction.actor):
        return []
    reply = interaction.kind == "reply"
    if interaction.inbound is False:
        # The source marks the author as the company: its row learns so, and then neither
        # its posts nor the replies it draws reach a detector (`CriticRow.desk`).
        mark = {"op": "post", "role": "own", "brand_account": True, "scopes": [], "brands": []}
        mark |= {"event_id": interaction.event_id, "t": interaction.event_time, "s": 0.0}
        return [(interaction.actor, mark | {"excerpt": "", "failure": []})]
    post = {
        "op": "post",
        "role": "own",
        "event_id": interaction.event_id,
        "t": interaction.event_time,
        "s": interaction.sentiment,
        "scopes": list(interaction.scopes),
        "brands": list(interaction.brands or interaction.products),
        "products": list(interaction.products),
        "excerpt": interaction.text[:EXCERPT_CHARS],
        "failure": list(interaction.failure),
    }
    for name, value in (("url", interaction.url), ("handle", interaction.handle)):
        if value is not None:
            post[name] = value
    if reply:
        post["to"] = interaction.targets[0]
    posts = [(interaction.actor, post)]
    if reply and not accounts.is_brand_account(interaction.targets[0]):
        drawn = {**post, "role": "reply", "from": interaction.actor, "failure": []}
        drawn.pop("handle", None)  # the drawing reply's author is `from`, not this person
        del drawn["to"]
        posts.append((interaction.targets[0], drawn))
    return posts


@dataclass(slots=True)
class CriticRow:
    """A critic row held as objects: what a long-lived caller (the replay) keeps between
    posts, so the change state is not converted from and to its dict on every post."""

    change: change.ChangeState | None = None  # None until the first post
    messages: list[dict[str, Any]] = field(default_factory=list)  # newest first
    topic: str | None = None  # topic of the raised episode
    on: bool = False  # an episode is raised
    desk: SupportPattern = field(default_factory=SupportPattern)  # is this a support desk

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> CriticRow:
        state = change.from_dict(row["c"]) if row["c"] else None
        return cls(state, row["m"], row["tp"], row["on"], SupportPattern.from_list(row.get("d")))

    def to_dict(self) -> dict[str, Any]:
        """The stored form. c: change state, m: recent messages, tp: topic of the raised
        episode, on: raised, d: the support-desk counts (rows written before them lack d)."""
        state = change.to_dict(self.change) if self.change is not None else None
        return {
            "c": state,
            "m": self.messages,
            "tp": self.topic,
            "on": self.on,
            "d": self.desk.to_list(),
        }


def critic_step(
    row: dict[str, Any] | None,
    person: str,
    post: dict[str, Any],
    people: PersonState | None,
    params: SignalParams,
) -> tuple[dict[str, Any], AlertSignal | None, dict[str, Any] | None]:
    """Apply one post; return the row to store, the alert signal and the complaint, if any."""
    live = CriticRow.from_dict(row) if row else CriticRow()
    signal, complaint = critic_apply(live, person, post, people, params)
    return live.to_dict(), signal, complaint


def critic_apply(
    row: CriticRow,
    person: str,
    post: dict[str, Any],
    people: PersonState | None,
    params: SignalParams,
) -> tuple[AlertSignal | None, dict[str, Any] | None]:
    """`critic_step` on a live row, updated in place: the alert signal and the complaint."""
    if row.change is None:
        row.change = change.ChangeState()
    t = float(post["t"])
    own = post.get("role") == "own"
    if post.get("brand_account"):
        row.desk.marked = True
    if row.desk.marked:
        return None, None  # a brand account: the brand's side, not a person's sentiment
    if own:
        row.desk.add(post.get("to"))
    result = change.observe(row.change, float(post["s"]), t, params.change)
    row.messages = [_message(post), *row.messages][:RECENT_MESSAGES]
    if row.desk.suspected(person):
        # A support desk, by the shape of its posts: listed for review, never paging.
        row.on, row.topic = False, None
        return None, None
    signal = _critic_signal(person, row, result, people, t, params)
    complaint = None
    if own and post.get("failure") and is_negative(post["s"]):
        complaint = _complaint(person, post, people, t, params.tie)
    return signal, complaint


def _critic_signal(
    person: str,
    row: CriticRow,
    result: change.ChangeResult,
    people: PersonState | None,
    t: float,
    params: SignalParams,
) -> AlertSignal | None:
    transition = result.transition
    if not row.on and transition is change.Transition.NONE:
        return None  # the common case: quiet, and nothing raised to follow up
    raising = not row.on and transition in (
        change.Transition.OPENED,
        change.Transition.STILL_OPEN,
    )
    if raising:
        # Below their own baseline is not enough: the person must now sound negative.
        if result.current > NEGATIVE_LEVEL:
            return None
        topic = negative_topic(row.messages)
        if _influence(people, t, topic, params.tie) < params.min_influence:
            return None  # a low-influence person turning negative pages no one
        row.on, row.topic = True, topic
    elif not row.on:
        return None  # only the episodes that were raised are followed up
    evidence = _critic_evidence(person, row, people, t, params.tie)
    signal = change_signal(result, person, t, topic=row.topic, extra=evidence)
    if signal is None:
        return None
    if raising:
        signal = replace(signal, step="opened")
    elif transition == change.Transition.RESOLVED:
        row.on, row.topic = False, None
    return signal


def _influence(
    people: PersonState | None, at: float, topic: str | None, params: TieParams
) -> float:
    if people is None:
        return 0.0
    overall = people.influence(at, None, params)
    return max(overall, people.influence(at, topic, params)) if topic else overall


def _critic_evidence(
    person: str, row: CriticRow, people: PersonState | None, at: float, params: TieParams
) -> dict[str, Any]:
    top = people.top_ties(at, TOP_TIES, params) if people is not None else []
    return {
        "people": [
            {"id": person, "role": "critic", "influence": _influence(people, at, row.topic, params)}
        ]
        + [{"id": partner, "role": "will hear it"} for partner, _ in top],
        "ties": [{"a": person, "b": partner, "strength": s} for partner, s in top],
        "messages": row.messages,
    }


def _complaint(
    person: str, post: dict[str, Any], people: PersonState | None, at: float, params: TieParams
) -> dict[str, Any]:
    return {
        "event_id": post["event_id"],
        "t": at,
        "person": person,
        "influence": people.influence(at, None, params) if people is not None else 0.0,
        "partners": people.top_ties(at, TOP_TIES, params) if people is not None else [],
        "excerpt": post["excerpt"],
        "failure": post["failure"],
        "products": post.get("products", []),
        "s": post["s"],
    } | _with_source({}, post)


def _message(post: dict[str, Any]) -> dict[str, Any]:
    message = {
        "event_id": post["event_id"],
        "event_time": post["t"],
        "excerpt": post["excerpt"],
        "sentiment": post["s"],
        "role": post.get("role", "own"),
        "scopes": post.get("scopes", []),
    }
    return _with_source(message, post)


def _with_source(out: dict[str, Any], post: dict[str, Any]) -> dict[str, Any]:
    """The post's link and author handle, when its event carried them."""
    for name in ("url", "handle"):
        if post.get(name):
            out[name] = post[name]
    return out


def negative_topic(messages: list[dict[str, Any]]) -> str | None:
    """The scope the person's recent negative messages are most about, if any."""
    counts = Counter(
        scope for m in messages if is_negative(m["sentiment"]) for scope in m.get("scopes", [])
    )
    return min(counts, key=lambda s: (-counts[s], s)) if counts else None


@dataclass(slots=True)
class BurstRow:
    """A burst row held as objects: what a long-lived caller (the replay) keeps between
    complaints and ticks, so the 192-slot states are not decoded and encoded on every one.

    One detector counts all of the brand's complaints, and one per failure category seen
    (`categories`), so a surge of cancellations stands out even inside everyday delays."""

    state: burst.BurstState = field(default_factory=burst.BurstState)
    recent: list[dict[str, Any]] = field(default_factory=list)  # complaints, newest first
    categories: dict[str, burst.BurstState] = field(default_factory=dict)
    held: list[dict[str, Any]] = field(default_factory=list)  # critic signals held back

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> BurstRow:
        state = burst.from_dict(row["b"]) if row["b"] else burst.BurstState()
        by_category = {name: burst.from_dict(data) for name, data in row.get("k", {}).items()}
        return cls(state, row["r"], by_category, list(row.get("h", ())))

    def to_dict(self) -> dict[str, Any]:
        """The stored form. b: burst state, r: recent complaints, newest first, k: the
        state per failure category, h: held critic signals (rows before them lack k, h)."""
        return {
            "b": burst.to_dict(self.state),
            "r": self.recent,
            "k": {name: burst.to_dict(state) for name, state in self.categories.items()},
            "h": self.held,
        }


def burst_step(
    row: dict[str, Any] | None, brand: str, record: dict[str, Any], params: SignalParams
) -> tuple[dict[str, Any], list[AlertSignal]]:
    """Apply a complaint (counted only) or a tick `{"op": "tick", "t": watermark}`."""
    live = BurstRow.from_dict(row) if row else BurstRow()
    signals = burst_apply(live, brand, record, params)
    return live.to_dict(), signals


def burst_apply(
    row: BurstRow, brand: str, record: dict[str, Any], params: SignalParams
) -> list[AlertSignal]:
    """`burst_step` on a live row, updated in place: the alert signals, overall first, then
    each category's (its name as the signal's topic), then the critic signals released.

    A critic signal about this scope (`{"op": "critic", "t", "signal"}`) is held for
    `CRITIC_HOLD_S` of event time before it goes on, so that a moment of truth the same
    complaints are building up opens first and the critic folds into its incident instead of
    paging on its own (service.core.incidents). A tick releases what is due, in order; in the
    worker a tick also carries the wall time, and a signal held `CRITIC_HOLD_WALL_S` goes on
    even when event time stands still (traffic stopped)."""
    t = float(record["t"])
    if record.get("op") == "critic":
        row.held.append({**record["signal"], "held_wall": record.get("wall")})
        return []
    detectors: list[tuple[str | None, burst.BurstState]] = [(None, row.state)]
    if record.get("op") == "tick":
        detectors += sorted(row.categories.items())
        steps = [
            (topic, step)
            for topic, state in detectors
            for step in burst.advance(state, t, params.burst)
        ]
    else:
        for category in record.get("failure", ()):
            if category not in row.categories:
                row.categories[category] = burst.BurstState()
        named = sorted((c, row.categories[c]) for c in set(record.get("failure", ())))
        steps = [
            (topic, step)
            for topic, state in [*detectors, *named]
            for step in burst.add(state, t, params=params.burst, close=False).signals
        ]
        row.recent = [record, *row.recent][:RECENT_COMPLAINTS]
    out: list[AlertSignal] = []
    if steps:
        extra = burst_evidence(row.recent, params.min_influence)
        out = [burst_signal(step, brand, topic=topic, extra=extra) for topic, step in steps]
    if record.get("op") == "tick" and row.held:
        out += release_held(row, t, record.get("wall"))
    return out


CRITIC_HOLD_S = 900.0  # event time a brand's critic waits for its moment of truth
CRITIC_HOLD_WALL_S = 60.0


def release_held(row: BurstRow, t: float, wall: float | None) -> list[AlertSignal]:
    """The held critic signals that are due at event time `t` (or wall time `wall`), in order;
    a signal stays behind every earlier one of the same alert."""
    due = 0
    for held in row.held:
        waited = wall is not None and held.get("held_wall") is not None
        if held["at"] + CRITIC_HOLD_S <= t or (
            waited and wall - held["held_wall"] >= CRITIC_HOLD_WALL_S
        ):
            due += 1
        else:
            break
    released, row.held = row.held[:due], row.held[due:]
    return [signal_from_dict({k: v for k, v in s.items() if k != "held_wall"}) for s in released]


def burst_evidence(recent: list[dict[str, Any]], min_influence: float) -> dict[str, Any]:
    """Who is complaining, how influential they are, and which of them are tied."""
    complainers: dict[str, float] = {}
    for c in recent:
        complainers[c["person"]] = max(complainers.get(c["person"], 0.0), c["influence"])
    ties: dict[tuple[str, str], dict[str, Any]] = {}
    for c in recent:
        for partner, strength in c["partners"]:
            if partner in complainers and c["person"] < partner:
                ties[(c["person"], partner)] = {
                    "a": c["person"],
                    "b": partner,
                    "strength": strength,
                }
    connected = {person for pair in ties for person in pair}
    ranked = sorted(complainers.items(), key=lambda item: (-item[1], item[0]))
    categories = Counter(cat for c in recent for cat in c["failure"])
    products = Counter(p for c in recent for p in c.get("products", ()))
    return {
        "people": [{"id": p, "role": "complainer", "influence": i} for p, i in ranked[:10]],
        "ties": sorted(ties.values(), key=lambda tie: (-tie["strength"], tie["a"], tie["b"]))[:20],
        "messages": [
            _with_source(
                {
                    "event_id": c["event_id"],
                    "event_time": c["t"],
                    "excerpt": c["excerpt"],
                    "sentiment": c["s"],
                },
                c,
            )
            for c in recent[:5]
        ],
        "complainers": len(complainers),
        "influential_complainers": sum(1 for i in complainers.values() if i >= min_influence),
        "connected_complainers": len(connected),
        "categories": dict(sorted(categories.items())),
        "products": dict(sorted(products.items())),
    }


def desk_of(row: dict[str, Any] | None) -> SupportPattern:
    """The support-desk counts in a stored critic row (empty for rows without them)."""
    return SupportPattern.from_list(row.get("d")) if row else SupportPattern()
