"""SNAP Higgs Twitter activity stream: `userA userB timestamp RT|MT|RE`, in time order.

- `MT` (A mentioned B) becomes a mention by A of B.
- `RE` (A replied to B) becomes a reply by A to B.
- `RT` (A retweeted B) is skipped unless `include_retweets`, then it is a mention of B
  tagged with the topic `retweet`.
- A line where A and B are the same user (7,081 MT and 507 RE lines in the full file) is
  skipped: the worker rejects self-mentions.

The data set has no text, so `text` is empty. Note that the same (A, B, t) often appears
both as MT and as RE (one post that is a reply and names its target); each line becomes
its own event, `higgs:<line number>`, as the data set counts them.
"""

from __future__ import annotations

from collections.abc import Iterator
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
EXPECTED = "'userA userB timestamp RT|MT|RE'"


def read_higgs(
    path: Path, *, include_retweets: bool = False
) -> Iterator[SourceRecord | SkippedLine | LineError]:
    """Stream `higgs-activity_time.txt[.gz]` lazily, one item per non-blank line."""
    with open_text(path) as lines:
        for line_no, line in enumerate(lines, start=1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 4 or parts[3] not in ("RT", "MT", "RE"):
                yield LineError(line_no, f"expected {EXPECTED}, got {line.strip()!r}")
                continue
            author, target, stamp, kind = parts
            try:
                event_time = float(int(stamp))
            except ValueError:
                yield LineError(line_no, f"timestamp: expected Unix seconds, got {stamp!r}")
                continue
            event_id = f"higgs:{line_no}"
            if kind == "RT" and not include_retweets:
                yield SkippedLine(line_no, RETWEET_SKIPPED)
            elif author == target:
                yield SkippedLine(line_no, SELF_INTERACTION)
            elif kind == "RE":
                yield reply_record(
                    event_id=event_id,
                    event_time=event_time,
                    author_id=author,
                    in_reply_to_author_id=target,
                    source=SOURCE,
                    topics=TOPICS,
                )
            else:
                yield mention_record(
                    event_id=event_id,
                    event_time=event_time,
                    author_id=author,
                    target_ids=(target,),
                    source=SOURCE,
                    topics=TOPICS if kind == "MT" else RETWEET_TOPICS,
                )
