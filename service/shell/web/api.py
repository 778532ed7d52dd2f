"""Query API over the dyads and people tables (JSON via orjson, behind the optional token).

Reads are valued at `?at=` (Unix seconds) or, by default, at the worker's event-time clock
(the newest event it applied), so the answers after a replay do not depend on when you ask.
Dyad and person lookups are routed to the worker that owns the key (Faust table routing);
`/api/people/top` ranks the people held by the worker that answers.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING, Any

from faust import web
from faust.exceptions import SameNode

from service.core import ties
from service.core.brand_accounts import review
from service.core.explain import explain_brand, explain_person
from service.core.influence import MEASURES, Measure, PersonState, rank_people
from service.core.routing import dyad_key, split_dyad_key
from service.core.signals import desk_of
from service.shell.pipeline import registered, signal_params
from service.shell.web.endpoints import json_response, token_required

if TYPE_CHECKING:
    from service.shell.pipeline import Pipeline

MAX_LIMIT = 100


class BadQuery(ValueError):
    """A query parameter closeknit cannot use; the message says which and what it wants."""


def _read_at(pipeline: Pipeline, request: web.Request) -> float:
    raw = request.query.get("at")
    if raw is None or raw == "":
        return pipeline.clock
    try:
        return float(raw)
    except ValueError:
        raise BadQuery(f"at={raw!r}: expected Unix seconds, e.g. at=1341705593") from None


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", "10")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise BadQuery(f"limit={raw!r}: expected a whole number from 1 to {MAX_LIMIT}")
    return int(raw)


def _rank(request: web.Request) -> Measure:
    raw = request.query.get("rank", "influence")
    if raw not in MEASURES:
        raise BadQuery(f"rank={raw!r}: expected influence (two-way ties) or reach (audience)")
    return raw


def person_view(pipeline: Pipeline, person: str, state: PersonState, at: float) -> dict[str, Any]:
    """Influence (two-way ties), reach (one-way audience) and relevance per topic (the share of
    influence in it), overall and by topic (service.core.influence)."""
    params = pipeline.tie_params
    scopes = state.scopes(params)
    return {
        "id": person,
        "at": at,
        "influence": state.influence(at, None, params),
        "reach": state.reach(at, None, params),
        "influence_by_topic": {scope: state.influence(at, scope, params) for scope in scopes},
        "reach_by_topic": {scope: state.reach(at, scope, params) for scope in scopes},
        "relevance": {scope: state.relevance(at, scope, params) for scope in scopes},
        "ties": len(state.ties),
        "strong_ties": state.strong_ties(at, params),
        "top_ties": [
            {"partner": partner, "strength": strength}
            for partner, strength in state.top_ties(at, 10, params)
        ],
    }


def register(pipeline: Pipeline) -> None:
    app = pipeline.app
    guard = token_required(pipeline.settings.api_token)
    optouts = pipeline.optouts

    def visible(*people: str) -> bool:
        return not any(optouts.is_opted_out(person) for person in people)

    async def routed(table: Any, key: bytes, view: web.View, request: web.Request) -> Any:
        """The owner's answer when another worker holds the key; None when this one does."""
        try:
            return await app.router.route_req(table.name, key, view.web, request)
        except SameNode:
            return None

    def not_found(view: web.View, what: str) -> web.Response:
        return json_response(view, {"error": f"{what} not found", "hint": HINT}, status=404)

    @app.page("/api/people/top")
    @guard
    async def top_people(view: web.View, request: web.Request) -> web.Response:
        try:
            at = _read_at(pipeline, request)
            limit = _limit(request)
            measure = _rank(request)
        except BadQuery as exc:
            return json_response(view, {"error": str(exc)}, status=400)
        topic = request.query.get("topic") or None
        states = {
            key.decode(): state
            for key, state in registered(pipeline.people, "the people table").items()
            if visible(key.decode())
        }
        ranked = rank_people(states, at, topic, limit, pipeline.tie_params, measure)
        return json_response(
            view,
            {
                "at": at,
                "topic": topic,
                "rank": measure,
                "people": [
                    {**person_view(pipeline, person, states[person], at), "score": score}
                    for person, score in ranked
                ],
            },
        )

    @app.page("/api/people/{person_id}")
    @guard
    async def person(view: web.View, request: web.Request, person_id: str) -> web.Response:
        try:
            at = _read_at(pipeline, request)
        except BadQuery as exc:
            return json_response(view, {"error": str(exc)}, status=400)
        person_id = nfc(person_id)
        key = person_id.encode()
        elsewhere = await routed(
            registered(pipeline.people, "the people table"), key, view, request
        )
        if elsewhere is not None:
            return elsewhere
        state = registered(pipeline.people, "the people table").get(key)
        if state is None or not visible(person_id):
            return not_found(view, f"person {person_id!r}")
        return json_response(view, person_view(pipeline, person_id, state, at))

    @app.page("/api/clusters")
    @guard
    async def cluster_list(view: web.View, request: web.Request) -> web.Response:
        stage = registered(pipeline.cluster_stage, "the cluster owner")
        if not stage.owns_graph():
            return json_response(view, {"error": OTHER_WORKER}, status=503)
        return json_response(view, {"clusters": stage.summaries()})

    @app.page("/api/clusters/{cluster_id}")
    @guard
    async def cluster(view: web.View, request: web.Request, cluster_id: str) -> web.Response:
        stage = registered(pipeline.cluster_stage, "the cluster owner")
        if not stage.owns_graph():
            return json_response(view, {"error": OTHER_WORKER}, status=503)
        detail = stage.detail(cluster_id)
        if detail is None:
            return not_found(view, f"cluster {cluster_id!r}")
        return json_response(view, detail)

    @app.page("/api/explain/person/{person_id}")
    @guard
    async def explain_a_person(
        view: web.View, request: web.Request, person_id: str
    ) -> web.Response:
        """Why this person's critic alert fired or stayed silent: each gate and its numbers."""
        try:
            at = _read_at(pipeline, request)
        except BadQuery as exc:
            return json_response(view, {"error": str(exc)}, status=400)
        person_id = nfc(person_id)
        people = registered(pipeline.people, "the people table")
        elsewhere = await routed(people, person_id.encode(), view, request)
        if elsewhere is not None:
            return elsewhere
        if not visible(person_id):
            return not_found(view, f"person {person_id!r}")
        state = people.get(person_id.encode())
        params = signal_params(pipeline.settings)
        answer = explain_person(person_id, state, at, params, pipeline.brand_accounts)
        return json_response(view, answer)

    @app.page("/api/explain/brand/{brand}")
    @guard
    async def explain_a_brand(view: web.View, request: web.Request, brand: str) -> web.Response:
        """Why this brand's moment of truth fired or stayed silent, detector by detector."""
        try:
            at = _read_at(pipeline, request)
        except BadQuery as exc:
            return json_response(view, {"error": str(exc)}, status=400)
        bursts = registered(pipeline.bursts, "the bursts table")
        key = brand.strip().lower().encode()
        elsewhere = await routed(bursts, key, view, request)
        if elsewhere is not None:
            return elsewhere
        params = signal_params(pipeline.settings).burst
        return json_response(view, explain_brand(key.decode(), bursts.get(key), at, params))

    @app.page("/api/brand-accounts")
    @guard
    async def brand_accounts(view: web.View, request: web.Request) -> web.Response:
        """Configured, source-marked and suspected brand accounts of this worker's people."""
        people = registered(pipeline.people, "the people table")
        desks = (
            (key.decode(), desk_of(state.critic))
            for key, state in people.items()
            if state.critic and visible(key.decode())
        )
        return json_response(view, review(desks, pipeline.brand_accounts))

    @app.page("/api/dyads/{a}/{b}")
    @guard
    async def dyad(view: web.View, request: web.Request, a: str, b: str) -> web.Response:
        try:
            at = _read_at(pipeline, request)
        except BadQuery as exc:
            return json_response(view, {"error": str(exc)}, status=400)
        a, b = nfc(a), nfc(b)
        key = dyad_key(a, b).encode()
        elsewhere = await routed(registered(pipeline.dyads, "the dyads table"), key, view, request)
        if elsewhere is not None:
            return elsewhere
        state = registered(pipeline.dyads, "the dyads table").get(key)
        if state is None or not visible(a, b):
            return not_found(view, f"dyad ({a!r}, {b!r})")
        pair = split_dyad_key(key.decode())
        return json_response(view, ties.snapshot(state, pair, at, pipeline.tie_params))


OTHER_WORKER = (
    "this worker does not hold the strong-tie graph; ask the worker assigned the "
    "cluster-owner topic's partition"
)
HINT = (
    "ids are exact and case-sensitive (Unicode-normalised to NFC); a person who opted out, or "
    "who has no ties yet, is not found"
)


def nfc(person_id: str) -> str:
    """Ingest stores ids in NFC, so a lookup by another spelling finds the same person."""
    return unicodedata.normalize("NFC", person_id)
