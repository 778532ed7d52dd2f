"""Alert lifecycle: detector transitions in, alert.v1 records out; pure and deterministic.

A detector (change.py, burst.py, the cluster agent) reports a step about a subject as an
`AlertSignal`: opened, still_open / update, or resolved, at an event time, with a score and
evidence. `step` turns it into at most one alert.v1 record, keeping one `AlertEntry` per
`dedup_key` (`"<kind>:<subject id>"`, plus `":<topic>"` when scoped). `change_signal` and
`burst_signal` make the signal from change.py's and burst.py's results. `AlertBook` holds the
entries of many keys for replays and tests; the Faust shell stores each entry in a table under its
dedup_key (`entry_to_dict` / `entry_from_dict`) and calls `step` and `act` itself.

Determinism. Every time in a record is event time: `emitted_at` is the time of the signal (or of
the on-call action) that caused it, never the wall clock. `alert_id` is
`"al-" + blake2b(dedup_key + "|" + repr(opened_at))` with `opened_at` the event time at which the
alert opened. So replaying the same signals and actions yields the same records, ids included.

Lifecycle rules (`AlertParams`):

- One alert per dedup_key at a time. An `opened` signal while the alert is open, or a
  still_open / update signal, is an `update` record, rate-limited: at most one per
  `update_interval_s` of event time, except that a severity above the last record's is always
  emitted (an escalation). A storm therefore gives one `open` and a bounded number of updates.
- A detector `resolved` closes the alert with a `resolved` record (its severity is the highest the
  alert reached, its score the detector's at resolution).
- Cooldown: a new episode that opens within `cooldown_s` of event time after the alert resolved
  re-opens the SAME alert (same alert_id) with an `update` record instead of a new `open`: a
  flapping subject is one alert on the dashboard and one page. After the cooldown it is a new
  alert (new id, `open`, actions cleared).
- Paging: `Emitted.pages` tells an on-call consumer whether the record should page: every `open`
  record, and only that: one alert pages once. With `page_on_escalation`, an update that raises
  the severity above the highest the alert has reached pages too. A paging consumer that reads
  only the topic applies the same rule and skips records whose `actions.snoozed_until` is later
  than `emitted_at`. Incidents (service.core.incidents) fold some alerts into another's page.
- Stale: an open alert whose detector has sent nothing for a configured span of event time
  (a critic who stopped posting) is closed by `expire_stale` (`resolved_by` "stale"); the
  subject's next signal opens it again.
- On-call actions (`act`, `AlertBook.apply_action`, addressed by dedup_key or current alert_id):
  - ack: `actions.acked` becomes true for the rest of the alert's life; emits an update record
    (state as it was: `update`, or `resolved` when already closed).
  - snooze until T: the dedup_key does not page until event time T. Records are still emitted
    (dashboards stay current) but carry `actions.snoozed_until` and `pages` is False; a new
    episode during the snooze re-opens the same alert as an `update` even after the cooldown.
    Emits an update record.
  - resolve by X: closes the alert now (`resolved` record, `actions.resolved_by` = X). The rest of
    the detector's current episode is muted (its updates and its resolve are dropped); the
    detector's next `opened` follows the cooldown rule from the time of the manual resolve.
- Severity, unless the signal sets one, comes from the score through per-kind bands
  (`SeverityBands`, `severity_for`): score >= critical_at is critical, >= warning_at warning,
  else info. Defaults: influencer_turned_negative scores the drop of the short-term mean below
  the baseline in baseline sd (warning 1, critical 2); moment_of_truth scores complaints over
  the baseline's expectation since the burst began (warning 2x, critical 5x); emerging_cluster
  scores cohesion in [0, 1] (warning 0.5, critical 0.8).

Evidence is the caller's (people, ties, messages, baseline, current and any other keys); the
builder only bounds it: list lengths (`max_people`, `max_ties`, `max_messages`), excerpts
(`excerpt_chars`, default 140), message times as RFC 3339, non-finite numbers dropped.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from hashlib import blake2b
from typing import Any, Literal, NamedTuple

from service.core import burst, change

__all__ = [
    "DEFAULT_ALERT_PARAMS",
    "Action",
    "AlertBook",
    "AlertEntry",
    "AlertParams",
    "AlertSignal",
    "Emitted",
    "Kind",
    "Severity",
    "SeverityBands",
    "Step",
    "act",
    "action_record",
    "alert_id_for",
    "bound_evidence",
    "burst_signal",
    "change_signal",
    "dedup_key_for",
    "entry_from_dict",
    "entry_to_dict",
    "expire_stale",
    "rfc3339",
    "severity_for",
    "signal_from_dict",
    "signal_to_dict",
    "step",
    "summarize",
]

Kind = Literal["influencer_turned_negative", "moment_of_truth", "emerging_cluster"]
Severity = Literal["info", "warning", "critical"]
Step = Literal["opened", "still_open", "update", "resolved"]
Action = Literal["ack", "snooze", "resolve"]
RecordState = Literal["open", "update", "resolved"]

SUBJECT_TYPES: dict[str, str] = {
    "influencer_turned_negative": "person",
    "moment_of_truth": "brand",
    "emerging_cluster": "cluster",
}
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "critical")
_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
SUMMARY_MAX = 300


@dataclass(frozen=True, slots=True)
class SeverityBands:
    """Score at or above which an alert is a warning, and a critical one."""

    warning_at: float
    critical_at: float

    def __post_init__(self) -> None:
        if not self.warning_at <= self.critical_at:
            raise ValueError("warning_at must not exceed critical_at")


DEFAULT_BANDS: dict[str, SeverityBands] = {
    "influencer_turned_negative": SeverityBands(1.0, 2.0),
    "moment_of_truth": SeverityBands(2.0, 5.0),
    "emerging_cluster": SeverityBands(0.5, 0.8),
}


@dataclass(frozen=True, slots=True)
class AlertParams:
    """Rate limits, cooldown, severity bands and evidence bounds (the module docstring)."""

    update_interval_s: float = 900.0
    cooldown_s: float = 6 * 3600.0
    bands: Mapping[str, SeverityBands] = field(default_factory=lambda: dict(DEFAULT_BANDS))
    max_people: int = 20
    max_ties: int = 40
    max_messages: int = 10
    excerpt_chars: int = 140
    page_on_escalation: bool = False  # one alert pages once unless this is set

    def __post_init__(self) -> None:
        if not self.update_interval_s >= 0.0 or not self.cooldown_s >= 0.0:
            raise ValueError("update_interval_s and cooldown_s must not be negative")
        if not (0 <= self.max_people <= 100 and 0 <= self.max_ties <= 200):
            raise ValueError("alert.v1 allows at most 100 people and 200 ties")
        if not (0 <= self.max_messages <= 50 and 1 <= self.excerpt_chars <= 280):
            raise ValueError("alert.v1 allows at most 50 messages and 280-character excerpts")
        for kind in SUBJECT_TYPES:
            if kind not in self.bands:
                raise ValueError(f"no severity bands for {kind}")


DEFAULT_ALERT_PARAMS = AlertParams()


@dataclass(frozen=True, slots=True)
class AlertSignal:
    """One detector step about one subject, at event time `at` (seconds since the epoch)."""

    kind: Kind
    subject_id: str
    step: Step
    at: float
    score: float
    start: float  # event time where the evidence begins (the detector's change point)
    evidence: Mapping[str, Any] = field(default_factory=dict)
    topic: str | None = None
    severity: Severity | None = None  # None: from the score bands

    @property
    def dedup_key(self) -> str:
        return dedup_key_for(self.kind, self.subject_id, self.topic)


def action_record(
    dedup_key: str, action: Action, at: float, by: str, until: float | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """An alert_action v1 record (the CLI's and the dashboard's): event time `at`."""
    record: dict[str, Any] = {
        "type": "alert_action",
        "schema_version": 1,
        "event_id": event_id
        or f"act-{blake2b(f'{dedup_key}|{at!r}|{action}'.encode(), digest_size=8).hexdigest()}",
        "event_time": _whole_seconds(at),
        "dedup_key": dedup_key,
        "action": action,
        "by": by[:128],
    }
    if until is not None:
        record["until"] = _whole_seconds(until)
    return record


def _whole_seconds(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def signal_to_dict(signal: AlertSignal) -> dict[str, Any]:
    """The JSON form of a signal (alert_signal v1)."""
    return {
        "kind": signal.kind,
        "subject_id": signal.subject_id,
        "step": signal.step,
        "at": signal.at,
        "score": signal.score,
        "start": signal.start,
        "evidence": dict(signal.evidence),
        "topic": signal.topic,
        "severity": signal.severity,
    }


def signal_from_dict(data: Mapping[str, Any]) -> AlertSignal:
    return AlertSignal(**data)


class Emitted(NamedTuple):
    record: dict[str, Any]  # an alert.v1 record
    pages: bool  # should on-call be paged for it (the module docstring)


@dataclass(slots=True)
class AlertEntry:
    """The lifecycle of one dedup_key's current (or last) alert."""

    record: dict[str, Any]  # the last record emitted
    opened_at: float  # event time at which this alert_id opened
    is_open: bool = True
    muted: bool = False  # manually resolved while the detector's episode goes on
    last_emit: float = 0.0  # event time of the last record
    max_rank: int = 0  # highest severity rank reached
    resolved_at: float | None = None
    acked: bool = False
    snoozed_until: float | None = None
    resolved_by: str | None = None
    updates: int = 0  # update records emitted for this alert
    suppressed: int = 0  # update signals dropped by the rate limit
    last_seen: float | None = None  # event time of the detector's latest signal

    @property
    def alert_id(self) -> str:
        return str(self.record["alert_id"])

    @property
    def dedup_key(self) -> str:
        return str(self.record["dedup_key"])

    def snoozed(self, at: float) -> bool:
        return self.snoozed_until is not None and at < self.snoozed_until

    def expired(self, now: float, params: AlertParams = DEFAULT_ALERT_PARAMS) -> bool:
        """True once a closed alert is past its cooldown and snooze: the entry may be dropped."""
        if self.is_open or self.muted or self.resolved_at is None:
            return False
        return now >= self.resolved_at + params.cooldown_s and not self.snoozed(now)


