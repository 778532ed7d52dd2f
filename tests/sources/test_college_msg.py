"""CollegeMsg: each private message `src dst t` is a mention of dst by src."""

from __future__ import annotations

from pathlib import Path

import orjson

from service.core.interaction import Interaction
from service.core.validation import EventValidator
from service.sources.college_msg import read_college_msg
from service.sources.record import LineError, SourceRecord

FIXTURE = Path(__file__).parent / "fixtures" / "CollegeMsg-sample.txt"


def test_each_message_is_a_mention() -> None:
    records = list(read_college_msg(FIXTURE))

    assert all(isinstance(r, SourceRecord) for r in records)
    assert [r.event_id for r in records if isinstance(r, SourceRecord)] == [
        "college:1",
        "college:2",
        "college:3",
        "college:4",
    ]
    first = records[0]
    assert isinstance(first, SourceRecord)
    assert orjson.loads(first.payload) == {
        "type": "mention",
        "schema_version": 1,
        "event_id": "college:1",
        "event_time": "2004-04-15T14:56:01Z",
        "author_id": "1",
        "target_ids": ["2"],
        "text": "",
        "source": "college-msg",
        "topics": ["college"],
    }


def test_every_payload_validates() -> None:
    validator = EventValidator()
    for record in read_college_msg(FIXTURE):
        assert isinstance(record, SourceRecord)
        result = validator.validate(record.payload, 1.8e9)
        assert isinstance(result, Interaction), result
        assert result.event_time == record.event_time


def test_a_malformed_line_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "CollegeMsg.txt"
    path.write_text("1 2\n\n3 4 1082155839\n5 6 soon\n")

    items = list(read_college_msg(path))

    assert [(type(i).__name__, getattr(i, "line_no", None)) for i in items] == [
        ("LineError", 1),
        ("SourceRecord", None),
        ("LineError", 4),
    ]
    assert isinstance(items[0], LineError)
    assert items[0].message == "expected 'src dst t', got '1 2'"
