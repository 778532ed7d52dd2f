"""Characters that cannot be seen: refused in person ids, escaped wherever text is shown.

Control (Unicode category Cc) and format (Cf) characters print as nothing or move the
cursor. In an id they make two ids that look the same (`ana` and `ana` + U+200B); on a
terminal they can rewrite what is shown (U+0085 next line, U+009B CSI, U+202E right-to-left
override). Line and paragraph separators (Zl, Zp) and lone surrogates (Cs) are escaped on
display as well; unassigned code points are not, as this Python's Unicode tables may
predate a newer emoji.
"""

from __future__ import annotations

import unicodedata

INVISIBLE_IN_IDS = frozenset({"Cc", "Cf"})
ESCAPED_ON_DISPLAY = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def first_invisible(text: str) -> int | None:
    """Index of the first control or format character (Cc, Cf) in `text`, or None."""
    for index, char in enumerate(text):
        if unicodedata.category(char) in INVISIBLE_IN_IDS:
            return index
    return None


def code_point(char: str) -> str:
    """`U+200B`: how a reason names a character without printing it."""
    return f"U+{ord(char):04X}"


def escape_invisible(text: str, keep: str = "") -> str:
    """`text` with each control, format, separator or surrogate character written as a JSON
    escape (`\\u0085`), except those in `keep`. Inside a JSON string the escape means the
    same character, so escaped JSON stays the same JSON."""
    if text.isascii() and text.isprintable():
        return text
    return "".join(
        _escape(char)
        if char not in keep and unicodedata.category(char) in ESCAPED_ON_DISPLAY
        else char
        for char in text
    )


def _escape(char: str) -> str:
    point = ord(char)
    if point < 0x10000:
        return f"\\u{point:04x}"
    point -= 0x10000  # above the BMP, JSON spells a UTF-16 surrogate pair
    return f"\\u{0xD800 + (point >> 10):04x}\\u{0xDC00 + (point & 0x3FF):04x}"
