"""Incidents: one page per incident, however many detectors see it.

An outage makes a brand's complaints burst, and the same hour every influential customer of
the brand turns negative on it. Paged one by one, that is one incident paging nine times.
The rule (`observe`), on top of each alert's own lifecycle (service.core.alerts):

- Every alert.v1 record carries an `incident_id`. An alert that opens on its own is its own
  incident: `incident_id` is its `alert_id`.
- A moment of truth is the incident of its brand (its *scope*). A product's complaints count
  in the burst of the brand they name (service.core.signals.posts_for), with the products in
  the evidence. The brand's detectors per failure category (`subject.topic`, e.g.
  `cancellation_delay`) and overall are one incident: the first to open leads it and pages,
  the others that open while it is open (or within `FOLD_AFTER_S` after) fold into it.
- A critic alert scoped to a brand (its `subject.topic`) that opens while that brand's moment
  of truth is open, or within `FOLD_AFTER_S` of its resolving, is **folded** into it: its
  `incident_id` is the moment of truth's, and it never pages (it keeps its records, so a
  dashboard still shows the person). The moment of truth's evidence gains
  `influential_critics`: each critic of the scope with their influence, strongest ties and
  latest message, emitted as a non-paging update.
- A critic already open when the moment of truth begins keeps its own incident and page, and
  is listed among the incident's influential critics.

Everything about one scope must be seen in one order, so the worker keys alert signals and
actions by `route_key`: `incident:<scope>` for moments of truth and critic alerts with a
topic, the dedup_key otherwise. `AlertStore` is where entries and incidents live: a dict for
replays (`IncidentBook`), the alerts table in the worker.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from service.core.alerts import (
    DEFAULT_ALERT_PARAMS,
    Action,
    AlertEntry,
    AlertParams,
    AlertSignal,
    Emitted,
    act,
    dedup_key_for,
    expire_stale,
    rfc3339,
    step,
)

__all__ = [
    "FOLD_AFTER_S",
    "INCIDENT_PREFIX",
    "AlertStore",
    "Incident",
    "IncidentBook",
    "act_on",
    "incident_scope",
    "observe",
    "route_key",
    "route_key_of",
    "sweep_stale",
]

FOLD_AFTER_S = 3600.0  # stragglers of an incident still fold in for an hour after it resolves
FOLD_BEFORE_S = 900.0  # and critics who opened as its complaints built up, just before it
MAX_CRITICS = 10
INCIDENT_PREFIX = "incident:"
CRITIC = "influencer_turned_negative"
MOMENT = "moment_of_truth"


def incident_scope(kind: str, subject_id: str, topic: str | None) -> str | None:
    """The brand (or other scope) whose incident an alert can belong to, if any."""
    if kind == MOMENT:
        return subject_id
    if kind == CRITIC:
        return topic
    return None


def route_key(kind: str, subject_id: str, topic: str | None) -> str:
    """The key alert signals and actions travel under: one scope, one partition, one order."""
    scope = incident_scope(kind, subject_id, topic)
    return INCIDENT_PREFIX + scope if scope is not None else dedup_key_for(kind, subject_id, topic)


def route_key_of(record: Mapping[str, Any]) -> str:
    """`route_key` of an alert.v1 record: where actions on it must be sent."""
    subject = record["subject"]
    return route_key(str(record["kind"]), str(subject["id"]), subject.get("topic"))


def route_key_from_dedup(dedup_key: str) -> str:
    """Best effort for an action keyed by its dedup_key (before incidents): exact for
    clusters and for ids without `:`; a critic's topic is taken after the last `:`, and a
    moment of truth's failure category (`moment_of_truth:acme:outage`) likewise."""
    kind, _, rest = dedup_key.partition(":")
    if kind == MOMENT:
        return INCIDENT_PREFIX + (rest.rpartition(":")[0] if ":" in rest else rest)
    if kind == CRITIC and ":" in rest:
        return INCIDENT_PREFIX + rest.rpartition(":")[2]
    return dedup_key


