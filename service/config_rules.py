"""The ranges and forms configuration values must have, as plain words when one does not.

`load_settings` (service/config.py) asks these before it builds `Settings`. A numeric
setting's range lives in its field's metadata: `min`/`max` are inclusive, `gt`/`lt`
exclusive. A function here returns what was expected, or None when the value is fine.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

BOUNDS = ("min", "gt", "max", "lt")
BROKER_FORM = "kafka://host:port or host:port, several separated by commas, e.g. kafka://kafka:9092"
_BROKER = re.compile(
    r"(?:(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://)?"
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?)"
    r"(?::(?P<port>[^/]*))?/?"
)


def range_problem(value: Any, metadata: Mapping[str, Any], whole: bool) -> str | None:
    """What a number with these bounds must be, if `value` is not; None if it is."""
    bounds = {key: metadata[key] for key in BOUNDS if key in metadata}
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None  # not a number setting, or unset
    kind = "a whole number" if whole else "a number"
    if not math.isfinite(value):
        return "expected a finite number"
    if bounds and not _within(value, bounds):
        return f"expected {kind} {range_words(bounds)}"
    return None


def range_words(bounds: Mapping[str, Any]) -> str:
    """`from 1 to 65535`, `> 0 and <= 3650`, `>= 0`: the bounds as read aloud."""
    if {"min", "max"} == set(bounds):
        return f"from {_number(bounds['min'])} to {_number(bounds['max'])}"
    signs = {"min": ">=", "gt": ">", "max": "<=", "lt": "<"}
    return " and ".join(f"{signs[key]} {_number(bounds[key])}" for key in BOUNDS if key in bounds)


def broker_problem(url: str) -> str | None:
    """What is wrong with a bootstrap URL, in words, or None."""
    for part in url.split(","):
        problem = _server_problem(part.strip())
        if problem:
            return f"expected {BROKER_FORM}; {problem}"
    return None


def _number(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def _within(value: float, bounds: Mapping[str, Any]) -> bool:
    return (
        value >= bounds.get("min", -math.inf)
        and value > bounds.get("gt", -math.inf)
        and value <= bounds.get("max", math.inf)
        and value < bounds.get("lt", math.inf)
    )


def _server_problem(server: str) -> str | None:
    if not server:
        return "an entry is empty"
    match = _BROKER.fullmatch(server)
    if match is None:
        return f"{server!r} is not host:port"
    scheme, port = match["scheme"], match["port"]
    if scheme is not None and scheme.lower() != "kafka":
        return f"{server!r} has the scheme {scheme}://, not kafka://"
    if port is None:
        return f"{server!r} has no port"
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        return f"{server!r} has the port {port!r}, not a number from 1 to 65535"
    return None
