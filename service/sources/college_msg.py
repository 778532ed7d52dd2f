"""SNAP CollegeMsg: `src dst t`, private messages between students, in time order.

A private message from `src` to `dst` is published as a *mention* of `dst` by `src`: the
input contract has no private-message type, and a mention is the closest (a directed
contact from one person to another). Tagged with the topic `college`; there is no text.
A message to oneself would be skipped (the worker rejects self-mentions); the SNAP file
has none.
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
)

SOURCE = "college-msg"
TOPICS = ("college",)


def read_college_msg(path: Path) -> Iterator[SourceRecord | SkippedLine | LineError]:
    """Stream `CollegeMsg.txt[.gz]` lazily, one mention per non-blank line."""
    with open_text(path) as lines:
        for line_no, line in enumerate(lines, start=1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 3:
                yield LineError(line_no, f"expected 'src dst t', got {line.strip()!r}")
                continue
            src, dst, stamp = parts
            try:
                event_time = float(int(stamp))
            except ValueError:
                yield LineError(line_no, f"t: expected Unix seconds, got {stamp!r}")
                continue
            if src == dst:
                yield SkippedLine(line_no, SELF_INTERACTION)
                continue
            yield mention_record(
                event_id=f"college:{line_no}",
                event_time=event_time,
                author_id=src,
                target_ids=(dst,),
                source=SOURCE,
                topics=TOPICS,
            )
