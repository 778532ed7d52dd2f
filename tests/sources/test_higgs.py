"""Higgs activity stream: MT -> mention, RE -> reply, RT skipped unless asked for."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson

from service.core.interaction import Interaction
from service.core.validation import EventValidator
from service.sources.higgs import RETWEET_SKIPPED, read_higgs
from service.sources.record import SELF_INTERACTION, LineError, SkippedLine, SourceRecord

FIXTURE = Path(__file__).parent / "fixtures" / "higgs-activity_time-sample.txt"


def _valid(record: SourceRecord) -> Interaction:
    result = EventValidator().validate(record.payload, 1.8e9)
    assert isinstance(result, Interaction), result
    return result


def test_mentions_and_replies_with_retweets_skipped() -> None:
    items = list(read_higgs(FIXTURE))

    assert [type(i).__name__ for i in items] == [
        "SourceRecord",
        "SourceRecord",
        "SkippedLine",
        "SourceRecord",
        "SkippedLine",
        "SourceRecord",
    ]
    assert [i.line for i in items if isinstance(i, SkippedLine)] == [3, 5]
    assert {i.reason for i in items if isinstance(i, SkippedLine)} == {RETWEET_SKIPPED}
    records = [i for i in items if isinstance(i, SourceRecord)]
    assert [(r.kind, r.event_id) for r in records] == [
        ("mention", "higgs:1"),
        ("reply", "higgs:2"),
        ("mention", "higgs:4"),
        ("reply", "higgs:7"),  # line 6 is blank
    ]


def test_payload_is_the_v1_contract() -> None:
    mention, reply = [i for i in read_higgs(FIXTURE) if isinstance(i, SourceRecord)][:2]

    assert orjson.loads(mention.payload) == {
        "type": "mention",
        "schema_version": 1,
        "event_id": "higgs:1",
        "event_time": "2012-07-01T00:02:52Z",
        "author_id": "223789",
        "target_ids": ["213163"],
        "text": "",
        "source": "twitter",
        "topics": ["higgs"],
    }
    assert orjson.loads(reply.payload)["in_reply_to_author_id"] == "213163"
    interaction = _valid(reply)
    assert (interaction.kind, interaction.actor, interaction.targets) == (
        "reply",
        "223789",
        ("213163",),
    )
    assert interaction.event_time == mention.event_time == 1341100972.0


def test_every_payload_validates() -> None:
    for item in read_higgs(FIXTURE, include_retweets=True):
        assert isinstance(item, SourceRecord)
        _valid(item)


def test_retweets_on_request_are_mentions_tagged_retweet() -> None:
    records = [i for i in read_higgs(FIXTURE, include_retweets=True)]

    retweet = records[2]
    assert isinstance(retweet, SourceRecord)
    assert retweet.kind == "mention"
    assert orjson.loads(retweet.payload)["topics"] == ["higgs", "retweet"]
    assert _valid(retweet).targets == ("50329",)


def test_a_user_addressing_themself_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "higgs-activity_time.txt"
    path.write_text("7 7 1341100972 MT\n7 7 1341100973 RE\n7 7 1341100974 RT\n")

    items = list(read_higgs(path, include_retweets=True))

    assert items == [SkippedLine(n, SELF_INTERACTION) for n in (1, 2, 3)]


def test_gzip_is_read_lazily(tmp_path: Path) -> None:
    path = tmp_path / "higgs-activity_time.txt.gz"
    path.write_bytes(gzip.compress(FIXTURE.read_bytes() + b"this line is not read\n"))

    stream = read_higgs(path)
    first = next(stream)

    assert isinstance(first, SourceRecord)
    assert first.event_id == "higgs:1"
    stream.close()


def test_a_malformed_line_is_reported_and_the_rest_still_read(tmp_path: Path) -> None:
    path = tmp_path / "higgs-activity_time.txt"
    path.write_text("1 2 1341100972 MT\n1 2 yesterday MT\n1 2 1341100973 XX\n3 4 1341100974 RE\n")

    items = list(read_higgs(path))

    assert [type(i).__name__ for i in items] == [
        "SourceRecord",
        "LineError",
        "LineError",
        "SourceRecord",
    ]
    bad_time, bad_kind = items[1], items[2]
    assert isinstance(bad_time, LineError) and isinstance(bad_kind, LineError)
    assert bad_time.line_no == 2
    assert "yesterday" in bad_time.message
    assert bad_kind.line_no == 3
    assert "expected 'userA userB timestamp RT|MT|RE', got '1 2 1341100973 XX'" in (
        bad_kind.message
    )
