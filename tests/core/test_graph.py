"""The strong-tie graph: threshold, decay and expiry, idempotent snapshots, sums for modularity."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.core import ties
from service.core.graph import EdgeChange, GraphParams, StrongTieGraph
from service.core.ties import DEFAULT_TIE_PARAMS, strength_of

DAY = 86400.0
T0 = 1_795_000_000.0


def snap(
    a: str,
    b: str,
    strength: float,
    ref: float = T0,
    seq: int = 1,
    scopes: dict[str, list[float]] | None = None,
) -> dict:
    return {"a": a, "b": b, "seq": seq, "ref": ref, "strength": strength, "scopes": scopes or {}}


def real_snapshot(events: list[tuple[str, str, str, float]], at: float) -> dict:
    """A snapshot made by ties.py itself from (actor, target, kind, time) events."""
    state = None
    for n, (actor, target, kind, t) in enumerate(events):
        state = ties.apply(state, actor, target, kind, t, None, ["acme"], f"e{n}").state
    assert state is not None
    a, b = events[0][0], events[0][1]
    return ties.snapshot(state, ties.dyad_key(a, b), at)


def test_a_strong_tie_is_an_edge_weighted_by_its_strength() -> None:
    g = StrongTieGraph()
    change = g.update(snap("ann", "bob", 0.8))
    assert change == EdgeChange("ann", "bob", 0.0, pytest.approx(0.8))
    assert g.weight("bob", "ann") == pytest.approx(0.8)
    assert g.strength("ann") == g.strength("bob") == pytest.approx(0.8)
    assert g.total_weight == pytest.approx(0.8)
    assert len(g) == 2 and g.number_of_edges == 1


def test_a_weak_tie_stays_out_and_a_tie_that_weakens_drops_out() -> None:
    g = StrongTieGraph()
    assert g.update(snap("ann", "bob", 0.59)) is None  # below the 0.6 threshold
    assert len(g) == 0
    g.update(snap("ann", "bob", 0.7, seq=2))
    change = g.update(snap("ann", "bob", 0.5, seq=3))
    assert change == EdgeChange("ann", "bob", pytest.approx(0.7), 0.0)
    assert len(g) == 0 and g.total_weight == 0.0


def test_two_replies_each_way_make_a_strong_tie_through_ties_py() -> None:
    # ties.py: "two replies each way: x = 16, strength 0.80 (strong)".
    events = [("ann", "bob", "reply", T0), ("bob", "ann", "reply", T0)] * 2
    g = StrongTieGraph()
    change = g.update(real_snapshot(events, T0))
    assert change is not None
    assert change.new == pytest.approx(strength_of(4.0, 4.0, 0.0))
    assert g.scope_weights("ann", "bob") == {"acme": pytest.approx(8.0)}


def test_an_old_or_repeated_snapshot_changes_nothing() -> None:
    g = StrongTieGraph()
    g.update(snap("ann", "bob", 0.9, seq=5))
    assert g.update(snap("ann", "bob", 0.7, seq=5)) is None
    assert g.update(snap("ann", "bob", 0.7, seq=4)) is None
    assert g.weight("ann", "bob") == pytest.approx(0.9)


def test_a_silent_tie_expires_when_its_strength_falls_below_the_threshold() -> None:
    # ties.py: "a strength-0.80 tie left silent falls below 0.6 after 11 days".
    g = StrongTieGraph()
    g.update(snap("ann", "bob", 0.8))
    lam = DEFAULT_TIE_PARAMS.decay_rate
    k = DEFAULT_TIE_PARAMS.strength_scale
    x0, x_thr = -k * math.log1p(-0.8), -k * math.log1p(-0.6)
    crossing = T0 + math.log(x0 / x_thr) / lam
    assert 10 * DAY < crossing - T0 < 12 * DAY
    assert g.expire(crossing - 1.0) == []
    assert g.strength_at("ann", "bob", crossing) == pytest.approx(0.6)
    assert g.expire(crossing + 1.0) == [EdgeChange("ann", "bob", pytest.approx(0.8), 0.0)]
    assert len(g) == 0


def test_a_refreshed_tie_does_not_expire_at_its_old_time() -> None:
    g = StrongTieGraph()
    g.update(snap("ann", "bob", 0.8))
    g.update(snap("ann", "bob", 0.8, ref=T0 + 10 * DAY, seq=2))
    assert g.expire(T0 + 12 * DAY) == []
    assert g.weight("ann", "bob") == pytest.approx(0.8)
    assert len(g.expire(T0 + 22 * DAY)) == 1


def test_a_late_snapshot_is_valued_at_the_graph_clock() -> None:
    g = StrongTieGraph()
    g.update(snap("cat", "dan", 0.9, ref=T0 + 7 * DAY))
    g.update(snap("ann", "bob", 0.9, ref=T0))  # a week late: its mass decays half a half-life
    lam = DEFAULT_TIE_PARAMS.decay_rate
    expected = -math.expm1(math.log1p(-0.9) * math.exp(-lam * 7 * DAY))
    assert g.weight("ann", "bob") == pytest.approx(expected)
    assert 0.6 < expected < 0.9


def test_tombstones_and_opt_outs_remove_edges() -> None:
    g = StrongTieGraph()
    for b in ("bob", "cat", "dan"):
        g.update(snap("ann", b, 0.8))
    g.update(snap("bob", "cat", 0.7))
    assert g.remove("ann", "bob") == EdgeChange("ann", "bob", pytest.approx(0.8), 0.0)
    assert g.remove("ann", "bob") is None
    changes = g.remove_node("ann")
    assert {(c.a, c.b) for c in changes} == {("ann", "cat"), ("ann", "dan")}
    assert "ann" not in g and "dan" not in g
    assert g.total_weight == pytest.approx(0.7)
    assert g.strength("cat") == pytest.approx(0.7)


def test_scope_weights_sum_both_directions_and_decay() -> None:
    g = StrongTieGraph()
    g.update(snap("ann", "bob", 0.8, scopes={"shoes": [2.0, 1.0], "trail": [0.0, 1.0]}))
    assert g.scope_weights("ann", "bob") == {"shoes": 3.0, "trail": 1.0}
    later = g.scope_weights("ann", "bob", T0 + 14 * DAY)  # one half-life
    assert later["shoes"] == pytest.approx(1.5)


def test_revalue_brings_every_weight_to_now() -> None:
    g = StrongTieGraph()
    g.update(snap("ann", "bob", 0.95))
    g.update(snap("bob", "cat", 0.9))
    g.update(snap("cat", "dan", 0.61))  # expires within a day
    now = T0 + 3 * DAY
    dropped = g.revalue(now)
    assert [(c.a, c.b) for c in dropped] == [("cat", "dan")]
    assert g.weight("ann", "bob") == pytest.approx(g.strength_at("ann", "bob", now))
    assert g.weight("ann", "bob") < 0.95
    assert g.strength("bob") == pytest.approx(g.weight("ann", "bob") + g.weight("bob", "cat"))
    assert g.total_weight == pytest.approx(g.weight("ann", "bob") + g.weight("bob", "cat"))


def test_static_weights_never_expire_and_accumulate() -> None:
    g = StrongTieGraph(GraphParams(threshold=0.0))
    g.add_weight("1", "2", 1.0)
    g.add_weight("2", "1", 1.0)
    assert g.weight("1", "2") == 2.0
    assert g.expire(T0 + 1000 * DAY) == []
    assert g.set_weight("1", "2", 0.0) == EdgeChange("1", "2", 2.0, 0.0)
    assert g.set_weight("1", "1", 5.0) is None  # no self-loops


def test_the_expiry_heap_stays_bounded_under_many_refreshes() -> None:
    g = StrongTieGraph()
    for seq in range(1, 1000):
        g.update(snap("ann", "bob", 0.8, ref=T0 + seq, seq=seq))
    assert len(g._expiry) <= 2 * g.number_of_edges + 65
    assert len(g.expire(T0 + 30 * DAY)) == 1


def test_threshold_must_be_a_strength() -> None:
    with pytest.raises(ValueError):
        GraphParams(threshold=1.0)
    assert GraphParams().strength_threshold == DEFAULT_TIE_PARAMS.strong_tie_threshold


ops = st.lists(
    st.tuples(
        st.sampled_from(["update", "remove", "drop_node", "expire"]),
        st.integers(0, 7),
        st.integers(0, 7),
        st.floats(0.0, 0.99),
        st.floats(0.0, 20 * DAY),
    ),
    max_size=80,
)


@settings(max_examples=150, deadline=None)
@given(ops)
def test_strengths_and_total_always_match_the_edges(steps: list) -> None:
    g = StrongTieGraph()
    seq = 0
    for op, i, j, s, dt in steps:
        a, b = f"p{i}", f"p{j}"
        if op == "update":
            seq += 1
            g.update(snap(a, b, s, ref=T0 + dt, seq=seq))
        elif op == "remove":
            g.remove(a, b)
        elif op == "drop_node":
            g.remove_node(a)
        else:
            g.expire(T0 + dt)
        edges = list(g.edges())
        assert g.total_weight == pytest.approx(math.fsum(w for _, _, w in edges), abs=1e-9)
        for u in g.nodes():
            expected = math.fsum(w for x, y, w in edges if u in (x, y))
            assert g.strength(u) == pytest.approx(expected, abs=1e-9)
            assert expected > 0.0
        assert all(w >= 0.6 for _, _, w in edges)
