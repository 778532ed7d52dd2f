"""JSON Lines already in the mention/reply v1 format, validated line by line.

Each non-blank line is checked with the same `EventValidator` the worker uses, so a file
that replays cleanly here will not be dead-lettered there. Good lines are published as they
are (the payload is the line's own bytes); bad lines become `LineError`s.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from service.core.validation import EventValidator, Rejection
from service.sources.record import LineError, SourceRecord, open_binary

__all__ = ["LineError", "read_jsonl"]


def read_jsonl(
    path: Path, *, validator: EventValidator | None = None
) -> Iterator[SourceRecord | LineError]:
    """Stream `path` (`*.jsonl`, `*.ndjson`, optionally gzipped); blank lines are ignored."""
    check = validator or EventValidator()
    with open_binary(path) as lines:
        for line_no, line in enumerate(lines, start=1):
            raw = line.strip()
            if not raw:
                continue
            result = check.validate(raw, time.time())
            if isinstance(result, Rejection):
                yield LineError(line_no, result.message())
            else:
                yield SourceRecord(result.kind, result.event_id, result.event_time, raw)
