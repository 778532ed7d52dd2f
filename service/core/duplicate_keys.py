"""Repeated keys in one JSON object: found cheaply, so the validator can refuse them.

RFC 8259 leaves a repeated key's meaning to the parser; orjson keeps the last value, so
`{"type": "bogus", "type": "mention"}` would pass as a mention. orjson cannot report
repeats, and a parse that can (Python's json with `object_pairs_hook`) costs about four
times as much, so it runs only when a cheap count says a repeat is possible.

Most producers write compact JSON, often byte for byte what orjson writes back: then the
text cannot repeat a key, since orjson's writing of the parsed value does not. Otherwise,
the count: every key in the raw text is followed by exactly one structural colon, and the
other colons in the text sit inside strings. Re-serialising the parsed value writes one
colon per key it kept and the same in-string colons, unless the text spelled a colon as
an escape (`\\u003a`). So, with no such escape, the raw text has more colons than the
re-serialised value exactly when some object repeated a key.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

Path = tuple[str | int, ...]
"""Keys and array indexes from the document root to a value."""


def first_repeated_key(raw: bytes, parsed: Any) -> tuple[Path, int] | None:
    """(path of the key, how often its object holds it) of the first key repeated within
    one object of `raw`, or None. `parsed` is `raw` as orjson parsed it.

    A path of `()` means a repeat is certain but could not be placed (nesting deeper than
    Python's json parses; no event nests that deep)."""
    written = orjson.dumps(parsed)
    if written == raw:
        return None  # the text is orjson's own writing of a value without repeats
    escaped = b"\\u003" in raw  # \u003a could be a colon
    if not escaped and raw.count(b":") == written.count(b":"):
        return None
    found = _find(raw)
    if found is None and not escaped:
        return (), 2  # the count proves a repeat that the slow parse could not place
    return found


class _Pairs(dict[str, Any]):
    """A parsed object that remembers how often each repeated key occurred."""

    repeated: dict[str, int]


def _pairs(items: list[tuple[str, Any]]) -> _Pairs:
    obj = _Pairs(items)
    obj.repeated = {}
    if len(obj) < len(items):
        for key, _ in items:
            obj.repeated[key] = obj.repeated.get(key, 0) + 1
        obj.repeated = {key: n for key, n in obj.repeated.items() if n > 1}
    return obj


def _find(raw: bytes) -> tuple[Path, int] | None:
    try:
        document = json.loads(raw, object_pairs_hook=_pairs)
    except (ValueError, RecursionError):
        return None  # orjson accepted it, so only Python's nesting limit lands here
    stack: list[tuple[Path, Any]] = [((), document)]
    while stack:  # depth first, in document order
        path, value = stack.pop()
        if isinstance(value, _Pairs):
            if value.repeated:
                key, count = next(iter(value.repeated.items()))
                return (*path, key), count
            stack.extend(((*path, k), v) for k, v in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend(((*path, i), v) for i, v in reversed(list(enumerate(value))))
    return None
