"""`closeknit doctor`: test a Kafka-protocol broker for what closeknit relies on.

Each check runs on its own throwaway topics (named `closeknit.doctor.<run>.<check>`) and is
isolated: an exception or timeout fails that check only. Only an unreachable broker stops
the run, since nothing else can be tested then. Throwaway topics are deleted at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from service.broker.admin import admin_client, offset_probe_consumer, partition_high_watermarks
from service.broker.quirks import BrokerKind, kind_of_cluster
from service.kafka_security import client_kwargs

Status = Literal["pass", "warn", "fail"]

REACHABLE_TIMEOUT_S = 5.0
CHECK_TIMEOUT_S = 20.0
# The join check's group settings. Tansu holds a JoinGroup for about half the *session*
# timeout (measured: 6 s -> 3 s, 10 s -> 5 s, 60 s -> 30 s, whatever the rebalance timeout).
JOIN_SESSION_TIMEOUT_MS = 6_000
JOIN_REBALANCE_TIMEOUT_MS = 3_000
SLOW_JOIN_S = 10.0
BATCHED_RECORDS = 150
# The fetch-wake check: a consumer waits on an empty partition with Faust's fixed fetch wait;
# a broker that answers as data arrives delivers within a few ms, one that does not, later.
FAUST_FETCH_WAIT_MS = 1_500
WAKE_PROBES = 3
SLOW_WAKE_MS = 100.0
NO_TRANSACTIONS = (
    "exactly-once processing cannot be trusted here; closeknit does not need it (it runs "
    "at least once, with idempotent stages)"
)
COMPACTION_WAIT_S = 60.0
TANSU_COMPACTION_WAIT_S = 5.0
COMPACTION_PROBE_CONFIGS = {
    "cleanup.policy": "compact",
    "segment.ms": "100",
    "min.cleanable.dirty.ratio": "0.01",
    "min.compaction.lag.ms": "0",
    "delete.retention.ms": "100",
}


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    detail: str
    consequence: str
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Outcome:
    status: Status
    detail: str
    consequence: str = ""


class _Run:
    """One doctor run: the broker address and the throwaway topics it made."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.run_id = uuid.uuid4().hex[:8]
        self.topics: list[str] = []
        self.kind: BrokerKind = "kafka"  # told apart by the cluster id once it answers

    def topic_name(self, purpose: str) -> str:
        return f"closeknit.doctor.{self.run_id}.{purpose}"

    async def create_topic(
        self,
        admin: AIOKafkaAdminClient,
        purpose: str,
        partitions: int,
        configs: dict[str, str] | None = None,
    ) -> str:
        name = self.topic_name(purpose)
        response = await admin.create_topics([NewTopic(name, partitions, 1, topic_configs=configs)])
        self.topics.append(name)
        for topic, code, *rest in response.topic_errors:
            if code != 0:
                raise RuntimeError(f"CreateTopics {topic} refused: error {code} {rest}")
        return name

    async def cleanup(self) -> None:
        if not self.topics:
            return
        with contextlib.suppress(Exception):
            async with admin_client(self.bootstrap, timeout_ms=5_000) as admin:
                existing = set(await admin.list_topics())
                leftover = [t for t in self.topics if t in existing]
                if leftover:
                    await admin.delete_topics(leftover)


