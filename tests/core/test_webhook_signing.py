"""Webhook bodies, signatures, backoff and consent: what a receiver can rely on."""

from __future__ import annotations

import random

import orjson
from hypothesis import given
from hypothesis import strategies as st

from service.core import webhook

T = 1_795_000_000


@given(payload=st.binary(max_size=2000), secret=st.text(min_size=1, max_size=40))
def test_a_receiver_verifies_what_was_signed_and_nothing_else(payload: bytes, secret: str) -> None:
    header = webhook.signature(payload, secret, T)
    assert webhook.verify(payload, header, secret, T + 10)
    assert not webhook.verify(payload + b"x", header, secret, T + 10), "a changed body"
    assert not webhook.verify(payload, header, secret + "x", T + 10), "another secret"
    assert not webhook.verify(payload, header, secret, T + webhook.TOLERANCE_S + 1), "a replay"


def test_a_malformed_header_is_refused() -> None:
    for header in ("", "t=abc,v1=00", "v1=00", "nonsense"):
        assert not webhook.verify(b"{}", header, "k", T)


@given(attempt=st.integers(1, 100), seed=st.integers(0, 2**32))
def test_backoff_doubles_to_a_minute_with_bounded_jitter(attempt: int, seed: int) -> None:
    wait = webhook.backoff_s(attempt, random.Random(seed))
    base = min(webhook.MAX_BACKOFF_S, 2.0 ** (attempt - 1))
    assert base <= wait <= base * 1.25


def test_slack_text_rides_along_with_the_record() -> None:
    record = {"kind": "moment_of_truth", "state": "open", "severity": "critical",
              "summary": "Complaints about acme are running at 20x."}  # fmt: skip
    sent = orjson.loads(webhook.body(record, slack=True))
    assert sent["text"] == ":rotating_light: *OPEN* moment_of_truth: " + record["summary"]
    assert orjson.loads(webhook.body(record)) == record


def test_opted_out_people_are_left_out_and_alerts_about_them_not_sent() -> None:
    gone = {"k2"}
    record = {
        "subject": {"type": "brand", "id": "acme", "topic": None},
        "evidence": {"people": [{"id": "k1"}, {"id": "k2"}],
                     "ties": [{"a": "k1", "b": "k2", "strength": 0.5}],
                     "influential_critics": [{"id": "k2"}]},
    }  # fmt: skip
    shown = webhook.without_opted_out(record, gone.__contains__)
    assert shown is not None
    assert shown["evidence"] == {"people": [{"id": "k1"}], "ties": [], "influential_critics": []}
    about = {**record, "subject": {"type": "person", "id": "k2", "topic": None}}
    assert webhook.without_opted_out(about, gone.__contains__) is None
