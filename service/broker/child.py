"""What a broker that closeknit runs as a child process offers, whichever broker it is.

`TansuBroker` (service/broker/tansu.py) and `LocalKafka` (service/broker/local_kafka.py)
share this shape, so the worker, the demo, `doctor`, the bench and the tests start either
one the same way (`service.broker.embedded.embedded_broker`).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self

from service.broker.errors import BrokerStartError
from service.broker.probe import HOST
from service.broker.quirks import BrokerKind

_PR_SET_PDEATHSIG = 1


class BrokerProcess(ABC):
    """A broker child process on `host`:`port` (127.0.0.1 by default); a context manager,
    sync or async."""

    kind: BrokerKind
    log_path: Path

    @property
    def name(self) -> str:
        """What to call it in messages, e.g. "Tansu" or "Apache Kafka 3.9.1"."""
        return self.kind

    def __init__(self, port: int, host: str = HOST) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be 0..65535, got {port}")
        self.host = host
        self._requested_port = port
        self._port = port
        self._process: subprocess.Popen[bytes] | None = None
        self.timings: dict[str, float] = {}  # seconds a start spent per phase, if it says

    @property
    def port(self) -> int:
        """The listening port (the chosen one once started, if 0 was asked for)."""
        return self._port

    @property
    def bootstrap(self) -> str:
        """`HOST:PORT`, as aiokafka wants it."""
        return f"{self.host}:{self._port}"

    @property
    def url(self) -> str:
        """`kafka://HOST:PORT`, as Faust and CLOSEKNIT_BROKER want it."""
        return f"kafka://{self.bootstrap}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> Self:
        """Start the broker and block until it answers Metadata; `BrokerStartError` if not."""
        if self.running:
            return self
        self._prepare()
        for attempt in range(1, self._attempts() + 1):
            self._pick_ports()
            offset = self._spawn()
            try:
                self._wait_until_ready(offset)
                return self
            except PortTaken:
                self._give_up_attempt(attempt)
            except BaseException:
                self.stop(timeout=2.0)
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def astart(self) -> Self:
        """`start()` without blocking the event loop.

        The child is spawned on the loop's own thread: the parent-death signal (Linux) is
        tied to the thread that forks, and a worker thread of `to_thread` may exit first.
        """
        if self.running:
            return self
        await asyncio.to_thread(self._prepare)
        for attempt in range(1, self._attempts() + 1):
            await asyncio.to_thread(self._pick_ports)
            offset = self._spawn()
            try:
                await asyncio.to_thread(self._wait_until_ready, offset)
                return self
            except PortTaken:
                await asyncio.to_thread(self._give_up_attempt, attempt)
            except BaseException:
                await asyncio.to_thread(self.stop, 2.0)
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    @abstractmethod
    def stop(self, timeout: float = 5.0) -> None:
        """Stop the broker (SIGTERM, then SIGKILL after `timeout` s). Idempotent."""

    async def astop(self, timeout: float = 5.0) -> None:
        """`stop()` without blocking the event loop."""
        await asyncio.to_thread(self.stop, timeout)

    def describe(self) -> str:
        """One line for the console: which broker, where, and where its log is."""
        return f"{self.name} at {self.bootstrap} (pid {self.pid}; log {self.log_path})"

    # ------------------------------------------------------------ what a broker provides

    @abstractmethod
    def _prepare(self) -> None:
        """Blocking set-up before the first spawn (find the binary, fetch the jars)."""

    @abstractmethod
    def _pick_ports(self) -> None:
        """Choose the ports of this attempt; `BrokerStartError` if a fixed one stays busy."""

    @abstractmethod
    def _spawn(self) -> int:
        """Start the child; return the log offset its output starts at."""

    @abstractmethod
    def _wait_until_ready(self, offset: int) -> None:
        """Block until the child answers; `PortTaken` if its port was taken meanwhile."""

    @abstractmethod
    def _port_busy_message(self) -> str:
        """What to tell the user when the port stays busy."""

    def _attempts(self) -> int:
        # With port 0 another process can take the chosen port before the broker binds it.
        return 3 if self._requested_port == 0 else 1

    def _give_up_attempt(self, attempt: int) -> None:
        self.stop(timeout=2.0)
        if attempt >= self._attempts():
            raise BrokerStartError(self._port_busy_message())

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await self.astart()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.astop()

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.running else "stopped"
        return f"{type(self).__name__}({self.bootstrap}, {state})"

    def _terminate(self, timeout: float) -> int | None:
        """SIGTERM the child, SIGKILL it after `timeout` s; return its exit status."""
        process, self._process = self._process, None
        if process is None:
            return None
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                process.wait()
        return process.returncode

    def _launch(self, command: list[str], env: dict[str, str] | None = None) -> int:
        """Start `command` as the child, its output appended to the log; return the log
        offset its output starts at."""
        offset = self.log_path.stat().st_size
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=env,
                preexec_fn=die_with_parent_preexec(),
                close_fds=True,
            )
        return offset

    def _log_note(self, message: str) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        with self.log_path.open("a", encoding="utf-8") as log:
            log.write(f"--- closeknit {stamp}: {message}\n")

    def _log_since(self, offset: int) -> bytes:
        with self.log_path.open("rb") as log:
            log.seek(offset)
            return log.read()


class PortTaken(Exception):
    """The broker reported that its port is in use."""


def log_tail(output: bytes, lines: int = 8) -> str:
    text = output.decode("utf-8", "replace").strip().splitlines()
    return "\n".join(text[-lines:])


def die_with_parent_preexec() -> Callable[[], None] | None:
    """On Linux, a preexec hook that makes the kernel SIGTERM the child when we die.

    PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, so it is only
    armed when spawning from the main thread; elsewhere the child is simply not tied.
    """
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    import os

    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec
