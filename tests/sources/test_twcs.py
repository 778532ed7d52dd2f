"""TWCS csv: replies to tweets in the file, else mentions of @handles, tagged by brand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from service.core.interaction import Interaction
from service.core.validation import EventValidator
from service.sources.record import LineError, SkippedLine, SourceRecord
from service.sources.twcs import NO_TARGET, SELF_REPLY_NO_TARGET, is_twcs_header, read_twcs

FIXTURE = Path(__file__).parent / "fixtures" / "twcs_sample.csv"


def _records() -> list[SourceRecord]:
    return [item for item in read_twcs(FIXTURE) if isinstance(item, SourceRecord)]


def _events() -> dict[str, dict[str, Any]]:
    return {r.event_id: orjson.loads(r.payload) for r in _records()}


def test_records_come_out_in_time_order() -> None:
    records = _records()

    assert [r.event_id for r in records] == [
        "twcs:4",
        "twcs:3",
        "twcs:1",
        "twcs:2",
        "twcs:7",
    ]
    times = [r.event_time for r in records]
    assert times == sorted(times)


def test_a_reply_to_a_tweet_in_the_file_is_a_reply_to_its_author() -> None:
    events = _events()

    assert events["twcs:1"]["type"] == "reply"
    assert events["twcs:1"]["author_id"] == "sprintcare"
    assert events["twcs:1"]["in_reply_to_author_id"] == "115712"
    assert events["twcs:1"]["in_reply_to_event_id"] == "twcs:3"
    assert events["twcs:1"]["event_time"] == "2017-10-31T22:10:47Z"
    assert events["twcs:2"]["in_reply_to_author_id"] == "sprintcare"
    assert events["twcs:2"]["source"] == "twitter"


def test_without_a_parent_in_the_file_handles_become_mention_targets() -> None:
    events = _events()

    assert events["twcs:3"]["type"] == "mention"
    assert events["twcs:3"]["target_ids"] == ["sprintcare"]
    # "@SPRINTCARE" takes the company's own spelling; the text keeps its newline
    assert events["twcs:4"]["target_ids"] == ["sprintcare", "AppleSupport"]
    assert events["twcs:4"]["text"].endswith("plan,\nboth broken")
    # the parent (999) is not in the file
    assert events["twcs:7"]["type"] == "mention"
    assert events["twcs:7"]["target_ids"] == ["115713"]


def test_brands_name_the_company_involved() -> None:
    events = _events()

    assert events["twcs:1"]["brands"] == ["sprintcare"]  # outbound: the author
    assert events["twcs:2"]["brands"] == ["sprintcare"]  # inbound reply: the parent's author
    assert events["twcs:4"]["brands"] == ["sprintcare", "applesupport"]
    assert events["twcs:7"]["brands"] == ["applesupport"]


def test_skips_carry_their_line_and_reason() -> None:
    skipped = [item for item in read_twcs(FIXTURE) if isinstance(item, SkippedLine)]

    # tweet 5 (line 7) answers its own author and names only them; 6 and 8 name no one
    assert [(s.line, s.reason) for s in skipped] == [
        (7, SELF_REPLY_NO_TARGET),
        (8, NO_TARGET),
        (10, NO_TARGET),
    ]


def test_every_payload_validates() -> None:
    validator = EventValidator()
    for record in _records():
        result = validator.validate(record.payload, 1.8e9)
        assert isinstance(result, Interaction), result
        assert result.event_id == record.event_id
        assert result.event_time == record.event_time


def test_a_bad_date_is_a_line_error(tmp_path: Path) -> None:
    path = tmp_path / "twcs.csv"
    lines = FIXTURE.read_text().splitlines()
    path.write_text("\n".join([lines[0], "1,sprintcare,False,yesterday,@115712 hi,,"]) + "\n")

    (item,) = read_twcs(path)

    assert isinstance(item, LineError)
    assert item.line_no == 2
    assert item.message.startswith("created_at: expected like 'Tue Oct 31 22:10:47 +0000 2017'")


def test_header_detection() -> None:
    assert is_twcs_header(FIXTURE.read_text().splitlines()[0] + "\r\n")
    assert not is_twcs_header("a,b,c")
