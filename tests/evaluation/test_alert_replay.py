"""The demo scenario through the whole core, without a broker: the planted signals are found,
nothing else about the brand fires, and a replay gives the very same alerts, ids included."""

from __future__ import annotations

from datetime import datetime

from service.core.sentiment import is_negative
from service.demo.scenario import BRAND, CRITIC, Scenario, build_scenario
from service.evaluation.alerts import AlertReplay
from service.sources.record import SourceRecord


def replay(scenario: Scenario) -> AlertReplay:
    run = AlertReplay()
    run.run(
        SourceRecord(kind=e.kind, event_id=e.key.decode(), event_time=e.event_time,
                     payload=e.payload)
        for e in scenario.events
    )  # fmt: skip
    run.finish()
    return run


def test_the_planted_burst_opens_within_minutes_grows_and_resolves() -> None:
    scenario = build_scenario()
    records = [r for r in replay(scenario).records if r["kind"] == "moment_of_truth"]
    brand = [r for r in records if r["subject"] == {"type": "brand", "id": BRAND, "topic": None}]
    assert brand[0]["state"] == "open" and brand[-1]["state"] == "resolved"
    assert sum(r["state"] == "open" for r in brand) == 1, "a storm is one alert plus updates"
    opened = brand[0]
    opened_at = datetime.fromisoformat(opened["window"]["end"]).timestamp()
    assert opened_at - scenario.burst_start <= 10 * 60, "detected within 10 minutes"
    evidence = opened["evidence"]
    assert evidence["connected_complainers"] >= 2, "the complainers who know each other"
    assert evidence["messages"], "sample complaints"


def test_the_critic_who_turns_negative_raises_an_alert_with_who_will_hear_it() -> None:
    scenario = build_scenario()
    run = replay(scenario)
    critic = [r for r in run.records if r["subject"]["id"] == CRITIC]
    assert critic and critic[0]["state"] == "open"
    assert critic[0]["kind"] == "influencer_turned_negative"
    people = critic[0]["evidence"]["people"]
    assert people[0]["id"] == CRITIC and people[0]["influence"] >= 10.0
    assert len(people) > 1, "the strongest ties: who will hear it"
    assert any(is_negative(m["sentiment"]) for m in critic[0]["evidence"]["messages"])


def test_low_influence_people_turning_negative_page_no_one() -> None:
    run = replay(build_scenario())
    raised = {r["subject"]["id"] for r in run.records if r["kind"] == "influencer_turned_negative"}
    # The sixty outsiders who only ever complained about the outage have no relationships.
    assert not any(person.startswith("cust") for person in raised)


def test_replaying_the_same_input_twice_gives_identical_alerts() -> None:
    scenario = build_scenario()
    first, second = replay(scenario).records, replay(scenario).records
    assert first and first == second


def test_the_demo_pages_once_for_the_critic_and_once_for_the_outage() -> None:
    run = replay(build_scenario())
    paged = [r for r in run.records if r["state"] == "open" and r["incident_id"] == r["alert_id"]]
    assert [(r["kind"], r["subject"]["id"]) for r in paged] == [
        ("influencer_turned_negative", CRITIC),
        ("moment_of_truth", BRAND),
    ]
    assert run.pages == 2
    outage = [r for r in run.records if r["kind"] == "moment_of_truth"]
    assert {r["subject"]["id"] for r in outage} == {BRAND}, "the router's burst is acme's"
    assert outage[0]["evidence"]["products"]["acme-router"] > 0
    lead = [r for r in outage if r["alert_id"] == paged[1]["alert_id"]]
    assert lead[0]["subject"]["topic"] in (None, "outage"), "overall or the outage opens first"
    critics = lead[-1]["evidence"]["influential_critics"]
    assert len(critics) >= 5 and CRITIC in {c["id"] for c in critics}
