"""Sentiment scoring: upstream scores win, VADER plus the domain lexicon for failure language."""

from __future__ import annotations

import json
import math
import statistics
import time
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.core.interaction import Interaction
from service.core.sentiment import (
    DomainLexicon,
    LexiconError,
    LexiconScorer,
    SentimentScorer,
    VaderScorer,
    default_scorer,
    effective_sentiment,
    is_negative,
    is_positive,
    label,
    phrase_words,
)
from service.evaluation.sentiment import classification_metrics, evaluate, load_jsonl

FIXTURES = Path(__file__).resolve().parent / "fixtures"
LEXICON = default_scorer()
VADER = VaderScorer()


def _interaction(text: str, sentiment: float | None) -> Interaction:
    return Interaction(
        event_id="e1",
        kind="mention",
        actor="a",
        targets=("b",),
        event_time=1_700_000_000.0,
        text=text,
        sentiment=sentiment,
    )


class _Fixed:
    def __init__(self, value: float) -> None:
        self.value = value
        self.calls = 0

    def score(self, text: str) -> float:
        self.calls += 1
        return self.value


# -- effective_sentiment ---------------------------------------------------------------------


def test_upstream_score_wins_over_the_text() -> None:
    scorer = _Fixed(-0.9)
    assert effective_sentiment("I love it", 0.4, scorer) == 0.4
    assert effective_sentiment(_interaction("awful outage", 0.3), None, scorer) == 0.3
    assert scorer.calls == 0


def test_explicit_upstream_beats_the_interactions_own_score() -> None:
    assert effective_sentiment(_interaction("fine", 0.3), -0.2, _Fixed(0.0)) == -0.2


def test_without_upstream_the_text_is_scored() -> None:
    scorer = _Fixed(-0.7)
    assert effective_sentiment(_interaction("whatever", None), None, scorer) == -0.7
    assert effective_sentiment("whatever", None, scorer) == -0.7
    assert scorer.calls == 2


def test_default_scorer_is_the_lexicon_scorer() -> None:
    assert effective_sentiment("my flight was cancelled and I'm stranded") < -0.05
    assert default_scorer() is default_scorer()  # loaded once


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_upstream_is_ignored(bad: float) -> None:
    assert effective_sentiment("text", bad, _Fixed(0.25)) == 0.25


def test_upstream_is_clamped_to_the_unit_range() -> None:
    assert effective_sentiment("x", 3.0, _Fixed(0.0)) == 1.0
    assert effective_sentiment("x", -3.0, _Fixed(0.0)) == -1.0


def test_scorers_satisfy_the_protocol() -> None:
    assert isinstance(LEXICON, SentimentScorer)
    assert isinstance(VADER, SentimentScorer)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_scores_stay_in_range_for_arbitrary_text(text: str) -> None:
    for scorer in (LEXICON, VADER):
        value = scorer.score(text)
        assert -1.0 <= value <= 1.0
    assert -1.0 <= effective_sentiment(text) <= 1.0


_words = st.sampled_from(
    ["is", "down", "not", "working", "no", "refund", "to", "the", "NOT", "WORKING", "wi-fi",
     "doesn't", "work", "i", "recall", "!!", "lost", "luggage", ",", "on", "time", "great"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(_words, max_size=12), st.floats(-1, 1))
def test_phrase_soup_stays_in_range_and_upstream_still_wins(words: list[str], up: float) -> None:
    text = " ".join(words)
    assert -1.0 <= LEXICON.score(text) <= 1.0
    assert effective_sentiment(text, up) == up
    # The rewrite keeps every token that is not part of a phrase.
    assert len(LEXICON.rewrite(text).split()) <= len(text.split())


# -- the domain lexicon ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "my flight was cancelled and I'm stranded",
        "the recall notice arrived",
        "no refund",
        "the site is down again",
        "my phone has no signal",
        "charged twice for one order",
        "the airline lost luggage for the whole flight",
        "app keeps crashing since the update",
        "the charger stopped working",
        "they had a data breach",
        "been on hold for two hours",
        "the car seat was recalled",
        "the stroller is unsafe",
        "overbooked flight, nobody at the desk",
        "package never arrived",
        "three days without internet",
    ],
)
def test_failure_language_is_negative(text: str) -> None:
    assert is_negative(LEXICON.score(text)), (text, LEXICON.rewrite(text))


