"""Person influence from absolute dyad snapshots: order-safe, scoped, reciprocity-weighted."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.core.influence import (
    PersonState,
    apply_dyad,
    apply_snapshot,
    rank_people,
    remove_partner,
)
from service.core.interaction import KINDS, Kind
from service.core.ties import (
    DEFAULT_TIE_PARAMS,
    TOO_LATE,
    DyadState,
    TieParams,
    apply,
    dyad_key,
    snapshot,
)

DAY = 86400.0
T0 = 1_795_000_000.0

Step = tuple[str, str, Kind, tuple[str, ...]]  # actor, target, kind, scopes


def snapshots(steps: list[Step], t: float = T0) -> list[dict[str, Any]]:
    """The dyad-update snapshot after each step, all steps at time `t`, through JSON."""
    state: DyadState | None = None
    out = []
    for i, (actor, target, kind, scopes) in enumerate(steps):
        state = apply(state, actor, target, kind, t, None, scopes, f"{actor}-{target}-{i}").state
        out.append(orjson.loads(orjson.dumps(snapshot(state, dyad_key(actor, target), t))))
    return out


def conversation(
    person: str, partner: str, turns_each: int, scopes: tuple[str, ...] = ()
) -> dict[str, Any]:
    """`turns_each` replies from partner to person and as many back."""
    steps: list[Step] = []
    for _ in range(turns_each):
        steps += [(partner, person, "reply", scopes), (person, partner, "reply", scopes)]
    return snapshots(steps)[-1]


def test_inbound_weight_is_the_partner_to_person_direction() -> None:
    snap = snapshots([("ann", "bob", "mention", ())])[-1]
    bob, ann = PersonState(), PersonState()
    assert apply_snapshot(bob, "bob", snap)
    assert apply_snapshot(ann, "ann", snap)
    assert bob.influence(T0) == 0.0, "a one-way mention is reach, not influence"
    assert bob.reach(T0) == pytest.approx(1.0)
    assert ann.influence(T0) == ann.reach(T0) == 0.0
    assert bob.ties["ann"].w_in == 1.0 and ann.ties["bob"].w_out == 1.0


def test_a_stale_snapshot_is_ignored() -> None:
    snaps = snapshots(
        [("ann", "bob", "mention", ()), ("bob", "ann", "reply", ()), ("ann", "bob", "reply", ())]
    )
    bob = PersonState()
    assert apply_snapshot(bob, "bob", snaps[2])
    held = orjson.dumps(bob.to_dict())
    assert not apply_snapshot(bob, "bob", snaps[0])
    assert not apply_snapshot(bob, "bob", snaps[2])  # a repeat
    assert orjson.dumps(bob.to_dict()) == held
    assert bob.ties["ann"].seq == 3


@given(st.data())
def test_replayed_and_reordered_snapshots_end_at_the_newest(data: st.DataObject) -> None:
    steps: list[Step] = data.draw(
        st.lists(
            st.tuples(
                st.sampled_from(["ann", "bob"]),
                st.sampled_from(KINDS),
                st.lists(st.sampled_from(["acme", "shoes"]), unique=True).map(tuple),
            ).map(lambda row: (row[0], "bob" if row[0] == "ann" else "ann", row[1], row[2])),
            min_size=1,
            max_size=8,
        )
    )
    snaps = snapshots(steps)
    delivered = data.draw(st.lists(st.sampled_from(snaps), min_size=1, max_size=20))
    newest = max(delivered, key=lambda s: s["seq"])
    replayed, direct = PersonState(), PersonState()
    for snap in delivered:
        apply_snapshot(replayed, "bob", snap)
    apply_snapshot(direct, "bob", newest)
    assert replayed == direct


@given(st.data())
def test_apply_dyad_takes_what_apply_snapshot_takes(data: st.DataObject) -> None:
    """The replay's shortcut: the same person state as the snapshot path, step by step, with
    events out of order, late ones and repeats (which `apply` refuses)."""
    events = data.draw(
        st.lists(
            st.tuples(
                st.sampled_from([("ann", "bob"), ("bob", "ann")]),
                st.sampled_from(KINDS),
                st.floats(-3 * DAY, 3 * DAY),
                st.none() | st.floats(-1.0, 1.0),
                st.lists(st.sampled_from(["acme", "shoes"]), unique=True).map(tuple),
                st.integers(0, 5),  # event id: repeats are duplicates
            ),
            min_size=1,
            max_size=12,
        )
    )
    state: DyadState | None = None
    via_snapshot = {"ann": PersonState(), "bob": PersonState()}
    via_dyad = {"ann": PersonState(), "bob": PersonState()}
    for (actor, target), kind, dt, sentiment, scopes, n in events:
        result = apply(state, actor, target, kind, T0 + dt, sentiment, scopes, f"e{n}")
        if result.outcome == TOO_LATE:
            continue
        state = result.state
        key = dyad_key(actor, target)
        snap = snapshot(state, key, state.ref)
        for person in key:
            taken = apply_snapshot(via_snapshot[person], person, snap)
            assert apply_dyad(via_dyad[person], person, key, state) == taken
        assert via_dyad == via_snapshot


def test_apply_dyad_refuses_someone_outside_the_dyad() -> None:
    state = apply(None, "ann", "bob", "mention", T0, None, (), "e1").state
    with pytest.raises(ValueError):
        apply_dyad(PersonState(), "cat", ("ann", "bob"), state)


def test_influence_can_be_scoped() -> None:
    bob = PersonState()
    apply_snapshot(bob, "bob", snapshots([("ann", "bob", "reply", ("acme",))])[-1])
    apply_snapshot(bob, "bob", snapshots([("cat", "bob", "mention", ("shoes", "acme"))])[-1])
    apply_snapshot(bob, "bob", snapshots([("dan", "bob", "mention", ("shoes",))])[-1])
    assert bob.reach(T0, "acme") == pytest.approx(2.0 + 1.0)
    assert bob.reach(T0, "shoes") == pytest.approx(1.0 + 1.0)
    assert bob.reach(T0) == pytest.approx(2.0 + 1.0 + 1.0)
    assert bob.reach(T0, "nothing") == 0.0
    assert bob.reach(T0 + 14 * DAY, "acme") == pytest.approx(1.5)  # one half-life on
    assert bob.influence(T0, "acme") == 0.0, "nobody bob talks back to"
    apply_snapshot(bob, "bob", conversation("bob", "eve", 1, ("acme",)))
    assert bob.influence(T0, "acme") == pytest.approx(2.0)
    assert bob.relevance(T0, "acme") == pytest.approx(1.0)
    assert bob.relevance(T0, "shoes") == 0.0
    assert bob.scopes() == ["acme", "shoes"]


def test_a_micro_influencer_whose_followers_talk_back_outranks_one_way_mentions() -> None:
    """10 two-way conversations (2 replies each way): influence 10 * 4.0 * 1.0 = 40.
    300 accounts mentioning once, never answered: influence 0, reach 300."""
    people = {"mia": PersonState(), "cel": PersonState()}
    for i in range(10):
        assert apply_snapshot(people["mia"], "mia", conversation("mia", f"fan{i}", 2))
    for i in range(300):
        snap = snapshots([(f"acct{i}", "cel", "mention", ())])[-1]
        assert apply_snapshot(people["cel"], "cel", snap)

    assert people["mia"].influence(T0) == pytest.approx(40.0)
    assert people["cel"].influence(T0) == 0.0
    assert rank_people(people, T0) == [("mia", pytest.approx(40.0))]
    # Reach (one-way ties count in full) ranks the other way, 300 to 40.
    assert rank_people(people, T0, measure="reach") == [
        ("cel", pytest.approx(300.0)),
        ("mia", pytest.approx(40.0)),
    ]
    plain = TieParams(one_way_influence=1.0)
    assert [p for p, _ in rank_people(people, T0, params=plain)] == ["cel", "mia"]
    # The relationships are strong too: every one of mia's ties, none of cel's.
    assert people["mia"].strong_ties(T0) == 10
    assert people["cel"].strong_ties(T0) == 0


def test_strong_and_top_ties_decay_with_time() -> None:
    ann = PersonState()
    apply_snapshot(ann, "ann", conversation("ann", "bob", 2))  # strength 0.80
    apply_snapshot(ann, "ann", conversation("ann", "cat", 1))  # 0.55
    apply_snapshot(ann, "ann", snapshots([("dan", "ann", "mention", ())])[-1])  # 0.10
    top = ann.top_ties(T0, limit=2)
    assert [p for p, _ in top] == ["bob", "cat"]
    assert top[0][1] == pytest.approx(0.798, abs=1e-3)
    assert ann.strong_ties(T0) == 1
    assert ann.strong_ties(T0 + 30 * DAY) == 0
    assert ann.top_ties(T0 + 30 * DAY, limit=1)[0][1] < top[0][1]


def test_remove_partner_forgets_the_tie() -> None:
    bob = PersonState()
    apply_snapshot(bob, "bob", conversation("bob", "ann", 1))
    apply_snapshot(bob, "bob", snapshots([("cat", "bob", "mention", ())])[-1])
    assert remove_partner(bob, "ann")
    assert not remove_partner(bob, "ann")
    assert set(bob.ties) == {"cat"}
    assert bob.influence(T0) == 0.0 and bob.reach(T0) == pytest.approx(1.0)
    assert [p for p, _ in bob.top_ties(T0)] == ["cat"]


def test_a_snapshot_of_someone_else_is_refused() -> None:
    with pytest.raises(ValueError):
        apply_snapshot(PersonState(), "zed", snapshots([("ann", "bob", "mention", ())])[-1])


def test_rank_people_limits_and_leaves_out_the_uninfluential() -> None:
    people = {name: PersonState() for name in ("a1", "a2", "a3", "nobody")}
    for n, name in enumerate(("a1", "a2", "a3"), start=1):
        for i in range(n):
            apply_snapshot(people[name], name, conversation(name, f"p{i}", 1))
    assert [p for p, _ in rank_people(people, T0, limit=2)] == ["a3", "a2"]
    assert "nobody" not in dict(rank_people(people, T0, limit=10))
    assert rank_people(people, T0, scope="acme") == []


def test_person_state_round_trips_through_json() -> None:
    bob = PersonState()
    apply_snapshot(bob, "bob", snapshots([("ann", "bob", "reply", ("acme",))])[-1])
    apply_snapshot(bob, "bob", conversation("bob", "cat", 2))
    back = PersonState.from_dict(orjson.loads(orjson.dumps(bob.to_dict())))
    assert back == bob
    assert back.influence(T0 + DAY) == bob.influence(T0 + DAY, params=DEFAULT_TIE_PARAMS)


def test_person_state_keeps_its_critic_row_and_reads_the_older_ties_only_form() -> None:
    bob = PersonState()
    apply_snapshot(bob, "bob", conversation("bob", "cat", 2))
    ties_only = orjson.loads(orjson.dumps(bob.to_dict()))["t"]
    assert PersonState.from_dict(ties_only) == bob, "a row written before the critic moved in"
    bob.critic = {"c": {"n": 3}, "m": [], "tp": None, "on": False}
    back = PersonState.from_dict(orjson.loads(orjson.dumps(bob.to_dict())))
    assert back == bob and back.critic == bob.critic
    assert not back.empty and PersonState(critic={"x": 1}).empty is False
    assert PersonState().empty
