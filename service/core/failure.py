"""Which product-failure categories a text speaks of: the taxonomy lives in a data file."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import orjson

RIGHT_QUOTE = "\u2019"  # typographic apostrophe, as phones type it
DEFAULT_TAXONOMY = Path(__file__).with_name("data") / "failure_taxonomy.json"
# Categories kept per classifier, keyed by text: retweets and templated posts repeat texts
# verbatim and classifying is pure. Bounded so new texts cannot grow it without end.
DEFAULT_CACHE_SIZE = 4096


class FailureClassifier:
    """Whole-word phrase matching against a {category: [phrases]} taxonomy, in one regex pass."""

    def __init__(
        self, taxonomy: dict[str, list[str]], cache_size: int = DEFAULT_CACHE_SIZE
    ) -> None:
        self.categories = tuple(sorted(k for k in taxonomy if not k.startswith("_")))
        self._category_of: dict[str, str] = {}
        for category in self.categories:
            for phrase in taxonomy[category]:
                self._category_of[_normalise(phrase)] = category
        # Longest phrases first, so "no refund" wins over "refund" where both would match.
        alternatives = sorted(self._category_of, key=len, reverse=True)
        body = "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in alternatives)
        self._pattern = re.compile(rf"(?<![\w'])(?:{body})(?![\w'])") if body else None
        # An LRU of results by text (C code: a hit is one dict lookup); 0 turns it off.
        self.cache = lru_cache(maxsize=cache_size)(self.classify_uncached)

    def classify(self, text: str) -> tuple[str, ...]:
        """The categories the text matches, sorted; () when none."""
        return self.cache(text)

    def classify_uncached(self, text: str) -> tuple[str, ...]:
        """`classify` computed afresh, without the cache."""
        if not text or self._pattern is None:
            return ()
        found = {
            self._category_of[_normalise(m.group(0))]
            for m in self._pattern.finditer(text.lower().replace(RIGHT_QUOTE, "'"))
        }
        return tuple(sorted(found))


def _normalise(phrase: str) -> str:
    return " ".join(phrase.lower().replace(RIGHT_QUOTE, "'").split())


def load_taxonomy(path: Path | None = None) -> dict[str, list[str]]:
    source = path or DEFAULT_TAXONOMY
    data = orjson.loads(source.read_bytes())
    if not isinstance(data, dict):
        raise ValueError(f"{source}: expected a JSON object of category -> list of phrases")
    taxonomy = {}
    for category, phrases in data.items():
        if category.startswith("_"):
            continue
        if not isinstance(phrases, list) or not all(isinstance(p, str) for p in phrases):
            raise ValueError(f"{source}: category {category!r} must list phrases as strings")
        taxonomy[category] = phrases
    return taxonomy


@lru_cache(maxsize=4)
def classifier_for(path: Path | None = None) -> FailureClassifier:
    """One classifier per taxonomy file (None: the bundled one), built once."""
    return FailureClassifier(load_taxonomy(path))
