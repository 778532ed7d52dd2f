"""Repeated keys: the cheap colon count never misses one, and the slow parse places it."""

from __future__ import annotations

import json
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from service.core.duplicate_keys import first_repeated_key


class Obj(list[tuple[str, Any]]):
    """A JSON object written as its key/value pairs, so it can repeat a key."""


def repeats(value: Any) -> bool:
    if isinstance(value, Obj):
        keys = [k for k, _ in value]
        return len(set(keys)) < len(keys) or any(repeats(v) for _, v in value)
    if isinstance(value, list):
        return any(repeats(v) for v in value)
    return False


def write_string(text: str, escape: list[bool]) -> str:
    """A JSON string, some characters (the colon among them) spelled as \\u escapes."""
    out = []
    for i, ch in enumerate(text):
        if escape[i % len(escape)] or ch in '"\\' or ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04x}" if ord(ch) < 0x10000 else json.dumps(ch)[1:-1])
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def write(value: Any, style: dict[str, Any]) -> str:
    """JSON text of `value`, with the spacing and escapes `style` chose."""
    if isinstance(value, Obj):
        members = (
            write_string(k, style["escape"]) + style["colon"] + write(v, style) for k, v in value
        )
        return "{" + style["comma"].join(members) + "}"
    if isinstance(value, list):
        return "[" + style["comma"].join(write(v, style) for v in value) + "]"
    if isinstance(value, str):
        return write_string(value, style["escape"])
    return json.dumps(value)


keys = st.sampled_from(["type", "a", "a:", ":", "b c", 'q"', "é", "\u200b"]) | st.text(max_size=4)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.sampled_from('ab: "\\\u00e9\u003a\n{}'), max_size=6)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.lists(st.tuples(keys, inner), max_size=5).map(Obj)
    ),
    max_leaves=25,
)
styles = st.fixed_dictionaries(
    {
        "colon": st.sampled_from([":", ": ", " : ", "\t:", "\n:\n"]),
        "comma": st.sampled_from([",", ", ", " ,\n"]),
        "escape": st.lists(st.booleans(), min_size=1, max_size=5),
    }
)


@settings(deadline=None, max_examples=200)
@given(document=st.lists(st.tuples(keys, values), max_size=6).map(Obj), style=styles)
def test_a_repeat_anywhere_is_found_and_none_is_invented(document: Obj, style: dict) -> None:
    raw = write(document, style).encode()

    found = first_repeated_key(raw, orjson.loads(raw))

    assert (found is not None) == repeats(document), raw


@settings(deadline=None, max_examples=200)
@given(document=st.lists(st.tuples(keys, values), max_size=6).map(Obj), style=styles)
def test_the_path_names_an_object_that_holds_the_key_that_often(document: Obj, style: dict) -> None:
    raw = write(document, style).encode()

    found = first_repeated_key(raw, orjson.loads(raw))

    if found is None:
        return
    path, count = found
    node: Any = document
    for part in path[:-1]:
        # a parser keeps the last of a repeated key's values
        node = node[part] if isinstance(part, int) else [v for k, v in node if k == part][-1]
    assert isinstance(node, Obj)
    assert [k for k, _ in node].count(path[-1]) == count >= 2


def test_the_issue_cases_are_found_at_their_field() -> None:
    cases = {
        b'{"type":"bogus","type":"mention"}': (("type",), 2),
        b'{"author_id":"a","x":1,"author_id":"b"}': (("author_id",), 2),
        b'{"type" :"bogus", "type":"mention"}': (("type",), 2),  # spacing hides no repeat
        b'{"ty\\u0070e":1,"type":2}': (("type",), 2),  # nor does an escaped spelling
        b'{"a":[{"k":1},{"k":1,"k":2,"k":3}]}': (("a", 1, "k"), 3),
    }
    for raw, expected in cases.items():
        assert first_repeated_key(raw, orjson.loads(raw)) == expected, raw


def test_colons_inside_strings_and_escaped_colons_are_not_mistaken_for_keys() -> None:
    for raw in [
        b'{"event_time":"2026-11-22T09:30:00+01:00","text":"a: b \\": c"}',
        b'{"t":"\\u003a\\u003A","u":"::"}',
        b'{"a:":1,"a\\\\u003a":2}',
    ]:
        assert first_repeated_key(raw, orjson.loads(raw)) is None, raw
