"""Is a Kafka-protocol broker answering here, and which ports are free."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from aiokafka import AIOKafkaClient

from service.kafka_security import client_kwargs

HOST = "127.0.0.1"


async def metadata_answers(bootstrap: str, timeout: float) -> bool:
    """True if a Kafka broker at `bootstrap` answers a Metadata request within `timeout` s."""
    timeout_ms = max(int(timeout * 1000), 1)
    client = AIOKafkaClient(
        **client_kwargs(),
        bootstrap_servers=bootstrap,
        request_timeout_ms=timeout_ms,
        connections_max_idle_ms=60_000,
    )
    try:
        await asyncio.wait_for(client.bootstrap(), timeout)
    except Exception:
        return False
    finally:
        with contextlib.suppress(Exception):
            await client.close()
    return True


def broker_answers(bootstrap: str, timeout: float) -> bool:
    """Synchronous `metadata_answers`, usable with or without a running event loop."""
    if not tcp_connects(bootstrap, timeout):
        return False  # fast path: nothing listens, no need for a Kafka client
    return run_coroutine_sync(lambda: metadata_answers(bootstrap, timeout))


def find_free_port(host: str = HOST) -> int:
    """A port nothing listens on right now (another process may still take it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int, host: str = HOST) -> bool:
    """True if a listener could bind `host:port` (with SO_REUSEADDR, as brokers set it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def tcp_connects(bootstrap: str, timeout: float) -> bool:
    """True if any `host:port` of a bootstrap list accepts a TCP connection."""
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host or HOST, int(port)), timeout=min(timeout, 2.0)):
                return True
        except (OSError, ValueError):
            continue
    return False


def run_coroutine_sync(factory: Callable[[], Coroutine[Any, Any, bool]]) -> bool:
    """Run the coroutine `factory()` makes on a private loop in a helper thread."""
    result: list[bool] = []

    def runner() -> None:
        result.append(asyncio.run(factory()))

    thread = threading.Thread(target=runner, name="closeknit-broker-probe", daemon=True)
    thread.start()
    thread.join()
    return bool(result and result[0])
