"""The Faust app: settings in, a wired app with topics, tables, agents and web views out."""

from __future__ import annotations

import logging

import faust

from service.config import Settings
from service.core.brand_accounts import load_brand_accounts
from service.core.failure import classifier_for
from service.core.sentiment import default_scorer
from service.core.validation import EventValidator
from service.kafka_security import KafkaSecurity
from service.shell import lag, loop_lag
from service.shell.metrics import Metrics
from service.shell.patches.delivery import use_draining_buffer
from service.shell.patches.drain import use_direct_delivery
from service.shell.patches.fetch_wait import use_fetch_max_wait
from service.shell.patches.flow import App
from service.shell.pipeline import Pipeline, tie_params
from service.shell.stages import (
    alert_publisher,
    cluster_owner,
    consent,
    dyads,
    ingest,
    moments_of_truth,
    people,
)
from service.shell.topics import CATALOG
from service.shell.web import actions, api, dashboard, endpoints

log = logging.getLogger(__name__)


def build_app(settings: Settings) -> faust.App:
    """A Faust app configured from settings, with every closeknit stage registered."""
    security = KafkaSecurity.from_settings(settings)
    log.info("Kafka connection: %s", security.describe())
    for warning in security.warnings():
        log.warning("%s", warning)
    app = App(
        settings.app_id,
        broker_credentials=security.faust_credentials(),
        broker=settings.broker_url(),
        store="memory://",
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.partitions,
        # Faust's CLI binds every interface by default; closeknit binds loopback unless told.
        web_bind=settings.web_host,
        web_host=settings.web_host,
        web_port=settings.web_port,
        datadir=str(settings.data_dir / "faust"),
        broker_session_timeout=settings.effective_session_timeout_s(),
        # Kafka wants heartbeats well inside the session timeout.
        broker_heartbeat_interval=min(3.0, settings.effective_session_timeout_s() / 4),
        producer_acks=-1,
        producer_linger=settings.producer_linger_ms / 1000.0,
        table_standby_replicas=0,
    )
    use_fetch_max_wait(app, settings.effective_fetch_max_wait_ms())
    use_direct_delivery(app)  # after use_fetch_max_wait: it subclasses that consumer
    use_draining_buffer(app)
    pipeline = Pipeline(
        settings=settings,
        app=app,
        metrics=Metrics(),
        tie_params=tie_params(settings),
        scorer=default_scorer(),
        classifier=classifier_for(settings.failure_taxonomy),
        brand_accounts=load_brand_accounts(settings.brand_accounts),
        validator=EventValidator(
            max_message_bytes=settings.max_message_bytes,
            max_future_skew_s=settings.max_future_skew_s,
        ),
    )
    for info in CATALOG:
        pipeline.topics[info.short_name] = app.topic(
            settings.topic(info.short_name),
            key_type=bytes,
            value_type=bytes,
            allow_empty=True,
            partitions=info.partitions or settings.partitions,
        )
    app.pipeline = pipeline  # type: ignore[attr-defined]

    # In pipeline order: consent first, so opt-outs are loaded before any stage reads.
    consent.register(pipeline)
    ingest.register(pipeline)
    dyads.register(pipeline)
    people.register(pipeline)  # runs the critic step (service.shell.stages.critics)
    moments_of_truth.register(pipeline)
    cluster_owner.register(pipeline)
    alert_publisher.register(pipeline)
    loop_lag.register(pipeline)
    lag.register(pipeline)
    endpoints.register(pipeline)
    api.register(pipeline)
    dashboard.register(pipeline)
    actions.register(pipeline)

    # Faust starts app tasks only once table recovery has completed, so this marks
    # the moment the worker can serve (the Worker claims `on_startup_finished` itself).
    @app.task
    async def mark_ready() -> None:
        await pipeline.optouts_loaded.wait()
        pipeline.ready = True

    return app