# -- pure steps ----------------------------------------------------------------------------


def step(
    entry: AlertEntry | None, signal: AlertSignal, params: AlertParams = DEFAULT_ALERT_PARAMS
) -> tuple[AlertEntry | None, Emitted | None]:
    """Apply one detector step; return the entry to store and the record to emit, if any."""
    if signal.kind not in SUBJECT_TYPES:
        raise ValueError(f"unknown alert kind {signal.kind!r}")
    if not math.isfinite(signal.at) or not math.isfinite(signal.score):
        raise ValueError("signal time and score must be finite")
    at = signal.at
    severity = signal.severity or severity_for(signal.kind, signal.score, params)
    rank = _RANK[severity]
    what = signal.step
    stale = entry is not None and entry.resolved_by == STALE and not entry.is_open
    if stale and what in ("still_open", "update"):
        what = "opened"  # back after a silence long enough to have gone stale: news

    if what == "resolved":
        if entry is None:
            return None, None
        if entry.muted:
            entry.muted = False  # the detector's episode that on-call closed has ended
            return entry, None
        if not entry.is_open:
            return entry, None
        entry.is_open = False
        entry.resolved_at = at
        top = SEVERITIES[entry.max_rank]
        return entry, _emit(entry, signal, "resolved", top, at, False, params)

    if what not in ("opened", "still_open", "update"):
        raise ValueError(f"unknown step {what!r}")

    if entry is not None and what != "resolved":
        entry.last_seen = at
    if entry is not None and not entry.is_open:
        if what != "opened":
            return entry, None  # only `opened` starts an episode (this is the rest of one
            # that on-call resolved, or a step out of order)
        entry.muted = False
    if entry is None or (not entry.is_open and _cooldown_over(entry, at, params)):
        # A new alert (a still_open without any entry: the entry was lost or pruned).
        opened = at
        fresh = AlertEntry(record={}, opened_at=opened, last_emit=at, max_rank=rank, last_seen=at)
        record = _build(
            fresh, signal, "open", severity, at, alert_id_for(signal.dedup_key, opened), params
        )
        fresh.record = record
        return fresh, Emitted(record, True)

    if not entry.is_open:
        # Re-opened within the cooldown or the snooze: the same alert, as an update.
        entry.is_open = True
        entry.resolved_at = None
        entry.resolved_by = None
        escalated = rank > entry.max_rank
        entry.max_rank = max(entry.max_rank, rank)
        entry.updates += 1
        pages = escalated and params.page_on_escalation and not entry.snoozed(at)
        return entry, _emit(entry, signal, "update", severity, at, pages, params)

    last_rank = _RANK[entry.record["severity"]]
    if rank <= last_rank and at - entry.last_emit < params.update_interval_s:
        entry.suppressed += 1
        return entry, None
    escalated = rank > entry.max_rank
    entry.max_rank = max(entry.max_rank, rank)
    entry.updates += 1
    pages = escalated and params.page_on_escalation and not entry.snoozed(at)
    return entry, _emit(entry, signal, "update", severity, at, pages, params)