@dataclass(slots=True)
class Incident:
    """A scope's moments of truth, as far as folding needs them: the one that opened first
    (its alert_id is the incident's), those still open, and the influential critics."""

    alert_id: str
    dedup_key: str  # the first moment of truth's
    open_keys: list[str] = field(default_factory=list)  # moments of truth open in it
    resolved_at: float | None = None  # when the last of them closed
    critics: list[dict[str, Any]] = field(default_factory=list)
    opened_at: float = -math.inf  # event time the first of them opened

    @property
    def is_open(self) -> bool:
        return bool(self.open_keys)

    def takes(self, at: float) -> bool:
        """Does an alert that opens at event time `at` fold into this incident? From
        `FOLD_BEFORE_S` before it opened to `FOLD_AFTER_S` after it resolved, on event time
        (signals reach the alerts agent in no particular event-time order)."""
        if at < self.opened_at - FOLD_BEFORE_S:
            return False
        if self.is_open or self.resolved_at is None:
            return True
        return at <= self.resolved_at + FOLD_AFTER_S

    def track(self, dedup_key: str, entry: AlertEntry, at: float) -> None:
        """Note whether one of its moments of truth is open after a step at `at`."""
        keys = [k for k in self.open_keys if k != dedup_key]
        if entry.is_open:
            keys.append(dedup_key)
        elif self.open_keys and not keys:
            self.resolved_at = entry.resolved_at if entry.resolved_at is not None else at
        self.open_keys = keys

    def to_dict(self) -> dict[str, Any]:
        return {
            "i": self.alert_id,
            "k": self.dedup_key,
            "o": self.open_keys,
            "x": self.resolved_at,
            "c": self.critics,
            "a": None if self.opened_at == -math.inf else self.opened_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Incident:
        opened = data.get("a")
        return cls(
            data["i"], data["k"], list(data["o"]), data["x"], list(data["c"]),
            -math.inf if opened is None else float(opened),
        )  # fmt: skip


class AlertStore(Protocol):
    def entry(self, dedup_key: str) -> AlertEntry | None: ...

    def put_entry(self, dedup_key: str, entry: AlertEntry) -> None: ...

    def incident(self, scope: str) -> Incident | None: ...

    def put_incident(self, scope: str, incident: Incident) -> None: ...


def observe(
    store: AlertStore, signal: AlertSignal, params: AlertParams = DEFAULT_ALERT_PARAMS
) -> list[Emitted]:
    """One detector step through its alert's lifecycle and the incident rule (the module
    docstring); the records to emit, in order."""
    key = signal.dedup_key
    before = store.entry(key)
    was = None if before is None else (before.alert_id, before.record.get("incident_id"))
    entry, emitted = step(before, signal, params)
    if entry is None:
        return []
    store.put_entry(key, entry)
    if emitted is None:
        return []
    record = emitted.record
    scope = incident_scope(signal.kind, signal.subject_id, signal.topic)
    out = [emitted]
    if signal.kind == MOMENT and scope is not None:
        incident = store.incident(scope)
        if incident is None or not _belongs(incident, entry, was, record, signal.at):
            incident = Incident(entry.alert_id, key, opened_at=entry.opened_at)  # led by it
        incident.track(key, entry, signal.at)
        store.put_incident(scope, incident)
        record["incident_id"] = incident.alert_id
        if incident.alert_id != entry.alert_id:
            out[0] = Emitted(record, False)  # another category's burst of the same incident
        if incident.critics:
            record["evidence"]["influential_critics"] = copy.deepcopy(incident.critics)
        return out
    record["incident_id"] = entry.alert_id
    if was is not None and was[0] == entry.alert_id and was[1]:
        record["incident_id"] = was[1]  # an alert stays in the incident it opened in
    incident = store.incident(scope) if signal.kind == CRITIC and scope is not None else None
    if incident is None:
        return out
    if record["state"] == "open" and incident.takes(signal.at):
        record["incident_id"] = incident.alert_id
    if record["incident_id"] != entry.alert_id:
        out[0] = Emitted(record, False)  # folded: the incident pages, not each of its parts
    if incident.takes(signal.at) and record["state"] != "resolved":
        update = _list_critic(store, scope or "", incident, record, signal.at)
        if update is not None:
            out.append(update)
    return out


def _belongs(
    incident: Incident,
    entry: AlertEntry,
    was: tuple[str, Any] | None,
    record: dict[str, Any],
    at: float,
) -> bool:
    """Is this moment of truth part of the scope's incident: its lead, already folded in,
    or opening while the incident takes alerts?"""
    if incident.alert_id == entry.alert_id:
        return True
    if was is not None and was[0] == entry.alert_id:
        return bool(was[1] == incident.alert_id)
    return record["state"] == "open" and incident.takes(at)


def _list_critic(
    store: AlertStore, scope: str, incident: Incident, record: dict[str, Any], at: float
) -> Emitted | None:
    """List a critic in the incident's evidence; the moment of truth's update record when the
    list grew (a listed critic's summary is refreshed silently)."""
    evidence = record["evidence"]
    people = evidence.get("people") or [{}]
    summary = {
        "id": record["subject"]["id"],
        "alert_id": record["alert_id"],
        "severity": record["severity"],
        "ties": (evidence.get("ties") or [])[:3],
        "messages": (evidence.get("messages") or [])[:2],
    }
    if people[0].get("influence") is not None:
        summary["influence"] = people[0]["influence"]
    if any(c["id"] == summary["id"] for c in incident.critics):
        incident.critics = [summary if c["id"] == summary["id"] else c for c in incident.critics]
        store.put_incident(scope, incident)
        return None
    if len(incident.critics) >= MAX_CRITICS:
        return None  # the first critics stay listed
    incident.critics.append(summary)
    store.put_incident(scope, incident)
    moment = store.entry(incident.dedup_key)
    return None if moment is None else _moment_update(store, incident, moment, at)


def _moment_update(store: AlertStore, incident: Incident, moment: AlertEntry, at: float) -> Emitted:
    at = max(at, moment.last_emit)
    record = copy.deepcopy(moment.record)
    if record["state"] == "open":
        record["state"] = "update"
    record["evidence"]["influential_critics"] = copy.deepcopy(incident.critics)
    record["emitted_at"] = record["window"]["end"] = rfc3339(at)
    moment.record, moment.last_emit = record, at
    moment.updates += 1
    store.put_entry(incident.dedup_key, moment)
    return Emitted(record, False)


def act_on(
    store: AlertStore,
    dedup_key: str,
    action: Action,
    until: float | None,
    by: str,
    at: float,
    params: AlertParams = DEFAULT_ALERT_PARAMS,
) -> list[Emitted]:
    """An on-call action on the alert of `dedup_key`; the records it emits. On an incident's
    lead it applies to the incident: every alert folded into it is acted on too."""
    emitted = _act_one(store, dedup_key, action, until, by, at, params)
    if not emitted:
        return []
    out = [emitted]
    record = emitted.record
    if record["kind"] != MOMENT or record.get("incident_id") != record["alert_id"]:
        return out
    scope = str(record["subject"]["id"])
    incident = store.incident(scope)
    if incident is None or incident.alert_id != record["alert_id"]:
        return out
    members = [k for k in incident.open_keys if k != dedup_key]
    members += [dedup_key_for(CRITIC, str(c["id"]), scope) for c in incident.critics]
    for key in members:
        entry = store.entry(key)
        if entry is not None and entry.record.get("incident_id") == incident.alert_id:
            folded = _act_one(store, key, action, until, by, at, params)
            if folded is not None:
                out.append(folded)
    return out


def _act_one(
    store: AlertStore,
    dedup_key: str,
    action: Action,
    until: float | None,
    by: str,
    at: float,
    params: AlertParams,
) -> Emitted | None:
    entry = store.entry(dedup_key)
    if entry is None:
        return None
    entry, emitted = act(entry, action, until, by, at, params)
    if entry is not None:
        store.put_entry(dedup_key, entry)
        if entry.record.get("kind") == MOMENT:
            scope = entry.record["subject"]["id"]
            incident = store.incident(scope)
            if incident is not None and incident.alert_id == entry.record.get("incident_id"):
                incident.track(dedup_key, entry, at)
                store.put_incident(scope, incident)
    return emitted


def sweep_stale(
    store: AlertStore, dedup_key: str, now: float, stale_after_s: float,
    params: AlertParams = DEFAULT_ALERT_PARAMS,
) -> Emitted | None:  # fmt: skip
    """Resolve a critic alert whose person has been silent for `stale_after_s`; its record."""
    entry = store.entry(dedup_key)
    if entry is None or entry.record.get("kind") != CRITIC:
        return None
    emitted = expire_stale(entry, now, stale_after_s, params)
    if emitted is not None:
        store.put_entry(dedup_key, entry)
    return emitted


class IncidentBook:
    """Entries by dedup_key and incidents by scope, in dicts: replays and tests."""

    def __init__(self, params: AlertParams = DEFAULT_ALERT_PARAMS) -> None:
        self.params = params
        self.entries: dict[str, AlertEntry] = {}
        self.incidents: dict[str, Incident] = {}

    def entry(self, dedup_key: str) -> AlertEntry | None:
        return self.entries.get(dedup_key)

    def put_entry(self, dedup_key: str, entry: AlertEntry) -> None:
        self.entries[dedup_key] = entry

    def incident(self, scope: str) -> Incident | None:
        return self.incidents.get(scope)

    def put_incident(self, scope: str, incident: Incident) -> None:
        self.incidents[scope] = incident

    def observe(self, signal: AlertSignal) -> list[Emitted]:
        return observe(self, signal, self.params)

    def apply_action(
        self, dedup_key: str, action: Action, until: float | None, by: str, at: float
    ) -> list[Emitted]:
        return act_on(self, dedup_key, action, until, by, at, self.params)

    def sweep(self, now: float, stale_after_s: float) -> list[Emitted]:
        """`sweep_stale` over every open critic alert, in key order."""
        out = []
        for key in sorted(k for k, e in self.entries.items() if e.is_open):
            emitted = sweep_stale(self, key, now, stale_after_s, self.params)
            if emitted is not None:
                out.append(emitted)
        return out
