"""JSON Lines in the v1 format: good lines published as-is, bad lines reported by line."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson

from service.core.interaction import Interaction
from service.core.validation import EventValidator
from service.sources.jsonl import LineError, read_jsonl
from service.sources.record import SourceRecord

FIXTURE = Path(__file__).parent / "fixtures" / "events.jsonl"


def test_good_lines_become_records_with_the_line_as_payload() -> None:
    records = [item for item in read_jsonl(FIXTURE) if isinstance(item, SourceRecord)]

    assert [(r.kind, r.event_id) for r in records] == [
        ("mention", "m-1"),
        ("reply", "r-1"),
        ("mention", "m-3"),
    ]
    lines = FIXTURE.read_bytes().splitlines()
    assert records[0].payload == lines[0]
    assert records[1].event_time == 1716193860.0  # 09:31 at +01:00 is 08:31Z
    for record in records:
        assert isinstance(EventValidator().validate(record.payload, 1.8e9), Interaction)


def test_bad_lines_say_which_line_field_expected_and_got() -> None:
    errors = [item for item in read_jsonl(FIXTURE) if isinstance(item, LineError)]

    assert [e.line_no for e in errors] == [4, 6]  # line 3 is blank: ignored, still counted
    zone, targets = errors
    assert zone.message.startswith("$.event_time: expected ")
    assert ", got " in zone.message
    assert "target_ids" in targets.message
    assert "expected" in targets.message


def test_a_line_that_is_not_json_is_an_error_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"type": "mention", \n\n   \n')

    items = list(read_jsonl(path))

    assert len(items) == 1
    assert isinstance(items[0], LineError)
    assert items[0].line_no == 1


def test_gzipped_jsonl_reads_the_same(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl.gz"
    path.write_bytes(gzip.compress(FIXTURE.read_bytes()))

    assert list(read_jsonl(path)) == list(read_jsonl(FIXTURE))


def test_the_validator_limits_apply(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    event = orjson.loads(FIXTURE.read_bytes().splitlines()[0])
    event["text"] = "x" * 2000
    path.write_bytes(orjson.dumps(event) + b"\n")

    (item,) = read_jsonl(path, validator=EventValidator(max_message_bytes=1000))

    assert isinstance(item, LineError)
