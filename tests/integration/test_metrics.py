"""After replaying the demo scenario, /metrics holds every figure operations needs, sanely."""

from __future__ import annotations

import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from service.config import Settings
from service.demo.scenario import build_scenario
from service.shell.process import WorkerProcess
from tests.integration.harness import produce, running_worker, wait_until

pytestmark = pytest.mark.integration


def scrape(worker: WorkerProcess) -> dict[str, list]:
    with urllib.request.urlopen(worker.url("/metrics"), timeout=5) as response:
        text = response.read().decode()
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def values(samples: list, suffix: str = "", **labels: str) -> list[float]:
    return [
        s.value for s in samples
        if s.name.endswith(suffix) and all(s.labels.get(k) == v for k, v in labels.items())
    ]  # fmt: skip


def test_metrics_after_a_replay_cover_the_pipeline(isolated_settings: Settings) -> None:
    settings = isolated_settings
    scenario = build_scenario()
    records = [(("replies" if e.kind == "reply" else "mentions"), e.key, e.payload)
               for e in scenario.events]  # fmt: skip
    with running_worker(settings) as worker:
        produce(settings, records)

        def settled() -> bool:
            m = scrape(worker)
            lag = values(m.get("closeknit_consumer_lag", []))
            # Every interaction must also have reached the dyad stage: alerts can come first.
            # The outage's burst opens on the bursts stage's ticks, which trail the critics'
            # alerts, so it is waited for by name (and still required below).
            alerts = m.get("closeknit_alerts", [])
            return (
                sum(values(m["closeknit_events_in"], "_total")) == len(records)
                and sum(values(m["closeknit_dyad_events"], "_total"))
                == sum(values(m["closeknit_interactions_out"], "_total"))
                and bool(values(alerts, "_total", kind="moment_of_truth", state="open"))
                and bool(lag)
                and max(lag) == 0
            )

        assert wait_until(settled, 90, interval_s=1.0)
        m = scrape(worker)

    mentions = sum(e.kind == "mention" for e in scenario.events)
    assert values(m["closeknit_events_in"], "_total", topic=settings.topic("mentions")) == [
        float(mentions)
    ]
    for reason, planted in scenario.expected_dead_letters.items():
        assert values(m["closeknit_dead_letters"], "_total", reason=reason) == [float(planted)]
    lag_count = values(m["closeknit_event_time_lag_seconds"], "_count")
    assert lag_count and lag_count[0] > 0
    assert values(m["closeknit_alerts"], "_total", kind="moment_of_truth", state="open")
    to_alert = values(m["closeknit_ingest_to_alert_seconds"], "_count")
    assert to_alert and to_alert[0] > 0, "ingest-to-alert latency is observed"
    assert 0 < values(m["closeknit_ingest_to_alert_seconds"], "_sum")[0] < 600 * to_alert[0]
    # A redelivery is a duplicate, or `too_late` when the other topic's pace has already
    # moved the dedup floor past it (by design: the floor only rises). Either way it is
    # never applied twice.
    duplicates = sum(values(m["closeknit_dyad_events"], "_total", outcome="duplicate"))
    too_late = sum(values(m["closeknit_dyad_events"], "_total", outcome="too_late"))
    assert 0 < duplicates <= scenario.duplicates <= duplicates + too_late
    tables = {s.labels["table"]: s.value for s in m["closeknit_table_keys"]}
    assert tables["dyads"] > 100 and tables["people"] > 30
    assert values(m["closeknit_clusters"]) and values(m["closeknit_clusters"])[0] >= 1
    loop_lag = values(m["closeknit_event_loop_lag_seconds"])
    assert loop_lag and 0 <= loop_lag[0] < 5
    # No person or dyad id is ever a label value.
    people = {"k33", "k00", "trail1", "acme"}
    for samples in m.values():
        for sample in samples:
            assert not people & set(sample.labels.values()), sample
