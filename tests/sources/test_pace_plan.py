"""The replay's ETA: the pacing schedule's length, known before the first send."""

from __future__ import annotations

import io
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from service.cli.replay_cmd import _progress, eta_text
from service.sources import publish
from service.sources.publish import PacePlan, SkippedLine, _Pacer, plan_pace
from service.sources.record import SourceRecord


def record(n: int, t: float) -> SourceRecord:
    return SourceRecord("mention", f"e{n}", t, b"{}")


def schedule_end(records: list[SourceRecord], rate: float | None, speedup: float | None) -> float:
    """When the pacer would send the last record, the clock standing still at 0."""
    pacer = _Pacer(rate, speedup)
    pacer.start = 0.0
    return max((pacer.delay(r) for r in records), default=0.0)


@given(
    times=st.lists(st.floats(0, 1e6), min_size=1, max_size=40),
    pace=st.one_of(
        st.tuples(st.floats(0.1, 1e4), st.none()), st.tuples(st.none(), st.floats(0.1, 1e4))
    ),
)
def test_the_plan_lasts_exactly_as_long_as_the_pacer_schedule(
    times: list[float], pace: tuple[float | None, float | None]
) -> None:
    records = [record(n, t) for n, t in enumerate(times)]

    plan = plan_pace(records, None)

    with mock.patch.object(publish.time, "monotonic", return_value=0.0):
        assert plan.duration(*pace) == pytest.approx(schedule_end(records, *pace), abs=1e-9)


def test_the_plan_counts_events_only_and_stops_at_the_limit() -> None:
    items = [record(0, 100.0), SkippedLine(2, "retweet"), record(1, 160.0), record(2, 400.0)]

    plan = plan_pace(items, limit=2)

    assert plan == PacePlan(events=2, first_time=100.0, last_time=160.0)
    assert plan.duration(rate=None, speedup=6.0) == 10.0
    assert plan.duration(rate=4.0, speedup=None) == 0.25
    assert plan.duration(rate=None, speedup=None) is None


def test_the_eta_counts_down_and_is_blank_when_nothing_paces() -> None:
    plan = PacePlan(events=601, first_time=0.0, last_time=600.0)

    assert eta_text(plan, 10.0, None, elapsed=0.0) == "eta 0:01:00"
    assert eta_text(plan, 10.0, None, elapsed=59.5) == "eta 0:00:01"
    assert eta_text(plan, None, 2.0, elapsed=100.0) == "eta 0:03:20"
    assert eta_text(plan, 10.0, None, elapsed=90.0) == "eta 0:00:00"
    assert eta_text(None, 10.0, None, elapsed=0.0) == ""
    assert eta_text(plan, None, None, elapsed=0.0) == ""


def test_the_progress_bar_shows_the_eta() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=160, color_system=None)

    with _progress(console) as progress:
        task = progress.add_task("publishing x.jsonl", total=601, rate=10.0, eta="")
        progress.update(
            task, completed=100, eta=eta_text(PacePlan(601, 0.0, 600.0), 10.0, None, 10)
        )

    assert "eta 0:00:50" in out.getvalue()
