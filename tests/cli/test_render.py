"""`closeknit tail`: what a record holds never reaches the terminal as a control character."""

from __future__ import annotations

import io
import unicodedata

import orjson
import pytest
from rich.console import Console

from service.cli.render import render_record
from service.cli.tail_cmd import raw_line

HOSTILE = "\x85\x9b31m\u202e\u200b\u2028\x1b[2J"  # NEL, CSI, RLO, ZWSP, LS, ESC
LETTER = {
    "schema_version": 1,
    "reason_code": "invalid_value",
    "reason": f'$.author_id: expected a person id, got "{HOSTILE}"',
    "field": "$.author_id",
    "expected": "a person id",
    "got": f'"{HOSTILE}"',
    "source": {"topic": "closeknit.mentions", "partition": 0, "offset": 3},
}


def printed(markup: str) -> str:
    out = io.StringIO()
    Console(file=out, highlight=False, width=400, color_system=None).print(markup)
    return out.getvalue()


def invisible(text: str) -> list[str]:
    return [
        f"U+{ord(c):04X}"
        for c in text
        if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") and c != "\n"
    ]


@pytest.mark.parametrize("kind", ["dead-letters", "alerts", "dyad-updates"])
def test_a_record_is_shown_with_its_invisible_characters_escaped(kind: str) -> None:
    record = dict(LETTER, kind=HOSTILE, summary=HOSTILE)

    out = printed(render_record(kind, orjson.dumps(record)))

    assert invisible(out) == []
    assert "\\u0085" in out and "\\u202e" in out


def test_a_dead_letter_still_reads_code_position_and_reason() -> None:
    out = printed(render_record("dead-letters", orjson.dumps(LETTER)))

    assert "DEAD LETTER" in out and "invalid_value" in out
    assert "closeknit.mentions[0]@3" in out
    assert '$.author_id: expected a person id, got "\\u0085\\u009b31m' in out


def test_json_lines_stay_the_same_json_and_keep_json_whitespace() -> None:
    value = orjson.dumps(LETTER)

    line = raw_line(value)

    assert line.endswith("\n") and line.count("\n") == 1
    assert invisible(line) == []
    assert orjson.loads(line) == LETTER
    assert raw_line(b'{\n\t"a": 1\r\n}') == '{\n\t"a": 1\r\n}\n'
    assert raw_line(None) == "null\n"
