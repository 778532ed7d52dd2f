"""Where one input record goes: re-keyed interactions, or one dead letter with its reason.

Pure: the Faust agent in `service.shell.stages.ingest` only sends what this returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import orjson

from service.core.dead_letter import dead_letter_json, letter_key
from service.core.failure import FailureClassifier
from service.core.interaction import Interaction, Kind
from service.core.sentiment import SentimentScorer, effective_sentiment
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


def annotate(
    interaction: Interaction, scorer: SentimentScorer | None, classifier: FailureClassifier | None
) -> Interaction:
    """Score the text (an upstream score wins) and name the failure categories it speaks of."""
    if scorer is None and classifier is None:
        return interaction
    sentiment = effective_sentiment(interaction, None, scorer) if scorer else interaction.sentiment
    failure = classifier.classify(interaction.text) if classifier else interaction.failure
    return interaction.annotated(sentiment, failure)


def route_input(
    raw: bytes | None,
    key: bytes | None,
    position: SourcePosition,
    *,
    now: float,
    validator: EventValidator,
    excludes: Callable[[str, float], bool] = lambda _person, _time: False,
    scorer: SentimentScorer | None = None,
    classifier: FailureClassifier | None = None,
    topic_kind: Kind | None = None,
) -> Routed:
    """Validate one record; fan a good one out per target, keyed by dyad.

    `topic_kind` is the kind of event the record's topic carries (None: either)."""
    raw = raw if raw is not None else b""
    result = validator.validate(raw, now, key_size=len(key) if key else 0, topic_kind=topic_kind)
    if isinstance(result, Rejection):
        letter = dead_letter_json(
            raw,
            result,
            topic=position.topic,
            partition=position.partition,
            offset=position.offset,
            received_at=now,
            # A record is kept whole up to the input limit, so only oversize ones are cut.
            max_original_bytes=validator.max_message_bytes,
            key=key,
        )
        return Routed([Outgoing("dead-letters", letter_key(key), letter)], rejection=result)
    if excludes(result.actor, result.event_time):
        return Routed([], interaction=result, dropped_targets=len(result.targets))
    result = annotate(result, scorer, classifier)
    outgoing = []
    dropped = 0
    for fanout, target in enumerate(result.targets):
        if excludes(target, result.event_time):
            dropped += 1
            continue
        record = replace(result, targets=(target,)).to_dict()
        record["fanout"] = fanout  # stages that count a post once use only fanout 0
        record["ingested_at"] = now  # wall clock, for the ingest-to-alert latency
        key = dyad_key(result.actor, target).encode()
        outgoing.append(Outgoing("interactions", key, orjson.dumps(record)))
    return Routed(outgoing, interaction=result, dropped_targets=dropped)
