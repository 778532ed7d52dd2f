"""Opt-outs: every worker keeps the full registry; the owner of a person starts erasure.

The registry is read by a plain consumer from the start of the (compacted) opt-outs topic on
every worker, outside any group, because every partition's events may name anyone. Agents
wait until it has caught up once, so a restarted worker never applies an opted-out person's
events. The grouped agent, which sees each person's choices exactly once, dead-letters bad
records and tells the people agent to erase.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import orjson

from service.broker.reader import read_topic
from service.core.validation import OptOut, Rejection
from service.shell.stages.parking import park

if TYPE_CHECKING:
    from faust.types import StreamT

    from service.shell.pipeline import Pipeline

log = logging.getLogger(__name__)


def register(pipeline: Pipeline) -> None:
    app = pipeline.app
    topic_name = pipeline.settings.topic("opt-outs")
    bootstrap = pipeline.settings.bootstrap_servers()

    def take(value: bytes | None) -> None:
        choice = pipeline.validator.validate_opt_out(value or b"", time.time())
        if isinstance(choice, OptOut):
            pipeline.optouts.record(choice)

    @app.task
    async def follow_registry() -> None:
        # Load to the end once, release the agents, then keep following. The second pass
        # re-reads what the first took, which is harmless: the newest choice wins.
        async for record in read_topic(bootstrap, topic_name, follow=False):
            take(record.value)
        pipeline.optouts_loaded.set()
        log.info("opt-out registry loaded: %d people opted out", len(pipeline.optouts))
        async for record in read_topic(bootstrap, topic_name, follow=True):
            take(record.value)

    @app.agent(pipeline.topics["opt-outs"], name="closeknit.opt-outs")
    async def opt_outs(stream: StreamT) -> None:
        async for event in stream.events():
            msg = event.message
            now = time.time()
            choice = pipeline.validator.validate_opt_out(msg.value or b"", now)
            if isinstance(choice, Rejection):
                await park(pipeline, msg, choice)
                continue
            # Record here too, so this worker drops the person's events at once.
            pipeline.optouts.record(choice)
            if choice.opted_out:
                command = orjson.dumps({"op": "erase"})
                await pipeline.send("person-ties", choice.person_id.encode(), command)
