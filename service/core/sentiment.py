"""Sentiment of an interaction's text: the upstream score when sent, else a lexicon score.

`LexiconScorer` is VADER 3.3.2 (Hutto & Gilbert, ICWSM 2014; MIT, lexicon inside the wheel)
plus a domain lexicon for product-failure and customer-service language that VADER lacks
("outage", "stranded", "charged twice", "no signal", "is down"). The domain lexicon is the data
file `data/domain_lexicon.json`, on VADER's -4..+4 valence scale, loaded once per process:

- single words go into the scorer's own copy of VADER's lexicon, so VADER's rules (negation,
  boosters, ALL CAPS, "but", "!") apply to them exactly as to its own words;
- phrases are found by a word trie over VADER's own whitespace tokens and each is rewritten into
  one synthetic token before VADER scores the text, so "no refund" is scored as a phrase rather
  than as VADER's "no" negating "refund", and "is down" counts while a bare "down" does not;
- a negative domain term is negated only by the word right before it ("not delayed"), not by a
  negator two or three words back as VADER would ("couldn't send my refund info");
- @handles are dropped before scoring: VADER reads "@united" as the word "united" (+1.8).

Scores are VADER's `compound` in [-1, 1]; `label` applies VADER's standard thresholds
(>= 0.05 positive, <= -0.05 negative, otherwise neutral).
"""

from __future__ import annotations

import json
import math
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from typing import Any, Literal, Protocol, runtime_checkable

from vaderSentiment.vaderSentiment import (
    C_INCR,
    N_SCALAR,
    SentimentIntensityAnalyzer,
    negated,
    scalar_inc_dec,
)

from service.core.interaction import Interaction

Label = Literal["positive", "neutral", "negative"]
LABELS: tuple[Label, ...] = ("positive", "neutral", "negative")

POSITIVE_THRESHOLD = 0.05  # VADER's standard cut-offs on the compound score
NEGATIVE_THRESHOLD = -0.05
VALENCE_LIMIT = 4.0  # VADER's rating scale is -4..+4
# Texts are cut to this many characters before scoring: VADER has O(n^2) steps (its idiom and
# "but" checks rebuild word lists per sentiment word), and a mention is tweet-sized anyway.
DEFAULT_MAX_CHARS = 2000
# Scores kept per scorer, keyed by the (cut) text: retweets and templated posts repeat texts
# verbatim and scoring is pure. Bounded so an endless stream of new texts cannot grow it;
# 4096 tweet-sized keys are a few MB at most.
DEFAULT_CACHE_SIZE = 4096

_TOKEN_PREFIX = "xdomphr"  # synthetic phrase tokens: no edge punctuation for VADER to strip
_NEUTRAL_PREFIX = "xdomneu"
_RSQUO = "\u2019"  # the typographic apostrophe, common in phone-typed text
# Stripped from token edges (VADER strips string.punctuation); the extras are curly quotes,
# guillemets, ellipsis, en and em dash, inverted ! and ?.
_EDGE = string.punctuation + "\u2018\u2019\u201c\u201d\u00ab\u00bb\u2026\u2013\u2014\u00a1\u00bf"
_APOSTROPHES = str.maketrans("", "", "'" + _RSQUO)
_ANSWERS = frozenset({"nope", "uhuh", "uh-uh"})  # VADER negators that are really answers
_HANDLE_CHARS = string.ascii_letters + string.digits + "_"
_END = ""  # trie key marking "a phrase ends here" (never a word)


@runtime_checkable
class SentimentScorer(Protocol):
    """Anything that scores a text in [-1, 1] (negative to positive)."""

    def score(self, text: str) -> float: ...


class LexiconError(ValueError):
    """The domain lexicon file is malformed."""


@dataclass(frozen=True, slots=True)
class DomainLexicon:
    """The parsed domain lexicon: VADER-scale valences for words and phrases."""

    words: Mapping[str, float]
    phrases: Mapping[str, float]
    neutral_phrases: tuple[str, ...] = ()
    not_followed_by: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DomainLexicon:
        words = {_key(w): _valence(w, v) for w, v in dict(data.get("words", {})).items()}
        for word in words:
            if len(word.split()) != 1:
                raise LexiconError(f"words must be single tokens, got {word!r}")
        phrases = {_key(p): _valence(p, v) for p, v in dict(data.get("phrases", {})).items()}
        neutral = tuple(_key(p) for p in data.get("neutral_phrases", ()))
        for phrase in (*phrases, *neutral):
            if len(phrase_words(phrase)) < 2:
                raise LexiconError(f"phrases need two or more words, got {phrase!r}")
        normalised = [phrase_key(p) for p in (*phrases, *neutral)]
        if len(set(normalised)) != len(normalised):
            dupes = sorted({k for k in normalised if normalised.count(k) > 1})
            raise LexiconError(f"phrases listed twice (after normalising): {dupes}")
        guards = {
            _key(word): tuple(_key(follower) for follower in followers)
            for word, followers in dict(data.get("not_followed_by", {})).items()
        }
        return cls(words, phrases, neutral, guards)

    @classmethod
    def load(cls) -> DomainLexicon:
        """The lexicon shipped with the package (`service/core/data/domain_lexicon.json`)."""
        return _packaged_lexicon()


