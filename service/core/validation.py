"""Validate raw input records against the schemas and normalise them.

`EventValidator.validate` turns the bytes of a mention or reply record into an `Interaction`,
or into a `Rejection` that says, in one line, which field broke which rule. It never raises
on bad input: the caller routes rejections to the dead-letter topic.

The JSON Schemas in `schemas/` decide what is valid. Python adds only what JSON Schema cannot
express: the size of the raw record, event times relative to the clock, and self-mentions.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from service.core.characters import code_point, escape_invisible, first_invisible
from service.core.duplicate_keys import first_repeated_key
from service.core.interaction import Interaction, Kind
from service.core.schemas import JsonSchemaValueException, Validator, compiled

if TYPE_CHECKING:
    from service.config import Settings

REASONS: dict[str, str] = {
    "oversize_message": "The record (key and value) is larger than max_message_bytes; it was "
    "not parsed.",
    "not_utf8": "The record is not valid UTF-8.",
    "invalid_json": "The record is not well-formed JSON.",
    "not_an_object": "The record's JSON value is not an object.",
    "duplicate_key": "An object holds the same key twice; which value was meant is unknown.",
    "unknown_event_type": '"type" is missing or names no event closeknit knows on this topic.',
    "wrong_topic": '"type" names an event of another input topic (a reply on mentions, a '
    "mention on replies).",
    "missing_field": "A required field is absent.",
    "wrong_type": "A field holds the wrong JSON type.",
    "invalid_value": "A field breaks a schema rule: pattern, enum, const, range, length, "
    "item count, or a field the schema does not allow.",
    "oversize_text": "The post text is longer than the schema allows.",
    "bad_timestamp": "event_time is not an RFC 3339 date-time with a time zone, or is before "
    "min_event_time.",
    "future_timestamp": "event_time is further ahead of the clock than max_future_skew_s.",
    "empty_targets": "A mention names no targets.",
    "self_mention": "The event addresses only its own author.",
}
"""Every reason code a Rejection can carry, with its meaning. The codes are stable."""

MAX_GOT_CHARS = 80
TEXT_FIELDS = frozenset({"$.text"})
"""Fields whose content is never echoed back, only its length."""

EVENT_KINDS: tuple[Kind, ...] = ("mention", "reply")
KIND_PLURALS: dict[Kind, str] = {"mention": "mentions", "reply": "replies"}
_DATE_TIME_WORDS = "an RFC 3339 date-time with a time zone (Z or ±hh:mm), e.g. 2026-11-22T09:30:00Z"
_ID_WORDS = "a person id without control or format characters (Unicode Cc, Cf)"
_VERSION_WORDS = "schema_version 1, written as the integer 1"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_TYPE_WORDS = {
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "true or false",
    "array": "an array",
    "object": "an object",
    "null": "null",
}


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a record was refused: a stable code, the field at fault and what was wrong."""

    code: str
    field: str | None
    expected: str
    got: str

    def message(self) -> str:
        """One line: `$.event_time: expected ..., got ...`."""
        where = f"{self.field}: " if self.field else ""
        return f"{where}expected {self.expected}, got {self.got}"


@dataclass(frozen=True, slots=True)
class OptOut:
    """A validated privacy choice: `opted_out` true erases `person_id` from derived state."""

    event_id: str
    person_id: str
    opted_out: bool
    event_time: float


