"""Prometheus metrics of one worker. No person or dyad ids are ever used as labels."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


@dataclass
class Metrics:
    """One registry per app, so several apps in one process (tests) do not collide."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.events_in = Counter(
            "closeknit_events_in", "Input records received, by topic.", ["topic"], registry=r
        )
        self.events_valid = Counter(
            "closeknit_events_valid",
            "Input records that passed validation, by kind.",
            ["kind"],
            registry=r,
        )
        self.dead_letters = Counter(
            "closeknit_dead_letters",
            "Records on the dead-letter topic, by reason code (counted once the broker "
            "acknowledged them).",
            ["reason"],
            registry=r,
        )
        self.dead_letter_failures = Counter(
            "closeknit_dead_letter_failures",
            "Refused records whose dead letter the producer or broker did not take, by reason "
            "code: these records are lost (the worker log names their positions).",
            ["reason"],
            registry=r,
        )
        self.interactions_out = Counter(
            "closeknit_interactions_out", "Directed interactions re-keyed by dyad.", registry=r
        )
        self.dyad_events = Counter(
            "closeknit_dyad_events",
            "Interactions seen by the dyad stage, by outcome.",
            ["outcome"],
            registry=r,
        )
        self.opted_out_dropped = Counter(
            "closeknit_opted_out_events_dropped",
            "Events dropped because a person opted out.",
            registry=r,
        )
        self.erasures = Counter(
            "closeknit_erasures",
            "People erased from derived state after opting out.",
            registry=r,
        )
        self.ingest_to_alert = Histogram(
            "closeknit_ingest_to_alert_seconds",
            "Wall-clock time from ingesting the event that triggered an alert record to "
            "publishing the record.",
            buckets=(
                0.01,
                0.025,
                0.05,
                0.1,
                0.25,
                0.5,
                1,
                2.5,
                5,
                10,
                30,
                60,
                180,
                600,
                float("inf"),
            ),
            registry=r,
        )
        self.alerts = Counter(
            "closeknit_alerts",
            "Alert records published, by kind and state.",
            ["kind", "state"],
            registry=r,
        )
        self.pages = Counter(
            "closeknit_pages",
            "Alert records that should page on-call, by kind.",
            ["kind"],
            registry=r,
        )
        self.webhook_deliveries = Counter(
            "closeknit_webhook_deliveries",
            "Alert records POSTed to CLOSEKNIT_WEBHOOK_URL, by outcome: delivered, retried "
            "(an attempt failed, another follows), dead_lettered (every attempt failed, or the "
            "queue was full).",
            ["outcome"],
            registry=r,
        )
        self.webhook_queue = Gauge(
            "closeknit_webhook_queue", "Alert records waiting for the webhook.", registry=r
        )
        self.clusters = Gauge(
            "closeknit_clusters",
            "Clusters (tribes) tracked by the worker that owns the graph.",
            registry=r,
        )
        self.event_loop_lag = Gauge(
            "closeknit_event_loop_lag_seconds",
            "How late the event loop ran a 0.5 s timer, worst of the last few seconds.",
            registry=r,
        )
        self.consumer_lag = Gauge(
            "closeknit_consumer_lag",
            "Records on an input topic the worker group has not committed (fetch high "
            "watermark minus committed offset).",
            ["topic"],
            registry=r,
        )
        self.table_keys = Gauge(
            "closeknit_table_keys", "Keys held in a table on this worker.", ["table"], registry=r
        )
        self.event_lag = Histogram(
            "closeknit_event_time_lag_seconds",
            "Wall-clock time between an event's own time and its processing (live traffic).",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600, float("inf")),
            registry=r,
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def totals(self, name: str) -> dict[str, float]:
        """Current values of one metric family by its first label (or "" when unlabelled)."""
        out: dict[str, float] = {}
        for family in self.registry.collect():
            if family.name != name:
                continue
            for sample in family.samples:
                if sample.name.endswith(("_created",)):
                    continue
                label = next(iter(sample.labels.values()), "")
                out[label] = out.get(label, 0.0) + sample.value
        return out
