"""load_settings: every numeric setting has a range, a broker URL a form, and a bad value
gets a message naming the variable, the value and what was expected."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.config import ConfigError, Settings, load_settings
from service.config_rules import BOUNDS

NUMERIC = [spec for spec in fields(Settings) if str(spec.type).split(" ")[0] in ("int", "float")]


def error(**env: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    return str(caught.value)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"CLOSEKNIT_HALF_LIFE_DAYS": "-3"},
            "CLOSEKNIT_HALF_LIFE_DAYS='-3': expected a number > 0 and <= 3650",
        ),
        (
            {"CLOSEKNIT_PARTITIONS": "0"},
            "CLOSEKNIT_PARTITIONS='0': expected a whole number from 1 to 10000",
        ),
        (
            {"CLOSEKNIT_STRONG_TIE_THRESHOLD": "5"},
            "CLOSEKNIT_STRONG_TIE_THRESHOLD='5': expected a number > 0 and < 1",
        ),
        (
            {"CLOSEKNIT_WEIGHT_REPLY": "nan"},
            "CLOSEKNIT_WEIGHT_REPLY='nan': expected a finite number",
        ),
        (
            {"CLOSEKNIT_MAX_FUTURE_SKEW_S": "inf"},
            "CLOSEKNIT_MAX_FUTURE_SKEW_S='inf': expected a finite number",
        ),
    ],
)
def test_a_value_out_of_range_names_variable_value_and_range(
    env: dict[str, str], message: str
) -> None:
    assert error(**env) == message


def test_every_numeric_setting_has_a_range_its_default_is_in() -> None:
    assert len(NUMERIC) >= 14
    for spec in NUMERIC:
        assert set(spec.metadata) & set(BOUNDS), f"{spec.metadata['env']} has no range"
        if spec.default is not None:
            load_settings({spec.metadata["env"]: str(spec.default)})


@pytest.mark.parametrize("spec", NUMERIC, ids=lambda spec: spec.metadata["env"])
def test_the_bounds_are_inclusive_for_min_max_and_exclusive_for_gt_lt(spec: Any) -> None:
    var, meta = spec.metadata["env"], spec.metadata
    step = 1 if str(spec.type).startswith("int") else 1e-6
    for key, inside, outside in (
        ("min", 0, -step),
        ("max", 0, step),
        ("gt", step, 0),
        ("lt", -step, 0),
    ):
        if key in meta:
            load_settings({var: repr(meta[key] + inside)})
            assert error(**{var: repr(meta[key] + outside)}).startswith(f"{var}=")


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_threshold_is_accepted_exactly_when_it_lies_strictly_between_0_and_1(x: float) -> None:
    env = {"CLOSEKNIT_STRONG_TIE_THRESHOLD": repr(x)}
    if 0 < x < 1:
        assert load_settings(env).strong_tie_threshold == x
    else:
        with pytest.raises(ConfigError):
            load_settings(env)


def test_a_cli_flag_is_named_as_the_flag() -> None:
    with pytest.raises(ConfigError, match=r"^--web-port=0: expected a whole number from 1"):
        load_settings({}, web_port=0)


@pytest.mark.parametrize(
    ("url", "bootstrap"),
    [
        ("kafka://kafka:9092", "kafka:9092"),
        ("kafka:9092", "kafka:9092"),
        ("KAFKA://broker-1.example.com:9093/", "broker-1.example.com:9093"),
        ("kafka://b1:9092,b2:9093", "b1:9092,b2:9093"),
        ("kafka://b1:9092, kafka://b2:9093", "b1:9092,b2:9093"),
        ("[::1]:9092", "[::1]:9092"),
        ("kafka_1:9092", "kafka_1:9092"),
    ],
)
def test_a_broker_url_may_be_kafka_or_bare_host_port_lists(url: str, bootstrap: str) -> None:
    assert load_settings({"CLOSEKNIT_BROKER": url}).bootstrap_servers() == bootstrap


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("nonsense", "'nonsense' has no port"),
        ("http://kafka:9092", "'http://kafka:9092' has the scheme http://, not kafka://"),
        ("kafka://kafka", "'kafka://kafka' has no port"),
        ("kafka:port", "'kafka:port' has the port 'port', not a number from 1 to 65535"),
        ("kafka:0", "'kafka:0' has the port '0', not a number from 1 to 65535"),
        ("kafka:70000", "'kafka:70000' has the port '70000', not a number from 1 to 65535"),
        ("b1:9092,", "an entry is empty"),
        ("b1:9092;b2:9092", "has the port '9092;b2:9092'"),
        ("kafka://b 1:9092", "'kafka://b 1:9092' is not host:port"),
    ],
)
def test_a_broker_url_that_is_not_one_says_what_was_expected(url: str, problem: str) -> None:
    message = error(CLOSEKNIT_BROKER=url)

    assert message.startswith(f"CLOSEKNIT_BROKER={url!r}: expected kafka://host:port or host:port")
    assert problem in message


def test_the_range_words_read_naturally() -> None:
    from service.config_rules import range_words

    assert range_words({"min": 1, "max": 65535}) == "from 1 to 65535"
    assert range_words({"gt": 0.0, "max": 3650.0}) == "> 0 and <= 3650"
    assert range_words({"min": 0.0}) == ">= 0"
    assert range_words({"gt": 0.0, "lt": 1.0}) == "> 0 and < 1"
