"""Plain VADER vs VADER + domain lexicon on the real Sanders tweets in ../shared/data."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from service.evaluation.sentiment import (
    FAILURE_SENTENCES,
    main_sentiment_eval,
    print_sentiment_report,
)

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SANDERS = DATA / "sanders_twitter_corpus" / "full-corpus.csv"

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def result() -> dict:
    if not SANDERS.is_file():
        pytest.skip(
            f"{SANDERS} not found: the real data sets live in ../shared/data beside the repo"
        )
    return main_sentiment_eval(SANDERS, failure_path=FAILURE_SENTENCES, timing_runs=0)


def _line(name: str, metrics: dict) -> str:
    per_class = " ".join(
        f"{c}=P{s['precision']:.3f}/R{s['recall']:.3f}/F{s['f1']:.3f}"
        for c, s in metrics["per_class"].items()
    )
    summary = f"accuracy {metrics['accuracy']:.4f} macro-F1 {metrics['macro_f1']:.4f}"
    return f"  {name:8} {summary}  {per_class}"


def test_sanders_counts_match_the_readme(result: dict) -> None:
    sanders = result["sanders"]
    # README: neutral 2,333, irrelevant 1,689, negative 572, positive 519.
    assert sanders["excluded_irrelevant"] == 1689
    assert sanders["n"] == 2333 + 572 + 519
    support = {c: s["support"] for c, s in sanders["scorers"]["vader"]["per_class"].items()}
    assert support == {"positive": 519, "neutral": 2333, "negative": 572}


def test_domain_scorer_is_not_worse_than_vader_on_sanders(result: dict) -> None:
    scorers = result["sanders"]["scorers"]
    vader, lexicon = scorers["vader"], scorers["lexicon"]
    print(f"\nSanders ({result['sanders']['n']} tweets, irrelevant left out):")
    print(_line("vader", vader))
    print(_line("lexicon", lexicon))
    for name, metrics in scorers.items():
        print(f"  {name} confusion (gold -> predicted): {metrics['confusion']}")
    assert lexicon["macro_f1"] >= vader["macro_f1"] - 0.01


def test_domain_scorer_beats_vader_on_the_failure_sentences(result: dict) -> None:
    section = result["failure_sentences"]
    assert section is not None, "tests/core/fixtures/failure_sentences.jsonl is missing"
    vader, lexicon = section["scorers"]["vader"], section["scorers"]["lexicon"]
    print(f"\nHand-labelled failure sentences ({section['n']}):")
    print(_line("vader", vader))
    print(_line("lexicon", lexicon))
    assert lexicon["accuracy"] > vader["accuracy"]


def test_report_prints_every_table(result: dict) -> None:
    buffer = StringIO()
    print_sentiment_report(result, Console(file=buffer, width=120))
    text = buffer.getvalue()
    assert "Sanders tweets: 3424 texts" in text
    assert "Failure sentences" in text
    assert text.count("macro-F1") == 4
