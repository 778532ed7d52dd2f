"""Dyad tie strength: reciprocity, strength, exactly-once application, stored form."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.core.interaction import KINDS, Kind
from service.core.ties import (
    DEFAULT_TIE_PARAMS,
    DyadState,
    Outcome,
    TieParams,
    apply,
    dyad_key,
    fingerprint,
    from_dict,
    reciprocity,
    snapshot,
    strength_of,
    to_dict,
)

DAY = 86400.0
T0 = 1_795_000_000.0
HORIZON = DEFAULT_TIE_PARAMS.dedup_horizon_s
HALF_LIFE = DEFAULT_TIE_PARAMS.half_life_s


@dataclass(frozen=True)
class Event:
    event_id: str
    actor: str
    target: str
    kind: Kind
    time: float
    sentiment: float | None
    scopes: tuple[str, ...]


def run(
    events: list[Event], params: TieParams = DEFAULT_TIE_PARAMS
) -> tuple[DyadState, list[Outcome]]:
    state: DyadState | None = None
    outcomes: list[Outcome] = []
    for e in events:
        result = apply(
            state, e.actor, e.target, e.kind, e.time, e.sentiment, e.scopes, e.event_id, params
        )
        state = result.state
        outcomes.append(result.outcome)
    assert state is not None
    return state, outcomes


def stored(state: DyadState) -> bytes:
    return orjson.dumps(to_dict(state))


weights = st.floats(min_value=0.0, max_value=1e9, allow_nan=False)
scope_sets = st.lists(st.sampled_from(["acme", "shoes", "delays"]), unique=True, max_size=3).map(
    tuple
)


def events(max_offset: float, max_size: int = 25) -> st.SearchStrategy[list[Event]]:
    """Distinct events between ann and bob, `max_offset` seconds of event time wide."""
    one = st.tuples(
        st.booleans(),
        st.sampled_from(KINDS),
        st.floats(min_value=0.0, max_value=max_offset, allow_nan=False),
        st.none() | st.floats(min_value=-1.0, max_value=1.0),
        scope_sets,
    )
    return st.lists(one, min_size=1, max_size=max_size).map(
        lambda rows: [
            Event(f"ev-{i}", *(("ann", "bob") if fwd else ("bob", "ann")), kind, T0 + dt, s, sc)
            for i, (fwd, kind, dt, s, sc) in enumerate(rows)
        ]
    )


# --- reciprocity -----------------------------------------------------------------------


@given(weights, weights)
def test_reciprocity_is_symmetric_and_in_unit_interval(a: float, b: float) -> None:
    r = reciprocity(a, b)
    assert r == reciprocity(b, a)
    assert 0.0 <= r <= 1.0


@given(st.floats(min_value=1e-9, max_value=1e9))
def test_reciprocity_is_one_for_equal_weights_and_zero_one_way(w: float) -> None:
    assert reciprocity(w, w) == 1.0
    assert reciprocity(w, 0.0) == 0.0
    assert reciprocity(0.0, w) == 0.0
    assert reciprocity(0.0, 0.0) == 0.0


@given(weights, weights)
def test_reciprocity_is_below_one_for_unequal_weights(a: float, b: float) -> None:
    if abs(a - b) > 1e-9 * max(a, b):
        assert reciprocity(a, b) < 1.0


# --- strength --------------------------------------------------------------------------


@given(weights, weights, weights)
def test_strength_is_in_zero_one(a: float, b: float, i: float) -> None:
    assert 0.0 <= strength_of(a, b, i) < 1.0
    assert strength_of(0.0, 0.0, 0.0) == 0.0


@given(weights, weights, weights, st.floats(min_value=0.0, max_value=1e6))
def test_strength_is_monotone_in_frequency(a: float, b: float, i: float, more: float) -> None:
    s = strength_of(a, b, i)
    assert strength_of(a + more, b, i) >= s
    assert strength_of(a, b + more, i) >= s
    assert strength_of(a, b, i + more) >= s


@given(
    st.floats(min_value=0.1, max_value=100.0),
    st.floats(min_value=0.0, max_value=0.5),
    st.floats(min_value=0.0, max_value=0.5),
)
def test_strength_rises_with_reciprocity_at_equal_volume(
    total: float, f1: float, f2: float
) -> None:
    low, high = sorted((f1, f2))
    s_low = strength_of(total * low, total * (1 - low), 0.0)
    s_high = strength_of(total * high, total * (1 - high), 0.0)
    assert s_low <= s_high + 1e-12
    if high - low > 1e-6:
        assert s_low < s_high


def test_strength_anchor_values() -> None:
    """The examples of the module docstring, so the docs cannot drift from the code."""
    assert strength_of(1.0, 0.0, 0.0) == pytest.approx(0.095, abs=1e-3)  # one mention
    assert strength_of(2.0, 0.0, 0.0) == pytest.approx(0.181, abs=1e-3)  # one reply
    exchange = strength_of(2.0, 2.0, 0.0)  # one reply each way
    assert exchange == pytest.approx(0.551, abs=1e-3)
    assert exchange < DEFAULT_TIE_PARAMS.strong_tie_threshold
    assert strength_of(4.0, 4.0, 0.0) == pytest.approx(0.798, abs=1e-3)  # two each way
    assert strength_of(10.0, 0.0, 0.0) == pytest.approx(0.632, abs=1e-3)  # five unanswered
    assert strength_of(10.0, 0.0, 0.0) >= DEFAULT_TIE_PARAMS.strong_tie_threshold
    # A 0.80 tie left silent drops below the threshold after about 11 days.
    state, _ = run(
        [Event(f"e{i}", *pair, "reply", T0, None, ()) for i, pair in
         enumerate([("ann", "bob"), ("ann", "bob"), ("bob", "ann"), ("bob", "ann")])]
    )  # fmt: skip
    assert state.strength(T0 + 10 * DAY) > 0.6 > state.strength(T0 + 12 * DAY)


@given(events(max_offset=30 * DAY), st.floats(min_value=0.0, max_value=400 * DAY))
def test_strength_decays_with_time(evs: list[Event], later: float) -> None:
    state, _ = run(evs)
    now = state.ref
    assert state.strength(now + later) <= state.strength(now)
    if state.strength(now) > 0.0:
        assert state.strength(now + HALF_LIFE) < state.strength(now)


def test_reply_weighs_twice_a_mention_and_unknown_sentiment_is_neutral() -> None:
    state, _ = run(
        [
            Event("m", "ann", "bob", "mention", T0, None, ()),
            Event("r", "bob", "ann", "reply", T0, -0.75, ()),
        ]
    )
    assert (state.w_ab, state.w_ba) == (1.0, 2.0)
    assert (state.i_ab, state.i_ba) == (0.0, 0.75)
    assert (state.mentions_ab, state.replies_ab, state.mentions_ba, state.replies_ba) == (
        1,
        0,
        0,
        1,
    )


def test_direction_follows_the_canonical_order() -> None:
    assert dyad_key("zoe", "amy") == ("amy", "zoe") == dyad_key("amy", "zoe")
    state, _ = run([Event("x", "zoe", "amy", "mention", T0, None, ("acme",))])
    assert state.weight(T0, "ba") == 1.0
    assert state.weight(T0, "ab") == 0.0
    assert state.scope_weight(T0, "acme", "ba") == 1.0
    assert (state.first_ba, state.last_ba, state.first_ab) == (int(T0), int(T0), None)


def test_weights_halve_after_one_half_life() -> None:
    state, _ = run([Event("x", "ann", "bob", "reply", T0, 0.5, ("acme",))])
    assert state.weight(T0 + HALF_LIFE, "ab") == pytest.approx(1.0, rel=1e-12)
    assert state.intensity(T0 + HALF_LIFE) == pytest.approx(0.25, rel=1e-12)
    assert state.scope_weight(T0 + HALF_LIFE, "acme", "ab") == pytest.approx(1.0, rel=1e-12)


# --- exactly once ----------------------------------------------------------------------


@given(events(max_offset=20 * DAY), st.data())
def test_duplicates_anywhere_leave_exactly_the_deduplicated_state(
    evs: list[Event], data: st.DataObject
) -> None:
    with_dups = list(evs)
    for _ in range(data.draw(st.integers(min_value=1, max_value=15))):
        copy = data.draw(st.sampled_from(evs))
        with_dups.insert(data.draw(st.integers(min_value=0, max_value=len(with_dups))), copy)
    first_seen: dict[str, Event] = {}
    for e in with_dups:
        first_seen.setdefault(e.event_id, e)
    deduplicated = list(first_seen.values())

    state, outcomes = run(with_dups)
    expected, _ = run(deduplicated)
    assert state == expected
    assert stored(state) == stored(expected)
    seen: set[str] = set()
    for e, outcome in zip(with_dups, outcomes, strict=True):
        if e.event_id in seen:
            assert outcome in ("duplicate", "too_late")
        seen.add(e.event_id)


def test_applying_the_same_event_twice_changes_nothing() -> None:
    e = Event("tw-1", "ann", "bob", "reply", T0, 0.3, ("acme",))
    state, _ = run([e])
    before = stored(state)
    result = apply(state, e.actor, e.target, e.kind, e.time, e.sentiment, e.scopes, e.event_id)
    assert result.outcome == "duplicate"
    assert not result.applied
    assert stored(result.state) == before
    assert result.state.seq == 1


@given(events(max_offset=HORIZON - 1.0), st.randoms(use_true_random=False))
def test_weights_do_not_depend_on_arrival_order_within_the_horizon(
    evs: list[Event], rnd: random.Random
) -> None:
    shuffled = list(evs)
    rnd.shuffle(shuffled)
    a, outcomes_a = run(evs)
    b, outcomes_b = run(shuffled)
    assert set(outcomes_a) == set(outcomes_b) == {"applied"}

    def close(x: float, y: float) -> bool:
        return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12)

    for name in ("w_ab", "w_ba", "i_ab", "i_ba"):
        assert close(getattr(a, name), getattr(b, name)), name
    assert a.scopes.keys() == b.scopes.keys()
    for scope, pair in a.scopes.items():
        assert close(pair[0], b.scopes[scope][0]) and close(pair[1], b.scopes[scope][1])
    assert (a.ref, a.dedup_floor, a.seq) == (b.ref, b.dedup_floor, b.seq)
    assert (a.first_ab, a.last_ab, a.first_ba, a.last_ba) == (
        b.first_ab,
        b.last_ab,
        b.first_ba,
        b.last_ba,
    )
    assert (a.mentions_ab, a.replies_ab, a.mentions_ba, a.replies_ba) == (
        b.mentions_ab,
        b.replies_ab,
        b.mentions_ba,
        b.replies_ba,
    )
    assert a.seen == b.seen


def test_an_event_beyond_the_horizon_is_too_late() -> None:
    state, _ = run([Event("new", "ann", "bob", "mention", T0, None, ())])
    before = stored(state)
    assert state.dedup_floor == T0 - HORIZON
    old = apply(state, "bob", "ann", "reply", T0 - HORIZON - 1, None, (), "old")
    assert old.outcome == "too_late"
    assert stored(old.state) == before
    edge = apply(state, "bob", "ann", "reply", T0 - HORIZON, None, (), "edge")
    assert edge.outcome == "applied"


def test_fingerprints_are_evicted_past_the_horizon_and_replays_are_too_late() -> None:
    state, _ = run(
        [
            Event("a", "ann", "bob", "mention", T0, None, ()),
            Event("b", "ann", "bob", "mention", T0 + DAY, None, ()),
        ]
    )
    assert len(state.seen) == 2
    # The floor passes "a" at once; its fingerprint goes once it is a purge slack behind.
    apply(state, "bob", "ann", "mention", T0 + HORIZON + 0.25 * DAY, None, (), "c")
    assert state.dedup_floor == T0 + 0.25 * DAY
    assert len(state.seen) == 3
    apply(state, "bob", "ann", "mention", T0 + HORIZON + DAY, None, (), "d")
    assert state.dedup_floor == T0 + DAY
    assert set(state.seen) == {fingerprint(e) for e in "bcd"}
    replay = apply(state, "ann", "bob", "mention", T0, None, (), "a")
    assert replay.outcome == "too_late"  # its fingerprint is gone: it must not count twice


def test_fingerprints_are_stable_across_processes() -> None:
    # blake2b-64, not the salted hash()
    assert fingerprint("tw-1") == (15740447498222437076).to_bytes(8, "big")


@pytest.mark.parametrize(
    ("actor", "target", "kind", "time", "sentiment"),
    [
        ("ann", "ann", "mention", T0, None),
        ("ann", "bob", "like", T0, None),
        ("ann", "bob", "mention", math.nan, None),
        ("ann", "bob", "mention", T0, 1.5),
        ("ann", "bob", "mention", T0, math.nan),
    ],
)
def test_invalid_interactions_are_refused(
    actor: str, target: str, kind: Kind, time: float, sentiment: float | None
) -> None:
    with pytest.raises(ValueError):
        apply(None, actor, target, kind, time, sentiment, (), "x")


def test_a_faded_scope_is_pruned() -> None:
    state, _ = run([Event("a", "ann", "bob", "mention", T0, None, ("acme",))])
    apply(state, "ann", "bob", "mention", T0 + 15 * HALF_LIFE, None, ("shoes",), "b")
    assert set(state.scopes) == {"shoes"}


# --- snapshot and stored form ----------------------------------------------------------


def test_snapshot_is_absolute_and_json_able() -> None:
    state, _ = run(
        [
            Event("a", "ann", "bob", "reply", T0, 0.5, ("acme",)),
            Event("b", "bob", "ann", "mention", T0 + 60, None, ()),
        ]
    )
    now = T0 + DAY
    snap = orjson.loads(orjson.dumps(snapshot(state, ("ann", "bob"), now)))
    assert (snap["a"], snap["b"], snap["seq"], snap["ref"]) == ("ann", "bob", 2, now)
    assert snap["weight_ab"] == pytest.approx(state.weight(now, "ab"))
    assert snap["weight_ba"] == pytest.approx(state.weight(now, "ba"))
    assert snap["scopes"]["acme"] == pytest.approx([state.scope_weight(now, "acme", "ab"), 0.0])
    assert (snap["replies_ab"], snap["mentions_ba"]) == (1, 1)
    assert (snap["first_seen_ab"], snap["last_seen_ba"]) == (int(T0), int(T0) + 60)
    assert snap["reciprocity"] == pytest.approx(2 / 3, abs=1e-4)
    assert snap["strength"] == pytest.approx(state.strength(now))
    # A read before the newest event is valued at the newest event, never in the past.
    assert snapshot(state, ("ann", "bob"), T0)["ref"] == T0 + 60


@given(events(max_offset=60 * DAY))
def test_stored_form_round_trips_exactly(evs: list[Event]) -> None:
    state, _ = run(evs)
    raw = stored(state)
    back = from_dict(orjson.loads(raw))
    assert back == state
    assert stored(back) == raw
    assert list(back.seen) == list(state.seen)  # eviction order survives a restart


def test_stored_form_of_small_dyads_is_compact() -> None:
    one, _ = run([Event("tw-1234567890", "u1001", "u2002", "mention", T0, 0.4, ("acme",))])
    three, _ = run(
        [
            Event("tw-1", "u1001", "u2002", "mention", T0, 0.4, ("acme", "delays")),
            Event("tw-2", "u2002", "u1001", "reply", T0 + 5400, -0.2, ("acme",)),
            Event("tw-3", "u1001", "u2002", "reply", T0 + 90000, None, ("acme", "refund")),
        ]
    )
    assert len(stored(one)) <= 130
    assert len(stored(three)) <= 300
