"""The one internal record that mentions and replies are normalised into."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import orjson

Kind = Literal["mention", "reply"]
KINDS: tuple[Kind, ...] = ("mention", "reply")


@dataclass(frozen=True, slots=True)
class Interaction:
    """A validated input event: `actor` addressed each of `targets` at `event_time`.

    `event_time` is Unix seconds (UTC). `sentiment` is in [-1, 1]: the upstream score when the
    listening system sent one, else closeknit's own once ingest has scored the text. Tags are
    lower-cased and de-duplicated.
    """

    event_id: str
    kind: Kind
    actor: str
    targets: tuple[str, ...]
    event_time: float
    text: str
    sentiment: float | None = None
    brands: tuple[str, ...] = ()
    products: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    source: str | None = None
    failure: tuple[str, ...] = ()  # product-failure categories the text speaks of
    inbound: bool | None = None  # False: the source marks the author as the company itself
    url: str | None = None  # the post at its source, for alerts to link back to
    handle: str | None = None  # the author's display handle at the source

    @property
    def scopes(self) -> tuple[str, ...]:
        """Every brand, product and topic tag: the scopes influence is counted in."""
        return tuple(dict.fromkeys((*self.brands, *self.products, *self.topics)))

    def annotated(self, sentiment: float | None, failure: tuple[str, ...]) -> Interaction:
        """This interaction with a score and failure categories: `dataclasses.replace`, spelt
        out because `replace` costs several times more and ingest calls it on every event."""
        return Interaction(
            self.event_id,
            self.kind,
            self.actor,
            self.targets,
            self.event_time,
            self.text,
            sentiment,
            self.brands,
            self.products,
            self.topics,
            self.source,
            failure,
            self.inbound,
            self.url,
            self.handle,
        )

    def to_dict(self) -> dict[str, Any]:
        out = {
            "event_id": self.event_id,
            "kind": self.kind,
            "actor": self.actor,
            "targets": list(self.targets),
            "event_time": self.event_time,
            "text": self.text,
            "sentiment": self.sentiment,
            "brands": list(self.brands),
            "products": list(self.products),
            "topics": list(self.topics),
            "source": self.source,
            "failure": list(self.failure),
        }
        # Optional and rare: most sources do not know, and absent keys keep records small.
        for name, value in (("inbound", self.inbound), ("url", self.url), ("handle", self.handle)):
            if value is not None:
                out[name] = value
        return out

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Interaction:
        return cls(
            event_id=data["event_id"],
            kind=data["kind"],
            actor=data["actor"],
            targets=tuple(data["targets"]),
            event_time=float(data["event_time"]),
            text=data.get("text", ""),
            sentiment=data.get("sentiment"),
            brands=tuple(data.get("brands", ())),
            products=tuple(data.get("products", ())),
            topics=tuple(data.get("topics", ())),
            source=data.get("source"),
            failure=tuple(data.get("failure", ())),
            inbound=data.get("inbound"),
            url=data.get("url"),
            handle=data.get("handle"),
        )

    @classmethod
    def from_json(cls, raw: bytes) -> Interaction:
        return cls.from_dict(orjson.loads(raw))
