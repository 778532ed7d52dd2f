"""Dyad tie strength, kept current in O(1) per interaction, on event time.

A dyad is the unordered pair {a, b} with a < b (as strings). An interaction actor -> target
adds to one direction of it: "ab" when actor < target, else "ba".

State per direction (see `DyadState`): a decayed weight `w` (sum of kind weights: mention 1,
reply 2, since a reply is a conversation turn and costs more effort than a mention), a decayed
emotional intensity `i` (sum of |sentiment|; an event without a sentiment score counts as
neutral, intensity 0, so missing scores never inflate a tie), counts by kind, first and last
seen. All decayed numbers share one reference time `ref` (the newest event time) and one
half-life (14 days), so they decay by the same factor and every ratio of them is time-free.

Strength (Granovetter 1973: "a (probably linear) combination of the amount of time, the
emotional intensity, the intimacy (mutual confiding), and the reciprocal services"; Gilbert &
Karahalios, CHI 2009, fitted such a linear mix to 2,000 rated Facebook ties, over 85%
accurate on strong versus weak, with recency of contact among the strongest predictors)::

    r = 2 min(w_ab, w_ba) / (w_ab + w_ba)                     reciprocity, 0 when both are 0
    x = (w_ab + w_ba) (1 + alpha r) + beta (i_ab + i_ba)
      = w_ab + w_ba + 2 alpha min(w_ab, w_ba) + beta (i_ab + i_ba)
    strength = 1 - exp(-x / k)                                 in [0, 1)

- Frequency and time spent: the kind-weighted decayed weight of both directions.
- Recency: carried by the decay alone. Each event counts exp(-lam * age), so the freshest
  contact dominates and a silent tie fades. No separate last-seen term: it would count recency
  twice, and it would break `x(now) = x(ref) * exp(-lam (now - ref))`, which lets a consumer of
  a snapshot decay strength itself without the event history.
- Reciprocity: the reciprocated part of the weight (2 min) counts (1 + alpha) times (alpha =
  1: a balanced tie counts double a one-way tie of the same volume). Strength is non-decreasing
  in either direction's weight, and at a fixed total it rises with reciprocity.
- Emotional intensity: beta = 1, so a fully charged event (|s| = 1) adds as much as a mention.
- Intimacy (private confiding) is not observable in public mentions and replies.
- The saturating map keeps strength in [0, 1) and makes the first interactions matter most.

With k = 10 (strength 0.5 at x = 6.9) and the strong-tie threshold 0.6 (x >= 9.2):

    one mention                                        x = 1    strength 0.10
    one unanswered reply                               x = 2    0.18
    one reply each way                                 x = 8    0.55   (not yet strong)
    two replies each way, or five unanswered replies   x = 16, 10   0.80, 0.63 (strong)
    a strength-0.80 tie left silent                    falls below 0.6 after 11 days

These weights are priors, not a fit: no labelled ties are available yet. They live in
`TieParams` so they can be calibrated.

Idempotence: each applied event leaves a 64-bit fingerprint of its `event_id` (blake2b, stable
across processes). A repeat is a `duplicate` and changes nothing at all. `dedup_floor =
ceil(newest event time - dedup_horizon_s)` only rises; an event older than it is `too_late`:
it could be a repeat whose fingerprint is gone, so it cannot be applied exactly once (the
caller dead-letters it). Fingerprints below the floor are dropped in batches (at most
`dedup_purge_slack_s` late). So the state holds one fingerprint per event of the last 7 days:
about 18 bytes each in the stored form, which is what makes a busy dyad big.
"""

from __future__ import annotations

import math
from binascii import a2b_base64, b2a_base64
from collections.abc import Iterable
from dataclasses import dataclass, field
from hashlib import blake2b
from typing import Any, Literal, NamedTuple

from service.core.decay import LN2
from service.core.interaction import Kind

DAY_S = 86400.0

Direction = Literal["ab", "ba"]
Outcome = Literal["applied", "duplicate", "too_late"]
APPLIED: Outcome = "applied"
DUPLICATE: Outcome = "duplicate"
TOO_LATE: Outcome = "too_late"

