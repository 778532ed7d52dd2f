"""Customer Support on Twitter (TWCS) csv: customer/brand tweets with explicit reply links.

Per tweet, in this order:
1. It replies to a tweet in the same file by someone else: a reply to that tweet's author,
   with `in_reply_to_event_id` `twcs:<parent id>`.
2. It has @handles other than its author's own: a mention of those handles (without the
   `@`; a handle that names a company in the file takes that company's spelling). This also
   covers replies whose parent is missing and replies to the author's own tweet (a thread
   continued by its author, e.g. "2/2").
3. Otherwise it is skipped, with the reason.

Companies are the authors with any outbound (`inbound == False`) tweet. Each event is
tagged with the company involved, lower-cased in `brands`: the author of an outbound tweet,
otherwise the company replied to or mentioned. Each event passes on the tweet's `inbound`
flag, so a company's own tweets arrive marked as a brand account's. The rows are not in
time order, so the file (a few thousand rows) is loaded and the events come out sorted by
`event_time`.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from service.sources.record import (
    LineError,
    SkippedLine,
    SourceRecord,
    mention_record,
    open_text,
    reply_record,
)

HEADER = (
    "tweet_id",
    "author_id",
    "inbound",
    "created_at",
    "text",
    "response_tweet_id",
    "in_response_to_tweet_id",
)
CREATED_AT_FORMAT = "%a %b %d %H:%M:%S %z %Y"
SOURCE = "twitter"
MAX_TARGETS = 50
MAX_BRANDS = 20
NO_TARGET = "not a reply to a tweet in the file and no @handle"
SELF_REPLY_NO_TARGET = "reply to the author's own tweet and no other @handle"

_HANDLE = re.compile(r"(?<![A-Za-z0-9_])@([A-Za-z0-9_]+)")


@dataclass(frozen=True, slots=True)
class _Tweet:
    line: int
    tweet_id: str
    author_id: str
    inbound: bool
    event_time: float
    text: str
    parent_id: str


def is_twcs_header(first_line: str) -> bool:
    """True if `first_line` is the TWCS csv header."""
    return tuple(cell.strip() for cell in first_line.strip().split(",")) == HEADER


def read_twcs(path: Path) -> Iterator[SourceRecord | SkippedLine | LineError]:
    """Read the whole csv, then yield errors and skips (file order) and events (time order)."""
    tweets: list[_Tweet] = []
    problems: list[SkippedLine | LineError] = []
    with open_text(path) as handle:
        reader = csv.DictReader(handle)
        missing = [name for name in HEADER if name not in (reader.fieldnames or ())]
        if missing:
            yield LineError(1, f"header: expected {','.join(HEADER)}, got {reader.fieldnames}")
            return
        line = 2
        for row in reader:
            parsed = _parse(row, line)
            if isinstance(parsed, LineError):
                problems.append(parsed)
            else:
                tweets.append(parsed)
            line = reader.line_num + 1

    by_id = {tweet.tweet_id: tweet for tweet in tweets}
    companies = {tweet.author_id for tweet in tweets if not tweet.inbound}
    canonical = {company.lower(): company for company in companies}
    records: list[SourceRecord] = []
    for tweet in tweets:
        made = _convert(tweet, by_id, companies, canonical)
        if isinstance(made, SkippedLine):
            problems.append(made)
        else:
            records.append(made)
    problems.sort(key=lambda item: item.line if isinstance(item, SkippedLine) else item.line_no)
    yield from problems
    records.sort(key=lambda record: record.event_time)  # stable: file order breaks ties
    yield from records


def _parse(row: dict[str, str | None], line: int) -> _Tweet | LineError:
    def cell(name: str) -> str:
        return (row.get(name) or "").strip()

    tweet_id, author_id, created_at = cell("tweet_id"), cell("author_id"), cell("created_at")
    if not tweet_id:
        return LineError(line, "tweet_id: expected a tweet id, got ''")
    if not author_id or any(ch.isspace() for ch in author_id):
        return LineError(line, f"author_id: expected an id without spaces, got {author_id!r}")
    inbound = cell("inbound")
    if inbound not in ("True", "False"):
        return LineError(line, f"inbound: expected True or False, got {inbound!r}")
    try:
        event_time = datetime.strptime(created_at, CREATED_AT_FORMAT).timestamp()
    except ValueError:
        return LineError(
            line,
            f"created_at: expected like 'Tue Oct 31 22:10:47 +0000 2017', got {created_at!r}",
        )
    return _Tweet(
        line=line,
        tweet_id=tweet_id,
        author_id=author_id,
        inbound=inbound == "True",
        event_time=event_time,
        text=row.get("text") or "",
        parent_id=cell("in_response_to_tweet_id"),
    )


def _convert(
    tweet: _Tweet,
    by_id: dict[str, _Tweet],
    companies: set[str],
    canonical: dict[str, str],
) -> SourceRecord | SkippedLine:
    event_id = f"twcs:{tweet.tweet_id}"
    targets = _handles(tweet, canonical)
    parent = by_id.get(tweet.parent_id) if tweet.parent_id else None
    if parent is not None and parent.author_id != tweet.author_id:
        return reply_record(
            event_id=event_id,
            event_time=tweet.event_time,
            author_id=tweet.author_id,
            in_reply_to_author_id=parent.author_id,
            in_reply_to_event_id=f"twcs:{parent.tweet_id}",
            text=tweet.text,
            source=SOURCE,
            brands=_brands(tweet, [parent.author_id, *targets], companies),
            inbound=tweet.inbound,
        )
    if targets:
        return mention_record(
            event_id=event_id,
            event_time=tweet.event_time,
            author_id=tweet.author_id,
            target_ids=targets[:MAX_TARGETS],
            text=tweet.text,
            source=SOURCE,
            brands=_brands(tweet, targets, companies),
            inbound=tweet.inbound,
        )
    reason = SELF_REPLY_NO_TARGET if parent is not None else NO_TARGET
    return SkippedLine(tweet.line, reason)


def _handles(tweet: _Tweet, canonical: dict[str, str]) -> list[str]:
    """@handles in the text, in order, without duplicates or the author's own."""
    own = tweet.author_id.lower()
    found: dict[str, str] = {}
    for handle in _HANDLE.findall(tweet.text):
        key = handle.lower()
        if key != own and key not in found:
            found[key] = canonical.get(key, handle)
    return list(found.values())


def _brands(tweet: _Tweet, counterparts: list[str], companies: set[str]) -> list[str]:
    """The company involved: the author of an outbound tweet, else those addressed."""
    if not tweet.inbound:
        return [tweet.author_id.lower()]
    brands = dict.fromkeys(who.lower() for who in counterparts if who in companies)
    return list(brands)[:MAX_BRANDS]
