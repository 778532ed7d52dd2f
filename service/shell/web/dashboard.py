"""The live dashboard the worker serves at `/`: one HTML shell, static JS/CSS, two JSON feeds.

The page itself is open (it holds no data); it polls `GET /api/overview` and
`GET /api/alerts`, which sit behind the API token like every other `/api/*` route. The page
reads the token from its URL fragment (`/#token=...`, never sent to the server) and sends it
as `Authorization: Bearer`. Everything is served from `service/shell/web/static`: no CDN, no
external URL, so it works offline.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faust import web

from service.core.influence import rank_people
from service.shell.web.endpoints import json_response, stats, token_required

if TYPE_CHECKING:
    from service.shell.pipeline import Pipeline

STATIC_DIR = Path(__file__).resolve().parent / "static"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# Only our own files: no inline script, no external origin.
HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}
ALERT_STATES = ("open", "resolved")
TOP_PEOPLE = 10
TOP_TIES = 3
MAX_CLUSTERS = 10
# Faust's own index views ("production index", debug stats) also mount at "/" and would
# answer first; the dashboard takes their place.
_FAUST_INDEXES = ("faust.web.apps.production_index:blueprint", "faust.web.apps.stats:blueprint")


def static_file(name: str, root: Path = STATIC_DIR) -> Path | None:
    """The static file called `name`, or None: a plain file name directly in `root` only.

    Names with a slash, a backslash, `..` or a leading dot never match, and the resolved
    path must still sit directly in `root` (so a symlink cannot lead out of it).
    """
    if not _SAFE_NAME.match(name) or ".." in name or Path(name).suffix not in CONTENT_TYPES:
        return None
    root = root.resolve()
    path = (root / name).resolve()
    if path.parent != root or not path.is_file():
        return None
    return path


def alert_rows(entries: Iterable[Mapping[str, Any]], state: str | None = None) -> list[dict]:
    """The latest record of each alert entry: open ones first, then newest first.

    `entries` are stored alert entries (`service.core.alerts.entry_to_dict`; the record is
    `entry["r"]`). Each row is the alert v1 record plus `open`. `state` keeps only "open" or
    only "resolved" alerts.
    """
    rows = []
    for entry in entries:
        record = entry.get("r") if entry else None
        if not record:
            continue
        flags = entry.get("f")
        is_open = bool(flags[0]) if flags else record.get("state") != "resolved"
        if (state == "open" and not is_open) or (state == "resolved" and is_open):
            continue
        rows.append({**record, "open": is_open})
    # emitted_at is RFC 3339 UTC in one format, so it sorts as text; stable sorts layer.
    rows.sort(key=lambda r: str(r.get("alert_id", "")))
    rows.sort(key=lambda r: str(r.get("emitted_at", "")), reverse=True)
    rows.sort(key=lambda r: not r["open"])
    return rows


def overview(pipeline: Pipeline) -> dict[str, Any]:
    """Counters, the top people by influence (with their reach and top ties), and clusters
    with members."""
    at = pipeline.clock
    params = pipeline.tie_params
    optouts = pipeline.optouts
    people: list[dict[str, Any]] = []
    if pipeline.people is not None:
        states = {
            key.decode(): state
            for key, state in pipeline.people.items()
            if not optouts.is_opted_out(key.decode())
        }
        for person, score in rank_people(states, at, None, TOP_PEOPLE, params):
            state = states[person]
            people.append(
                {
                    "id": person,
                    "influence": score,
                    "reach": state.reach(at, None, params),
                    "ties": len(state.ties),
                    "strong_ties": state.strong_ties(at, params),
                    "top_ties": [
                        {"partner": partner, "strength": strength}
                        for partner, strength in state.top_ties(at, TOP_TIES, params)
                        if not optouts.is_opted_out(partner)
                    ],
                }
            )
    stage = pipeline.cluster_stage
    clusters: list[dict[str, Any]] | None = None
    if stage is not None and stage.owns_graph():
        clusters = []
        for summary in stage.summaries()[:MAX_CLUSTERS]:
            detail = stage.detail(summary["id"]) or {}
            clusters.append(
                {
                    **summary,
                    "members": detail.get("members", []),
                    "critical_ties": detail.get("critical_ties", []),
                }
            )
    return {
        "at": at,
        "stats": stats(pipeline),
        "people": people,
        "clusters": clusters,
        "owns_graph": clusters is not None,
    }


def _take_index(app: Any) -> None:
    """Drop Faust's own `/` views so that `/` reaches the dashboard."""
    manager = app.web.blueprints
    enabled = getattr(manager, "_enabled", None)
    if isinstance(enabled, list) and not manager.applied:
        enabled[:] = [(p, bp) for p, bp in enabled if not (p == "" and bp in _FAUST_INDEXES)]


def register(pipeline: Pipeline) -> None:
    app = pipeline.app
    guard = token_required(pipeline.settings.api_token)
    _take_index(app)

    def send_file(view: web.View, path: Path) -> web.Response:
        # aiohttp refuses a charset inside content_type, so the header carries both.
        headers = {**HEADERS, "Content-Type": CONTENT_TYPES[path.suffix]}
        return view.bytes(path.read_bytes(), headers=headers)

    def missing(view: web.View) -> web.Response:
        return json_response(view, {"error": "not found"}, status=404)

    @app.page("/")
    async def index(view: web.View, request: web.Request) -> web.Response:
        path = static_file("dashboard.html")
        return missing(view) if path is None else send_file(view, path)

    @app.page("/static/{name}")
    async def static(view: web.View, request: web.Request, name: str) -> web.Response:
        path = static_file(name)
        return missing(view) if path is None else send_file(view, path)

    @app.page("/api/alerts")
    @guard
    async def alerts(view: web.View, request: web.Request) -> web.Response:
        state = request.query.get("state") or None
        if state is not None and state not in ALERT_STATES:
            return json_response(
                view, {"error": f"state={state!r}: expected open or resolved"}, status=400
            )
        table = pipeline.alert_entries
        entries = [] if table is None else [value for _, value in table.items()]
        return json_response(view, {"at": pipeline.clock, "alerts": alert_rows(entries, state)})

    @app.page("/api/overview")
    @guard
    async def api_overview(view: web.View, request: web.Request) -> web.Response:
        return json_response(view, overview(pipeline))