async def run_checks(bootstrap: str, compaction_wait_s: float | None = None) -> list[CheckResult]:
    """Run every check against `bootstrap` (`host:port[,...]`) and return their results.

    The compaction check waits up to `compaction_wait_s` for the log cleaner. Unset: 60 s,
    enough for two passes at Kafka's default 15 s cleaner backoff; 5 s on Tansu, whose
    memory engine is known never to compact (its cluster id gives it away).
    """
    run = _Run(bootstrap)
    reachable = await _timed("reachable", lambda: _check_reachable(run), REACHABLE_TIMEOUT_S)
    if reachable.status == "fail":
        return [reachable]
    results = [reachable]
    if compaction_wait_s is None:
        compaction_wait_s = TANSU_COMPACTION_WAIT_S if run.kind == "tansu" else COMPACTION_WAIT_S
    compaction_wait = compaction_wait_s
    checks: list[tuple[str, Callable[[], Awaitable[_Outcome]]]] = [
        ("topics creatable", lambda: _check_topics(run)),
        ("produce and fetch", lambda: _check_round_trip(run)),
        ("consumer group join", lambda: _check_group_join(run)),
        ("ListOffsets vs fetch high watermark", lambda: _check_list_offsets(run)),
        ("waiting fetch woken by new data", lambda: _check_fetch_wake(run)),
        ("compaction", lambda: _check_compaction(run, compaction_wait)),
        ("transaction isolation", lambda: _check_transactions(run)),
    ]
    try:
        for name, check in checks:
            timeout = CHECK_TIMEOUT_S + (compaction_wait if name == "compaction" else 0.0)
            results.append(await _timed(name, check, timeout))
    finally:
        await run.cleanup()
    return results


def has_failures(results: list[CheckResult]) -> bool:
    return any(r.status == "fail" for r in results)


def verdict(results: list[CheckResult]) -> str:
    fails = sum(r.status == "fail" for r in results)
    warns = sum(r.status == "warn" for r in results)
    if fails:
        return f"NOT USABLE: {fails} check(s) failed, {warns} warning(s)"
    if warns:
        return f"usable, with {warns} warning(s)"
    return "all checks passed"


async def _timed(
    name: str, check: Callable[[], Awaitable[_Outcome]], timeout: float
) -> CheckResult:
    started = time.monotonic()
    try:
        outcome = await asyncio.wait_for(check(), timeout)
    except TimeoutError:
        outcome = _Outcome("fail", f"no answer within {timeout:.0f} s", _fail_consequence(name))
    except Exception as exc:
        outcome = _Outcome("fail", f"{type(exc).__name__}: {exc}", _fail_consequence(name))
    return CheckResult(
        name, outcome.status, outcome.detail, outcome.consequence, time.monotonic() - started
    )


def _fail_consequence(name: str) -> str:
    return {
        "reachable": "nothing can run against this broker",
        "topics creatable": "closeknit cannot create its topics; create them by hand",
        "produce and fetch": "events cannot flow through this broker",
        "consumer group join": "workers cannot get partitions assigned",
    }.get(name, "closeknit may misbehave on this broker")


async def _check_reachable(run: _Run) -> _Outcome:
    try:
        async with admin_client(run.bootstrap, timeout_ms=int(REACHABLE_TIMEOUT_S * 1000)) as admin:
            cluster = await admin.describe_cluster()
    except Exception as exc:
        return _Outcome(
            "fail",
            f"no Kafka Metadata answer from {run.bootstrap} ({type(exc).__name__})",
            "nothing can run against this broker: start one (`closeknit broker`) or point "
            "CLOSEKNIT_BROKER / --broker at a running one",
        )
    run.kind = kind_of_cluster(cluster.get("cluster_id"))
    brokers = cluster.get("brokers", [])
    ids = ", ".join(str(b["node_id"]) for b in brokers)
    return _Outcome(
        "pass",
        f"{len(brokers)} broker(s) (node {ids}), cluster id {cluster.get('cluster_id')!r}, "
        f"controller {cluster.get('controller_id')}",
    )


async def _check_topics(run: _Run) -> _Outcome:
    async with admin_client(run.bootstrap) as admin:
        name = await run.create_topic(admin, "topics", 2)
        if name not in await admin.list_topics():
            return _Outcome(
                "fail", f"{name} created but not listed", _fail_consequence("topics creatable")
            )
        (description,) = await admin.describe_topics([name])
        partitions = len(description["partitions"])
        if partitions != 2:
            return _Outcome(
                "fail",
                f"asked for 2 partitions, got {partitions}",
                "topics would not have the partition counts closeknit sets",
            )
        try:
            response = await admin.delete_topics([name])
            codes = [code for _, code in response.topic_error_codes]
            if any(codes) or name in await admin.list_topics():
                raise RuntimeError(f"error codes {codes}")
        except Exception as exc:
            return _Outcome(
                "warn",
                f"created {name} with 2 partitions; deleting it failed ({exc})",
                "doctor leaves throwaway topics behind; delete closeknit.doctor.* by hand",
            )
        run.topics.remove(name)
    return _Outcome("pass", "created a 2-partition topic, saw 2 partitions, deleted it")