_STRENGTH_BELOW_ONE = math.nextafter(1.0, 0.0)


@dataclass(frozen=True, slots=True)
class TieParams:
    """Weights and horizons of tie strength (the module docstring explains each)."""

    half_life_s: float = 14 * DAY_S
    weight_mention: float = 1.0
    weight_reply: float = 2.0
    intensity_weight: float = 1.0  # beta: per unit of |sentiment|
    reciprocity_weight: float = 1.0  # alpha: extra weight of the reciprocated part
    strength_scale: float = 10.0  # k: x at which strength reaches 1 - 1/e
    strong_tie_threshold: float = 0.6  # strength at or above which a tie is strong
    dedup_horizon_s: float = 7 * DAY_S
    dedup_purge_slack_s: float = 0.5 * DAY_S  # expired fingerprints go in batches this far apart
    scope_prune_below: float = 1e-3  # drop a scope once both directions decayed below this
    one_way_influence: float = 0.0  # influence weight of a one-way inbound tie (influence.py)
    decay_rate: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("half_life_s", "strength_scale", "dedup_horizon_s"):
            if not getattr(self, name) > 0.0:
                raise ValueError(f"{name} must be positive")
        if not 0.0 <= self.one_way_influence <= 1.0:
            raise ValueError("one_way_influence must be in [0, 1]")
        if not 0.0 < self.strong_tie_threshold < 1.0:
            raise ValueError("strong_tie_threshold must be in (0, 1)")
        object.__setattr__(self, "decay_rate", LN2 / self.half_life_s)


DEFAULT_TIE_PARAMS = TieParams()


def dyad_key(a: str, b: str) -> tuple[str, str]:
    """The canonical (smaller, larger) order of an unordered pair."""
    return (a, b) if a < b else (b, a)


def fingerprint(event_id: str) -> bytes:
    """An 8-byte (64-bit) id fingerprint, equal in every process (unlike the salted `hash`)."""
    return blake2b(event_id.encode(), digest_size=8).digest()


def reciprocity(w_ab: float, w_ba: float) -> float:
    """`2 min / sum`: 1 for a balanced tie, 0 for a one-way (or empty) one."""
    total = w_ab + w_ba
    return 2.0 * min(w_ab, w_ba) / total if total > 0.0 else 0.0


def strength_mass(
    w_ab: float, w_ba: float, intensity: float, params: TieParams = DEFAULT_TIE_PARAMS
) -> float:
    """`x` of the strength formula; it decays like the weights it is made of."""
    reciprocated = 2.0 * params.reciprocity_weight * min(w_ab, w_ba)
    return w_ab + w_ba + reciprocated + params.intensity_weight * intensity


def strength_of(
    w_ab: float, w_ba: float, intensity: float, params: TieParams = DEFAULT_TIE_PARAMS
) -> float:
    """Tie strength in [0, 1) from decayed weights and total decayed intensity."""
    x = strength_mass(w_ab, w_ba, intensity, params)
    return min(-math.expm1(-x / params.strength_scale), _STRENGTH_BELOW_ONE)


