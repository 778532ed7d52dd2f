"""Failure categories from text, and the cache in front of the classifier."""

from __future__ import annotations

from service.core.failure import FailureClassifier, classifier_for, load_taxonomy


def test_a_cached_classification_equals_the_uncached_one() -> None:
    classifier = FailureClassifier(load_taxonomy(), cache_size=8)
    texts = [
        "total outage, my router is down and no internet since 10am",
        "charged twice and still no refund",
        "so happy with how this turned out",
        "",
    ]
    for text in texts + texts:  # the second round comes from the cache
        assert classifier.classify(text) == classifier.classify_uncached(text)
    assert classifier.classify(texts[0]), "the taxonomy must match something here"
    assert classifier.cache.cache_info().hits >= len(texts)


def test_the_classification_cache_is_bounded() -> None:
    classifier = FailureClassifier(load_taxonomy(), cache_size=16)
    for n in range(100):
        classifier.classify(f"outage number {n}")
    info = classifier.cache.cache_info()
    assert info.maxsize == 16 and info.currsize == 16


def test_the_shared_classifier_is_built_once() -> None:
    assert classifier_for() is classifier_for()
