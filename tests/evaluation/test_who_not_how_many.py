"""Who, not how many, on the demo: the micro-influencer whose circle talks back leads on
influence; the celebrity mentioned by many and answering none leads on reach."""

from __future__ import annotations

from service.demo.scenario import build_scenario
from tests.evaluation.test_alert_replay import replay as replay_of


def test_the_micro_influencer_outranks_the_celebrity_on_influence_and_not_on_reach() -> None:
    scenario = build_scenario()
    run = replay_of(scenario)
    at = run.last_event_time
    assert at is not None
    micro, celebrity = run.people[scenario.micro], run.people[scenario.celebrity]
    assert micro.influence(at) > celebrity.influence(at) == 0.0
    assert celebrity.reach(at) > micro.reach(at)
    assert micro.relevance(at, "cycling") == 1.0, "all of mia's influence is about cycling"