def act(
    entry: AlertEntry | None,
    action: Action,
    until: float | None,
    by: str,
    at: float,
    params: AlertParams = DEFAULT_ALERT_PARAMS,
) -> tuple[AlertEntry | None, Emitted | None]:
    """Apply an on-call action at event time `at`; return the entry and the record, if any."""
    if entry is None:
        return None, None
    if not math.isfinite(at):
        raise ValueError("action time must be finite")
    at = max(at, entry.last_emit)  # keep one alert's records in time order
    if action == "ack":
        entry.acked = True
    elif action == "snooze":
        if until is None or not math.isfinite(until):
            raise ValueError("snooze needs a finite `until`")
        entry.snoozed_until = until
    elif action == "resolve":
        if not entry.is_open:
            return entry, None  # already closed: nothing to resolve
        entry.resolved_by = by[:128] if by else None
        entry.is_open = False
        entry.muted = True
        entry.resolved_at = at
    else:
        raise ValueError(f"unknown action {action!r}")
    state: RecordState = "resolved" if not entry.is_open else entry.record["state"]
    if state == "open":
        state = "update"
    record = copy.deepcopy(entry.record)
    record["state"] = state
    record["emitted_at"] = record["window"]["end"] = rfc3339(at)
    record["actions"] = _actions(entry)
    if action == "resolve":
        record["severity"] = SEVERITIES[entry.max_rank]
        record["summary"] = summarize(
            record["kind"],
            "resolved",
            record["subject"]["id"],
            record["subject"]["topic"],
            record["score"],
            record["evidence"],
        )
    entry.record = record
    entry.last_emit = at
    return entry, Emitted(record, False)


