"""The tie index answers what a scan of every tie answers, after any sequence of changes."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from service.core.influence import PartnerTie, PersonState
from service.core.tie_index import CAPACITY
from service.core.ties import DEFAULT_TIE_PARAMS, TieParams

DAY = 86400.0
T0 = 1_795_000_000.0
PARTNERS = [f"p{i:02d}" for i in range(40)]
SCOPES = ["acme", "shoes"]

weights = st.floats(min_value=0.01, max_value=50.0, allow_nan=False)
change = st.one_of(
    st.tuples(
        st.just("set"),
        st.sampled_from(PARTNERS),
        st.floats(min_value=0.0, max_value=60 * DAY),  # when, after T0
        weights,
        weights,
        st.floats(min_value=0.0, max_value=10.0),
        st.dictionaries(st.sampled_from(SCOPES), weights, max_size=2),
    ),
    st.tuples(st.just("drop"), st.sampled_from(PARTNERS)),
    st.tuples(st.just("read"), st.floats(min_value=0.0, max_value=90 * DAY)),
)


def check(person: PersonState, now: float, params: TieParams) -> None:
    for scope in (None, *SCOPES):
        fast = person.influence(now, scope, params)
        exact = person.influence_by_scan(now, scope, params)
        assert math.isclose(fast, exact, rel_tol=1e-9, abs_tol=1e-12)
    for limit in (1, 5, CAPACITY):
        fast_top = [p for p, _ in person.top_ties(now, limit, params)]
        assert fast_top == person.top_partners_by_scan(now, limit, params)


@settings(max_examples=300, deadline=None)
@given(st.lists(change, max_size=120), st.sampled_from([DEFAULT_TIE_PARAMS, TieParams(1 * DAY)]))
def test_reads_through_the_index_equal_a_scan(changes: list[tuple], params: TieParams) -> None:
    person = PersonState()
    person.influence(T0, None, params)  # the index exists from the start: every change updates it
    seq = 0
    newest = T0
    for step in changes:
        if step[0] == "set":
            _, partner, dt, w_in, w_out, intensity, scopes = step
            seq += 1
            held = person.ties.get(partner)
            ref = max(T0 + dt, held.ref if held else T0)
            newest = max(newest, ref)
            person.set_tie(partner, PartnerTie(seq, ref, w_in, w_out, intensity, scopes))
        elif step[0] == "drop":
            person.drop_tie(partner=step[1])
        else:
            check(person, newest + step[1], params)
    check(person, newest, params)


def test_a_read_before_a_ties_ref_is_the_scan() -> None:
    person = PersonState()
    person.set_tie("a", PartnerTie(1, T0, 2.0, 2.0, 0.0, {}))
    person.set_tie("b", PartnerTie(1, T0 + DAY, 1.0, 0.0, 0.0, {}))
    early = T0 + DAY / 2  # after a's ref, before b's: b is not decayed up, only a decays
    assert person.influence(early) == person.influence_by_scan(early)
    assert person.influence(early) > 0.0


def test_saturated_ties_still_rank_by_how_strong_they_are() -> None:
    person = PersonState()
    person.set_tie("a", PartnerTie(1, T0, 400.0, 400.0, 0.0, {}))
    person.set_tie("b", PartnerTie(1, T0, 900.0, 900.0, 0.0, {}))
    top = person.top_ties(T0, 2)
    assert top[0][1] == top[1][1]  # both at the cap just below 1
    assert [p for p, _ in top] == ["b", "a"]


def test_a_top_tie_that_weakens_or_goes_is_overtaken() -> None:
    person = PersonState()
    person.influence(T0)
    for i in range(CAPACITY + 4):
        person.set_tie(f"p{i:02d}", PartnerTie(1, T0, 10.0 + i, 10.0 + i, 0.0, {}))
    strongest = f"p{CAPACITY + 3:02d}"
    person.set_tie(strongest, PartnerTie(2, T0, 0.1, 0.1, 0.0, {}))  # weakened: now the weakest
    ranked = [p for p, _ in person.top_ties(T0, CAPACITY)]
    assert strongest not in ranked
    assert ranked == person.top_partners_by_scan(T0, CAPACITY)
    person.drop_tie(ranked[0])
    assert [p for p, _ in person.top_ties(T0, CAPACITY)] == person.top_partners_by_scan(
        T0, CAPACITY
    )
