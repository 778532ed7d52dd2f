"""How long the worker's consumer lets the broker hold a fetch: Faust fixes it at 1,500 ms.

On Kafka a waiting fetch returns as soon as data arrives, so the wait costs nothing. Tansu
does not wake a waiting fetch: measured produce-to-consume on one partition, 448-452 ms with
1,500 ms and 2-8 ms with 50 ms. Every hop of the pipeline paid it, and a stage whose
partitions had all been drained sat idle while its next batch waited on the broker.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka


def use_fetch_max_wait(app: faust.App, fetch_max_wait_ms: int) -> None:
    """Make `app`'s worker consumer (streams and table recovery) use `fetch_max_wait_ms`.

    Faust passes a literal 1500 to aiokafka and offers no setting, so the consumer thread
    is subclassed to change it on the aiokafka consumer before that consumer starts.
    """

    class ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
        def _create_worker_consumer(self, transport: Any) -> Any:
            consumer = super()._create_worker_consumer(transport)
            consumer._fetch_max_wait_ms = fetch_max_wait_ms  # read when its fetcher starts
            return consumer

    class Consumer(faust_aiokafka.Consumer):
        def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
            return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    app.transport.Consumer = Consumer  # type: ignore[misc]  # this app's transport only