class EventValidator:
    """Checks raw records against the input contracts; one instance serves every record."""

    def __init__(
        self,
        *,
        max_message_bytes: int = 65536,
        max_future_skew_s: float = 300.0,
        min_event_time: float = 946684800.0,
    ) -> None:
        self.max_message_bytes = max_message_bytes
        self.max_future_skew_s = max_future_skew_s
        self.min_event_time = min_event_time
        self._mention = compiled("mention.v1")
        self._reply = compiled("reply.v1")
        self._opt_out = compiled("opt_out.v1")

    @classmethod
    def from_settings(cls, settings: Settings) -> EventValidator:
        return cls(
            max_message_bytes=settings.max_message_bytes,
            max_future_skew_s=settings.max_future_skew_s,
        )

    def validate(
        self, raw: bytes, now: float, *, key_size: int = 0, topic_kind: Kind | None = None
    ) -> Interaction | Rejection:
        """A mention or reply, chosen by the payload's "type"; `now` is Unix seconds.

        `key_size` is the length of the record's Kafka key: it counts toward the record size.
        `topic_kind` is the one kind the record's topic carries (None: either).
        """
        data = self._decode(raw, key_size)
        if isinstance(data, Rejection):
            return data
        kind = data.get("type")
        if kind == "mention":
            schema = self._mention
        elif kind == "reply":
            schema = self._reply
        else:
            return _unknown_type(kind, _expected_type(topic_kind))
        if topic_kind is not None and kind != topic_kind:
            return Rejection(
                "wrong_topic", "$.type", _expected_type(topic_kind), _describe(kind, "$.type")
            )
        problem = _check(schema, data)
        if problem is not None:
            return problem
        if type(data["schema_version"]) is not int:
            return _schema_version(data["schema_version"])
        event_time = self._event_time(data["event_time"], now)
        if isinstance(event_time, Rejection):
            return event_time
        author: str = data["author_id"]
        if not author.isascii():  # checks and NFC only where they can change anything
            normal = _person_id(author, "$.author_id")
            if isinstance(normal, Rejection):
                return normal
            author = normal
        if kind == "mention":
            targets = _targets(data["target_ids"], author)
            if isinstance(targets, Rejection):
                return targets
            if not targets:
                return Rejection(
                    "self_mention",
                    "$.target_ids",
                    "at least one target other than the author",
                    "only the author",
                )
        else:
            replied_to = _person_id(data["in_reply_to_author_id"], "$.in_reply_to_author_id")
            if isinstance(replied_to, Rejection):
                return replied_to
            if replied_to == author:
                return Rejection(
                    "self_mention",
                    "$.in_reply_to_author_id",
                    "someone other than the author",
                    "the author",
                )
            targets = (replied_to,)
        sentiment = data.get("sentiment")
        return Interaction(
            event_id=data["event_id"],
            kind=kind,
            actor=author,
            targets=targets,
            event_time=event_time,
            text=data["text"],
            sentiment=None if sentiment is None else float(sentiment),
            brands=_tags(data.get("brands")),
            products=_tags(data.get("products")),
            topics=_tags(data.get("topics")),
            source=data.get("source"),
            inbound=data.get("inbound"),
            url=data.get("url"),
            handle=data.get("author_handle"),
        )

    def validate_opt_out(self, raw: bytes, now: float, *, key_size: int = 0) -> OptOut | Rejection:
        """An opt-out (or opt-back-in) record; `now` is Unix seconds."""
        data = self._decode(raw, key_size)
        if isinstance(data, Rejection):
            return data
        kind = data.get("type")
        if kind != "opt_out":
            return _unknown_type(kind, 'type "opt_out"')
        problem = _check(self._opt_out, data)
        if problem is not None:
            return problem
        if type(data["schema_version"]) is not int:
            return _schema_version(data["schema_version"])
        event_time = self._event_time(data["event_time"], now)
        if isinstance(event_time, Rejection):
            return event_time
        person = _person_id(data["person_id"], "$.person_id")
        if isinstance(person, Rejection):
            return person
        return OptOut(
            event_id=data["event_id"],
            person_id=person,
            opted_out=data["opted_out"],
            event_time=event_time,
        )

    def _decode(self, raw: bytes, key_size: int = 0) -> dict[str, Any] | Rejection:
        if len(raw) + key_size > self.max_message_bytes:
            return self._oversize(len(raw), key_size)
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return _undecodable(raw, exc)
        if type(data) is not dict:
            return Rejection("not_an_object", "$", "a JSON object", _describe(data, "$"))
        repeated = first_repeated_key(raw, data)
        if repeated is not None:
            return _duplicate_key(*repeated)
        return data

    def _oversize(self, value_size: int, key_size: int) -> Rejection:
        got = f"{value_size + key_size} bytes"
        if key_size:
            got += f" (a {key_size}-byte key and a {value_size}-byte value)"
        return Rejection(
            "oversize_message", None, f"a record of at most {self.max_message_bytes} bytes", got
        )

    def _event_time(self, value: str, now: float) -> float | Rejection:
        seconds = _unix_seconds(value)
        if seconds is None:
            return Rejection("bad_timestamp", "$.event_time", _DATE_TIME_WORDS, _short(value))
        if seconds < self.min_event_time:
            return Rejection(
                "bad_timestamp",
                "$.event_time",
                f"a time on or after {_rfc3339(self.min_event_time)}",
                _short(value),
            )
        ahead = seconds - now
        if ahead > self.max_future_skew_s:
            return Rejection(
                "future_timestamp",
                "$.event_time",
                f"a time at most {self.max_future_skew_s:g} s ahead of the clock",
                _clip(f"{_short(value, 40)}, {ahead:.0f} s ahead"),
            )
        return seconds


