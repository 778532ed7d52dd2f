"""Gauges sampled on timers: consumer lag on the input topics, and table sizes.

Lag comes from the fetch high watermark, not ListOffsets: Tansu answers that wrongly after
multi-record batches (GUIDE.md), and the fetch high watermark is what the broker serves.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from service.broker.admin import consumer_lag

if TYPE_CHECKING:
    from service.shell.pipeline import Pipeline

log = logging.getLogger(__name__)

INTERVAL_S = 15.0
TABLES_INTERVAL_S = 5.0
INPUTS = ("mentions", "replies", "opt-outs", "alert-actions")


def register(pipeline: Pipeline) -> None:
    settings = pipeline.settings
    topics = [settings.topic(name) for name in INPUTS]

    @pipeline.app.timer(INTERVAL_S)
    async def measure_lag() -> None:
        try:
            lag = await consumer_lag(settings.bootstrap_servers(), settings.app_id, topics)
        except Exception as exc:  # a metric must never take the worker down
            log.warning("consumer lag not measured: %s", type(exc).__name__)
            return
        for topic, records in lag.items():
            pipeline.metrics.consumer_lag.labels(topic).set(records)

    @pipeline.app.timer(TABLES_INTERVAL_S)
    async def measure_tables() -> None:
        for name, table in pipeline.app.tables.items():
            pipeline.metrics.table_keys.labels(name).set(len(table))
