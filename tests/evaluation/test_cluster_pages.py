"""Emerging-cluster pages on replays: the demo's planted tribe pages once and nothing else
does; CollegeMsg and email-Eu-core page rarely (the issue's contact data paged 34-48 times)."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.demo.scenario import TRIBE, build_scenario
from service.evaluation.cluster_pages import ClusterReplay, cluster_pages, email_as_events
from service.sources.detect import open_source
from service.sources.record import SourceRecord

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def test_the_demo_pages_for_the_planted_tribe_and_nothing_else() -> None:
    scenario = build_scenario()
    replay = ClusterReplay()
    replay.run(
        SourceRecord(e.kind, e.key.decode(), e.event_time, e.payload) for e in scenario.events
    )
    replay.tick((replay.last_event_time or 0.0) + 1.0)
    paged = [e.record for e in replay.book.entries.values() if e.record["state"] != "resolved"]
    assert len(replay.pages) == 1
    assert set(paged[0]["evidence"]["members"]) == set(TRIBE)


def data(*parts: str) -> Path:
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"../shared/data not found: {path} (the real data sets sit beside the repo)")
    return path


@pytest.mark.data
def test_college_msg_pages_about_once_in_four_days_and_never_in_its_first_week() -> None:
    replay = ClusterReplay()
    replay.run(open_source(data("college_msg", "CollegeMsg.txt"), "auto"))
    report = replay.report()
    print(report)
    assert report["pages_per_day"] <= 0.3
    first = replay.first_event_time or 0.0
    assert all(t - first >= 7 * 86400 for t in replay.pages), "nothing while bootstrapping"


@pytest.mark.data
def test_email_eu_core_spread_over_its_span_pages_rarely() -> None:
    report = cluster_pages(email_as_events(data("email_eu_core", "email-Eu-core.txt")))
    print(report)
    assert report["pages_per_day"] <= 0.05
