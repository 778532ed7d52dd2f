"""Who has opted out, and since when: the rule every stage applies before using an event."""

from __future__ import annotations

from service.core.validation import OptOut


class OptOutRegistry:
    """The newest privacy choice per person, by the choice's own event time.

    A person who opted out is excluded entirely. A person who opted back in at time T is
    excluded for events stamped before T: opting in counts only what happens from then on,
    so replaying old traffic cannot bring their erased past back.
    """

    def __init__(self) -> None:
        self._latest: dict[str, OptOut] = {}

    def __len__(self) -> int:
        return sum(1 for choice in self._latest.values() if choice.opted_out)

    def record(self, choice: OptOut) -> bool:
        """Remember a choice unless a newer one is known; True when it changed the rule."""
        known = self._latest.get(choice.person_id)
        if known is not None and known.event_time > choice.event_time:
            return False
        self._latest[choice.person_id] = choice
        return known is None or known.opted_out != choice.opted_out

    def excludes(self, person_id: str, event_time: float) -> bool:
        choice = self._latest.get(person_id)
        if choice is None:
            return False
        return choice.opted_out or event_time < choice.event_time

    def is_opted_out(self, person_id: str) -> bool:
        choice = self._latest.get(person_id)
        return choice is not None and choice.opted_out
