"""`closeknit demo --once` end to end on the real broker, as `make demo ONCE=1` runs it."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from service.config import Settings
from service.demo.scenario import build_scenario
from tests.integration.harness import cli_env

pytestmark = pytest.mark.integration


def test_demo_once_drains_the_scenario_and_prints_a_true_summary(
    isolated_settings: Settings,
) -> None:
    settings = isolated_settings
    env = cli_env(settings, COLUMNS="200")  # on the session's broker
    done = subprocess.run(
        [sys.executable, "-m", "service", "demo", "--once"],
        env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    out = done.stdout
    assert done.returncode == 0, done.stderr[-2000:] + out[-2000:]

    scenario = build_scenario()
    for reason, planted in scenario.expected_dead_letters.items():
        assert re.search(rf"dead letters: {reason}\s*│\s*{planted}\s*│ planted {planted}", out)
    assert re.search(r"alerts: influencer_turned_negative\s*│\s*\d+\s*│ open", out)
    assert re.search(r"alerts: moment_of_truth\s*│\s*\d+\s*│ open", out)
    assert re.search(r"alerts: moment_of_truth\s*│\s*\d+\s*│ resolved", out)
    assert re.search(rf"OPEN\s+influencer_turned_negative .* person {scenario.critic}\b", out)
    # One page per planted story, nothing else (issue: alerts an on-call team can trust).
    pages = dict(re.findall(r"pages: (\w+)\s*│\s*(\d+)\s*│", out))
    assert pages == {"emerging_cluster": "1", "influencer_turned_negative": "1",
                     "moment_of_truth": "1"}, pages  # fmt: skip
    assert not re.search(r"dead letters: too_late", out), "paced: no input refused as late"
    # The planted tribe forms: an emerging-cluster alert, and the API lists its members.
    assert re.search(r"OPEN\s+emerging_cluster .* cluster c-\d+", out)
    rows = re.findall(r"│ cluster (c-\d+)\s+│\s+([\d.]+) │ 8 people, \w+: (.*)│", out)
    listed = [set(members.replace(",", " ").split()) for _, _, members in rows]
    assert set(scenario.tribe) in listed, "the tribe's row in the cluster table"
    # The relationship API's answers: the critic leads, the planted heavy ties are strong.
    assert re.search(rf"│ {scenario.critic}\s+│\s+[\d.]+ │ \d+ strong ties", out)
    for a, b in scenario.strongest_pairs:
        strength = re.search(rf"│ {a} ↔ {b}\s+│\s+([\d.]+) │", out)
        assert strength and float(strength.group(1)) >= 0.6, f"{a}-{b} is a strong tie"
