"""Moment-of-truth agent: complaints keyed by brand or product in; burst signals out.

Complaints (posts that speak of a product failure and are negative) arrive from the people
agent with the complainer's influence and strongest ties, so the alert can say which
complainers are influential and which of them know each other: a burst that is one tight
group reads differently from a thousand strangers. Complaints come from many partitions, out
of event-time order, so they are only counted as they arrive; a timer ticks every held brand
forward to the people stage's low watermark (`Pipeline.low_watermark`), which closes minutes,
fires and resolves bursts, also after the complaints stop.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import orjson

from service.core import burst
from service.core.alerts import burst_signal
from service.shell.alerting import send_signal
from service.shell.parking import park_after_error

if TYPE_CHECKING:
    from faust.types import StreamT

    from service.shell.app import Pipeline

RECENT_COMPLAINTS = 50
TICK_INTERVAL_S = 2.0


def evidence(recent: list[dict[str, Any]], min_influence: float) -> dict[str, Any]:
    """Who is complaining, how influential they are, and which of them are tied."""
    complainers: dict[str, float] = {}
    for c in recent:
        complainers[c["person"]] = max(complainers.get(c["person"], 0.0), c["influence"])
    ties = []
    for c in recent:
        for partner, strength in c["partners"]:
            if partner in complainers and c["person"] < partner:
                ties.append({"a": c["person"], "b": partner, "strength": strength})
    unique_ties = list({(t["a"], t["b"]): t for t in ties}.values())
    connected = {t["a"] for t in unique_ties} | {t["b"] for t in unique_ties}
    ranked = sorted(complainers.items(), key=lambda item: (-item[1], item[0]))
    categories = Counter(cat for c in recent for cat in c["failure"])
    return {
        "people": [{"id": p, "role": "complainer", "influence": i} for p, i in ranked[:10]],
        "ties": sorted(unique_ties, key=lambda t: -t["strength"])[:20],
        "messages": [
            {
                "event_id": c["event_id"],
                "event_time": c["t"],
                "excerpt": c["excerpt"],
                "sentiment": c["s"],
            }
            for c in recent[:5]
        ],
        "complainers": len(complainers),
        "influential_complainers": sum(1 for i in complainers.values() if i >= min_influence),
        "connected_complainers": len(connected),
        "categories": dict(sorted(categories.items())),
    }


def register(pipeline: Pipeline) -> None:
    app = pipeline.app
    table = app.Table("bursts", key_type=bytes, partitions=pipeline.settings.partitions)
    complaints = pipeline.topics["complaints"]
    min_influence = pipeline.settings.critic_min_influence

    async def raise_signals(brand: str, row: dict[str, Any], signals: Any) -> None:
        for signal in signals:
            extra = evidence(row["r"], min_influence)
            await send_signal(pipeline, burst_signal(signal, brand, extra=extra))

    @app.agent(complaints, name="closeknit.bursts")
    async def bursts(stream: StreamT) -> None:
        async for event in stream.events():
            msg = event.message
            key: bytes = msg.key
            try:
                data = orjson.loads(msg.value)
                row = table.get(key) or {"b": None, "r": []}
                state = burst.from_dict(row["b"]) if row["b"] else burst.BurstState()
                if data.get("op") == "tick":
                    signals = burst.advance(state, float(data["t"]))
                else:
                    # Complaints from many people partitions arrive out of event-time order,
                    # so minutes close only on ticks carrying the low watermark.
                    signals = burst.add(state, float(data["t"]), close=False).signals
                    row["r"] = ([data] + row["r"])[:RECENT_COMPLAINTS]
                row["b"] = burst.to_dict(state)
                table[key] = row
                await raise_signals(key.decode(), row, signals)
            except Exception as exc:
                await park_after_error(pipeline, msg, "bursts", exc)

    @app.timer(TICK_INTERVAL_S)
    async def tick() -> None:
        watermark = pipeline.low_watermark()
        if watermark is None:
            return
        value = orjson.dumps({"op": "tick", "t": watermark})
        for key in list(table.keys()):
            await complaints.send(key=key, value=value)
