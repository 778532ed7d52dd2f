"""The soak run on a real worker: samples over time, and the report files with their plot."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from service.bench.soak import run_soak, write_report
from service.broker.child import BrokerProcess
from service.broker.probe import find_free_port
from tests.integration.harness import settings_on


@pytest.mark.integration
@pytest.mark.timeout(240)
def test_a_short_soak_samples_rss_lag_and_letters_and_plots_them(
    tansu_broker: BrokerProcess, tmp_path: Path
) -> None:
    settings = settings_on(tansu_broker, web_port=find_free_port(), data_dir=tmp_path / "data")
    samples = run_soak(settings, minutes=0.25, rate=100.0, interval_s=5.0)

    assert len(samples) >= 3
    assert [s.seconds for s in samples] == sorted(s.seconds for s in samples)
    assert samples[-1].published == 1500
    assert all(s.rss_mib > 20 for s in samples), "the worker's RSS is read from /proc"
    assert all(s.lag >= 0 and s.dead_letters >= 0 and s.alerts >= 0 for s in samples)

    report, png = write_report(samples, tmp_path / "out", rate=100.0, minutes=0.25)
    data = orjson.loads(report.read_bytes())
    assert data["rate"] == 100.0 and len(data["samples"]) == len(samples)
    assert report.with_suffix(".csv").read_text().startswith("seconds,published,rss_mib,lag")
    assert png is not None and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
