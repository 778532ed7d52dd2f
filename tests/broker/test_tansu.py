"""TansuBroker: start, stop, port choice, busy ports, and no orphaned Tansu processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from service.broker.errors import BrokerStartError
from service.broker.probe import broker_answers, find_free_port
from service.broker.tansu import TansuBroker

pytestmark = pytest.mark.integration


def process_alive(pid: int) -> bool:
    """True if `pid` runs (a zombie waiting to be reaped counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def tansu_children() -> list[int]:
    """Live Tansu processes whose parent is this test process."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if name.startswith("tansu") and int(ppid) == os.getpid() and state != "Z":
            pids.append(int(entry.name))
    return pids


def wait_until(condition: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_port_zero_picks_a_free_port_and_the_broker_answers(tmp_path: Path) -> None:
    with TansuBroker(0, log_dir=tmp_path) as broker:
        assert broker.port > 0
        assert broker.bootstrap == f"127.0.0.1:{broker.port}"
        assert broker.url == f"kafka://127.0.0.1:{broker.port}"
        assert broker.running
        assert broker_answers(broker.bootstrap, timeout=5)
    assert "ready in" in (tmp_path / "broker.log").read_text()


def test_stop_leaves_no_process_and_frees_the_port(tmp_path: Path) -> None:
    broker = TansuBroker(0, log_dir=tmp_path).start()
    pid = broker.pid
    assert pid is not None and process_alive(pid)

    broker.stop()

    assert not process_alive(pid)
    assert not broker.running
    assert not broker_answers(broker.bootstrap, timeout=1)
    broker.stop()  # idempotent


def test_a_stopped_port_can_be_reused_at_once(tmp_path: Path) -> None:
    first = TansuBroker(0, log_dir=tmp_path).start()
    port = first.port
    first.stop()
    with TansuBroker(port, log_dir=tmp_path) as second:
        assert broker_answers(second.bootstrap, timeout=5)


def test_a_second_broker_on_a_busy_port_says_what_to_do(
    tansu_broker: TansuBroker, tmp_path: Path
) -> None:
    broker = tansu_broker
    with pytest.raises(BrokerStartError) as caught:
        TansuBroker(broker.port, log_dir=tmp_path, port_wait=0.2).start()
    message = str(caught.value)
    assert f"a Kafka broker already answers on 127.0.0.1:{broker.port}" in message
    assert "CLOSEKNIT_EMBEDDED_PORT" in message
    assert f"CLOSEKNIT_BROKER=kafka://127.0.0.1:{broker.port}" in message
    assert tansu_children() == [broker.pid]  # the failed attempt left nothing running
    assert broker_answers(broker.bootstrap, timeout=5)  # and did not disturb the first


def test_a_port_held_by_something_else_is_reported_as_in_use(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(BrokerStartError, match=f"port {port} is in use; set CLOSEKNIT_EMB"):
            TansuBroker(port, log_dir=tmp_path, port_wait=0.2).start()


def test_broker_answers_is_false_for_a_closed_port() -> None:
    started = time.monotonic()
    assert not broker_answers(f"127.0.0.1:{find_free_port()}", timeout=2)
    assert time.monotonic() - started < 1


async def _start_and_stop_async(log_dir: Path) -> tuple[int, bool]:
    async with TansuBroker(0, log_dir=log_dir) as broker:
        return broker.port, broker_answers(broker.bootstrap, timeout=5)


def test_async_context_manager(tmp_path: Path) -> None:
    import asyncio

    port, answered = asyncio.run(_start_and_stop_async(tmp_path))
    assert answered
    assert not broker_answers(f"127.0.0.1:{port}", timeout=1)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_a_killed_parent_takes_its_broker_with_it(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys, time
        from service.broker.tansu import TansuBroker
        broker = TansuBroker(0, log_dir={str(tmp_path)!r}).start()
        print(broker.pid, broker.port, flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=Path.cwd()
    )
    try:
        assert parent.stdout is not None
        tansu_pid, port = map(int, parent.stdout.readline().split())
        assert process_alive(tansu_pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        assert wait_until(lambda: not process_alive(tansu_pid), timeout=5)
        assert not broker_answers(f"127.0.0.1:{port}", timeout=1)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