async def _check_round_trip(run: _Run) -> _Outcome:
    async with admin_client(run.bootstrap) as admin:
        name = await run.create_topic(admin, "roundtrip", 1)
    sent = [(f"k{i}".encode(), f"doctor {run.run_id} #{i}".encode()) for i in range(3)]
    producer = AIOKafkaProducer(bootstrap_servers=run.bootstrap, acks="all", **client_kwargs())
    await producer.start()
    started = time.monotonic()
    try:
        for key, value in sent:
            await producer.send_and_wait(name, value, key=key, partition=0)
    finally:
        await producer.stop()
    consumer = offset_probe_consumer(run.bootstrap)
    await consumer.start()
    received: list[tuple[bytes | None, bytes | None]] = []
    try:
        tp = TopicPartition(name, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        deadline = time.monotonic() + 10
        while len(received) < len(sent) and time.monotonic() < deadline:
            batch = await consumer.getmany(tp, timeout_ms=200)
            received.extend((r.key, r.value) for r in batch.get(tp, []))
    finally:
        await consumer.stop()
    elapsed_ms = (time.monotonic() - started) * 1000
    if received != sent:
        return _Outcome(
            "fail",
            f"sent {len(sent)} records, fetched {len(received)} (or in another order)",
            _fail_consequence("produce and fetch"),
        )
    return _Outcome(
        "pass", f"produced 3 keyed records and fetched them back in {elapsed_ms:.0f} ms"
    )


async def _check_group_join(run: _Run) -> _Outcome:
    async with admin_client(run.bootstrap) as admin:
        name = await run.create_topic(admin, "group", 1)
    consumer = AIOKafkaConsumer(
        name,
        bootstrap_servers=run.bootstrap,
        group_id=f"closeknit.doctor.{run.run_id}",
        enable_auto_commit=False,
        session_timeout_ms=JOIN_SESSION_TIMEOUT_MS,
        heartbeat_interval_ms=JOIN_SESSION_TIMEOUT_MS // 3,
        rebalance_timeout_ms=JOIN_REBALANCE_TIMEOUT_MS,
        **client_kwargs(),
    )
    started = time.monotonic()
    try:
        await consumer.start()  # returns once the group is joined and synced
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=50)
        join_s = time.monotonic() - started
        assigned = sorted(tp.partition for tp in consumer.assignment())
    finally:
        await consumer.stop()
    settings = (
        f"session timeout {JOIN_SESSION_TIMEOUT_MS / 1000:.0f} s, "
        f"rebalance timeout {JOIN_REBALANCE_TIMEOUT_MS / 1000:.0f} s"
    )
    detail = f"joined and got partition(s) {assigned} in {join_s:.1f} s ({settings})"
    if join_s > SLOW_JOIN_S:
        return _Outcome("warn", detail, "slow rebalances: workers take this long to start/rejoin")
    return _Outcome("pass", detail)