STALE = "stale"  # `resolved_by` of an alert closed because its subject went quiet


def expire_stale(
    entry: AlertEntry, now: float, stale_after_s: float, params: AlertParams = DEFAULT_ALERT_PARAMS
) -> Emitted | None:
    """Close an open alert whose detector has said nothing for `stale_after_s` of event time
    (a critic who stopped posting): a `resolved` record, `actions.resolved_by` "stale". The
    subject's next signal opens it again (within the cooldown, as the same alert)."""
    last = entry.last_seen if entry.last_seen is not None else entry.last_emit
    if not entry.is_open or now - last < stale_after_s:
        return None
    at = max(now, entry.last_emit)
    entry.is_open = False
    entry.resolved_at = at
    entry.resolved_by = STALE
    record = copy.deepcopy(entry.record)
    record["state"] = "resolved"
    record["severity"] = SEVERITIES[entry.max_rank]
    record["emitted_at"] = record["window"]["end"] = rfc3339(at)
    record["actions"] = _actions(entry)
    days = (at - last) / 86400.0
    record["summary"] = _truncate(
        f"{record['subject']['id']} has not posted for {days:.1f} days: resolved as stale.",
        SUMMARY_MAX,
    )
    entry.record, entry.last_emit = record, at
    return Emitted(record, False)


def _cooldown_over(entry: AlertEntry, at: float, params: AlertParams) -> bool:
    if entry.snoozed(at):
        return False
    return entry.resolved_at is None or at - entry.resolved_at > params.cooldown_s


