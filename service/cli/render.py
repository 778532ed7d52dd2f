"""Readable one-record renderings of alerts and dead letters for `tail` and the demo.

Text from a record is shown through `shown`: control and format characters in it (a dead
letter's `got` may hold U+0085 or U+009B from hostile input) are printed as escapes, never
sent to the terminal, and rich markup in it is printed literally.
"""

from __future__ import annotations

from typing import Any

import orjson
from rich.markup import escape

from service.core.characters import escape_invisible

STATE_STYLE = {"open": "bold red", "update": "yellow", "resolved": "green"}


def shown(value: object) -> str:
    """`value` as text safe for a terminal and for rich markup."""
    return escape(escape_invisible(str(value)))


def render_dead_letter(letter: dict[str, Any]) -> str:
    source = letter.get("source", {})
    where = (
        f"{source.get('topic', '?')}[{source.get('partition', '?')}]@{source.get('offset', '?')}"
    )
    code = shown(letter.get("reason_code", "?"))
    reason = shown(letter.get("reason", ""))
    return f"[magenta]DEAD LETTER[/] {code:20} {shown(where)}  {reason}"


def render_alert(alert: dict[str, Any]) -> str:
    state = str(alert.get("state", "?"))
    style = STATE_STYLE.get(state, "white")
    subject = alert.get("subject", {})
    topic = f" ({subject['topic']})" if subject.get("topic") else ""
    details = (
        f"{alert.get('severity', '')} {subject.get('type', '')} {subject.get('id', '')}{topic} "
        f"score {float(alert.get('score', 0.0)):.2f}"
    )
    head = f"[{style}]{state.upper():8}[/] [bold]{shown(alert.get('kind', '?'))}[/] "
    lines = [head + shown(details), f"    {shown(alert.get('summary', ''))}"]
    evidence = alert.get("evidence", {})
    people = evidence.get("people") or []
    if people:
        names = ", ".join(str(p.get("id")) for p in people[:6])
        lines.append(f"    people: {shown(names)}{' …' if len(people) > 6 else ''}")
    ties = evidence.get("ties") or []
    if ties:
        tie_list = ", ".join(
            f"{t.get('a')}↔{t.get('b')} {float(t.get('strength', 0)):.2f}" for t in ties[:4]
        )
        lines.append(f"    ties: {shown(tie_list)}")
    return "\n".join(lines)


def render_record(topic_kind: str, value: bytes | None) -> str:
    """Render by topic kind ("alerts", "dead-letters"); anything else as compact JSON."""
    if value is None:
        return "[dim](tombstone)[/]"
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError:
        return escape(repr(value[:200]))
    if topic_kind == "dead-letters":
        return render_dead_letter(data)
    if topic_kind == "alerts":
        return render_alert(data)
    return shown(orjson.dumps(data).decode())
