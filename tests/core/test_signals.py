"""The critic and burst steps on live rows give what the stored-dict steps give."""

from __future__ import annotations

import random
from typing import Any

import orjson

from service.core.influence import PartnerTie, PersonState
from service.core.signals import (
    BurstRow,
    CriticRow,
    SignalParams,
    burst_apply,
    burst_step,
    critic_apply,
    critic_step,
)

T0 = 1_795_000_000.0
PARAMS = SignalParams()


def _influential() -> PersonState:
    """Twenty two-way ties: influence well above `min_influence`."""
    ties = {f"p{n}": PartnerTie(1, T0, 2.0, 2.0, 1.0, {"acme": 2.0}) for n in range(20)}
    return PersonState(ties)


def _posts(seed: int, n: int) -> list[dict[str, Any]]:
    """Content posts, then a slide into complaints: enough for the detector to open."""
    rng = random.Random(seed)
    posts = []
    for i in range(n):
        s = rng.uniform(0.2, 0.9) if i < n // 2 else rng.uniform(-0.9, -0.3)
        posts.append(
            {
                "op": "post",
                "role": "own" if rng.random() < 0.8 else "reply",
                "event_id": f"e{i}",
                "t": T0 + 60.0 * i,
                "s": s,
                "scopes": ["acme"],
                "brands": ["acme"],
                "excerpt": f"post {i}",
                "failure": ["outage"] if s < 0 else [],
            }
        )
    return posts


def test_a_live_critic_row_matches_the_stored_row_step_by_step() -> None:
    people = _influential()
    for seed in range(5):
        stored: dict[str, Any] | None = None
        live = CriticRow()
        fired = 0
        for post in _posts(seed, 80):
            stored, signal, complaint = critic_step(stored, "ann", post, people, PARAMS)
            stored = orjson.loads(orjson.dumps(stored))  # as a table keeps it
            live_signal, live_complaint = critic_apply(live, "ann", post, people, PARAMS)
            assert live_signal == signal
            assert live_complaint == complaint
            assert orjson.loads(orjson.dumps(live.to_dict())) == stored
            fired += signal is not None
        assert fired, "the slide must raise an alert, or the test compares nothing"


def test_a_critic_row_survives_its_stored_form() -> None:
    live = CriticRow()
    for post in _posts(1, 30):
        critic_apply(live, "ann", post, _influential(), PARAMS)
    again = CriticRow.from_dict(orjson.loads(orjson.dumps(live.to_dict())))
    assert again == live


def test_a_live_burst_row_matches_the_stored_row_through_complaints_and_ticks() -> None:
    rng = random.Random(3)
    stored: dict[str, Any] | None = None
    live = BurstRow()
    fired = 0
    for minute in range(2000):  # past the one-day warm-up
        t = T0 + 60.0 * minute
        storm = 1700 <= minute < 1730  # about two a minute, then twenty a minute
        for k in range(20 if storm else rng.randrange(4)):
            record: dict[str, Any] = {
                "event_id": f"c{minute}-{k}",
                "t": t + k,
                "person": f"u{rng.randrange(50)}",
                "influence": rng.uniform(0.0, 30.0),
                "partners": [[f"u{rng.randrange(50)}", 0.5]],
                "excerpt": "down again",
                "failure": ["outage"],
                "s": -0.6,
            }
            stored, signals = burst_step(stored, "acme", record, PARAMS)
            assert burst_apply(live, "acme", record, PARAMS) == signals
        tick = {"op": "tick", "t": t}
        stored, signals = burst_step(stored, "acme", tick, PARAMS)
        stored = orjson.loads(orjson.dumps(stored))  # as a table keeps it
        assert burst_apply(live, "acme", tick, PARAMS) == signals
        fired += len(signals)
    assert orjson.loads(orjson.dumps(live.to_dict())) == stored
    assert fired, "the storm must open a burst, or the test compares nothing"


def test_a_post_carries_its_link_and_handle_into_messages_and_complaints() -> None:
    from service.core.interaction import Interaction
    from service.core.signals import CriticRow, SignalParams, critic_apply, posts_for

    interaction = Interaction(
        event_id="e1", kind="reply", actor="u1", targets=("acme",), event_time=1_795_000_000.0,
        text="router down again", sentiment=-0.7, brands=("acme",), failure=("outage",),
        url="https://example.com/p/1", handle="Jane_D",
    )  # fmt: skip
    (_, own), (_, drawn) = posts_for(interaction)
    assert own["url"] == drawn["url"] == "https://example.com/p/1"
    assert own["handle"] == "Jane_D" and "handle" not in drawn, "the handle is the author's"
    row = CriticRow()
    _, complaint = critic_apply(row, "u1", own, None, SignalParams())
    assert row.messages[0]["url"] == "https://example.com/p/1"
    assert complaint is not None and complaint["handle"] == "Jane_D"