def _emit(
    entry: AlertEntry,
    signal: AlertSignal,
    state: RecordState,
    severity: Severity,
    at: float,
    pages: bool,
    params: AlertParams,
) -> Emitted:
    at = max(at, entry.last_emit)
    record = _build(entry, signal, state, severity, at, entry.alert_id, params)
    entry.record = record
    entry.last_emit = at
    return Emitted(record, pages)


def _build(
    entry: AlertEntry,
    signal: AlertSignal,
    state: RecordState,
    severity: Severity,
    at: float,
    alert_id: str,
    params: AlertParams,
) -> dict[str, Any]:
    evidence = bound_evidence(signal.evidence, params)
    topic = signal.topic[:64] if signal.topic is not None else None
    start = min(signal.start, at)
    return {
        "schema_version": 1,
        "alert_id": alert_id,
        "kind": signal.kind,
        "state": state,
        "severity": severity,
        "subject": {"type": SUBJECT_TYPES[signal.kind], "id": signal.subject_id, "topic": topic},
        "window": {"start": rfc3339(start), "end": rfc3339(at)},
        "score": _round(signal.score),
        "evidence": evidence,
        "summary": summarize(
            signal.kind,
            "resolved" if state == "resolved" else "open",
            signal.subject_id,
            topic,
            signal.score,
            evidence,
        ),
        "dedup_key": signal.dedup_key,
        "emitted_at": rfc3339(at),
        "actions": _actions(entry),
    }


def _actions(entry: AlertEntry) -> dict[str, Any]:
    until = entry.snoozed_until
    return {
        "acked": entry.acked,
        "snoozed_until": None if until is None else rfc3339(until),
        "resolved_by": entry.resolved_by,
    }


# -- from the detectors ------------------------------------------------------------------------

_CHANGE_STEPS: dict[change.Transition, Step] = {
    change.Transition.OPENED: "opened",
    change.Transition.STILL_OPEN: "still_open",
    change.Transition.RESOLVED: "resolved",
}
_BURST_STEPS: dict[burst.BurstTransition, Step] = {
    burst.BurstTransition.OPENED: "opened",
    burst.BurstTransition.UPDATE: "update",
    burst.BurstTransition.RESOLVED: "resolved",
}