async def _check_list_offsets(run: _Run) -> _Outcome:
    async with admin_client(run.bootstrap) as admin:
        name = await run.create_topic(admin, "offsets", 1)
    tp = TopicPartition(name, 0)
    # Send without awaiting each record, then flush: the records leave in a few
    # multi-record batches, which is what exposes a ListOffsets answer built from the
    # newest batch's base offset.
    producer = AIOKafkaProducer(bootstrap_servers=run.bootstrap, linger_ms=50, **client_kwargs())
    await producer.start()
    try:
        pending = [
            await producer.send(name, f"doctor {i:04d}".encode() * 4, partition=0)
            for i in range(BATCHED_RECORDS)
        ]
        await producer.flush()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    consumer = offset_probe_consumer(run.bootstrap)
    await consumer.start()
    try:
        list_offsets = (await consumer.end_offsets([tp]))[tp]
    finally:
        await consumer.stop()
    fetch_hw = (await partition_high_watermarks(run.bootstrap, [tp], 10.0))[0]
    detail = (
        f"after {BATCHED_RECORDS} records in multi-record batches: ListOffsets(latest) "
        f"{list_offsets}, Fetch high watermark {fetch_hw}"
    )
    if fetch_hw != BATCHED_RECORDS:
        return _Outcome(
            "fail",
            detail,
            "the log end a Fetch reports is wrong; offsets and lag cannot be trusted",
        )
    if list_offsets != fetch_hw:
        return _Outcome(
            "warn",
            detail,
            "table recovery may skip the tail of the last changelog batch after a restart, "
            "and lag computed from ListOffsets is wrong; closeknit computes lag from the "
            "fetch high watermark and fences changelogs before recovery",
        )
    return _Outcome("pass", detail)