@pytest.mark.parametrize(
    "text",
    [
        "my flight was cancelled and I'm stranded",
        "no refund",
        "lost luggage",
        "the new firmware update bricked my router",
    ],
)
def test_domain_terms_strengthen_negativity_over_plain_vader(text: str) -> None:
    assert LEXICON.score(text) < VADER.score(text) - 0.1


@pytest.mark.parametrize(
    "text",
    [
        "love the new update",
        "great service, flight was on time",
        "thanks, it is working again",
        "refund came through, thank you so much",
        "no issues at all with my order",
    ],
)
def test_positives_stay_positive(text: str) -> None:
    assert is_positive(LEXICON.score(text)), (text, LEXICON.rewrite(text))


@pytest.mark.parametrize(
    "text",
    [
        "not broken",
        "the screen is not broken",
        "flight was not delayed",
        "no delays today",
        "never cancelled on me",
        "no outage reported",
    ],
)
def test_adjacent_negation_still_works(text: str) -> None:
    assert not is_negative(LEXICON.score(text)), (text, LEXICON.rewrite(text))


@pytest.mark.parametrize(
    "text",
    [
        "I couldn't send my refund info",  # negator three words back: about something else
        "nope still down",
        "I can't even check the outages page",
    ],
)
def test_distant_negators_do_not_flip_failure_terms(text: str) -> None:
    assert is_negative(LEXICON.score(text)), (text, LEXICON.rewrite(text))


@pytest.mark.parametrize(
    "text",
    [
        "we are down to the last two options",
        "I'm down for that",
        "the dinner went down well",
        "I recall that meeting",
        "she recalled the hotel's name",
        "taking a crash course in photography",
        "slow cooker chili tonight",
    ],
)
def test_ambiguous_words_are_not_failures_in_their_ordinary_use(text: str) -> None:
    assert not is_negative(LEXICON.score(text)), (text, LEXICON.rewrite(text))


def test_bare_down_is_not_in_the_lexicon() -> None:
    assert LEXICON.score("down") == 0.0
    assert LEXICON.score("down the road") == 0.0


@pytest.mark.parametrize(
    "text", ["it doesn't work", "it doesn\u2019t work", "it doesnt work", "it DOESN'T WORK"]
)
def test_apostrophe_and_case_variants_match(text: str) -> None:
    assert "xdomphr_doesnt_work" in LEXICON.rewrite(text).lower()


def test_all_caps_phrase_keeps_vader_emphasis() -> None:
    assert LEXICON.score("it is NOT WORKING today") < LEXICON.score("it is not working today")


def test_hyphens_match_phrase_spaces() -> None:
    assert "xdomphr_no_wi_fi" in LEXICON.rewrite("no wi-fi again")
    assert "xdomphr_double_charged" in LEXICON.rewrite("double-charged!")


def test_phrases_do_not_span_punctuation() -> None:
    assert LEXICON.rewrite("it is, down the hall") == "it is, down the hall"
    assert LEXICON.rewrite("(not working)") == "(xdomphr_not_working)"


def test_exclamations_survive_the_rewrite() -> None:
    assert LEXICON.rewrite("site is down!!!").endswith("!!!")
    assert LEXICON.score("site is down!!!") < LEXICON.score("site is down")


def test_text_without_phrases_is_returned_unchanged() -> None:
    text = "Just   a\nperfectly ordinary tweet"
    assert LEXICON.rewrite(text) is text


def test_handles_are_names_not_words() -> None:
    # VADER alone reads "@united" as "united" (+1.8): a neutral question turns positive.
    question = "@united do you fly to Boise?"
    assert is_positive(VADER.score(question))
    assert label(LEXICON.score(question)) == "neutral"
    assert LEXICON.rewrite("@united!! thanks") == "!! thanks"
    assert LEXICON.rewrite("mail me@example.com") == "mail me@example.com"
    assert LexiconScorer(drop_handles=False).rewrite("@united hi") == "@united hi"


def test_plain_vader_is_not_changed_by_the_lexicon_scorer() -> None:
    LexiconScorer()
    assert VADER.score("outage") == 0.0
    assert LEXICON.score("outage") < 0


def test_long_text_is_cut_and_stays_fast() -> None:
    text = "my flight was cancelled and the app is down again, no refund. " * 2000
    started = time.perf_counter()
    assert is_negative(LEXICON.score(text))
    assert time.perf_counter() - started < 2.0


