"""Worker web endpoints: open `/health` and `/metrics`; `/api/*` behind an optional token."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

import orjson
from faust import web

if TYPE_CHECKING:
    from service.shell.pipeline import Pipeline

Handler = Callable[..., Awaitable[web.Response]]


def json_response(view: web.View, value: Any, status: int = 200) -> web.Response:
    return view.bytes(orjson.dumps(value), content_type="application/json", status=status)


def token_required(token: str | None) -> Callable[[Handler], Handler]:
    """Wrap an API handler so it answers 401 unless the bearer token matches."""

    def decorate(handler: Handler) -> Handler:
        if not token:
            return handler

        @wraps(handler)
        async def guarded(view: web.View, request: web.Request, *args: Any, **kw: Any) -> Any:
            given = request.headers.get("Authorization", "")
            expected = f"Bearer {token}"
            if not hmac.compare_digest(given.encode(), expected.encode()):
                return json_response(
                    view,
                    {"error": "unauthorized", "hint": "send Authorization: Bearer <token>"},
                    status=401,
                )
            return await handler(view, request, *args, **kw)

        return guarded

    return decorate


def stats(pipeline: Pipeline) -> dict[str, Any]:
    """Counters of this worker, as the demo and the dashboard read them."""
    m = pipeline.metrics
    return {
        "ready": pipeline.ready,
        "events_in": m.totals("closeknit_events_in"),
        "events_valid": m.totals("closeknit_events_valid"),
        "dead_letters": m.totals("closeknit_dead_letters"),
        "interactions_out": m.totals("closeknit_interactions_out").get("", 0.0),
        "dyad_events": m.totals("closeknit_dyad_events"),
        "opted_out_dropped": m.totals("closeknit_opted_out_events_dropped").get("", 0.0),
    }


def register(pipeline: Pipeline) -> None:
    app = pipeline.app
    guard = token_required(pipeline.settings.api_token)

    @app.page("/health")
    async def health(view: web.View, request: web.Request) -> web.Response:
        status = 200 if pipeline.ready else 503
        return json_response(view, {"status": "ok" if pipeline.ready else "starting"}, status)

    @app.page("/metrics")
    async def metrics(view: web.View, request: web.Request) -> web.Response:
        return view.bytes(pipeline.metrics.exposition(), content_type="text/plain; version=0.0.4")

    @app.page("/api/stats")
    @guard
    async def api_stats(view: web.View, request: web.Request) -> web.Response:
        return json_response(view, stats(pipeline))