@dataclass(slots=True)
class DyadState:
    """Everything one dyad needs, mutated in place by `apply`. Weights are valued at `ref`."""

    ref: float  # newest applied event time; every decayed number is valued here
    dedup_floor: int  # events older than this are too late to apply exactly once
    seq: int = 0  # applied events: a monotonic version of this state
    w_ab: float = 0.0
    w_ba: float = 0.0
    i_ab: float = 0.0
    i_ba: float = 0.0
    mentions_ab: int = 0
    replies_ab: int = 0
    mentions_ba: int = 0
    replies_ba: int = 0
    first_ab: int | None = None  # whole seconds (floor of the event time)
    last_ab: int | None = None
    first_ba: int | None = None
    last_ba: int | None = None
    scopes: dict[str, list[float]] = field(default_factory=dict)  # scope -> [w_ab, w_ba]
    seen: dict[bytes, int] = field(default_factory=dict)  # fingerprint -> ceil(event time)

    def decay_to(self, now: float, params: TieParams = DEFAULT_TIE_PARAMS) -> float:
        """The factor that values this state's numbers at `now` (1 when `now <= ref`)."""
        dt = now - self.ref
        return math.exp(-params.decay_rate * dt) if dt > 0.0 else 1.0

    def weight(
        self, now: float, direction: Direction, params: TieParams = DEFAULT_TIE_PARAMS
    ) -> float:
        w = self.w_ab if direction == "ab" else self.w_ba
        return w * self.decay_to(now, params)

    def scope_weight(
        self, now: float, scope: str, direction: Direction, params: TieParams = DEFAULT_TIE_PARAMS
    ) -> float:
        pair = self.scopes.get(scope)
        if pair is None:
            return 0.0
        return pair[0 if direction == "ab" else 1] * self.decay_to(now, params)

    def intensity(
        self,
        now: float,
        direction: Direction | None = None,
        params: TieParams = DEFAULT_TIE_PARAMS,
    ) -> float:
        if direction is None:
            i = self.i_ab + self.i_ba
        else:
            i = self.i_ab if direction == "ab" else self.i_ba
        return i * self.decay_to(now, params)

    def reciprocity(self) -> float:
        """Reciprocity of the weights; decay scales both directions alike, so it is time-free."""
        return reciprocity(self.w_ab, self.w_ba)

    def strength(self, now: float, params: TieParams = DEFAULT_TIE_PARAMS) -> float:
        d = self.decay_to(now, params)
        return strength_of(self.w_ab * d, self.w_ba * d, (self.i_ab + self.i_ba) * d, params)


class ApplyResult(NamedTuple):
    outcome: Outcome
    state: DyadState  # the (new or same) state; unchanged unless outcome is "applied"

    @property
    def applied(self) -> bool:
        return self.outcome == APPLIED


def apply(
    state: DyadState | None,
    actor: str,
    target: str,
    kind: Kind,
    event_time: float,
    sentiment: float | None,
    scopes: Iterable[str],
    event_id: str,
    params: TieParams = DEFAULT_TIE_PARAMS,
) -> ApplyResult:
    """Apply one interaction actor -> target to the dyad's state, exactly once.

    `state` is None for a dyad never seen; the result carries the state to store. `scopes`
    must be distinct (as `Interaction.scopes` is). Raises ValueError on a self-interaction,
    an unknown kind, a non-finite time or a sentiment outside [-1, 1]: the validator upstream
    keeps such events out.
    """
    if actor == target:
        raise ValueError("a self-interaction is not a tie")
    if kind == "reply":
        c = params.weight_reply
        is_reply = True
    elif kind == "mention":
        c = params.weight_mention
        is_reply = False
    else:
        raise ValueError(f"unknown interaction kind {kind!r}")
    t = float(event_time)
    if not math.isfinite(t):
        raise ValueError(f"event time must be finite, got {event_time!r}")
    if sentiment is None:
        intensity = 0.0
    elif -1.0 <= sentiment <= 1.0:
        intensity = abs(float(sentiment))
    else:
        raise ValueError(f"sentiment must be in [-1, 1], got {sentiment!r}")
    fp = fingerprint(event_id)

    if state is None:
        state = DyadState(ref=t, dedup_floor=math.ceil(t - params.dedup_horizon_s))
    else:
        if t < state.dedup_floor:
            return ApplyResult(TOO_LATE, state)
        if fp in state.seen:
            return ApplyResult(DUPLICATE, state)
        ref = state.ref
        if t > ref:
            _advance(state, t, math.exp(-params.decay_rate * (t - ref)), params)
        elif t < ref:
            late = math.exp(-params.decay_rate * (ref - t))
            c *= late
            intensity *= late

    second = math.floor(t)
    if actor < target:
        side = 0
        state.w_ab += c
        state.i_ab += intensity
        if is_reply:
            state.replies_ab += 1
        else:
            state.mentions_ab += 1
        if state.first_ab is None or second < state.first_ab:
            state.first_ab = second
        if state.last_ab is None or second > state.last_ab:
            state.last_ab = second
    else:
        side = 1
        state.w_ba += c
        state.i_ba += intensity
        if is_reply:
            state.replies_ba += 1
        else:
            state.mentions_ba += 1
        if state.first_ba is None or second < state.first_ba:
            state.first_ba = second
        if state.last_ba is None or second > state.last_ba:
            state.last_ba = second
    by_scope = state.scopes
    for scope in scopes:
        pair = by_scope.get(scope)
        if pair is None:
            pair = by_scope[scope] = [0.0, 0.0]
        pair[side] += c
    state.seen[fp] = math.ceil(t)
    state.seq += 1
    return ApplyResult(APPLIED, state)


