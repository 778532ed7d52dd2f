"""The converters on the real data sets in ../shared/data, against their documented counts."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import orjson
import pytest

from service.core.interaction import Interaction
from service.core.validation import EventValidator
from service.sources.detect import open_source
from service.sources.higgs import MENTION_AS_REPLY
from service.sources.record import (
    SELF_INTERACTION,
    LineError,
    SkippedLine,
    SourceItem,
    SourceRecord,
)

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"

pytestmark = pytest.mark.data


def _data(*parts: str) -> Path:
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"../shared/data not found: {path} (the real data sets sit beside the repo)")
    return path


def _tally(items: list[SourceItem]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for item in items:
        if isinstance(item, SourceRecord):
            counts[item.kind] += 1
        elif isinstance(item, SkippedLine):
            counts[f"skipped: {item.reason}"] += 1
        else:
            counts["error"] += 1
    return counts


def _all_valid(records: list[SourceRecord]) -> None:
    validator = EventValidator()
    now = time.time()
    for record in records:
        result = validator.validate(record.payload, now)
        assert isinstance(result, Interaction), (record.event_id, result)


def test_higgs_activity_stream_matches_the_snap_counts() -> None:
    path = _data("higgs_twitter", "higgs-activity_time.txt.gz")
    counts: Counter[str] = Counter()
    last_time = 0.0
    checked: list[SourceRecord] = []
    for item in open_source(path):
        if isinstance(item, SourceRecord):
            counts[item.kind] += 1
            assert item.event_time >= last_time  # the file is in time order
            last_time = item.event_time
            if len(checked) < 20_000:
                checked.append(item)
        elif isinstance(item, SkippedLine):
            counts[item.reason] += 1
        else:
            counts["error"] += 1

    # SNAP: MT 171,237, RE 36,902, RT 354,930. 7,081 MT and 507 RE lines are a user
    # addressing themself, which the worker rejects, so they are skipped. Every RE line has
    # an MT twin with the same (userA, userB, t): the same tweet, kept once, as the reply.
    # 507 of those pairs are self-interactions, so 36,395 mention twins are skipped.
    assert counts == {
        "mention": 171_237 - 7_081 - 36_395,
        "reply": 36_902 - 507,
        "retweet: not a mention or reply": 354_930,
        SELF_INTERACTION: 7_081 + 507,
        MENTION_AS_REPLY: 36_902 - 507,
    }
    assert 1341100972.0 <= last_time <= 1341705593.0
    _all_valid(checked)
    events = [orjson.loads(record.payload) for record in checked]
    replied = {
        (e["author_id"], e["in_reply_to_author_id"], e["event_time"])
        for e in events
        if e["type"] == "reply"
    }
    mentioned = {
        (e["author_id"], e["target_ids"][0], e["event_time"])
        for e in events
        if e["type"] == "mention"
    }
    assert replied and mentioned and not replied & mentioned  # each reply counts once


def test_twcs_first5000_replies_mentions_and_skips() -> None:
    path = _data("twitter_customer_support_subset", "twcs_first5000.csv")
    items = list(open_source(path))
    records = [item for item in items if isinstance(item, SourceRecord)]

    # 3,688 replies have their parent in the file; 174 of those answer their own author
    # and fall back to the @handles they name (165 do, 9 name no one else).
    assert _tally(items) == {
        "reply": 3_514,
        "mention": 1_366,
        "skipped: not a reply to a tweet in the file and no @handle": 111,
        "skipped: reply to the author's own tweet and no other @handle": 9,
    }
    times = [record.event_time for record in records]
    assert times == sorted(times)
    ids = {record.event_id for record in records}
    events = [orjson.loads(record.payload) for record in records]
    replies = [event for event in events if event["type"] == "reply"]
    assert all(event["in_reply_to_event_id"].startswith("twcs:") for event in replies)
    assert sum(event["in_reply_to_event_id"] in ids for event in replies) > 3_300
    brands = Counter(brand for event in events for brand in event.get("brands", ()))
    for company in ("chipotletweets", "amazonhelp", "applesupport", "delta"):
        assert brands[company] > 100
    _all_valid(records)


def test_twcs_kaggle_sample_is_complete_threads() -> None:
    path = _data("twitter_customer_support_subset", "twcs_kaggle_sample93.csv")
    items = list(open_source(path))

    assert _tally(items) == {
        "reply": 66,
        "mention": 26,
        "skipped: not a reply to a tweet in the file and no @handle": 1,
    }
    _all_valid([item for item in items if isinstance(item, SourceRecord)])


def test_college_msg_is_59835_mentions_in_time_order() -> None:
    path = _data("college_msg", "CollegeMsg.txt")
    records = [item for item in open_source(path) if not isinstance(item, LineError)]

    assert len(records) == 59_835
    assert all(isinstance(r, SourceRecord) and r.kind == "mention" for r in records)
    times = [r.event_time for r in records if isinstance(r, SourceRecord)]
    assert (min(times), max(times)) == (1082040961.0, 1098777142.0)
    assert times == sorted(times)
    _all_valid([r for r in records if isinstance(r, SourceRecord)])
