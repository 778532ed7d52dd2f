"""Critic signals: each person's sentiment against their own baseline, gated by influence.

Runs inside the people agent (same key, same partition): a person's own posts and the
replies they draw arrive as `{"op": "post"}` records on person-ties, already deduplicated
by the dyad stage. A change detector (service.core.change) per person watches them; a
turn to negative becomes an alert signal only when the person's relationship-based
influence, overall or in the topic they are negative about, clears the configured bar,
so a low-influence person turning negative pages no one. Complaints among the person's
own posts go on to the brand's burst detector, carrying the person's influence and
strongest ties, so the burst alert can say which complainers matter and know each other.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import orjson

from service.core import change
from service.core.alerts import change_signal
from service.core.influence import PersonState
from service.core.sentiment import is_negative
from service.shell.alerting import send_signal

if TYPE_CHECKING:
    from service.shell.app import Pipeline

RECENT_MESSAGES = 5
TOP_TIES = 5


class CriticStage:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.params = change.ChangeParams()
        table = pipeline.app.Table(
            "critics", key_type=bytes, partitions=pipeline.settings.partitions
        )
        self.table = table
        pipeline.critics = table

    async def on_post(self, key: bytes, person: str, post: dict[str, Any]) -> None:
        pipeline = self.pipeline
        row = self.table.get(key) or {"c": None, "m": [], "tp": None, "on": False}
        state = change.from_dict(row["c"]) if row["c"] else change.ChangeState()
        t = float(post["t"])
        result = change.observe(state, float(post["s"]), t, self.params)
        row["c"] = change.to_dict(state)
        row["m"] = ([_message(post)] + row["m"])[:RECENT_MESSAGES]
        people: PersonState | None = pipeline.people.get(key)
        await self._maybe_signal(person, row, result, people, t)
        self.table[key] = row
        if post.get("role") == "own" and post.get("failure") and is_negative(post["s"]):
            await self._forward_complaint(person, post, people, t)

    async def _maybe_signal(
        self,
        person: str,
        row: dict[str, Any],
        result: change.ChangeResult,
        people: PersonState | None,
        t: float,
    ) -> None:
        transition = result.transition
        if transition == change.Transition.OPENED:
            topic = _negative_topic(row["m"])
            influence = self._influence(people, t, topic)
            if influence < self.pipeline.settings.critic_min_influence:
                return  # a low-influence person turning negative pages no one
            row["on"], row["tp"] = True, topic
        elif not row["on"]:
            return  # only the episodes that were raised are followed up
        evidence = self._evidence(person, row, people, t)
        signal = change_signal(result, person, t, topic=row["tp"], extra=evidence)
        if signal is None:
            return
        if transition == change.Transition.RESOLVED:
            row["on"], row["tp"] = False, None
        await send_signal(self.pipeline, signal)

    def _influence(self, people: PersonState | None, at: float, topic: str | None) -> float:
        if people is None:
            return 0.0
        params = self.pipeline.tie_params
        overall = people.influence(at, None, params)
        return max(overall, people.influence(at, topic, params)) if topic else overall

    def _evidence(
        self, person: str, row: dict[str, Any], people: PersonState | None, at: float
    ) -> dict[str, Any]:
        params = self.pipeline.tie_params
        influence = self._influence(people, at, row["tp"])
        top = people.top_ties(at, TOP_TIES, params) if people is not None else []
        return {
            "people": [{"id": person, "role": "critic", "influence": influence}]
            + [{"id": partner, "role": "will hear it", "influence": s} for partner, s in top],
            "ties": [{"a": person, "b": partner, "strength": s} for partner, s in top],
            "messages": row["m"],
        }

    async def _forward_complaint(
        self, person: str, post: dict[str, Any], people: PersonState | None, at: float
    ) -> None:
        params = self.pipeline.tie_params
        complaint = {
            "event_id": post["event_id"],
            "t": at,
            "person": person,
            "influence": people.influence(at, None, params) if people is not None else 0.0,
            "partners": people.top_ties(at, TOP_TIES, params) if people is not None else [],
            "excerpt": post["excerpt"],
            "failure": post["failure"],
            "s": post["s"],
        }
        value = orjson.dumps(complaint)
        for brand in post.get("brands", ()):
            await self.pipeline.topics["complaints"].send(key=brand.encode(), value=value)


def _message(post: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": post["event_id"],
        "event_time": post["t"],
        "excerpt": post["excerpt"],
        "sentiment": post["s"],
        "role": post.get("role", "own"),
        "scopes": post.get("scopes", []),
    }


def _negative_topic(messages: list[dict[str, Any]]) -> str | None:
    """The scope the person's recent negative messages are most about, if any."""
    counts = Counter(
        scope for m in messages if is_negative(m["sentiment"]) for scope in m.get("scopes", [])
    )
    return min(counts, key=lambda s: (-counts[s], s)) if counts else None