def _advance(state: DyadState, t: float, factor: float, params: TieParams) -> None:
    """Move `ref` forward to `t`, rescaling by `factor`; raise the floor and evict."""
    state.ref = t
    state.w_ab *= factor
    state.w_ba *= factor
    state.i_ab *= factor
    state.i_ba *= factor
    if state.scopes:
        prune = params.scope_prune_below
        faded = None
        for scope, pair in state.scopes.items():
            pair[0] *= factor
            pair[1] *= factor
            if pair[0] < prune and pair[1] < prune:
                faded = [scope] if faded is None else [*faded, scope]
        if faded is not None:
            for scope in faded:
                del state.scopes[scope]
    floor = math.ceil(t - params.dedup_horizon_s)  # rounded up: rejecting more is safe
    if floor > state.dedup_floor:
        state.dedup_floor = floor
        seen = state.seen
        # A fingerprint below the floor is dead weight (its event is refused as too late
        # before the fingerprint is looked at), but dropping them one by one from the front
        # of a dict leaves holes that every later peek walks over. So they are dropped in
        # one rebuild, once the first in arrival order (nearly the oldest) is a slack past
        # the floor: at most one O(held) rebuild per slack of event time, and a dict that is
        # only appended to and rebuilt keeps the peek O(1). Late arrivals go too.
        if seen and seen[next(iter(seen))] < floor - params.dedup_purge_slack_s:
            state.seen = {fp: second for fp, second in seen.items() if second >= floor}


def snapshot(
    state: DyadState, key: tuple[str, str], now: float, params: TieParams = DEFAULT_TIE_PARAMS
) -> dict[str, Any]:
    """An absolute, JSON-able summary of the dyad for a dyad-update message.

    Every decayed number is valued at `ref` = max(`now`, the newest event time): a consumer
    decays it on from there. `seq` orders snapshots of one dyad.
    """
    a, b = key
    at = now if now > state.ref else state.ref
    d = state.decay_to(at, params)
    w_ab = state.w_ab * d
    w_ba = state.w_ba * d
    i_ab = state.i_ab * d
    i_ba = state.i_ba * d
    return {
        "a": a,
        "b": b,
        "seq": state.seq,
        "ref": at,
        "weight_ab": w_ab,
        "weight_ba": w_ba,
        "intensity_ab": i_ab,
        "intensity_ba": i_ba,
        "scopes": {scope: [pair[0] * d, pair[1] * d] for scope, pair in state.scopes.items()},
        "mentions_ab": state.mentions_ab,
        "replies_ab": state.replies_ab,
        "mentions_ba": state.mentions_ba,
        "replies_ba": state.replies_ba,
        "first_seen_ab": state.first_ab,
        "last_seen_ab": state.last_ab,
        "first_seen_ba": state.first_ba,
        "last_seen_ba": state.last_ba,
        "reciprocity": reciprocity(w_ab, w_ba),
        "strength": strength_of(w_ab, w_ba, i_ab + i_ba, params),
    }


