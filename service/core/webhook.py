"""What a webhook delivery of an alert looks like: the body, its signature, the retry plan.

- **Body:** the alert.v1 record as JSON; with Slack text on, the same record plus a `text`
  field (Slack's incoming webhooks show `text` and ignore the rest).
- **Signature:** `X-Closeknit-Signature: t=<unix seconds>,v1=<hex>`, where the hex is
  HMAC-SHA256 with the configured secret over `"<t>." + body`. A receiver recomputes it and
  refuses a stale `t`, so a captured request cannot be replayed later (`verify`).
- **Retries:** `backoff_s(attempt)` doubles from 1 s up to 60 s, with jitter; after
  `max_attempts` failures the alert goes to the dead-letter topic as `webhook_failed`.
"""

from __future__ import annotations

import hashlib
import hmac
import random
from collections.abc import Mapping
from typing import Any

import orjson

SIGNATURE_HEADER = "X-Closeknit-Signature"
MAX_BACKOFF_S = 60.0
TOLERANCE_S = 300.0
SEVERITY_MARK = {
    "critical": ":rotating_light:",
    "warning": ":warning:",
    "info": ":information_source:",
}


def body(record: Mapping[str, Any], slack: bool = False) -> bytes:
    """The request body for one alert record."""
    if not slack:
        return orjson.dumps(record)
    return orjson.dumps({**record, "text": slack_text(record)})


def slack_text(record: Mapping[str, Any]) -> str:
    """One Slack line: severity, state, kind and the record's own summary."""
    mark = SEVERITY_MARK.get(str(record.get("severity")), "")
    state = str(record.get("state", "")).upper()
    return f"{mark} *{state}* {record.get('kind')}: {record.get('summary', '')}".strip()


def signature(payload: bytes, secret: str, timestamp: int) -> str:
    """The signature header's value for `payload` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(payload: bytes, header: str, secret: str, now: float) -> bool:
    """A receiver's check: the signature matches and `t` is within `TOLERANCE_S` of now."""
    try:
        parts = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > TOLERANCE_S:
        return False
    expected = signature(payload, secret, timestamp)
    return hmac.compare_digest(expected, header)


def backoff_s(attempt: int, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): 1, 2, 4 … 60, each
    with up to 25% jitter, so many workers that failed together do not retry together."""
    base = min(MAX_BACKOFF_S, 2.0 ** max(0, attempt - 1))
    return base * (1.0 + 0.25 * (rng or random).random())


def without_opted_out(record: Mapping[str, Any], opted_out: Any) -> dict[str, Any] | None:
    """The record with every opted-out person left out of its evidence; None when the alert
    is about one (`opted_out(person_id) -> bool`)."""
    subject = record.get("subject") or {}
    if subject.get("type") == "person" and opted_out(subject.get("id")):
        return None
    evidence = dict(record.get("evidence") or {})
    for key in ("people", "influential_critics"):
        if isinstance(evidence.get(key), list):
            evidence[key] = [p for p in evidence[key] if not opted_out(p.get("id"))]
    if isinstance(evidence.get("ties"), list):
        evidence["ties"] = [
            t for t in evidence["ties"] if not (opted_out(t.get("a")) or opted_out(t.get("b")))
        ]
    return {**record, "evidence": evidence}
