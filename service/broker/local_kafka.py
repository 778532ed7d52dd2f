"""A local Apache Kafka: one KRaft node (broker and controller) on 127.0.0.1, no Docker.

The jars come from Maven Central through `kafka_jars` (cached). The first start formats a
KRaft storage directory; a restart on the same directory keeps the log, as a real broker
does, which the fault tests rely on. With no directory given, a temporary one is made and
removed on `stop()`.

The configuration mirrors the docker-compose broker, plus two local choices, both so that
tests observe cleaning within seconds rather than minutes: the log cleaner looks for work
every second (`log.cleaner.backoff.ms`, Kafka's default 15 s) and retention is checked every
10 s (`log.retention.check.interval.ms`, default 5 min).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from service.broker.child import BrokerProcess, PortTaken, log_tail
from service.broker.errors import BrokerStartError
from service.broker.kafka_jars import ensure_kafka_jars, kafka_version
from service.broker.probe import HOST, broker_answers, find_free_port, port_is_free

LOG_NAME = "kafka.log"
DEFAULT_HEAP = "512m"
_STARTED_MARK = b"Kafka Server started"
_PORT_BUSY_MARKS = (b"Address already in use", b"BindException")
_FATAL_MARKS = (b"Exiting Kafka", b"FATAL")

LOG4J = """\
log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaRaftServer=INFO
"""


class LocalKafka(BrokerProcess):
    """Apache Kafka in KRaft mode on 127.0.0.1:`port` (0 picks a free port).

    `data_dir` holds the KRaft log and the broker's configuration; `cache_dir` the jars.
    `host` is the address it listens on for clients (the fault suite puts workers behind a
    veth link), and `advertised` the `host:port` clients are told to use, when a proxy
    stands in front (the fault suite's slow link); the controller stays on 127.0.0.1.
    """

    kind = "kafka"

    def __init__(
        self,
        port: int = 0,
        *,
        data_dir: str | os.PathLike[str] | None = None,
        cache_dir: str | os.PathLike[str] = Path(".closeknit"),
        log_dir: str | os.PathLike[str] | None = None,
        start_timeout: float = 60.0,
        heap: str = DEFAULT_HEAP,
        host: str = HOST,
        advertised: str | None = None,
    ) -> None:
        super().__init__(port, host)
        self.advertised = advertised
        self._owns_data = data_dir is None
        self.data_dir = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="kafka-"))
        self.cache_dir = Path(cache_dir)
        self.log_path = Path(log_dir or self.data_dir) / LOG_NAME
        self.start_timeout = start_timeout
        self.heap = heap
        self.controller_port = 0
        self._libs: Path | None = None

    @property
    def version(self) -> str:
        return kafka_version()

    @property
    def name(self) -> str:
        return f"Apache Kafka {self.version}"

    def stop(self, timeout: float = 30.0) -> None:
        """Controlled shutdown (SIGTERM), SIGKILL after `timeout` s; a temporary log goes too."""
        status = self._terminate(timeout)
        if status is not None:
            self._log_note(f"stopped (exit status {status})")
        if self._owns_data:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def kill(self) -> None:
        """SIGKILL, as in a crash: the log stays on disk and `start()` resumes from it."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._process = None

    # ----------------------------------------------------------------- internals

    def _prepare(self) -> None:
        began = time.monotonic()
        self._libs = ensure_kafka_jars(self.cache_dir)
        self.timings["jars"] = time.monotonic() - began

    def _pick_ports(self) -> None:
        # A restart keeps its ports: clients and the KRaft quorum expect the same address.
        if self._port == 0 or (
            self._requested_port == 0 and not port_is_free(self._port, self.host)
        ):
            self._port = find_free_port(self.host)
        elif not port_is_free(self._port, self.host):
            raise BrokerStartError(self._port_busy_message())
        if self.controller_port == 0 or not port_is_free(self.controller_port):
            self.controller_port = find_free_port()
            while self.controller_port == self._port:
                self.controller_port = find_free_port()

    def _port_busy_message(self) -> str:
        where = self.bootstrap
        who = (
            f"a Kafka broker already answers on {where}"
            if broker_answers(where, 1.0)
            else f"port {self._port} is in use"
        )
        return f"{who}; set CLOSEKNIT_EMBEDDED_PORT (or --port) or stop the other process"

    def _java(self, main: str, *args: str) -> list[str]:
        assert self._libs is not None
        return [
            "java",
            f"-Xmx{self.heap}",
            "-Xms128m",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{self.data_dir / 'log4j.properties'}",
            "-cp",
            f"{self._libs}/*",
            main,
            *args,
        ]

    def _write_config(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "log4j.properties").write_text(LOG4J)
        path = self.data_dir / "server.properties"
        path.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@{HOST}:{self.controller_port}",
                    f"listeners=PLAINTEXT://{self.bootstrap},"
                    f"CONTROLLER://{HOST}:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://{self.advertised or self.bootstrap}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    "inter.broker.listener.name=PLAINTEXT",
                    f"log.dirs={self.data_dir / 'log'}",
                    # One node: internal topics cannot have more than one replica.
                    "offsets.topic.replication.factor=1",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "log.cleaner.backoff.ms=1000",
                    "log.retention.check.interval.ms=10000",
                    "",
                ]
            )
        )
        return path

    def _format(self, config: Path) -> None:
        """Format the KRaft storage once; a formatted directory is reused as it is."""
        if (self.data_dir / "log" / "meta.properties").exists():
            return
        began = time.monotonic()
        cluster_id = _kraft_cluster_id()
        done = subprocess.run(
            self._java("kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(config)),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise BrokerStartError(
                f"formatting the KRaft storage in {self.data_dir} failed "
                f"(exit {done.returncode}):\n{(done.stdout + done.stderr).strip()[-2000:]}"
            )
        self.timings["format"] = time.monotonic() - began

    def _spawn(self) -> int:
        config = self._write_config()
        self._format(config)
        command = self._java("kafka.Kafka", str(config))
        self._log_note(f"starting Apache Kafka {self.version}: {' '.join(command[-2:])}")
        self._spawned_at = time.monotonic()
        return self._launch(command)

    def _wait_until_ready(self, offset: int) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.start_timeout
        while True:
            output = self._log_since(offset)
            if any(mark in output for mark in _PORT_BUSY_MARKS):
                raise PortTaken
            if self._process.poll() is not None or any(m in output for m in _FATAL_MARKS):
                raise BrokerStartError(
                    f"Kafka exited before it was ready (status {self._process.poll()}); "
                    f"see {self.log_path}:\n{log_tail(output, 15)}"
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrokerStartError(
                    f"Kafka did not answer a Metadata request on {self.bootstrap} within "
                    f"{self.start_timeout:.0f} s; see {self.log_path}"
                )
            if _STARTED_MARK in output and broker_answers(self.bootstrap, min(remaining, 5.0)):
                self.timings["ready"] = time.monotonic() - self._spawned_at
                return
            time.sleep(0.1)


def _kraft_cluster_id() -> str:
    """A random cluster id in Kafka's form: 16 bytes, URL-safe base64 without padding.

    Never one that starts with "-": the storage tool reads it as an option, even after `=`
    (Kafka's own Uuid.randomUuid skips those for the same reason).
    """
    import base64

    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id
