"""Fetched records reach their streams with a plain await while the flow is active."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from mode.utils.queues import FlowControlEvent, ThrowableQueue

from service.config import load_settings
from service.shell.app import build_app
from service.shell.patches.drain import deliver, drain_messages


class Drainer:
    """What `deliver` reads of Faust's consumer: the suspend event and `wait_first`."""

    def __init__(self) -> None:
        self.suspend_flow = asyncio.Event()
        self.raced = 0

    async def wait_first(self, *coros: Any) -> None:
        self.raced += 1
        tasks = [asyncio.ensure_future(c if asyncio.iscoroutine(c) else c.wait()) for c in coros]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()


def test_the_worker_consumer_drains_through_the_patch(tmp_path: Path) -> None:
    app = build_app(load_settings({}, data_dir=tmp_path))
    assert app.transport.Consumer._drain_messages.__qualname__.startswith("use_direct_delivery")
    assert drain_messages.__doc__ and "deliver" in drain_messages.__doc__


def test_an_active_flow_delivers_with_a_plain_await() -> None:
    async def run() -> tuple[list[int], int]:
        drainer, got = Drainer(), []

        async def callback(message: int) -> None:
            got.append(message)

        for n in range(3):
            await deliver(drainer, callback, n)
        return got, drainer.raced

    assert asyncio.run(run()) == ([0, 1, 2], 0)


def test_a_suspended_flow_races_the_delivery_as_faust_does() -> None:
    async def run() -> int:
        drainer = Drainer()
        drainer.suspend_flow.set()

        async def callback(message: int) -> None:
            await asyncio.sleep(10)  # would block; the suspend event wins the race

        await asyncio.wait_for(deliver(drainer, callback, 1), timeout=2)
        return drainer.raced

    assert asyncio.run(run()) == 1


def test_a_queue_cleared_on_revocation_drops_the_record_and_the_drainer_goes_on() -> None:
    async def run() -> str:
        flow = FlowControlEvent()
        flow.resume()
        queue: ThrowableQueue[int] = ThrowableQueue(maxsize=1, flow_control=flow)
        await queue.put(0)  # full: the next put waits

        async def callback(message: int) -> None:
            await queue.put(message)

        blocked = asyncio.ensure_future(deliver(Drainer(), callback, 1))
        await asyncio.sleep(0.01)
        queue.clear()  # what Faust does to stream queues on revocation: putters cancelled
        await asyncio.wait_for(blocked, timeout=2)
        return "went on"

    assert asyncio.run(run()) == "went on"


def test_cancelling_the_drainer_still_ends_it() -> None:
    async def run() -> None:
        async def callback(message: int) -> None:
            await asyncio.sleep(10)

        task = asyncio.ensure_future(deliver(Drainer(), callback, 1))
        await asyncio.sleep(0.01)
        task.cancel()
        await task

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(run())
