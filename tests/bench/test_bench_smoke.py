"""`closeknit bench` at tiny sizes: the harness produces every figure, not a timing check.

The bench starts its own embedded broker and real worker processes, so the smoke test is an
integration test; it asserts that the report is well formed and every figure is present and
positive, never how fast anything was.
"""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import orjson
import pytest
from rich.console import Console

from service.bench.latency import NEGATIVE_POSTS, build_scenario
from service.cli.bench_cmd import BenchConfig, run_bench

FIGURES = (
    "ceiling",
    "ceiling_cpu_per_event",
    "hop_p50",
    "hop_p99",
    "e2e_all",
    "e2e",
    "cpu_per_event",
    "records_per_event",
    "scale_out_all",
    "scale_out",
    "scale_out_cpu_per_event",
    "scale_out_ratio",
    "core",
    "core_relationships",
    "latency_p50",
    "latency_p99",
    "bytes_per_dyad",
    "rss_per_dyad",
    "rss",
    "communities",
)
# Measured again on Apache Kafka, each under a `kafka_` key.
BROKER_FIGURES = (*FIGURES[: FIGURES.index("core")], "latency_p50", "latency_p99")


def test_every_planted_critic_raises_one_alert_in_the_reference_replay() -> None:
    scenario = build_scenario(critics=6, rate=300.0, seconds=4.0, tag="t")
    assert set(scenario.triggers) == set(scenario.critics)
    negative = {p.event_id: p.critic for p in scenario.window if p.critic is not None}
    assert len(negative) == NEGATIVE_POSTS * len(scenario.critics)
    for critic, trigger in scenario.triggers.items():
        assert negative[trigger] == critic  # raised by one of the critic's own negative posts
    assert len(scenario.window) == 1200


@pytest.mark.integration
@pytest.mark.timeout(360)
def test_quick_bench_reports_every_figure(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    request.getfixturevalue("kafka_broker")  # skips (fails on CI) as it does without Java
    config = replace(
        BenchConfig.quick(),
        events=800,
        ceiling_events=5_000,
        core_events=1_000,
        memory_events=1_000,
        latency_rates=(300.0,),
        latency_seconds=4.0,
        latency_critics=6,
        latency_drain_s=5.0,
        hop_seconds=0.5,
        out=tmp_path,
    )
    output = io.StringIO()
    report = run_bench(config, Console(file=output, width=140))

    assert report.errors == []
    (path,) = tmp_path.glob("bench-*.json")
    data = orjson.loads(path.read_bytes())
    assert data["schema"] == "closeknit-bench/1"
    assert data["machine"]["cpus"] >= 1
    figures = data["figures"]
    assert set(FIGURES) <= set(figures)
    assert {f"kafka_{key}" for key in BROKER_FIGURES} <= set(figures)
    for key in [*FIGURES, *(f"kafka_{key}" for key in BROKER_FIGURES)]:
        figure = figures[key]
        if not figure["available"]:
            assert key == "communities" and figure["note"].startswith("not available")
            continue
        assert figure["values"], key
        assert all(value > 0 for value in figure["values"]), key
        assert figure["median"] > 0 and figure["min"] <= figure["median"] <= figure["max"], key
        if figure["ratio_to"] is not None:
            assert figure["ratio"] > 0, key
    e2e = figures["e2e_all"]["runs"][0]
    assert e2e["completed"] and e2e["interactions_seen"] == 800
    assert e2e["records_per_event"]["total"] > 1  # every stage wrote something per event
    latency = figures["latency_p99"]["runs"] or figures["latency_p50"]["runs"]
    assert latency[0]["expected_alerts"] == 6
    assert latency[0]["alerts"] + latency[0]["censored"] == 6
    kafka_e2e = figures["kafka_e2e_all"]
    assert kafka_e2e["ratio_to"] == "kafka_ceiling"  # each broker against its own ceiling
    assert kafka_e2e["runs"][0]["interactions_seen"] == 800
    table = output.getvalue()
    assert "1 ceiling: raw consume" in table and "vs ceiling" in table
    assert "Apache Kafka" in table