def _check(schema: Validator, data: dict[str, Any]) -> Rejection | None:
    try:
        schema(data)
    except JsonSchemaValueException as exc:
        return rejection_from_schema_error(exc)
    return None


def rejection_from_schema_error(exc: JsonSchemaValueException) -> Rejection:
    """Translate fastjsonschema's first violation into a reason code, path and plain words."""
    field = "$" + (exc.name or "data")[4:]
    rule = exc.rule or ""
    definition: dict[str, Any] = exc.definition if isinstance(exc.definition, dict) else {}
    limit = exc.rule_definition
    value = exc.value
    if rule == "required" and isinstance(value, dict) and isinstance(limit, list):
        missing = next((name for name in limit if name not in value), "?")
        return Rejection(
            "missing_field", _child(field, missing), "a value (required)", "nothing (missing)"
        )
    if rule == "type":
        return Rejection("wrong_type", field, _type_words(limit), _describe(value, field))
    if rule == "format":
        if limit == "date-time":
            return Rejection("bad_timestamp", field, _DATE_TIME_WORDS, _describe(value, field))
        return Rejection("invalid_value", field, f"a {limit} string", _describe(value, field))
    if rule == "additionalProperties" and isinstance(value, dict):
        allowed = definition.get("properties", {})
        extra = next((key for key in value if key not in allowed), "?")
        return Rejection(
            "invalid_value", _child(field, extra), "only the fields the schema defines", "a field"
        )
    if rule == "const" and field == "$.type":
        return _unknown_type(value, f"type {_json(limit)}")
    code = "invalid_value"
    if rule == "maxLength" and field in TEXT_FIELDS:
        code = "oversize_text"
    elif rule == "minItems" and field == "$.target_ids":
        code = "empty_targets"
    return Rejection(code, field, _rule_words(rule, limit, definition, field), _got(rule, value))


def _duplicate_key(path: tuple[str | int, ...], count: int) -> Rejection:
    if not path:
        return Rejection("duplicate_key", "$", "each key at most once in an object", "a repeat")
    field = "$"
    for part in path:
        field = f"{field}[{part}]" if isinstance(part, int) else _child(field, part)
    return Rejection(
        "duplicate_key", field, "each key at most once in an object", f"the key {count} times"
    )


def _expected_type(topic_kind: Kind | None) -> str:
    if topic_kind is None:
        return 'type "mention" or "reply"'
    return f'type "{topic_kind}" (this topic carries {KIND_PLURALS[topic_kind]} only)'


def _unknown_type(kind: object, expected: str) -> Rejection:
    got = "nothing (missing)" if kind is None else _describe(kind, "$.type")
    return Rejection("unknown_event_type", "$.type", expected, got)


def _undecodable(raw: bytes, exc: orjson.JSONDecodeError) -> Rejection:
    try:
        bytes(raw).decode("utf-8")
    except UnicodeDecodeError as bad:
        return Rejection(
            "not_utf8", None, "UTF-8 encoded JSON", f"byte 0x{raw[bad.start]:02x} at {bad.start}"
        )
    return Rejection("invalid_json", None, "a JSON document", _clip(f"{exc.msg} at {exc.pos}"))


def _rule_words(rule: str, limit: Any, definition: dict[str, Any], field: str) -> str:
    if rule == "const":
        if field == "$.schema_version":
            return f"schema_version {_json(limit)}"
        return f"the value {_json(limit)}"
    if rule == "enum" and isinstance(limit, list):
        return _clip("one of " + ", ".join(_json(option) for option in limit))
    if rule == "pattern":
        return _clip(f"a string matching the pattern {limit}")
    if rule == "minLength":
        return "a non-empty string" if limit == 1 else f"at least {limit} characters"
    if rule == "maxLength":
        return f"at most {limit} characters"
    if rule == "minItems":
        return "at least one item" if limit == 1 else f"at least {limit} items"
    if rule == "maxItems":
        return f"at most {limit} items"
    if rule in ("minimum", "maximum") and {"minimum", "maximum"} <= definition.keys():
        return f"a number from {definition['minimum']} to {definition['maximum']}"
    bounds = {
        "minimum": ">=",
        "maximum": "<=",
        "exclusiveMinimum": ">",
        "exclusiveMaximum": "<",
    }
    if rule in bounds:
        return f"a number {bounds[rule]} {limit}"
    return "a value the schema allows"


