"""Invisible characters: found in ids, escaped on display without changing what JSON means."""

from __future__ import annotations

import sys
import unicodedata

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from service.core.characters import (
    ESCAPED_ON_DISPLAY,
    INVISIBLE_IN_IDS,
    code_point,
    escape_invisible,
    first_invisible,
)

# Every control and format character this Python knows, from U+0000 to U+10FFFF.
INVISIBLE = [
    chr(point)
    for point in range(sys.maxunicode + 1)
    if unicodedata.category(chr(point)) in INVISIBLE_IN_IDS
]


def test_the_issue_examples_are_invisible() -> None:
    for char in "\x7f\x9b\x85\u200b\ufeff\u202e\U000e0001":
        assert first_invisible(f"ana{char}x") == 3, code_point(char)


def test_every_cc_and_cf_character_is_found_and_nothing_else_in_a_name() -> None:
    assert len(INVISIBLE) > 200  # 65 Cc and about 170 Cf
    for char in INVISIBLE:
        assert first_invisible("ab" + char) == 2, code_point(char)
    assert first_invisible("Zoë-Ωmega_日本語_🙂") is None


@given(st.text())
def test_escaped_json_is_the_same_json_and_shows_no_invisible_character(text: str) -> None:
    shown = escape_invisible(orjson.dumps(text).decode())

    assert orjson.loads(shown) == text
    assert not any(unicodedata.category(c) in ESCAPED_ON_DISPLAY for c in shown)


@settings(deadline=None)
@given(st.text(alphabet=st.sampled_from("ab\n\t\r\x85\u2028\u200b")))
def test_kept_characters_stay_and_the_others_go(text: str) -> None:
    shown = escape_invisible(text, keep="\n\t")

    assert shown.count("\n") == text.count("\n") and shown.count("\t") == text.count("\t")
    assert not set(shown) & set("\r\x85\u2028\u200b")


def test_plain_text_is_returned_as_is() -> None:
    text = "plain ascii, and more"
    assert escape_invisible(text) is text
    assert escape_invisible("\U000e0001") == "\\udb40\\udc01"  # a surrogate pair, as JSON does