def test_tweet_length_text_is_fast() -> None:
    texts = [
        f"@airline flight {n} delayed again, been on hold for an hour and no refund yet #fail"
        for n in range(300)
    ]
    spent = []
    for text in texts:
        started = time.perf_counter_ns()
        LEXICON.score(text)
        spent.append(time.perf_counter_ns() - started)
    # Loose bound so a busy CI box passes; the report measures ~60-80 µs.
    assert statistics.median(spent) / 1000 < 1000


# -- the lexicon file ------------------------------------------------------------------------


def test_packaged_lexicon_is_well_formed() -> None:
    raw = json.loads(
        resources.files("service.core").joinpath("data", "domain_lexicon.json").read_text()
    )
    assert "scale" in " ".join(raw["_comment"]).lower()
    lexicon = DomainLexicon.load()
    assert lexicon is DomainLexicon.load()
    values = [*lexicon.words.values(), *lexicon.phrases.values()]
    assert all(-4 <= v <= 4 for v in values)
    assert all(len(phrase_words(p)) >= 2 for p in lexicon.phrases)
    for term in ("outage", "recalled", "canceled", "stranded", "refund", "overbooked", "unsafe"):
        assert term in lexicon.words
    for phrase in ("lost luggage", "no signal", "not working", "charged twice", "data breach"):
        assert phrase in lexicon.phrases


@pytest.mark.parametrize(
    "data",
    [
        {"words": {"outage": 9}},
        {"words": {"outage": "bad"}},
        {"words": {"two words": -1}},
        {"phrases": {"single": -1}},
        {"phrases": {"no signal": -1}, "neutral_phrases": ["no  signal"]},
        {"words": {"outage": True}},
    ],
)
def test_malformed_lexicons_are_rejected(data: dict[str, object]) -> None:
    with pytest.raises(LexiconError):
        DomainLexicon.from_dict(data)


def test_a_custom_lexicon_can_be_supplied() -> None:
    scorer = LexiconScorer(DomainLexicon.from_dict({"phrases": {"blue moon": 2.5}}))
    assert is_positive(scorer.score("once in a blue moon"))
    assert scorer.score("outage") == 0.0


# -- thresholds and metrics ------------------------------------------------------------------


def test_vader_standard_thresholds() -> None:
    assert label(0.05) == "positive" and label(-0.05) == "negative" and label(0.0) == "neutral"
    assert is_negative(-0.05) and not is_negative(-0.049)
    assert is_positive(0.05) and not is_positive(0.049)


def test_classification_metrics_by_hand() -> None:
    gold = ["positive", "positive", "negative", "neutral", "negative"]
    pred = ["positive", "negative", "negative", "neutral", "neutral"]
    m = classification_metrics(gold, pred)
    assert m.accuracy == pytest.approx(3 / 5)
    assert m.per_class["positive"].precision == 1.0
    assert m.per_class["positive"].recall == 0.5
    assert m.per_class["negative"].f1 == pytest.approx(0.5)
    assert m.per_class["neutral"].f1 == pytest.approx(2 / 3)
    assert m.macro_f1 == pytest.approx((2 / 3 + 0.5 + 2 / 3) / 3)
    assert m.confusion["negative"]["neutral"] == 1


def test_failure_sentences_fixture_is_balanced_and_the_domain_scorer_wins() -> None:
    examples = load_jsonl(FIXTURES / "failure_sentences.jsonl")
    counts = {name: sum(e.label == name for e in examples) for name in ("positive", "negative")}
    assert 30 <= len(examples) <= 60
    assert min(counts.values()) >= 12
    assert evaluate(LEXICON, examples).accuracy > evaluate(VADER, examples).accuracy


# -- the score cache -------------------------------------------------------------------------


def test_a_cached_score_equals_the_uncached_one() -> None:
    scorer = LexiconScorer(cache_size=8)
    texts = [
        "@united flight delayed again, no refund #fail",
        "so happy with how this turned out",
        "NOT WORKING since 10am",
        "",
        "x" * 3000,
    ]
    for text in texts + texts:  # the second round comes from the cache
        assert scorer.score(text) == scorer.score_uncached(text[: scorer.max_chars])
        assert scorer.score(text) == LexiconScorer(cache_size=0).score(text)
    assert scorer.cache.cache_info().hits >= len(texts)


def test_the_score_cache_is_bounded() -> None:
    scorer = LexiconScorer(cache_size=16)
    for n in range(100):
        scorer.score(f"outage number {n}")
    info = scorer.cache.cache_info()
    assert info.maxsize == 16 and info.currsize == 16
