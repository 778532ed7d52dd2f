"""Higgs activity stream: MT -> mention, RE -> reply, RT skipped unless asked for, and an MT
that is the same tweet as an RE (same userA, userB, timestamp) skipped so it counts once."""

from __future__ import annotations

import contextlib
import gzip
import io
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from service.core.interaction import Interaction
from service.core.validation import EventValidator
from service.sources import higgs
from service.sources.higgs import MENTION_AS_REPLY, RETWEET_SKIPPED, read_higgs
from service.sources.record import SELF_INTERACTION, LineError, SkippedLine, SourceRecord

FIXTURE = Path(__file__).parent / "fixtures" / "higgs-activity_time-sample.txt"


def _valid(record: SourceRecord) -> Interaction:
    result = EventValidator().validate(record.payload, 1.8e9)
    assert isinstance(result, Interaction), result
    return result


def _summary(path: Path, *, include_retweets: bool = False) -> list[tuple[int | str, str]]:
    """(line or event id, kind or skip reason) of every item, in the order they come."""
    out: list[tuple[int | str, str]] = []
    for item in read_higgs(path, include_retweets=include_retweets):
        if isinstance(item, SourceRecord):
            out.append((item.event_id, item.kind))
        elif isinstance(item, SkippedLine):
            out.append((item.line, item.reason))
        else:
            out.append((item.line_no, "error"))
    return out


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "higgs-activity_time.txt"
    path.write_text(text)
    return path


def test_mentions_and_replies_with_retweets_and_reply_twins_skipped() -> None:
    assert _summary(FIXTURE) == [
        (1, MENTION_AS_REPLY),  # the same tweet as line 2, a reply
        ("higgs:2", "reply"),
        (3, RETWEET_SKIPPED),
        ("higgs:4", "mention"),
        (5, RETWEET_SKIPPED),
        ("higgs:7", "reply"),  # line 6 is blank
    ]


def test_payload_is_the_v1_contract() -> None:
    reply, mention = [i for i in read_higgs(FIXTURE) if isinstance(i, SourceRecord)][:2]

    assert orjson.loads(mention.payload) == {
        "type": "mention",
        "schema_version": 1,
        "event_id": "higgs:4",
        "event_time": "2012-07-01T00:06:23Z",
        "author_id": "26375",
        "target_ids": ["168366"],
        "text": "",
        "source": "twitter",
        "topics": ["higgs"],
    }
    assert orjson.loads(reply.payload) == {
        "type": "reply",
        "schema_version": 1,
        "event_id": "higgs:2",
        "event_time": "2012-07-01T00:02:52Z",
        "author_id": "223789",
        "in_reply_to_author_id": "213163",
        "text": "",
        "source": "twitter",
        "topics": ["higgs"],
    }
    interaction = _valid(reply)
    assert (interaction.kind, interaction.actor, interaction.targets) == (
        "reply",
        "223789",
        ("213163",),
    )
    assert interaction.event_time == reply.event_time == 1341100972.0


def test_every_payload_validates() -> None:
    for item in read_higgs(FIXTURE, include_retweets=True):
        if isinstance(item, SourceRecord):
            _valid(item)
        else:
            assert item == SkippedLine(1, MENTION_AS_REPLY)


def test_retweets_on_request_are_mentions_tagged_retweet() -> None:
    records = [i for i in read_higgs(FIXTURE, include_retweets=True)]

    retweet = records[2]
    assert isinstance(retweet, SourceRecord)
    assert retweet.kind == "mention"
    assert orjson.loads(retweet.payload)["topics"] == ["higgs", "retweet"]
    assert _valid(retweet).targets == ("50329",)


def test_a_reply_cancels_its_mention_twin_whichever_line_comes_first(tmp_path: Path) -> None:
    path = _write(tmp_path, "1 2 100 RE\n1 2 100 MT\n3 4 100 MT\n3 4 100 RE\n")

    assert _summary(path) == [
        ("higgs:1", "reply"),
        (2, MENTION_AS_REPLY),
        (3, MENTION_AS_REPLY),
        ("higgs:4", "reply"),
    ]


def test_only_the_same_author_target_and_second_make_a_twin(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "1 2 100 MT\n"  # same pair, the reply is a second later: two tweets
        "1 2 101 RE\n"
        "2 1 101 MT\n"  # the other direction: its own tweet
        "1 3 101 MT\n"  # another target
        "1 2 101 RT\n",  # a retweet is never a twin
    )

    assert _summary(path, include_retweets=True) == [
        ("higgs:1", "mention"),
        ("higgs:2", "reply"),
        ("higgs:3", "mention"),
        ("higgs:4", "mention"),
        ("higgs:5", "mention"),
    ]


def test_each_reply_cancels_one_mention(tmp_path: Path) -> None:
    path = _write(tmp_path, "1 2 100 MT\n1 2 100 RE\n1 2 100 MT\n")

    assert _summary(path) == [(1, MENTION_AS_REPLY), ("higgs:2", "reply"), ("higgs:3", "mention")]


def test_a_user_addressing_themself_is_skipped(tmp_path: Path) -> None:
    path = _write(tmp_path, "7 7 1341100972 MT\n7 7 1341100972 RE\n7 7 1341100974 RT\n")

    items = list(read_higgs(path, include_retweets=True))

    assert items == [SkippedLine(n, SELF_INTERACTION) for n in (1, 2, 3)]


def test_gzip_is_read_lazily(tmp_path: Path) -> None:
    path = tmp_path / "higgs-activity_time.txt.gz"
    path.write_bytes(gzip.compress(FIXTURE.read_bytes() + b"this line is not read\n"))

    stream = read_higgs(path)
    first = next(stream)

    assert first == SkippedLine(1, MENTION_AS_REPLY)
    stream.close()


def test_only_the_lines_of_the_current_timestamp_are_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, "1 2 100 MT\n1 2 100 RE\n3 4 101 MT\n5 6 102 MT\n7 8 103 MT\n")
    pulled: list[str] = []

    @contextlib.contextmanager
    def counting_open(source: Path) -> Iterator[Iterator[str]]:
        def lines() -> Iterator[str]:
            for line in io.StringIO(source.read_text()):
                pulled.append(line)
                yield line

        yield lines()

    monkeypatch.setattr(higgs, "open_text", counting_open)
    stream = read_higgs(path)

    assert next(stream) == SkippedLine(1, MENTION_AS_REPLY)
    assert len(pulled) == 3  # the run of t=100, and the line that ended it
    reply = next(stream)
    assert isinstance(reply, SourceRecord) and reply.event_id == "higgs:2"
    assert len(pulled) == 3
    mention = next(stream)
    assert isinstance(mention, SourceRecord) and mention.event_id == "higgs:3"
    assert len(pulled) == 4
    stream.close()


def test_a_malformed_line_is_reported_in_place_and_the_rest_still_read(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "1 2 1341100972 MT\n1 2 yesterday MT\n1 2 1341100973 XX\n3 4 1341100974 RE\n",
    )

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
