"""Broker-free alert replay: a file through the whole core, in event-time order, to alerts.

The same steps as the worker's stages (ingest annotation, dyads, people, critics, bursts,
alert lifecycle), called in one process in file order. Deterministic: the same file gives
the same alert records, ids included. Used for backtests (`closeknit evaluate alerts`)
and to check the detectors on real complaints.

The live pipeline runs the same steps, but a person's posts reach their detector through
several dyad partitions, so their arrival order (and with it the exact moment a detector
crosses its threshold) can differ between two runs of the same input; this replay is the
reference.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from service.core import ties
from service.core.alerts import AlertSignal, signal_to_dict
from service.core.brand_accounts import NO_BRAND_ACCOUNTS, BrandAccounts, review
from service.core.failure import FailureClassifier, classifier_for
from service.core.incidents import IncidentBook
from service.core.interaction import Interaction
from service.core.routing import annotate
from service.core.sentiment import SentimentScorer, default_scorer
from service.core.signals import (
    BurstRow,
    CriticRow,
    SignalParams,
    burst_apply,
    critic_apply,
    posts_for,
)
from service.evaluation.relationships import RelationshipReplay

TICK_EVERY_S = 60.0  # close burst minutes once a minute of event time, as the worker's timer does


@dataclass
class AlertReplay(RelationshipReplay):
    signal_params: SignalParams = field(default_factory=SignalParams)
    scorer: SentimentScorer = field(default_factory=default_scorer)
    classifier: FailureClassifier = field(default_factory=classifier_for)
    book: IncidentBook = field(default_factory=IncidentBook)
    brand_accounts: BrandAccounts = NO_BRAND_ACCOUNTS
    # Rows are held as objects and turned into their stored dicts only when asked for
    # (`critics`, `bursts`): a conversion per post and per tick cost more than the detectors.
    critic_rows: dict[str, CriticRow] = field(default_factory=dict)
    burst_rows: dict[str, BurstRow] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)
    pages: int = 0
    last_tick: float | None = None
    stale_after_s: float = 72 * 3600.0  # CLOSEKNIT_CRITIC_STALE_HOURS

    @property
    def critics(self) -> dict[str, dict[str, Any]]:
        """Each person's critic row as the worker's table stores it."""
        return {person: row.to_dict() for person, row in self.critic_rows.items()}

    @property
    def bursts(self) -> dict[str, dict[str, Any]]:
        """Each brand's burst row as the worker's table stores it."""
        return {brand: row.to_dict() for brand, row in self.burst_rows.items()}

    def apply(self, interaction: Interaction) -> None:
        interaction = annotate(interaction, self.scorer, self.classifier)
        applied_before = self.outcomes[ties.APPLIED]
        super().apply(interaction)
        if self.outcomes[ties.APPLIED] > applied_before:  # a new post, not a repeat
            self._posts(interaction)
        self._maybe_tick(interaction.event_time)

    def finish(self, after_s: float = 3600.0) -> None:
        """Tick every brand past the end, so bursts still open can resolve."""
        if self.last_event_time is not None:
            self._tick(self.last_event_time + after_s)

    def _posts(self, interaction: Interaction) -> None:
        for person, post in posts_for(interaction, self.brand_accounts):
            self._critic(person, post)

    def _critic(self, person: str, post: dict[str, Any]) -> None:
        row = self.critic_rows.get(person)
        if row is None:
            row = self.critic_rows[person] = CriticRow()
        signal, complaint = critic_apply(
            row, person, post, self.people.get(person), self.signal_params
        )
        if signal is not None and signal.topic is not None:
            # Held by the scope's burst row, as in the worker (signals.burst_apply).
            self._burst(signal.topic, {"op": "critic", "t": signal.at,
                                       "signal": signal_to_dict(signal)})  # fmt: skip
        elif signal is not None:
            self._alert(signal)
        if complaint is not None:
            for brand in post["brands"]:
                self._burst(brand, complaint)

    def _burst(self, brand: str, record: dict[str, Any]) -> None:
        row = self.burst_rows.get(brand)
        if row is None:
            row = self.burst_rows[brand] = BurstRow()
        for signal in burst_apply(row, brand, record, self.signal_params):
            self._alert(signal)

    def _maybe_tick(self, t: float) -> None:
        if self.last_tick is None or t >= self.last_tick + TICK_EVERY_S:
            self._tick(t)

    def _tick(self, t: float) -> None:
        self.last_tick = t
        for brand in sorted(self.burst_rows):
            self._burst(brand, {"op": "tick", "t": t})
        for emitted in self.book.sweep(t, self.stale_after_s):
            self.records.append(emitted.record)

    def _alert(self, signal: AlertSignal) -> None:
        for emitted in self.book.observe(signal):
            self.records.append(emitted.record)
            self.pages += emitted.pages

    def brand_account_review(self) -> dict[str, Any]:
        """Configured, source-marked and suspected brand accounts (service.core.brand_accounts)."""
        desks = ((person, row.desk) for person, row in sorted(self.critic_rows.items()))
        return review(desks, self.brand_accounts)

    def summary(self) -> dict[str, Any]:
        by_kind = Counter((r["kind"], r["state"]) for r in self.records)
        return {
            "events": self.events_in,
            "alerts": len({r["alert_id"] for r in self.records}),
            "records": len(self.records),
            "pages": self.pages,
            "by_kind_and_state": {f"{k}/{s}": n for (k, s), n in sorted(by_kind.items())},
        }
