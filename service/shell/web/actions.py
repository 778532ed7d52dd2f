"""`POST /api/alerts/action`: the dashboard's ack, snooze and resolve buttons.

The body is `{"dedup_key", "action": "ack"|"snooze"|"resolve", "snooze_s"?, "by"?}`. The alert
must be one this worker holds (the dashboard lists those). The action is written to
alert-actions as an alert_action v1 record under the alert's route key, at the worker's
event-time clock, exactly as `closeknit alert` writes it; the alerts agent answers on the
alerts topic. Behind the API token when one is set.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import orjson
from faust import web

from service.core.alerts import action_record, entry_from_dict
from service.core.incidents import route_key_of
from service.core.schemas import JsonSchemaValueException, compiled
from service.shell.web.endpoints import json_response, token_required

if TYPE_CHECKING:
    from service.shell.pipeline import Pipeline

ACTIONS = ("ack", "snooze", "resolve")
MAX_SNOOZE_S = 7 * 86400.0


def register(pipeline: Pipeline) -> None:
    guard = token_required(pipeline.settings.api_token)

    @pipeline.app.page("/api/alerts/action")
    class AlertAction(web.View):
        @guard
        async def post(self, request: web.Request) -> web.Response:
            try:
                body = orjson.loads(await request.read())
            except orjson.JSONDecodeError:
                return self.refuse(400, "the body is not JSON")
            if not isinstance(body, dict):
                return self.refuse(400, "expected a JSON object")
            key, action = body.get("dedup_key"), body.get("action")
            if action not in ACTIONS:
                return self.refuse(400, f"action={action!r}: expected ack, snooze or resolve")
            table = pipeline.alert_entries
            stored = table.get(str(key).encode()) if table is not None and key else None
            if not stored:
                return self.refuse(404, f"no alert {key!r} on this worker")
            record = entry_from_dict(stored).record
            at = pipeline.clock or time.time()
            until = None
            if action == "snooze":
                snooze = body.get("snooze_s", 3600)
                if not isinstance(snooze, int | float) or not 0 < snooze <= MAX_SNOOZE_S:
                    return self.refuse(400, "snooze_s: expected seconds, up to a week")
                until = at + float(snooze)
            given = body.get("by")
            by = given if isinstance(given, str) and given else "dashboard"
            act = action_record(str(key), action, at, by, until)
            try:
                compiled("alert_action.v1")(act)
            except JsonSchemaValueException as exc:
                return self.refuse(400, f"not a valid action: {exc}")
            await pipeline.send("alert-actions", route_key_of(record).encode(), orjson.dumps(act))
            return json_response(self, {"sent": act}, status=202)

        def refuse(self, status: int, message: str) -> web.Response:
            return json_response(self, {"error": message}, status=status)

    del AlertAction  # registered by the decorator