async def _check_fetch_wake(run: _Run) -> _Outcome:
    async with admin_client(run.bootstrap) as admin:
        name = await run.create_topic(admin, "wake", 1)
    tp = TopicPartition(name, 0)
    producer = AIOKafkaProducer(bootstrap_servers=run.bootstrap, acks="all", **client_kwargs())
    consumer = AIOKafkaConsumer(
        bootstrap_servers=run.bootstrap,
        enable_auto_commit=False,
        fetch_max_wait_ms=FAUST_FETCH_WAIT_MS,
        **client_kwargs(),
    )
    await producer.start()
    await consumer.start()
    delays_ms: list[float] = []
    try:
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        for n in range(WAKE_PROBES):
            waiting = asyncio.ensure_future(consumer.getone(tp))
            await asyncio.sleep(0.3)  # the consumer's fetch is now parked on the broker
            sent_at = time.monotonic()
            await producer.send_and_wait(name, f"wake {n}".encode(), partition=0)
            await asyncio.wait_for(waiting, FAUST_FETCH_WAIT_MS / 1000 + 5)
            delays_ms.append((time.monotonic() - sent_at) * 1000)
    finally:
        await consumer.stop()
        await producer.stop()
    median_ms = sorted(delays_ms)[len(delays_ms) // 2]
    detail = (
        f"produce to delivery with a {FAUST_FETCH_WAIT_MS} ms fetch wait: median "
        f"{median_ms:.0f} ms of {WAKE_PROBES}"
    )
    if median_ms > SLOW_WAKE_MS:
        return _Outcome(
            "warn",
            detail,
            "a waiting fetch is not answered when data arrives, so every pipeline hop can wait "
            "out the fetch wait; closeknit uses 25 ms on the embedded broker, set "
            "CLOSEKNIT_FETCH_MAX_WAIT_MS=25 for this one",
        )
    return _Outcome("pass", detail)


async def _check_compaction(run: _Run, wait_s: float) -> _Outcome:
    """Overwrite a key and delete another on a compacted topic; wait for the cleaner.

    Tiny segments, a low dirty ratio and a short tombstone retention make the cleaner act
    within its next passes; a steady trickle of filler records rolls the active segment,
    which is never cleaned. Passes when the old value and the tombstone are both gone.
    """
    async with admin_client(run.bootstrap) as admin:
        name = await run.create_topic(admin, "compacted", 1, COMPACTION_PROBE_CONFIGS)
    producer = AIOKafkaProducer(bootstrap_servers=run.bootstrap, acks="all", **client_kwargs())
    await producer.start()
    started = time.monotonic()
    overwritten_gone: float | None = None
    try:
        for key, value in ((b"kept", b"old"), (b"deleted", b"v"), (b"kept", b"new")):
            await producer.send_and_wait(name, value, key=key, partition=0)
        await producer.send_and_wait(name, None, key=b"deleted", partition=0)
        while time.monotonic() - started < wait_s:
            await asyncio.sleep(0.25)
            await producer.send_and_wait(name, b"filler", key=b"filler", partition=0)
            records = await _read_partition(run.bootstrap, TopicPartition(name, 0))
            if (b"kept", b"old") not in records and overwritten_gone is None:
                overwritten_gone = time.monotonic() - started
            if overwritten_gone is not None and all(k != b"deleted" for k, _ in records):
                return _Outcome(
                    "pass",
                    f"the cleaner removed an overwritten value after {overwritten_gone:.1f} s "
                    f"and a tombstone after {time.monotonic() - started:.1f} s",
                )
    finally:
        await producer.stop()
    if overwritten_gone is None:
        return _Outcome(
            "warn",
            f"after {wait_s:.0f} s an overwritten value was still on a compacted topic "
            "(the broker accepts cleanup.policy=compact but did not compact)",
            "compacted topics and changelogs keep every update, so recovery replays all of "
            "them, and an opted-out person's old snapshots stay on dyad-updates "
            "and the changelogs (their tombstones hide them from closeknit)",
        )
    return _Outcome(
        "warn",
        f"the cleaner removed an overwritten value after {overwritten_gone:.1f} s, but a "
        f"tombstone was still there after {wait_s:.0f} s",
        "erased people's keys stay on compacted topics as tombstones; check "
        "delete.retention.ms on the broker",
    )


async def _check_transactions(run: _Run) -> _Outcome:
    """An aborted transaction must be invisible to a read_committed consumer."""
    async with admin_client(run.bootstrap) as admin:
        name = await run.create_topic(admin, "transactions", 1)
    tp = TopicPartition(name, 0)
    producer = AIOKafkaProducer(
        bootstrap_servers=run.bootstrap,
        transactional_id=f"closeknit.doctor.{run.run_id}",
        **client_kwargs(),
    )
    try:
        await producer.start()
        await producer.begin_transaction()
        await producer.send_and_wait(name, b"aborted", partition=0)
        await producer.abort_transaction()
        await producer.begin_transaction()
        await producer.send_and_wait(name, b"committed", partition=0)
        await producer.commit_transaction()
    except Exception as exc:
        return _Outcome(
            "warn",
            f"a transactional producer was refused ({type(exc).__name__}: {exc})",
            NO_TRANSACTIONS,
        )
    finally:
        with contextlib.suppress(Exception):
            await producer.stop()
    committed = [v for _, v in await _read_partition(run.bootstrap, tp, "read_committed")]
    detail = f"a read_committed consumer saw {[v.decode() for v in committed if v]}"
    if committed == [b"committed"]:
        return _Outcome("pass", f"{detail}: the aborted record stayed hidden")
    return _Outcome(
        "warn",
        f"{detail}, where only the committed record should show",
        NO_TRANSACTIONS,
    )


async def _read_partition(
    bootstrap: str, tp: TopicPartition, isolation_level: str = "read_uncommitted"
) -> list[tuple[bytes | None, bytes | None]]:
    """Every record of one partition, from its log start to its end as it stands now."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        isolation_level=isolation_level,
        fetch_max_wait_ms=10,
        **client_kwargs(),
    )
    await consumer.start()
    records: list[tuple[bytes | None, bytes | None]] = []
    try:
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        deadline = time.monotonic() + 5.0
        # The end comes from the Fetch high watermark, not ListOffsets (Tansu defect 1).
        while time.monotonic() < deadline:
            batch = await consumer.getmany(tp, timeout_ms=100)
            records.extend((r.key, r.value) for r in batch.get(tp, []))
            end = consumer.highwater(tp)
            if end is not None and await consumer.position(tp) >= end:
                break
    finally:
        await consumer.stop()
    return records