def to_dict(state: DyadState) -> dict[str, Any]:
    """The compact stored form (a table value); `from_dict(to_dict(s)) == s` exactly.

    Whole-second times are stored as ages before `R = ceil(ref)`, so they are small ints:

    - s: seq; r: ref; f: R - dedup_floor
    - w: [w_ab, w_ba, i_ab, i_ba]; n: [mentions_ab, replies_ab, mentions_ba, replies_ba]
    - t: [R - first_ab, R - last_ab, R - first_ba, R - last_ba] (null: direction never seen)
    - c: {scope: [w_ab, w_ba]} (absent when empty), where an element equal to that
      direction's total weight is null and a pair equal to both totals is 0: scopes that
      tag every event of a dyad (a brand being listened to) cost a few bytes
    - e: the fingerprints in arrival order (the eviction order), concatenated, base64
    - a: [R - ceil(event time)] of each fingerprint, in the same order
    """
    ref = state.ref
    big_r = math.ceil(ref)
    w_ab = state.w_ab
    w_ba = state.w_ba
    i_ab = state.i_ab
    i_ba = state.i_ba
    first_ab = state.first_ab
    last_ab = state.last_ab
    first_ba = state.first_ba
    last_ba = state.last_ba
    # Inline rather than helper calls: this runs on every changelog write.
    out: dict[str, Any] = {
        "s": state.seq,
        "r": big_r if ref == big_r else ref,
        "f": big_r - state.dedup_floor,
        "w": [
            int(w_ab) if w_ab.is_integer() else w_ab,
            int(w_ba) if w_ba.is_integer() else w_ba,
            int(i_ab) if i_ab.is_integer() else i_ab,
            int(i_ba) if i_ba.is_integer() else i_ba,
        ],
        "n": [state.mentions_ab, state.replies_ab, state.mentions_ba, state.replies_ba],
        "t": [
            None if first_ab is None else big_r - first_ab,
            None if last_ab is None else big_r - last_ab,
            None if first_ba is None else big_r - first_ba,
            None if last_ba is None else big_r - last_ba,
        ],
    }
    if state.scopes:
        by_scope: dict[str, Any] = {}
        for scope, (v_ab, v_ba) in state.scopes.items():
            if v_ab == w_ab and v_ba == w_ba:
                by_scope[scope] = 0
            else:
                by_scope[scope] = [
                    None if v_ab == w_ab and w_ab else int(v_ab) if v_ab.is_integer() else v_ab,
                    None if v_ba == w_ba and w_ba else int(v_ba) if v_ba.is_integer() else v_ba,
                ]
        out["c"] = by_scope
    seen = state.seen
    out["e"] = b2a_base64(b"".join(seen), newline=False).decode()
    out["a"] = [big_r - second for second in seen.values()]
    return out


def from_dict(data: dict[str, Any]) -> DyadState:
    """Inverse of `to_dict`."""
    ref = float(data["r"])
    big_r = math.ceil(ref)
    w_ab, w_ba, i_ab, i_ba = data["w"]
    w_ab = float(w_ab)
    w_ba = float(w_ba)
    m_ab, r_ab, m_ba, r_ba = data["n"]
    first_ab, last_ab, first_ba, last_ba = data["t"]
    scopes: dict[str, list[float]] = {}
    for scope, stored in data.get("c", {}).items():
        if stored == 0:
            scopes[scope] = [w_ab, w_ba]
        else:
            v_ab, v_ba = stored
            scopes[scope] = [
                w_ab if v_ab is None else float(v_ab),
                w_ba if v_ba is None else float(v_ba),
            ]
    packed = a2b_base64(data["e"])
    ages = data["a"]
    return DyadState(
        ref,
        big_r - data["f"],
        data["s"],
        w_ab,
        w_ba,
        float(i_ab),
        float(i_ba),
        m_ab,
        r_ab,
        m_ba,
        r_ba,
        None if first_ab is None else big_r - first_ab,
        None if last_ab is None else big_r - last_ab,
        None if first_ba is None else big_r - first_ba,
        None if last_ba is None else big_r - last_ba,
        scopes,
        {packed[8 * k : 8 * k + 8]: big_r - age for k, age in enumerate(ages)},
    )
