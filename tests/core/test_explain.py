"""`explain`: the gates of the critic and burst detectors, with their numbers, on the demo."""

from __future__ import annotations

from service.core.brand_accounts import BrandAccounts
from service.core.burst import DEFAULT_BURST_PARAMS
from service.core.explain import explain_brand, explain_person
from service.core.influence import PersonState
from service.core.signals import SignalParams
from service.demo.scenario import BRAND, CRITIC, build_scenario
from service.evaluation.alerts import AlertReplay
from tests.evaluation.test_alert_replay import replay as replay_of

PARAMS = SignalParams()


def demo_run() -> AlertReplay:
    return replay_of(build_scenario())


def gates(answer: dict) -> dict[str, dict]:
    return {g["gate"]: g for g in answer["gates"]}


def test_the_planted_critic_passes_every_gate_with_its_numbers() -> None:
    run = demo_run()
    state = run.people[CRITIC]
    state.critic = run.critic_rows[CRITIC].to_dict()
    answer = explain_person(CRITIC, state, run.last_event_time, PARAMS, BrandAccounts())
    named = gates(answer)
    assert list(named) == [
        "not_a_brand_account",
        "warm_up",
        "drop_below_baseline",
        "sounds_negative",
        "influence",
    ]
    assert named["warm_up"]["value"] >= 20 and named["warm_up"]["needed"] == 20
    assert named["influence"]["needed"] == PARAMS.min_influence
    assert named["influence"]["value"] >= PARAMS.min_influence
    assert answer["topic"] == "acme" and answer["raised"]


def test_a_quiet_person_is_held_by_the_first_gate_that_fails_and_told_why() -> None:
    state = PersonState()
    answer = explain_person("newbie", state, 0.0, PARAMS, BrandAccounts())
    assert answer["silent_because"] == "warm_up"
    assert "20 more posts" in answer["hint"]
    desk = explain_person(
        "acmesupport", None, 0.0, PARAMS, BrandAccounts.of({"acme": ["acmesupport"]})
    )
    assert desk["silent_because"] == "not_a_brand_account"


def test_a_brand_lists_each_detector_with_its_baseline_warm_up_and_evidence() -> None:
    run = demo_run()
    row = run.burst_rows[BRAND].to_dict()
    answer = explain_brand(BRAND, row, run.last_event_time, DEFAULT_BURST_PARAMS)
    names = [d["detector"] for d in answer["detectors"]]
    assert names[0] == "all complaints" and "outage" in names
    overall = {g["gate"]: g for g in answer["detectors"][0]["gates"]}
    assert set(overall) == {"baseline", "warm_up", "surge"}
    assert overall["warm_up"]["passed"], "three weeks of complaints: warmed up"
    assert answer["silent_because"] == "surge", "the outage is over: quiet again"
    assert explain_brand("nobody", None, 0.0, DEFAULT_BURST_PARAMS)["silent_because"] == (
        "no_complaints"
    )
