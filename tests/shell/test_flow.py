"""Resuming the stream flow keeps what the streams already hold (service.shell.patches.flow)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from mode.utils.queues import FlowControlEvent, FlowControlQueue

from service.config import load_settings
from service.shell.app import build_app
from service.shell.patches.flow import KeepingFlowControl


def queued_after(flow: FlowControlEvent, *, revoke: bool) -> int:
    """How many of three queued events are left after a resume (and a revocation's clear)."""

    async def run() -> int:
        # As Faust makes each stream's channel queue.
        queue: FlowControlQueue[int] = FlowControlQueue(
            maxsize=10, flow_control=flow, clear_on_resume=True
        )
        flow.resume()
        for n in range(3):
            queue.put_nowait(n)
        if revoke:
            flow.suspend()
            flow.clear()
        flow.resume()
        return queue.qsize()

    return asyncio.run(run())


def test_modes_own_resume_drops_what_the_streams_hold() -> None:
    """The behaviour closeknit works around; if mode changes it this test says so."""
    assert queued_after(FlowControlEvent(), revoke=False) == 0


def test_resuming_keeps_the_queued_events() -> None:
    assert queued_after(KeepingFlowControl(), revoke=False) == 3


def test_a_revocation_still_empties_the_queues() -> None:
    assert queued_after(KeepingFlowControl(), revoke=True) == 0


def test_resume_and_suspend_still_gate_the_flow() -> None:
    flow = KeepingFlowControl()
    assert not flow.is_active()
    flow.resume()
    assert flow.is_active()
    flow.suspend()
    assert not flow.is_active()


def test_the_worker_app_uses_the_keeping_flow_control(tmp_path: Path) -> None:
    async def flow_of_a_worker_app() -> FlowControlEvent:
        return build_app(load_settings({}, data_dir=tmp_path)).flow_control

    assert isinstance(asyncio.run(flow_of_a_worker_app()), KeepingFlowControl)