def _got(rule: str, value: Any) -> str:
    if isinstance(value, str) and rule in ("minLength", "maxLength"):
        return f"{len(value)} characters"
    if isinstance(value, list) and rule in ("minItems", "maxItems"):
        return f"{len(value)} items"
    return _describe(value, None)


def _describe(value: Any, field: str | None) -> str:
    """A short, safe account of a value: never more than MAX_GOT_CHARS, never a post's text."""
    if isinstance(value, str):
        if field in TEXT_FIELDS:
            return f"a string of {len(value)} characters"
        return _short(value)
    if value is None or isinstance(value, bool | int | float):
        return _clip(_json(value))
    if isinstance(value, list):
        return f"an array of {len(value)} items"
    if isinstance(value, dict):
        return f"an object with {len(value)} fields"
    return _clip(type(value).__name__)


def _short(text: str, keep: int = 48) -> str:
    """`text` JSON-quoted (control, format and separator characters escaped), cut to about
    `keep` characters."""
    quoted = escape_invisible(_json(text))
    if len(quoted) <= keep + 2:
        return quoted
    return f'{quoted[: keep + 1]}…" ({len(text)} characters)'


def _clip(text: str) -> str:
    return text if len(text) <= MAX_GOT_CHARS else text[: MAX_GOT_CHARS - 1] + "…"


def _json(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return repr(value)


def _child(field: str, key: str) -> str:
    if _IDENTIFIER.match(key):
        return f"{field}.{key}"
    return f"{field}[{_short(key, 40)}]"


def _type_words(types: Any) -> str:
    names = types if isinstance(types, list) else [types]
    return " or ".join(_TYPE_WORDS.get(str(name), str(name)) for name in names)


def _unix_seconds(value: str) -> float | None:
    """Unix seconds of an RFC 3339 date-time with a zone; None if it has no zone or no time."""
    try:
        # RFC 3339 allows a lower-case "t" and "z"; datetime does not.
        parsed = datetime.fromisoformat(value.upper())
        if parsed.tzinfo is None:
            return None
        return parsed.timestamp()
    except (ValueError, OverflowError):
        return None


def _rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def _targets(ids: list[str], author: str) -> tuple[str, ...] | Rejection:
    """`ids` in order, without repeats and without the author. A loop: faster than dict.fromkeys
    for the few ids of a typical event, and the schema caps the list at 50."""
    kept: list[str] = []
    for person in ids:
        if not person.isascii():
            return _normalised_targets(ids, author)
        if person != author and person not in kept:
            kept.append(person)
    return tuple(kept)


def _normalised_targets(ids: list[str], author: str) -> tuple[str, ...] | Rejection:
    """`_targets` when some id is not ASCII: each one checked and put in NFC first."""
    kept: list[str] = []
    for index, given in enumerate(ids):
        person = _person_id(given, f"$.target_ids[{index}]")
        if isinstance(person, Rejection):
            return person
        if person != author and person not in kept:
            kept.append(person)
    return tuple(kept)


def _person_id(value: str, field: str) -> str | Rejection:
    """A person id in NFC, so that two spellings of one name are one person; refused if it
    holds an invisible character (the schema's pattern already refused whitespace and Cc)."""
    if value.isascii():
        return value  # ASCII is NFC and has no format characters
    at = first_invisible(value)
    if at is not None:
        return Rejection("invalid_value", field, _ID_WORDS, f"{code_point(value[at])} at {at}")
    return unicodedata.normalize("NFC", value)


def _schema_version(version: object) -> Rejection:
    """The refusal of a schema_version that is not an int: the schema's `const: 1` also
    takes 1.0 (JSON Schema compares numbers by value); the contract is the integer `1`."""
    return Rejection("invalid_value", "$.schema_version", _VERSION_WORDS, _describe(version, None))


def _tags(values: list[str] | None) -> tuple[str, ...]:
    """Tags lower-cased and stripped, in order, without repeats or blanks."""
    if not values:
        return ()
    kept: list[str] = []
    for value in values:
        tag = value.strip().lower()
        if tag and tag not in kept:
            kept.append(tag)
    return tuple(kept)
