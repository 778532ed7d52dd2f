"""Where one input record goes: re-keyed interactions, or one dead letter with its reason.

Pure: the Faust agent in `service.shell.ingest` only sends what this returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from service.core.dead_letter import dead_letter_json
from service.core.interaction import Interaction
from service.core.validation import EventValidator, Rejection

DYAD_KEY_SEPARATOR = "\t"  # person ids cannot contain whitespace (schema), so this is unambiguous


def dyad_key(a: str, b: str) -> str:
    """The unordered pair as one key: both directions of a tie share one table row."""
    return f"{a}{DYAD_KEY_SEPARATOR}{b}" if a < b else f"{b}{DYAD_KEY_SEPARATOR}{a}"


def split_dyad_key(key: str) -> tuple[str, str]:
    a, _, b = key.partition(DYAD_KEY_SEPARATOR)
    return a, b


@dataclass(frozen=True, slots=True)
class Outgoing:
    topic: str  # short topic name from the catalog
    key: bytes | None
    value: bytes


@dataclass(frozen=True, slots=True)
class Routed:
    outgoing: list[Outgoing]
    interaction: Interaction | None = None
    rejection: Rejection | None = None
    dropped_targets: int = 0  # targets left out because they opted out


@dataclass(frozen=True, slots=True)
class SourcePosition:
    topic: str
    partition: int
    offset: int


def route_input(
    raw: bytes | None,
    key: bytes | None,
    position: SourcePosition,
    *,
    now: float,
    validator: EventValidator,
    excludes: Callable[[str, float], bool] = lambda _person, _time: False,
) -> Routed:
    """Validate one record; fan a good one out per target, keyed by dyad."""
    result = validator.validate(raw if raw is not None else b"", now)
    if isinstance(result, Rejection):
        letter = dead_letter_json(
            raw or b"",
            result,
            topic=position.topic,
            partition=position.partition,
            offset=position.offset,
            received_at=now,
        )
        return Routed([Outgoing("dead-letters", key, letter)], rejection=result)
    if excludes(result.actor, result.event_time):
        return Routed([], interaction=result, dropped_targets=len(result.targets))
    outgoing = []
    dropped = 0
    for target in result.targets:
        if excludes(target, result.event_time):
            dropped += 1
            continue
        single = replace(result, targets=(target,))
        outgoing.append(
            Outgoing("interactions", dyad_key(result.actor, target).encode(), single.to_json())
        )
    return Routed(outgoing, interaction=result, dropped_targets=dropped)
