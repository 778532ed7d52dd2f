"""EventValidator: reason codes, field paths, messages and normalisation of input records."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.core.interaction import Interaction
from service.core.validation import REASONS, EventValidator, OptOut, Rejection

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC).timestamp()
EVENT_TIME = "2026-11-22T09:30:00Z"
EVENT_SECONDS = datetime(2026, 11, 22, 9, 30, tzinfo=UTC).timestamp()

validator = EventValidator()


def mention(**fields: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "type": "mention",
        "schema_version": 1,
        "event_id": "tw-1",
        "event_time": EVENT_TIME,
        "author_id": "ana",
        "target_ids": ["ben", "cy"],
        "text": "@ben @cy the battery died again",
    }
    payload.update(fields)
    return payload


def reply(**fields: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "type": "reply",
        "schema_version": 1,
        "event_id": "tw-2",
        "event_time": EVENT_TIME,
        "author_id": "ben",
        "in_reply_to_author_id": "ana",
        "text": "same here",
    }
    payload.update(fields)
    return payload


def opt_out(**fields: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "type": "opt_out",
        "schema_version": 1,
        "event_id": "privacy-1",
        "event_time": EVENT_TIME,
        "person_id": "ana",
        "opted_out": True,
    }
    payload.update(fields)
    return payload


def without(payload: dict[str, Any], *names: str) -> dict[str, Any]:
    return {key: value for key, value in payload.items() if key not in names}


def accepted(payload: dict[str, Any], *, now: float = NOW) -> Interaction:
    result = validator.validate(orjson.dumps(payload), now)
    assert isinstance(result, Interaction), result
    return result


def rejected(raw: bytes | dict[str, Any] | list[Any], *, now: float = NOW) -> Rejection:
    data = raw if isinstance(raw, bytes) else orjson.dumps(raw)
    result = validator.validate(data, now)
    assert isinstance(result, Rejection), result
    return result


# --- normalisation -------------------------------------------------------------------------


def test_a_mention_becomes_an_interaction_from_author_to_each_target() -> None:
    event = accepted(mention(sentiment=-0.5, source="twitter", lang="en"))

    assert event == Interaction(
        event_id="tw-1",
        kind="mention",
        actor="ana",
        targets=("ben", "cy"),
        event_time=EVENT_SECONDS,
        text="@ben @cy the battery died again",
        sentiment=-0.5,
        source="twitter",
    )


def test_a_reply_targets_the_author_replied_to() -> None:
    event = accepted(reply(in_reply_to_event_id="tw-1"))

    assert event.kind == "reply"
    assert event.actor == "ben"
    assert event.targets == ("ana",)


def test_event_time_with_an_offset_is_converted_to_utc_unix_seconds() -> None:
    assert accepted(mention(event_time="2026-11-22T10:30:00+01:00")).event_time == EVENT_SECONDS
    assert accepted(mention(event_time="2026-11-22T04:30:00-05:00")).event_time == EVENT_SECONDS


@settings(deadline=None)
@given(
    moment=st.datetimes(
        min_value=datetime(2001, 1, 1), max_value=datetime(2026, 11, 1), timezones=st.just(UTC)
    ),
    minutes=st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59),
)
def test_an_rfc3339_offset_needs_its_colon(moment: datetime, minutes: int) -> None:
    sign, hours, mins = "+" if minutes >= 0 else "-", abs(minutes) // 60, abs(minutes) % 60
    local = (moment + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S")

    with_colon = accepted(mention(event_time=f"{local}{sign}{hours:02d}:{mins:02d}"))
    without = rejected(mention(event_time=f"{local}{sign}{hours:02d}{mins:02d}"))

    assert with_colon.event_time == int(moment.timestamp())
    assert (without.code, without.field) == ("bad_timestamp", "$.event_time")
    assert "±hh:mm" in without.expected


def test_fractional_seconds_and_lower_case_t_and_z_are_rfc3339_and_accepted() -> None:
    assert (
        accepted(mention(event_time="2026-11-22T09:30:00.25Z")).event_time == EVENT_SECONDS + 0.25
    )
    assert accepted(mention(event_time="2026-11-22t09:30:00z")).event_time == EVENT_SECONDS


def test_duplicate_targets_are_kept_once_in_first_seen_order() -> None:
    event = accepted(mention(target_ids=["cy", "ben", "cy", "ben", "dee"]))

    assert event.targets == ("cy", "ben", "dee")


def test_a_partial_self_mention_keeps_the_other_targets_and_drops_the_author() -> None:
    event = accepted(mention(author_id="ana", target_ids=["ben", "ana", "cy", "ana"]))

    assert event.targets == ("ben", "cy")


def test_tags_are_stripped_lower_cased_and_de_duplicated_in_order() -> None:
    event = accepted(
        mention(
            brands=["  Acme ", "ACME", "SkyAir", "acme"],
            products=["Acme X2", "acme x2 ", " "],
            topics=["Battery"],
        )
    )

    assert event.brands == ("acme", "skyair")
    assert event.products == ("acme x2",)
    assert event.topics == ("battery",)


def test_sentiment_is_optional_and_always_a_float_when_present() -> None:
    assert accepted(mention()).sentiment is None
    whole = accepted(mention(sentiment=1)).sentiment
    assert whole == 1.0
    assert isinstance(whole, float)


def test_unknown_extra_fields_on_input_events_are_allowed() -> None:
    assert accepted(mention(retweets=12, author={"name": "Ana"})).event_id == "tw-1"


def test_an_opt_out_is_validated_into_an_opt_out_record() -> None:
    raw = orjson.dumps(opt_out(opted_out=False))

    assert validator.validate_opt_out(raw, NOW) == OptOut(
        event_id="privacy-1", person_id="ana", opted_out=False, event_time=EVENT_SECONDS
    )


# --- reason codes, field paths and messages ------------------------------------------------

REJECTIONS = [
    pytest.param(mention(type="share"), "unknown_event_type", "$.type", id="unknown type"),
    pytest.param(without(mention(), "type"), "unknown_event_type", "$.type", id="no type"),
    pytest.param(mention(type=["mention"]), "unknown_event_type", "$.type", id="type is a list"),
    pytest.param(opt_out(), "unknown_event_type", "$.type", id="opt-out on an event topic"),
    pytest.param(without(mention(), "text"), "missing_field", "$.text", id="no text"),
    pytest.param(
        without(mention(), "author_id", "text"), "missing_field", "$.author_id", id="first missing"
    ),
    pytest.param(
        without(reply(), "in_reply_to_author_id"),
        "missing_field",
        "$.in_reply_to_author_id",
        id="reply without the author replied to",
    ),
    pytest.param(mention(target_ids="ben"), "wrong_type", "$.target_ids", id="targets a string"),
    pytest.param(mention(target_ids=["ben", 7]), "wrong_type", "$.target_ids[1]", id="target int"),
    pytest.param(mention(sentiment="negative"), "wrong_type", "$.sentiment", id="sentiment str"),
    pytest.param(mention(sentiment=True), "wrong_type", "$.sentiment", id="sentiment bool"),
    pytest.param(mention(text=None), "wrong_type", "$.text", id="text null"),
    pytest.param(mention(brands="acme"), "wrong_type", "$.brands", id="brands a string"),
    pytest.param(
        mention(target_ids=["ben", "cy", "dee ee"]),
        "invalid_value",
        "$.target_ids[2]",
        id="target with a space",
    ),
    pytest.param(
        mention(author_id="ana\n"), "invalid_value", "$.author_id", id="author trailing newline"
    ),
    pytest.param(mention(schema_version=2), "invalid_value", "$.schema_version", id="version 2"),
    pytest.param(
        mention(schema_version="1"), "invalid_value", "$.schema_version", id="version str"
    ),
    pytest.param(mention(sentiment=1.5), "invalid_value", "$.sentiment", id="sentiment > 1"),
    pytest.param(mention(event_id=""), "invalid_value", "$.event_id", id="empty event id"),
    pytest.param(mention(brands=["x" * 65]), "invalid_value", "$.brands[0]", id="tag too long"),
    pytest.param(
        mention(target_ids=[f"p{i}" for i in range(51)]),
        "invalid_value",
        "$.target_ids",
        id="too many targets",
    ),
    pytest.param(mention(text="x" * 10_001), "oversize_text", "$.text", id="text too long"),
    pytest.param(mention(target_ids=[]), "empty_targets", "$.target_ids", id="no targets"),
    pytest.param(
        mention(target_ids=["ana", "ana"]), "self_mention", "$.target_ids", id="only the author"
    ),
    pytest.param(
        reply(in_reply_to_author_id="ben"),
        "self_mention",
        "$.in_reply_to_author_id",
        id="reply to self",
    ),
    pytest.param(
        mention(event_time="2026-11-22T09:30:00"), "bad_timestamp", "$.event_time", id="no zone"
    ),
    pytest.param(mention(event_time="2026-11-22"), "bad_timestamp", "$.event_time", id="date"),
    pytest.param(
        mention(event_time="2026-11-22 09:30:00Z"), "bad_timestamp", "$.event_time", id="space"
    ),
    pytest.param(
        mention(event_time="2026-11-22T10:30:00+0100"),
        "bad_timestamp",
        "$.event_time",
        id="offset without its colon",
    ),
    pytest.param(
        mention(event_time="2026-11-22T10:30:00+01"), "bad_timestamp", "$.event_time", id="+hh"
    ),
    pytest.param(mention(event_time=1795339800), "wrong_type", "$.event_time", id="epoch number"),
    pytest.param(
        mention(event_time="2026-02-30T09:30:00Z"), "bad_timestamp", "$.event_time", id="30 Feb"
    ),
    pytest.param(
        mention(event_time="2016-12-31T23:59:60Z"),
        "bad_timestamp",
        "$.event_time",
        id="leap second",
    ),
    pytest.param(
        mention(event_time="1999-12-31T23:59:59Z"), "bad_timestamp", "$.event_time", id="pre-2000"
    ),
    pytest.param(
        mention(event_time="2031-01-01T00:00:00Z"),
        "future_timestamp",
        "$.event_time",
        id="far future",
    ),
    pytest.param(
        mention(event_time="9999-12-31T23:59:59-23:59"),
        "future_timestamp",
        "$.event_time",
        id="end of calendar",
    ),
]


@pytest.mark.parametrize(("payload", "code", "field"), REJECTIONS)
def test_each_fault_gets_its_reason_code_and_the_exact_field_path(
    payload: dict[str, Any], code: str, field: str
) -> None:
    rejection = rejected(payload)

    assert (rejection.code, rejection.field) == (code, field)
    assert rejection.code in REASONS
    assert rejection.message().startswith(f"{field}: expected ")
    assert "\n" not in rejection.message()
    assert 0 < len(rejection.got) <= 80


def test_the_message_reads_field_expected_got() -> None:
    rejection = rejected(mention(event_time="2026-11-22T09:30:00"))

    assert rejection.message() == (
        "$.event_time: expected an RFC 3339 date-time with a time zone (Z or ±hh:mm), "
        'e.g. 2026-11-22T09:30:00Z, got "2026-11-22T09:30:00"'
    )


def test_a_rejection_without_a_field_has_no_path_prefix() -> None:
    rejection = Rejection("invalid_json", None, "a JSON document", "unexpected end of data at 1")

    assert rejection.message() == "expected a JSON document, got unexpected end of data at 1"


def test_schema_version_other_than_1_says_which_version_is_expected() -> None:
    rejection = rejected(mention(schema_version=2))

    assert rejection.message() == "$.schema_version: expected schema_version 1, got 2"


def test_a_missing_field_names_the_field() -> None:
    assert rejected(without(mention(), "text")).message() == (
        "$.text: expected a value (required), got nothing (missing)"
    )


def test_a_bad_id_shows_the_offending_value_escaped() -> None:
    rejection = rejected(mention(target_ids=["ben", "c\ty"]))

    assert rejection.got == '"c\\ty"'
    assert "pattern" in rejection.expected


def test_a_wrong_type_says_what_type_arrived() -> None:
    rejection = rejected(mention(target_ids={"id": "ben"}))

    assert rejection.message() == "$.target_ids: expected an array, got an object with 1 fields"


def test_a_range_violation_gives_the_range() -> None:
    assert rejected(mention(sentiment=-3)).expected == "a number from -1 to 1"


def test_an_unexpected_field_on_an_opt_out_is_named() -> None:
    result = validator.validate_opt_out(orjson.dumps(opt_out(reason="gdpr")), NOW)

    assert isinstance(result, Rejection)
    assert (result.code, result.field) == ("invalid_value", "$.reason")


def test_an_opt_out_topic_refuses_mentions_as_unknown_event_type() -> None:
    result = validator.validate_opt_out(orjson.dumps(mention()), NOW)

    assert isinstance(result, Rejection)
    assert result.code == "unknown_event_type"
    assert result.expected == 'type "opt_out"'


@pytest.mark.parametrize(
    ("payload", "topic_kind", "expected"),
    [
        (reply(), "mention", 'type "mention" (this topic carries mentions only)'),
        (mention(), "reply", 'type "reply" (this topic carries replies only)'),
    ],
    ids=["reply on mentions", "mention on replies"],
)
def test_an_event_on_the_other_input_topic_is_wrong_topic(
    payload: dict[str, Any], topic_kind: Any, expected: str
) -> None:
    result = validator.validate(orjson.dumps(payload), NOW, topic_kind=topic_kind)

    assert isinstance(result, Rejection)
    assert (result.code, result.field, result.expected) == ("wrong_topic", "$.type", expected)
    assert result.got == f'"{payload["type"]}"'


def test_each_kind_is_accepted_on_its_own_topic_and_either_without_one() -> None:
    for payload, kind in ((mention(), "mention"), (reply(), "reply")):
        assert isinstance(
            validator.validate(orjson.dumps(payload), NOW, topic_kind=kind), Interaction
        )
        assert isinstance(validator.validate(orjson.dumps(payload), NOW), Interaction)


def test_an_unknown_type_on_a_topic_says_what_that_topic_carries() -> None:
    result = validator.validate(orjson.dumps(mention(type="share")), NOW, topic_kind="reply")

    assert isinstance(result, Rejection) and result.code == "unknown_event_type"
    assert result.expected == 'type "reply" (this topic carries replies only)'


# --- person ids and schema_version ------------------------------------------------------

INVISIBLE_IDS = [
    pytest.param("\x7f", id="DEL"),
    pytest.param("\x9b", id="CSI"),
    pytest.param("\x85", id="NEL"),
    pytest.param("\u200b", id="zero-width space"),
    pytest.param("\ufeff", id="BOM"),
    pytest.param("\u202e", id="right-to-left override"),
    pytest.param("\U000e0001", id="language tag"),
]


@pytest.mark.parametrize("char", INVISIBLE_IDS)
@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda bad: mention(author_id=bad), "$.author_id"),
        (lambda bad: mention(target_ids=["ben", bad]), "$.target_ids[1]"),
        (lambda bad: reply(in_reply_to_author_id=bad), "$.in_reply_to_author_id"),
    ],
    ids=["author", "target", "replied to"],
)
def test_a_control_or_format_character_in_a_person_id_is_refused(
    char: str, make: Any, field: str
) -> None:
    rejection = rejected(make(f"an{char}a"))

    assert (rejection.code, rejection.field) == ("invalid_value", field)
    assert char not in rejection.message(), "the reason never prints the character itself"


def test_an_invisible_character_is_named_by_its_code_point_and_position() -> None:
    rejection = rejected(mention(author_id="ana\u200b"))

    assert rejection.message() == (
        "$.author_id: expected a person id without control or format characters "
        "(Unicode Cc, Cf), got U+200B at 3"
    )


def test_an_opt_out_of_an_invisible_id_is_refused() -> None:
    result = validator.validate_opt_out(orjson.dumps(opt_out(person_id="ana\ufeff")), NOW)

    assert isinstance(result, Rejection)
    assert (result.code, result.field) == ("invalid_value", "$.person_id")


def test_two_spellings_of_one_id_are_one_person() -> None:
    composed, decomposed = "Jos\u00e9", "Jose\u0301"

    event = accepted(mention(author_id=decomposed, target_ids=[composed, decomposed, "ben"]))
    choice = validator.validate_opt_out(orjson.dumps(opt_out(person_id=decomposed)), NOW)

    assert event.actor == composed
    assert event.targets == ("ben",), "both spellings are the author: a partial self-mention"
    assert accepted(reply(in_reply_to_author_id=decomposed)).targets == (composed,)
    assert isinstance(choice, OptOut) and choice.person_id == composed


@settings(deadline=None)
@given(st.text(min_size=1, max_size=12))
def test_an_accepted_id_is_nfc_without_invisible_characters_whatever_its_spelling(
    name: str,
) -> None:
    spellings = {unicodedata.normalize(form, name) for form in ("NFC", "NFD")}
    results = [validator.validate(orjson.dumps(mention(author_id=s)), NOW) for s in spellings]

    actors = {r.actor for r in results if isinstance(r, Interaction)}
    assert len(actors) <= 1, "every spelling is the same person"
    for actor in actors:
        assert unicodedata.is_normalized("NFC", actor)
        assert not any(unicodedata.category(c) in ("Cc", "Cf") for c in actor)


@pytest.mark.parametrize(
    "raw_version", [b"1.0", b"1e0", b"1E0", b"1.0e0", b"true", b"1.5", b'"1"', b"-1"]
)
def test_schema_version_must_be_the_integer_1(raw_version: bytes) -> None:
    payload = orjson.dumps(mention(schema_version=7)).replace(b"7", raw_version, 1)

    rejection = rejected(payload)

    assert (rejection.code, rejection.field) == ("invalid_value", "$.schema_version")
    assert rejection.expected.startswith("schema_version 1")


def test_an_opt_out_with_schema_version_1_0_is_refused_too() -> None:
    raw = orjson.dumps(opt_out()).replace(b'"schema_version":1', b'"schema_version":1.0')
    result = validator.validate_opt_out(raw, NOW)
    assert isinstance(result, Rejection) and result.field == "$.schema_version"


def test_a_reason_never_carries_a_raw_invisible_character() -> None:
    for char in ("\x85", "\u2028", "\u202e", "\x9b"):
        rejection = rejected(mention(event_id=f"e{char}", event_time=f"2026{char}"))
        assert char not in rejection.message() and char not in rejection.got


def test_oversize_text_gives_the_length_never_the_text() -> None:
    secret = "private words " * 800
    rejection = rejected(mention(text=secret))

    assert rejection.code == "oversize_text"
    assert rejection.got == f"{len(secret)} characters"
    assert "private" not in rejection.message()


def test_text_of_the_wrong_type_is_still_only_described() -> None:
    rejection = rejected(mention(text=["private words"]))

    assert rejection.got == "an array of 1 items"


def test_long_values_are_cut_to_at_most_80_characters() -> None:
    rejection = rejected(mention(event_time="2026-11-22T09:30:00." + "1" * 500))

    assert rejection.code == "bad_timestamp"
    assert len(rejection.got) <= 80
    assert rejection.got.endswith("(520 characters)")


# --- raw bytes: size, encoding, JSON -------------------------------------------------------


def test_a_huge_record_is_refused_before_it_is_parsed() -> None:
    huge = orjson.dumps(mention(text="x" * 1_000_000))

    rejection = rejected(huge)

    assert rejection.code == "oversize_message"
    assert rejection.field is None
    assert rejection.got == f"{len(huge)} bytes"


def test_the_key_counts_toward_the_record_size_and_the_reason_says_how_much() -> None:
    raw = orjson.dumps(mention())
    limit = EventValidator(max_message_bytes=len(raw) + 5)

    fits = limit.validate(raw, NOW, key_size=5)
    over = limit.validate(raw, NOW, key_size=6)
    opt_out_over = limit.validate_opt_out(orjson.dumps(opt_out()), NOW, key_size=len(raw))

    assert isinstance(fits, Interaction)
    assert isinstance(over, Rejection) and over.code == "oversize_message"
    assert over.got == f"{len(raw) + 6} bytes (a 6-byte key and a {len(raw)}-byte value)"
    assert isinstance(opt_out_over, Rejection) and opt_out_over.code == "oversize_message"


def test_the_size_limit_applies_to_the_bytes_not_the_json() -> None:
    small = EventValidator(max_message_bytes=10)

    over = small.validate(b"not json at all", NOW)
    at_limit = small.validate(b"[1,2,3,4,]", NOW)

    assert isinstance(over, Rejection) and over.code == "oversize_message"
    assert isinstance(at_limit, Rejection) and at_limit.code == "invalid_json"


def test_a_repeated_key_is_refused_naming_the_field_whichever_value_comes_last() -> None:
    event = orjson.dumps(mention())
    two_types = b'{"type":"bogus",' + event[1:]
    two_authors = event[:-1] + b',"author_id":"mallory"}'

    for raw, field in ((two_types, "$.type"), (two_authors, "$.author_id")):
        rejection = rejected(raw)
        assert (rejection.code, rejection.field) == ("duplicate_key", field)
        assert rejection.message() == (
            f"{field}: expected each key at most once in an object, got the key 2 times"
        )


def test_a_repeated_key_in_an_opt_out_is_refused_too() -> None:
    raw = orjson.dumps(opt_out())[:-1] + b',"opted_out":false}'

    result = validator.validate_opt_out(raw, NOW)

    assert isinstance(result, Rejection)
    assert (result.code, result.field) == ("duplicate_key", "$.opted_out")


def test_bytes_that_are_not_utf8_are_not_utf8_even_inside_a_json_string() -> None:
    raw = orjson.dumps(mention(text="caf\u00e9")).replace("é".encode(), b"\xe9")

    position = raw.index(b"\xe9")

    rejection = rejected(raw)

    assert rejection.code == "not_utf8"
    assert rejection.got == f"byte 0xe9 at {position}"


def test_truncated_json_is_invalid_json() -> None:
    rejection = rejected(orjson.dumps(mention())[:-1])

    assert rejection.code == "invalid_json"
    assert rejection.field is None


@pytest.mark.parametrize("raw", [b"[]", b'"mention"', b"42", b"null", b"true"])
def test_json_that_is_not_an_object_is_refused(raw: bytes) -> None:
    rejection = rejected(raw)

    assert (rejection.code, rejection.field) == ("not_an_object", "$")


# --- time against the clock ----------------------------------------------------------------


def test_events_up_to_the_skew_ahead_of_the_clock_are_accepted() -> None:
    assert accepted(mention(), now=EVENT_SECONDS - 300).event_time == EVENT_SECONDS
    assert rejected(mention(), now=EVENT_SECONDS - 301).code == "future_timestamp"


def test_the_future_skew_is_configurable() -> None:
    strict = EventValidator(max_future_skew_s=0)

    assert isinstance(strict.validate(orjson.dumps(mention()), EVENT_SECONDS), Interaction)
    late = strict.validate(orjson.dumps(mention()), EVENT_SECONDS - 1)
    assert isinstance(late, Rejection) and late.code == "future_timestamp"


def test_the_earliest_accepted_time_is_min_event_time() -> None:
    assert accepted(mention(event_time="2000-01-01T00:00:00Z")).event_time == 946684800.0
    early = rejected(mention(event_time="1999-12-31T23:59:59Z"))
    assert early.expected == "a time on or after 2000-01-01T00:00:00Z"


def test_opt_outs_from_the_future_are_refused_too() -> None:
    result = validator.validate_opt_out(orjson.dumps(opt_out()), EVENT_SECONDS - 3600)

    assert isinstance(result, Rejection) and result.code == "future_timestamp"


def test_every_reason_code_is_snake_case_and_documented() -> None:
    assert set(REASONS) == {
        "oversize_message",
        "not_utf8",
        "invalid_json",
        "not_an_object",
        "duplicate_key",
        "unknown_event_type",
        "wrong_topic",
        "missing_field",
        "wrong_type",
        "invalid_value",
        "oversize_text",
        "bad_timestamp",
        "future_timestamp",
        "empty_targets",
        "self_mention",
    }
    for code, meaning in REASONS.items():
        assert re.fullmatch(r"[a-z]+(_[a-z0-9]+)*", code)
        assert meaning and "\n" not in meaning


# --- properties ----------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)
ids = st.sampled_from(["ana", "ben", "cy", "dee"])


def assert_well_formed(result: object) -> None:
    assert isinstance(result, Interaction | Rejection)
    if isinstance(result, Rejection):
        assert result.code in REASONS
        assert 0 < len(result.got) <= 80
        assert "\n" not in result.message()
    else:
        assert result.targets
        assert result.actor not in result.targets
        assert len(set(result.targets)) == len(result.targets)


@settings(deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    assert_well_formed(validator.validate(raw, NOW))
    assert isinstance(validator.validate_opt_out(raw, NOW), OptOut | Rejection)


@settings(deadline=None)
@given(st.dictionaries(st.text(max_size=20), json_values, max_size=8))
def test_arbitrary_json_objects_never_raise(payload: dict[str, Any]) -> None:
    assert_well_formed(validator.validate(orjson.dumps(payload), NOW))


@settings(deadline=None)
@given(
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["mention", "reply"]) | json_values,
            "schema_version": st.just(1) | json_values,
            "event_id": st.just("e-1") | json_values,
            "event_time": st.just(EVENT_TIME) | json_values,
            "author_id": ids | json_values,
            "target_ids": st.lists(ids, max_size=4) | json_values,
            "in_reply_to_author_id": ids | json_values,
            "text": st.text(max_size=30) | json_values,
        },
        optional={
            "sentiment": st.floats(-1, 1) | json_values,
            "brands": st.lists(st.text(max_size=8), max_size=3) | json_values,
            "source": json_values,
        },
    )
)
def test_event_shaped_objects_with_any_field_values_never_raise(payload: dict[str, Any]) -> None:
    assert_well_formed(validator.validate(orjson.dumps(payload), NOW))


@settings(deadline=None)
@given(author=ids, targets=st.lists(ids, min_size=1, max_size=8))
def test_the_author_never_appears_among_the_targets(author: str, targets: list[str]) -> None:
    result = validator.validate(orjson.dumps(mention(author_id=author, target_ids=targets)), NOW)

    others = [person for person in dict.fromkeys(targets) if person != author]
    if others:
        assert isinstance(result, Interaction)
        assert result.targets == tuple(others)
    else:
        assert isinstance(result, Rejection) and result.code == "self_mention"
