"""The broker closeknit starts itself when none is configured: Tansu or a local Kafka.

`CLOSEKNIT_EMBEDDED_BROKER` picks which (`tansu`, the default, needs nothing but the wheel;
`kafka` needs Java and Maven). Everything that starts a broker goes through here.
"""

from __future__ import annotations

import os
from pathlib import Path

from service.broker.child import BrokerProcess
from service.broker.local_kafka import LocalKafka
from service.broker.quirks import BrokerKind
from service.broker.tansu import TansuBroker


def embedded_broker(
    kind: BrokerKind,
    port: int = 0,
    *,
    log_dir: str | os.PathLike[str],
    cache_dir: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
) -> BrokerProcess:
    """An unstarted broker of `kind` on `port` (0: a free one), logging under `log_dir`.

    A Kafka keeps its jars in `cache_dir` (default: `log_dir`) and its log in `data_dir`
    (default: a temporary directory removed when it stops); Tansu keeps everything in memory.
    """
    if kind == "tansu":
        return TansuBroker(port, log_dir=log_dir)
    if kind == "kafka":
        return LocalKafka(port, data_dir=data_dir, cache_dir=cache_dir or log_dir, log_dir=log_dir)
    raise ValueError(f"unknown broker kind {kind!r}: expected tansu or kafka")


def start_test_broker(kind: BrokerKind, log_dir: str | os.PathLike[str]) -> BrokerProcess:
    """A started broker of `kind` on a free port, for test fixtures (caller stops it).

    Kafka's jars are cached in the checkout's `.closeknit/`, so the suite fetches them once.
    """
    cache = Path(__file__).resolve().parents[2] / ".closeknit"
    return embedded_broker(kind, 0, log_dir=log_dir, cache_dir=cache).start()
