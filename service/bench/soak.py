"""The soak run: Higgs replayed at a fixed rate through one worker for N minutes, sampled.

Every `interval_s` it records the worker's RSS, the consumer group's lag on the input topics,
the dead letters and the alert records so far, so that a slow leak or a lag that keeps
growing shows as a curve. `write_report` leaves a CSV, a JSON and a PNG plot.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

from service.bench import load_workload, machine, process_rss
from service.broker.admin import consumer_lag, high_watermarks
from service.config import Settings
from service.shell.process import WorkerProcess
from service.shell.runtime import prepare_broker
from service.sources.publish import PublishStats, publish
from service.sources.record import SourceRecord


@dataclass(frozen=True, slots=True)
class Sample:
    seconds: float  # since publishing began
    published: int
    rss_mib: float
    lag: int  # input records not yet committed by the worker's group
    dead_letters: int
    alerts: int


def run_soak(
    settings: Settings,
    *,
    minutes: float,
    rate: float,
    interval_s: float = 10.0,
    on_sample: Callable[[Sample], None] | None = None,
) -> list[Sample]:
    """Replay `rate * minutes * 60` Higgs events at `rate`/s on a private broker; sample."""
    workload = load_workload(int(rate * minutes * 60))
    with prepare_broker(settings, private=True) as ready:
        worker = WorkerProcess(ready, ready.data_dir / "soak-worker.log")
        worker.start()
        try:
            worker.wait_ready(timeout_s=120)
            return asyncio.run(_drive(ready, worker, workload.records, rate, interval_s, on_sample))
        finally:
            worker.stop()


async def _drive(
    settings: Settings,
    worker: WorkerProcess,
    records: list[SourceRecord],
    rate: float,
    interval_s: float,
    on_sample: Callable[[Sample], None] | None,
) -> list[Sample]:
    bootstrap = settings.bootstrap_servers()
    published = 0

    def progress(stats: PublishStats) -> None:
        nonlocal published
        published = stats.total_published

    sending = asyncio.create_task(
        publish(
            records,
            bootstrap=bootstrap,
            settings=settings,
            rate=rate,
            speedup=None,
            on_progress=progress,
        )
    )
    began = time.monotonic()
    samples: list[Sample] = []
    while True:
        done = sending.done()
        sample = await _sample(settings, worker, time.monotonic() - began, published)
        samples.append(sample)
        if on_sample is not None:
            on_sample(sample)
        if done:
            sending.result()  # a failed replay fails the soak
            return samples
        await asyncio.sleep(max(0.0, interval_s - (time.monotonic() - began) % interval_s))


async def _sample(settings: Settings, worker: WorkerProcess, seconds: float, sent: int) -> Sample:
    bootstrap = settings.bootstrap_servers()
    inputs = [settings.topic("mentions"), settings.topic("replies")]
    lag = await consumer_lag(bootstrap, settings.app_id, inputs)
    letters = await high_watermarks(bootstrap, settings.topic("dead-letters"))
    alerts = await high_watermarks(bootstrap, settings.topic("alerts"))
    pid = worker.process.pid if worker.process is not None else None
    rss = process_rss(pid) if pid is not None else None
    return Sample(
        seconds=round(seconds, 1),
        published=sent,
        rss_mib=round((rss or 0) / 2**20, 1),
        lag=sum(lag.values()),
        dead_letters=sum(letters.values()),
        alerts=sum(alerts.values()),
    )


def write_report(
    samples: list[Sample], out: Path, *, rate: float, minutes: float
) -> tuple[Path, Path | None]:
    """`<out>/soak-<UTC>.{json,csv,png}`; returns the JSON's path and the PNG's (None when
    matplotlib, a dev dependency, is not installed)."""
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"soak-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    rows = [asdict(s) for s in samples]
    meta = {"rate": rate, "minutes": minutes, "machine": machine()}
    stem.with_suffix(".json").write_bytes(
        orjson.dumps({**meta, "samples": rows}, option=orjson.OPT_INDENT_2)
    )
    header = ",".join(rows[0]) if rows else ""
    lines = [header, *(",".join(str(v) for v in row.values()) for row in rows)]
    stem.with_suffix(".csv").write_text("\n".join(lines) + "\n")
    png = stem.with_suffix(".png")
    try:
        _plot(samples, png, title=f"closeknit soak: {rate:,.0f} events/s for {minutes:g} min")
    except ImportError:
        return stem.with_suffix(".json"), None
    return stem.with_suffix(".json"), png


def _plot(samples: list[Sample], path: Path, *, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display: write the file only
    import matplotlib.pyplot as plt

    t = [s.seconds / 60 for s in samples]
    panels = [
        ("worker RSS (MiB)", [s.rss_mib for s in samples]),
        ("consumer lag (input records)", [s.lag for s in samples]),
        ("dead letters", [s.dead_letters for s in samples]),
        ("alert records", [s.alerts for s in samples]),
    ]
    figure, axes = plt.subplots(len(panels), 1, figsize=(8, 9), sharex=True)
    for axis, (label, values) in zip(axes, panels, strict=True):
        axis.plot(t, values, marker=".")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
    axes[-1].set_xlabel("minutes since the replay began")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
