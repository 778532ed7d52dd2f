"""What closeknit does differently on Tansu and on Apache Kafka, and why.

Every workaround for a Tansu defect lives here as a field, with the `closeknit doctor` check
that shows the defect. On Apache Kafka each of those checks passes, so none of them applies
there (tests/broker/test_doctor.py runs the checks on both brokers).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Literal

BrokerKind = Literal["tansu", "kafka"]
BROKER_KINDS: tuple[BrokerKind, ...] = ("tansu", "kafka")

log = logging.getLogger(__name__)

# Tansu names its cluster this unless told otherwise (`tansu broker --kafka-cluster-id`).
TANSU_CLUSTER_ID_PREFIX = "tansu"
DETECT_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class BrokerQuirks:
    # doctor "ListOffsets vs fetch high watermark": Tansu answers ListOffsets(latest) with
    # the newest batch's base offset + 1, and Faust restores a table only that far, so the
    # worker appends a one-record fence batch to every changelog partition before recovery.
    fence_changelogs: bool
    # doctor "consumer group join": Tansu holds every JoinGroup for half the session
    # timeout, so a short one keeps starts and rebalances quick there. Kafka keeps Faust's
    # 60 s, which is how long a crashed worker's partitions wait for a rejoin.
    session_timeout_s: float
    # doctor "waiting fetch woken by new data": Tansu does not answer a waiting fetch when
    # data arrives, so every hop waited out Faust's fixed 1,500 ms; Kafka answers at once.
    fetch_max_wait_ms: int


QUIRKS: dict[BrokerKind, BrokerQuirks] = {
    "tansu": BrokerQuirks(fence_changelogs=True, session_timeout_s=6.0, fetch_max_wait_ms=25),
    "kafka": BrokerQuirks(fence_changelogs=False, session_timeout_s=60.0, fetch_max_wait_ms=1500),
}


def kind_of_cluster(cluster_id: str | None) -> BrokerKind:
    """Tansu by its cluster id, anything else is taken to be Apache Kafka."""
    if cluster_id and cluster_id.lower().startswith(TANSU_CLUSTER_ID_PREFIX):
        return "tansu"
    return "kafka"


async def detect_broker_kind(bootstrap: str) -> BrokerKind:
    """Ask the broker at `bootstrap` for its cluster id and tell Tansu from Kafka by it.

    Unreachable or unclear: "kafka", whose settings are Faust's own and safe anywhere
    (only slower on Tansu). CLOSEKNIT_BROKER_KIND overrides the guess.
    """
    from service.broker.admin import admin_client

    try:
        async with admin_client(bootstrap, timeout_ms=int(DETECT_TIMEOUT_S * 1000)) as admin:
            cluster = await asyncio.wait_for(admin.describe_cluster(), DETECT_TIMEOUT_S)
    except Exception as exc:
        log.warning("could not read the cluster id (%s); assuming Apache Kafka", type(exc).__name__)
        return "kafka"
    return kind_of_cluster(cluster.get("cluster_id"))