def _key(text: Any) -> str:
    if not isinstance(text, str) or not text.strip():
        raise LexiconError(f"lexicon entries must be non-empty strings, got {text!r}")
    return " ".join(text.lower().split())


def _valence(entry: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LexiconError(f"valence of {entry!r} must be a number, got {value!r}")
    if not math.isfinite(value) or abs(value) > VALENCE_LIMIT:
        raise LexiconError(f"valence of {entry!r} must be within -4..+4, got {value!r}")
    return float(value)


def _split_token(token: str) -> tuple[list[str], str, str]:
    """A lower-cased whitespace token -> (its words, leading punctuation, trailing punctuation).

    Edge punctuation is split off, apostrophes inside are dropped ("doesn't" -> "doesnt") and
    hyphens separate words ("wi-fi" -> ["wi", "fi"]).
    """
    if token.isalnum():  # the common case: a plain word
        return [token], "", ""
    left = token.lstrip(_EDGE)
    core = left.rstrip(_EDGE)
    lead, trail = token[: len(token) - len(left)], left[len(core) :]
    if "'" in core or _RSQUO in core:
        core = core.translate(_APOSTROPHES)
    if "-" in core:
        return [w for w in core.split("-") if w], lead, trail
    return ([core] if core else []), lead, trail


def phrase_words(phrase: str) -> list[str]:
    """The words a phrase matches: 'no wi-fi' -> ['no', 'wi', 'fi'], "isn't" -> ['isnt']."""
    words: list[str] = []
    for token in phrase.lower().split():
        words.extend(_split_token(token)[0])
    return words


def phrase_key(phrase: str) -> str:
    return " ".join(phrase_words(phrase))


class PhraseMatcher:
    """Finds lexicon phrases in whitespace-tokenised text with a word trie.

    A phrase may span several tokens only where no punctuation separates them ("is down" but
    not "is, down"); it starts at a token's first word and ends at a token's last word. At each
    position the longest phrase wins; a phrase ending in a guarded word does not match when one
    of its guard sequences follows directly ("is down" but not "is down to two").

    With `drop_handles`, @handles are removed: they name accounts, and VADER would otherwise
    score "@united" as the word "united" (+1.8) and "@amazon" as "amazon" (+0.7).
    """

    def __init__(
        self,
        phrases: Mapping[str, str],
        not_followed_by: Mapping[str, Iterable[str]],
        drop_handles: bool = False,
    ) -> None:
        self.drop_handles = drop_handles
        self._root: dict[str, Any] = {}
        for phrase, token in phrases.items():
            node = self._root
            for word in phrase_words(phrase):
                node = node.setdefault(word, {})
            node[_END] = token
        self._guards = {
            phrase_key(word): [phrase_words(f) for f in followers]
            for word, followers in not_followed_by.items()
        }

    def rewrite(self, text: str) -> str:
        """The text with each phrase replaced by its token (and @handles dropped, if asked).

        Unchanged, the same object, when there is nothing to replace.
        """
        lowered = text.lower().split()
        starts, handles = self._scan(lowered)
        edits: list[tuple[int, int, bool]] = [(i, i, False) for i in handles]
        done = 0  # a phrase cannot start inside the previous one
        for start in starts:
            if start < done:
                continue
            end = self._longest_at(lowered, start)
            if end is not None:
                edits.append((start, end, True))
                done = end + 1
        if not edits:  # the common case: one cheap pass over the tokens
            return text
        tokens = text.split()
        if len(tokens) != len(lowered):  # lower() never adds whitespace; be safe anyway
            return self.rewrite(" ".join(tokens))
        out: list[str] = []
        done = 0
        for start, end, is_phrase in sorted(edits):
            out.extend(tokens[done:start])
            done = end + 1
            if not is_phrase:  # an @handle: keep only what follows it, as "!!" in "@brand!!"
                rest = tokens[start].lstrip("@").lstrip(_HANDLE_CHARS)
                if rest:
                    out.append(rest)
                continue
            token = self._token_at(lowered, start, end)
            if all(tokens[j].strip(_EDGE).isupper() for j in range(start, end + 1)):
                token = token.upper()  # keep ALL-CAPS emphasis: "NOT WORKING"
            out.append(_split_token(lowered[start])[1] + token + _split_token(lowered[end])[2])
        out.extend(tokens[done:])
        return " ".join(out)

    def _scan(self, lowered: list[str]) -> tuple[list[int], list[int]]:
        """Indexes of the tokens whose first word starts some phrase, and of the @handles."""
        root = self._root
        starts: list[int] = []
        handles: list[int] = []
        for i, tok in enumerate(lowered):
            if tok in root:
                starts.append(i)
                continue
            if tok.isalpha():  # most tokens: a plain word that starts no phrase
                continue
            if tok[0] == "@" and self.drop_handles and _is_handle(tok):
                handles.append(i)
                continue
            core = tok.strip(_EDGE)
            if core in root or (
                ("'" in core or _RSQUO in core or "-" in core) and _first_word(core) in root
            ):
                starts.append(i)
        return starts, handles

    def _token_at(self, lowered: list[str], start: int, end: int) -> str:
        node = self._root
        for i in range(start, end + 1):
            for word in _split_token(lowered[i])[0]:
                node = node[word]
        token: str = node[_END]
        return token

    def _longest_at(self, lowered: list[str], start: int) -> int | None:
        """The last token of the longest phrase starting at token `start`, if any."""
        node = self._root
        best: int | None = None
        for i in range(start, len(lowered)):
            words, lead, trail = _split_token(lowered[i])
            if not words or (i > start and lead):
                break
            for word in words:
                nxt = node.get(word)
                if nxt is None:
                    return best
                node = nxt
            if _END in node and not self._guarded(words[-1], trail, lowered, i + 1):
                best = i
            if trail:
                break
        return best

    def _guarded(self, last: str, trail: str, lowered: list[str], after: int) -> bool:
        followers = self._guards.get(last)
        if not followers or trail:
            return False
        following: list[str] = []
        for tok in lowered[after : after + 3]:
            words, lead, trail = _split_token(tok)
            if lead or not words:
                break
            following.extend(words)
            if trail:
                break
        return any(following[: len(f)] == f for f in followers)


def _is_handle(token: str) -> bool:
    return len(token) > 1 and token[0] == "@" and (token[1].isalnum() or token[1] == "_")


def _first_word(core: str) -> str:
    if "-" in core:
        core = core.split("-", 1)[0]
    return core.translate(_APOSTROPHES) if "'" in core or _RSQUO in core else core


def _token_name(prefix: str, key: str) -> str:
    """'not working' -> 'xdomphr_not_working'."""
    return prefix + "".join(ch if ch.isascii() and ch.isalnum() else "_" for ch in " " + key)


class VaderScorer:
    """Plain VADER 3.3.2: the compound score of its own lexicon and rules."""

    def __init__(self, max_chars: int = DEFAULT_MAX_CHARS) -> None:
        self._analyzer = SentimentIntensityAnalyzer()
        self.max_chars = max_chars

    def score(self, text: str) -> float:
        return _compound(self._analyzer, text[: self.max_chars])


class LexiconScorer:
    """VADER extended with the domain lexicon for product-failure and service language.

    `drop_handles` (default on) removes @handles before scoring; `max_chars` cuts long texts.
    """

    def __init__(
        self,
        lexicon: DomainLexicon | None = None,
        max_chars: int = DEFAULT_MAX_CHARS,
        drop_handles: bool = True,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        self.lexicon = lexicon if lexicon is not None else DomainLexicon.load()
        self.max_chars = max_chars
        scored = dict(self.lexicon.words)
        tokens: dict[str, str] = {}
        for phrase, valence in self.lexicon.phrases.items():
            tokens[phrase] = _token_name(_TOKEN_PREFIX, phrase_key(phrase))
            scored[tokens[phrase]] = valence
        analyzer = _DomainAnalyzer(scored)
        for phrase in self.lexicon.neutral_phrases:
            # Not in VADER's lexicon, so it scores 0 and negates or boosts nothing.
            tokens[phrase] = _token_name(_NEUTRAL_PREFIX, phrase_key(phrase))
        self._matcher = PhraseMatcher(tokens, self.lexicon.not_followed_by, drop_handles)
        self._analyzer = analyzer
        # An LRU of scores by text (C code: a hit is one dict lookup); `cache_size` 0 turns
        # it off. `cache.cache_info()` tells hits, misses and size.
        self.cache = lru_cache(maxsize=cache_size)(self.score_uncached)

    def rewrite(self, text: str) -> str:
        """The text as VADER sees it: domain phrases as synthetic tokens, @handles dropped."""
        return self._matcher.rewrite(text)

    def score(self, text: str) -> float:
        return self.cache(text[: self.max_chars])

    def score_uncached(self, text: str) -> float:
        """The score computed afresh (what `score` caches); the text is not cut."""
        return _compound(self._analyzer, self._matcher.rewrite(text))


_vader_valence = SentimentIntensityAnalyzer.sentiment_valence  # hot path: skip super()


class _DomainAnalyzer(SentimentIntensityAnalyzer):
    """VADER, except that a negative domain term is negated only by the word right before it.

    VADER flips a sentiment word when a negator is up to three words before it. For failure
    language that window mostly catches negators about something else: "couldn't send my
    refund info", "can't check outages", "nope, still down", "has never been slower" would
    all flip to positive. Here "not delayed", "no outage", "never cancelled" still flip, while
    the failure term keeps its sign otherwise. "nope" and "uh-uh" answer a question rather than
    negate the next word, so they never flip a failure term. Boosters and ALL CAPS apply as in
    VADER.
    """

    def __init__(self, domain: Mapping[str, float]) -> None:
        super().__init__()
        # Each analyzer builds its own dict, so extending it leaves plain VADER untouched.
        self.lexicon.update(domain)
        self.failure_terms = {term: v for term, v in domain.items() if v < 0}

    def sentiment_valence(
        self, valence: float, sentitext: Any, item: str, i: int, sentiments: list[float]
    ) -> list[float]:
        base = self.failure_terms.get(item.lower())
        if base is None:
            return _vader_valence(self, valence, sentitext, item, i, sentiments)
        words = sentitext.words_and_emoticons
        is_cap_diff = sentitext.is_cap_diff
        valence = base - C_INCR if item.isupper() and is_cap_diff else base
        for back, damp in ((1, 1.0), (2, 0.95), (3, 0.9)):
            if i >= back and words[i - back].lower() not in self.lexicon:
                valence += scalar_inc_dec(words[i - back], valence, is_cap_diff) * damp
        previous = words[i - 1].lower() if i > 0 else ""
        if previous not in _ANSWERS and (previous == "no" or negated([previous])):
            valence *= N_SCALAR
        sentiments.append(valence)
        return sentiments


def _compound(analyzer: SentimentIntensityAnalyzer, text: str) -> float:
    if not text or text.isspace():
        return 0.0
    compound = float(analyzer.polarity_scores(text)["compound"])
    if not math.isfinite(compound):
        return 0.0
    return min(1.0, max(-1.0, compound))


@cache
def _packaged_lexicon() -> DomainLexicon:
    path = resources.files("service.core").joinpath("data", "domain_lexicon.json")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise LexiconError(f"domain_lexicon.json is not valid JSON: {exc}") from exc
    return DomainLexicon.from_dict(data)


@cache
def default_scorer() -> LexiconScorer:
    """The process-wide `LexiconScorer` (VADER and the domain lexicon load once)."""
    return LexiconScorer()


def effective_sentiment(
    interaction_or_text: Interaction | str,
    upstream: float | None = None,
    scorer: SentimentScorer | None = None,
) -> float:
    """The sentiment to use for an event, in [-1, 1].

    An upstream score (the `upstream` argument, else an Interaction's own `sentiment`) wins
    when present and finite; it is clamped to [-1, 1]. Otherwise the text is scored by
    `scorer` (default: the shared `LexiconScorer`).
    """
    if isinstance(interaction_or_text, Interaction):
        text = interaction_or_text.text
        if upstream is None:
            upstream = interaction_or_text.sentiment
    else:
        text = interaction_or_text
    if upstream is not None and math.isfinite(upstream):
        return min(1.0, max(-1.0, float(upstream)))
    return (scorer if scorer is not None else default_scorer()).score(text or "")


def label(score: float) -> Label:
    """VADER's three classes from a compound score."""
    if score >= POSITIVE_THRESHOLD:
        return "positive"
    if score <= NEGATIVE_THRESHOLD:
        return "negative"
    return "neutral"


def is_negative(score: float, threshold: float = NEGATIVE_THRESHOLD) -> bool:
    """VADER's negative class: compound <= -0.05 by default."""
    return score <= threshold


def is_positive(score: float, threshold: float = POSITIVE_THRESHOLD) -> bool:
    """VADER's positive class: compound >= 0.05 by default."""
    return score >= threshold
