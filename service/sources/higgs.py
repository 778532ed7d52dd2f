"""SNAP Higgs Twitter activity stream: `userA userB timestamp RT|MT|RE`, in time order.

- `MT` (A mentioned B) becomes a mention by A of B.
- `RE` (A replied to B) becomes a reply by A to B.
- `RT` (A retweeted B) is skipped unless `include_retweets`, then it is a mention of B
  tagged with the topic `retweet`.
- A line where A and B are the same user (7,081 MT and 507 RE lines in the full file) is
  skipped: the worker rejects self-mentions.
- An `MT` line whose (A, B, t) also appears as an `RE` line is skipped as
  `MENTION_AS_REPLY`: it is the same tweet recorded twice (a reply names the person it
  answers), and publishing both would count every reply once more as a mention. The reply
  is kept. In the full file every one of the 36,902 RE lines has such an MT twin on the line
  just before it (507 of those pairs are self-interactions and are skipped as such).

The data set has no text, so `text` is empty. Each line that is published becomes its own
event, `higgs:<line number>`.

The file is read lazily. Since it is in time order, a reply's twin has the same timestamp, so
only the lines of the current timestamp are held (at most 55 in the full file): they are
released, in line order, once a line with another timestamp (or the end of the file) shows
that no more twins can come. Each RE line cancels at most one MT line, whichever comes first.
A twin that is not on a line of the same run of timestamps (a file out of time order) is not
matched and both lines are published.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

from service.sources.record import (
    SELF_INTERACTION,
    LineError,
    SkippedLine,
    SourceRecord,
    mention_record,
    open_text,
    reply_record,
)

SOURCE = "twitter"
TOPICS = ("higgs",)
RETWEET_TOPICS = ("higgs", "retweet")
RETWEET_SKIPPED = "retweet: not a mention or reply"
MENTION_AS_REPLY = "mention recorded again as a reply"
EXPECTED = "'userA userB timestamp RT|MT|RE'"

HiggsItem = SourceRecord | SkippedLine | LineError


@dataclass(frozen=True, slots=True)
class _Line:
    """A well-formed line waiting for the end of its timestamp's run."""

    line_no: int
    author: str
    target: str
    event_time: float
    kind: str  # RT, MT or RE


def read_higgs(path: Path, *, include_retweets: bool = False) -> Generator[HiggsItem, None, None]:
    """Stream `higgs-activity_time.txt[.gz]` lazily, one item per non-blank line, in line
    order (held back only until the timestamp changes)."""
    held: list[_Line | LineError] = []
    held_time: float | None = None
    with open_text(path) as lines:
        for line_no, line in enumerate(lines, start=1):
            parsed = _parse(line_no, line)
            if parsed is None:
                continue
            if isinstance(parsed, _Line) and parsed.event_time != held_time:
                yield from _release(held, include_retweets)
                held.clear()
                held_time = parsed.event_time
            held.append(parsed)
    yield from _release(held, include_retweets)


def _parse(line_no: int, line: str) -> _Line | LineError | None:
    parts = line.split()
    if not parts:
        return None
    if len(parts) != 4 or parts[3] not in ("RT", "MT", "RE"):
        return LineError(line_no, f"expected {EXPECTED}, got {line.strip()!r}")
    author, target, stamp, kind = parts
    try:
        event_time = float(int(stamp))
    except ValueError:
        return LineError(line_no, f"timestamp: expected Unix seconds, got {stamp!r}")
    return _Line(line_no, author, target, event_time, kind)


def _release(held: list[_Line | LineError], include_retweets: bool) -> Iterator[HiggsItem]:
    """Convert the lines of one timestamp, in line order, each RE cancelling one MT twin."""
    replies = Counter(
        (item.author, item.target)
        for item in held
        if isinstance(item, _Line) and item.kind == "RE" and item.author != item.target
    )
    for item in held:
        if isinstance(item, LineError):
            yield item
            continue
        pair = (item.author, item.target)
        if item.kind == "MT" and replies[pair] > 0 and item.author != item.target:
            replies[pair] -= 1
            yield SkippedLine(item.line_no, MENTION_AS_REPLY)
        else:
            yield _convert(item, include_retweets)


def _convert(item: _Line, include_retweets: bool) -> HiggsItem:
    if item.kind == "RT" and not include_retweets:
        return SkippedLine(item.line_no, RETWEET_SKIPPED)
    if item.author == item.target:
        return SkippedLine(item.line_no, SELF_INTERACTION)
    event_id = f"higgs:{item.line_no}"
    if item.kind == "RE":
        return reply_record(
            event_id=event_id,
            event_time=item.event_time,
            author_id=item.author,
            in_reply_to_author_id=item.target,
            source=SOURCE,
            topics=TOPICS,
        )
    return mention_record(
        event_id=event_id,
        event_time=item.event_time,
        author_id=item.author,
        target_ids=(item.target,),
        source=SOURCE,
        topics=TOPICS if item.kind == "MT" else RETWEET_TOPICS,
    )