def change_signal(
    result: change.ChangeResult,
    person_id: str,
    at: float,
    topic: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> AlertSignal | None:
    """The signal of a turned-negative observation (None when it changed nothing).

    Score: the drop of the short-term mean below the baseline, in baseline sd. `extra` adds
    evidence (people, ties, messages) to the detector's numbers.
    """
    what = _CHANGE_STEPS.get(result.transition)
    if what is None:
        return None
    evidence = change.evidence(result)
    if extra:
        evidence.update(extra)
    return AlertSignal(
        kind="influencer_turned_negative",
        subject_id=person_id,
        step=what,
        at=at,
        score=result.drop_sd,
        start=result.window_start,
        evidence=evidence,
        topic=topic,
    )


def burst_signal(
    signal: burst.BurstSignal,
    brand_id: str,
    topic: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> AlertSignal:
    """The signal of a complaint-burst step. Score: complaints since the burst began over the
    baseline's expectation for those minutes."""
    evidence = burst.evidence(signal)
    if extra:
        evidence.update(extra)
    ratio = signal.ratio
    return AlertSignal(
        kind="moment_of_truth",
        subject_id=brand_id,
        step=_BURST_STEPS[signal.transition],
        at=signal.at,
        score=ratio if math.isfinite(ratio) else float(signal.window_count),
        start=signal.start,
        evidence=evidence,
        topic=topic,
    )


# -- small pure helpers --------------------------------------------------------------------


def dedup_key_for(kind: str, subject_id: str, topic: str | None = None) -> str:
    """`"<kind>:<subject id>"`, plus `":<topic>"` when the alert is scoped to a topic."""
    return f"{kind}:{subject_id}" if topic is None else f"{kind}:{subject_id}:{topic}"


def alert_id_for(dedup_key: str, opened_at: float) -> str:
    """A stable id from the dedup_key and the event time the alert opened."""
    digest = blake2b(f"{dedup_key}|{opened_at!r}".encode(), digest_size=10).hexdigest()
    return f"al-{digest}"


def severity_for(kind: str, score: float, params: AlertParams = DEFAULT_ALERT_PARAMS) -> Severity:
    """The severity band a score falls in, for one kind of alert."""
    bands = params.bands[kind]
    if score >= bands.critical_at:
        return "critical"
    if score >= bands.warning_at:
        return "warning"
    return "info"


def rfc3339(seconds: float) -> str:
    """UTC RFC 3339: whole seconds as `...:SSZ`, others with milliseconds."""
    moment = datetime.fromtimestamp(seconds, UTC)
    spec = "seconds" if float(seconds).is_integer() else "milliseconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


def bound_evidence(
    evidence: Mapping[str, Any], params: AlertParams = DEFAULT_ALERT_PARAMS
) -> dict[str, Any]:
    """A bounded, JSON-able copy of the caller's evidence (the module docstring)."""
    out: dict[str, Any] = {}
    for key, value in evidence.items():
        if key == "people" and isinstance(value, list):
            out[key] = [_bounded_item(p) for p in value[: params.max_people]]
        elif key == "ties" and isinstance(value, list):
            out[key] = [_bounded_item(t) for t in value[: params.max_ties]]
        elif key == "messages" and isinstance(value, list):
            out[key] = [_bounded_message(m, params) for m in value[: params.max_messages]]
        elif isinstance(value, float):
            if math.isfinite(value):
                out[key] = value
        else:
            out[key] = copy.deepcopy(value)
    return out


def _bounded_item(item: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in item.items():
        if isinstance(value, float):
            if not math.isfinite(value):
                continue
            value = _round(value)
        elif key == "role" and isinstance(value, str):
            value = value[:64]
        out[key] = value
    return out


def _bounded_message(message: Mapping[str, Any], params: AlertParams) -> dict[str, Any]:
    out = _bounded_item(message)
    when = out.get("event_time")
    if isinstance(when, int | float):
        out["event_time"] = rfc3339(float(when))
    excerpt = out.get("excerpt")
    if isinstance(excerpt, str):
        out["excerpt"] = _truncate(excerpt, params.excerpt_chars)
    if "sentiment" in message and message["sentiment"] is not None:
        s = float(message["sentiment"])
        out["sentiment"] = max(-1.0, min(1.0, _round(s))) if math.isfinite(s) else None
    return out


def _round(x: float) -> float:
    return round(float(x), 4)


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


# -- summaries -----------------------------------------------------------------------------


def summarize(
    kind: str,
    phase: Literal["open", "resolved"],
    subject_id: str,
    topic: str | None,
    score: float,
    evidence: Mapping[str, Any],
) -> str:
    """One line for a human (at most 300 characters) from the kind and its evidence."""
    who = _truncate(subject_id, 64)
    on = f" on {_truncate(topic, 40)}" if topic else ""
    ev = evidence
    if kind == "influencer_turned_negative":
        base, cur, posts = ev.get("baseline"), ev.get("current"), ev.get("posts")
        if phase == "resolved":
            text = f"{who}'s sentiment{on} is back near their usual level"
            text += f" ({_num(base, '+.2f')})." if _is_num(base) else "."
        elif _is_num(base) and _is_num(cur):
            over = f" over the last {posts} posts" if isinstance(posts, int) and posts > 0 else ""
            text = (
                f"{who} has turned negative{on}{over}: sentiment {_num(cur, '+.2f')} "
                f"against a usual {_num(base, '+.2f')}."
            )
        else:
            text = f"{who} has turned negative{on} (drop of {score:.1f} sd)."
    elif kind == "moment_of_truth":
        count, expected = ev.get("count"), ev.get("expected")
        minutes, peak = ev.get("minutes"), ev.get("peak_rate")
        ratio = f"{score:.1f}x"
        if phase == "resolved":
            text = f"Complaints about {who}{on} are back to normal"
            if _is_num(count) and _is_num(expected) and _is_num(minutes):
                text += (
                    f" after {minutes:.0f} min at {ratio} the usual rate ({count:.0f} complaints "
                    f"against {expected:.0f} expected)."
                )
            else:
                text += "."
        else:
            text = f"Complaints about {who}{on} are running at {ratio} the usual rate"
            if _is_num(count) and _is_num(expected) and _is_num(minutes):
                text += f": {count:.0f} in {minutes:.0f} min against {expected:.0f} expected"
                if _is_num(peak):
                    text += f", peaking at {peak:.0f} a minute"
            text += "."
    elif kind == "emerging_cluster":
        people = ev.get("people")
        size = ev.get("size", len(people) if isinstance(people, list) else None)
        group = f"A tight group of {size} people" if _is_num(size) else "A tight group"
        around = f" around {_truncate(topic, 40)}" if topic else ""
        if phase == "resolved":
            text = f"{group}{around} ({who}) has loosened."
        else:
            text = f"{group}{around} is forming ({who}, cohesion {score:.2f})."
    else:
        text = f"{kind} about {who}{on}: score {score:.2f}."
    text = " ".join(text.split())  # one line
    return _truncate(text, SUMMARY_MAX)


def _is_num(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _num(x: Any, spec: str) -> str:
    return format(float(x), spec)


# -- the book of alerts (replays, tests) ---------------------------------------------------


class AlertBook:
    """Entries by dedup_key, with actions addressable by dedup_key or current alert_id."""

    def __init__(self, params: AlertParams = DEFAULT_ALERT_PARAMS) -> None:
        self.params = params
        self.entries: dict[str, AlertEntry] = {}
        self._by_id: dict[str, str] = {}

    def observe(self, signal: AlertSignal) -> Emitted | None:
        key = signal.dedup_key
        before = self.entries.get(key)
        old_id = None if before is None else before.alert_id
        entry, emitted = step(before, signal, self.params)
        if entry is not None:
            self.entries[key] = entry
            if entry.alert_id != old_id:
                self._by_id.pop(old_id or "", None)
                self._by_id[entry.alert_id] = key
        return emitted

    def apply_action(
        self, key: str, action: Action, until: float | None, by: str, at: float
    ) -> Emitted | None:
        """Act on the alert of a dedup_key or of a current alert_id; others do nothing."""
        entry = self.get(key)
        if entry is None:
            return None
        _, emitted = act(entry, action, until, by, at, self.params)
        return emitted

    def get(self, key: str) -> AlertEntry | None:
        dedup_key = key if key in self.entries else self._by_id.get(key)
        return None if dedup_key is None else self.entries.get(dedup_key)

    def prune(self, now: float) -> int:
        """Drop entries whose alert closed longer ago than the cooldown (and any snooze)."""
        gone = [k for k, e in self.entries.items() if e.expired(now, self.params)]
        for key in gone:
            self._by_id.pop(self.entries.pop(key).alert_id, None)
        return len(gone)

    def to_dict(self) -> dict[str, Any]:
        return {key: entry_to_dict(entry) for key, entry in self.entries.items()}

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], params: AlertParams = DEFAULT_ALERT_PARAMS
    ) -> AlertBook:
        book = cls(params)
        for key, stored in data.items():
            entry = entry_from_dict(stored)
            book.entries[key] = entry
            book._by_id[entry.alert_id] = key
        return book


def entry_to_dict(entry: AlertEntry) -> dict[str, Any]:
    """The stored form of an entry (its last record plus a few numbers); JSON-able."""
    return {
        "r": entry.record,
        "o": entry.opened_at,
        "f": [int(entry.is_open), int(entry.muted), int(entry.acked), entry.max_rank],
        "e": entry.last_emit,
        "x": entry.resolved_at,
        "z": entry.snoozed_until,
        "b": entry.resolved_by,
        "n": [entry.updates, entry.suppressed],
        "s": entry.last_seen,
    }


def entry_from_dict(data: Mapping[str, Any]) -> AlertEntry:
    """Inverse of `entry_to_dict`."""
    is_open, muted, acked, max_rank = data["f"]
    updates, suppressed = data["n"]
    return AlertEntry(
        record=copy.deepcopy(data["r"]),
        opened_at=float(data["o"]),
        is_open=bool(is_open),
        muted=bool(muted),
        last_emit=float(data["e"]),
        max_rank=int(max_rank),
        resolved_at=None if data["x"] is None else float(data["x"]),
        acked=bool(acked),
        snoozed_until=None if data["z"] is None else float(data["z"]),
        resolved_by=data["b"],
        updates=int(updates),
        suppressed=int(suppressed),
        last_seen=data.get("s"),
    )
