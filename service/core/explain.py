"""Why an alert fired or stayed silent: each gate of a detector, with the numbers behind it.

`explain_person` walks the critic detector's gates in the order a post meets them
(service.core.signals, service.core.change): a brand account never pages; the warm-up (the
person's own baseline needs `warmup` posts); the drop below that baseline (the CUSUM against
its bar); sounding negative (the short-term mean at or below -0.05); and the relationship-based
influence gate (`CLOSEKNIT_CRITIC_MIN_INFLUENCE`). `explain_brand` does the same for each of
a brand's moment-of-truth detectors (overall and per failure category, service.core.burst):
warm-up, baseline against the prior, and both CUSUMs against the bar of the moment.

Each gate is `{"gate", "passed", "value", "needed", "why"}`; `silent_because` names the first
that holds the alert back, and `hint` what would change it.
"""

from __future__ import annotations

from typing import Any

from service.core import burst, change
from service.core.brand_accounts import BrandAccounts
from service.core.influence import PersonState
from service.core.signals import (
    NEGATIVE_LEVEL,
    BurstRow,
    CriticRow,
    SignalParams,
    negative_topic,
)

__all__ = ["explain_brand", "explain_person"]


def _gate(name: str, passed: bool, value: Any, needed: Any, why: str) -> dict[str, Any]:
    return {"gate": name, "passed": passed, "value": value, "needed": needed, "why": why}


def _verdict(gates: list[dict[str, Any]], hints: dict[str, str]) -> dict[str, Any]:
    blocking = next((g for g in gates if not g["passed"]), None)
    if blocking is None:
        return {"silent_because": None, "hint": "every gate is open: an alert is raised"}
    return {"silent_because": blocking["gate"], "hint": hints.get(blocking["gate"], "")}


def explain_person(
    person: str,
    state: PersonState | None,
    now: float,
    params: SignalParams,
    accounts: BrandAccounts,
) -> dict[str, Any]:
    """The critic detector's gates for one person, valued at event time `now`."""
    row = CriticRow.from_dict(state.critic) if state is not None and state.critic else CriticRow()
    cp = params.change
    detector = row.change or change.ChangeState()
    gates = []
    configured = accounts.brand_of(person)
    brand_account = configured is not None or row.desk.marked or row.desk.suspected(person)
    why = (
        f"configured as an account of {configured}" if configured is not None
        else "the source marks its posts as the company's (inbound: false)" if row.desk.marked
        else f"replies like a support desk ({row.desk.replies} replies of {row.desk.posts} posts"
        f" to {len(row.desk.replied_to)}+ people)" if brand_account
        else "a person"
    )  # fmt: skip
    gates.append(_gate("not_a_brand_account", not brand_account, brand_account, False, why))
    gates.append(_gate(
        "warm_up", detector.n >= cp.warmup, detector.n, cp.warmup,
        "posts (own, and replies drawn) that taught the detector this person's usual sentiment",
    ))  # fmt: skip
    sd = detector.sd(cp)
    gates.append(_gate(
        "drop_below_baseline", detector.alarm or detector.cusum >= cp.h, round(detector.cusum, 3),
        cp.h,
        f"lower CUSUM of the drop below the baseline {detector.mean:+.2f} (sd {sd:.2f}), in sd",
    ))  # fmt: skip
    gates.append(_gate(
        "sounds_negative", detector.short <= NEGATIVE_LEVEL, round(detector.short, 3),
        NEGATIVE_LEVEL, "recent sentiment (short-term mean) at or below VADER's negative line",
    ))  # fmt: skip
    topic = row.topic or negative_topic(row.messages)
    overall = state.influence(now, None, params.tie) if state is not None else 0.0
    scoped = state.influence(now, topic, params.tie) if state is not None and topic else 0.0
    influence = max(overall, scoped)
    gates.append(_gate(
        "influence", influence >= params.min_influence, round(influence, 2),
        params.min_influence,
        f"relationship-based influence, overall {overall:.1f}"
        + (f", on {topic} {scoped:.1f}" if topic else ""),
    ))  # fmt: skip
    hints = {
        "not_a_brand_account": "brand accounts never page; if this is a person, take it out of "
        "CLOSEKNIT_BRAND_ACCOUNTS (a support-desk suspect stays silent until it posts otherwise)",
        "warm_up": f"{cp.warmup - detector.n} more posts before a drop can be told from noise",
        "drop_below_baseline": "their recent posts are not far enough below their own usual",
        "sounds_negative": "below their usual but not negative: a fan cooling is not a critic",
        "influence": "lower CLOSEKNIT_CRITIC_MIN_INFLUENCE, or wait: influence grows with "
        "two-way ties",
    }
    return {
        "person": person,
        "at": now,
        "raised": row.on,
        "topic": topic,
        "gates": gates,
        **_verdict(gates, hints),
    }


def explain_brand(
    brand: str, row: dict[str, Any] | None, now: float, params: burst.BurstParams
) -> dict[str, Any]:
    """Each moment-of-truth detector of a brand (overall, then per failure category)."""
    live = BurstRow.from_dict(row) if row else BurstRow()
    detectors = [("all complaints", live.state), *sorted(live.categories.items())]
    out = []
    for name, state in detectors:
        out.append(_explain_burst(name, state, now, params))
    firing = any(d["silent_because"] is None for d in out)
    hint = out[0]["hint"] if not firing else "a detector is open: the brand has an incident"
    if not row:
        hint = ("no complaint about this brand yet: a complaint is a negative post that names a "
                "product failure (service/core/data/failure_taxonomy.json)")  # fmt: skip
    return {
        "brand": brand,
        "at": now,
        "complaints_seen": len(live.recent),
        "detectors": out,
        "silent_because": None if firing else ("surge" if row else "no_complaints"),
        "hint": hint,
    }


def _explain_burst(
    name: str, state: burst.BurstState, now: float, params: burst.BurstParams
) -> dict[str, Any]:
    minute = int(now // burst.MINUTE_S)
    lam0 = burst.expected_rate(state, minute, params)
    warming = state.minutes < params.warmup_minutes
    h = params.h
    if warming:
        h *= 1.0 + params.warm_boost * (1.0 - state.minutes / params.warmup_minutes)
    evidence = max(state.cusum, state.jump)
    gates = [
        _gate(
            "baseline", True, round(lam0 * 60.0, 3), None,
            "complaints an hour expected now (hour of week; the prior "
            f"{params.prior_rate * 60:.1f}/h while little is known)",
        ),
        _gate(
            "warm_up", not warming, state.minutes, params.warmup_minutes,
            "minutes seen; warming up, the bar is higher and the detector looks for a "
            f"{params.warm_ratio:g}x jump, it never mutes",
        ),
        _gate(
            "surge", state.is_open or evidence >= h, round(evidence, 3), round(h, 3),
            f"CUSUM evidence (nats) of a {params.ratio:g}x rise or a {params.jump_ratio:g}x "
            "jump over the baseline",
        ),
    ]  # fmt: skip
    verdict = _verdict(
        [g for g in gates if g["gate"] == "surge"],
        {"surge": "complaints are not above the baseline by enough, for long enough"},
    )
    return {"detector": name, "open": state.is_open, "gates": gates, **verdict}
