"""How well the sentiment scorers label real text: Sanders tweets and failure sentences.

Three classes (positive, neutral, negative) from VADER's standard thresholds on the compound
score. Metrics are computed here in pure Python: accuracy, macro-F1 and per-class precision,
recall and F1, plus the confusion matrix (rows gold, columns predicted). Two scorers are
compared: plain VADER 3.3.2 and `LexiconScorer` (VADER plus the domain lexicon).

Sanders Twitter corpus (2011; Apple, Google, Microsoft, Twitter): `full-corpus.csv`, read with
the csv module because texts contain newlines; tweets labelled "irrelevant" are left out.
"""

from __future__ import annotations

import csv
import json
import statistics
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.core.sentiment import (
    LABELS,
    Label,
    LexiconScorer,
    SentimentScorer,
    VaderScorer,
    label,
)
from service.evaluation.machine import machine_info

SANDERS_FILE = "full-corpus.csv"
SANDERS_DIR = "sanders_twitter_corpus"
SANDERS_EXCLUDED = "irrelevant"
# The hand-written product-failure check set; it ships with the repository's tests.
FAILURE_SENTENCES = (
    Path(__file__).resolve().parents[2] / "tests" / "core" / "fixtures" / "failure_sentences.jsonl"
)


class EvaluationDataError(ValueError):
    """A labelled data file is missing or malformed."""


@dataclass(frozen=True, slots=True)
class LabelledText:
    text: str
    label: Label


@dataclass(frozen=True, slots=True)
class ClassScores:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True, slots=True)
class Metrics:
    n: int
    accuracy: float
    macro_f1: float
    per_class: dict[str, ClassScores]
    confusion: dict[str, dict[str, int]]  # confusion[gold][predicted]

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "per_class": {
                name: {
                    "precision": s.precision,
                    "recall": s.recall,
                    "f1": s.f1,
                    "support": s.support,
                }
                for name, s in self.per_class.items()
            },
            "confusion": self.confusion,
        }


# -- data ------------------------------------------------------------------------------------


def resolve_sanders(path: Path) -> Path:
    """`full-corpus.csv` itself, or a directory holding it (or holding `sanders_twitter_corpus`)."""
    candidates = [path, path / SANDERS_FILE, path / SANDERS_DIR / SANDERS_FILE]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise EvaluationDataError(f"Sanders corpus not found at {path} (expected {SANDERS_FILE})")


def load_sanders(path: Path) -> tuple[list[LabelledText], int]:
    """The labelled Sanders tweets, and how many "irrelevant" ones were left out."""
    examples: list[LabelledText] = []
    excluded = 0
    with resolve_sanders(path).open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"Sentiment", "TweetText"} - set(reader.fieldnames or ())
        if missing:
            raise EvaluationDataError(f"{path}: missing columns {sorted(missing)}")
        for line, row in enumerate(reader, start=2):
            gold = (row["Sentiment"] or "").strip().lower()
            if gold == SANDERS_EXCLUDED:
                excluded += 1
                continue
            if gold not in LABELS:
                raise EvaluationDataError(f"{path}: record near line {line}: label {gold!r}")
            examples.append(LabelledText(row["TweetText"] or "", gold))
    return examples, excluded


def load_jsonl(path: Path) -> list[LabelledText]:
    """Lines of `{"text": ..., "label": "positive" | "neutral" | "negative"}`."""
    examples: list[LabelledText] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                text, gold = record["text"], record["label"]
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise EvaluationDataError(f"{path}:{number}: {exc}") from exc
            if gold not in LABELS or not isinstance(text, str):
                raise EvaluationDataError(f"{path}:{number}: bad record {record!r}")
            examples.append(LabelledText(text, gold))
    return examples


# -- metrics ---------------------------------------------------------------------------------


def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


def classification_metrics(
    gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str] = LABELS
) -> Metrics:
    """Accuracy, macro-F1 over `labels`, per-class scores and the confusion matrix."""
    if len(gold) != len(predicted):
        raise ValueError("gold and predicted differ in length")
    confusion = {g: dict.fromkeys(labels, 0) for g in labels}
    for g, p in zip(gold, predicted, strict=True):
        if g not in confusion or p not in confusion:
            raise ValueError(f"label outside {list(labels)}: gold {g!r}, predicted {p!r}")
        confusion[g][p] += 1
    per_class: dict[str, ClassScores] = {}
    for name in labels:
        tp = confusion[name][name]
        support = sum(confusion[name].values())
        predicted_as = sum(confusion[g][name] for g in labels)
        precision, recall = _ratio(tp, predicted_as), _ratio(tp, support)
        f1 = _ratio(2 * tp, support + predicted_as)  # = 2PR / (P + R), 0 when undefined
        per_class[name] = ClassScores(precision, recall, f1, support)
    n = len(gold)
    correct = sum(confusion[name][name] for name in labels)
    macro_f1 = statistics.fmean(s.f1 for s in per_class.values()) if labels else 0.0
    return Metrics(n, _ratio(correct, n), macro_f1, per_class, confusion)


def evaluate(scorer: SentimentScorer, examples: Iterable[LabelledText]) -> Metrics:
    gold: list[str] = []
    predicted: list[str] = []
    for example in examples:
        gold.append(example.label)
        predicted.append(label(scorer.score(example.text)))
    return classification_metrics(gold, predicted)


def time_scorer(scorer: SentimentScorer, texts: Sequence[str], runs: int = 5) -> dict[str, Any]:
    """µs per text over `runs` passes: the median of the per-run medians, and of the means."""
    medians: list[float] = []
    means: list[float] = []
    clock = time.perf_counter_ns
    for _ in range(runs):
        spent: list[int] = []
        for text in texts:
            started = clock()
            scorer.score(text)
            spent.append(clock() - started)
        medians.append(statistics.median(spent) / 1000)
        means.append(statistics.fmean(spent) / 1000)
    return {
        "runs": runs,
        "texts": len(texts),
        "median_us": statistics.median(medians) if medians else None,
        "mean_us": statistics.median(means) if means else None,
        "per_run_median_us": medians,
        "per_run_mean_us": means,
    }


def default_scorers() -> dict[str, SentimentScorer]:
    return {"vader": VaderScorer(), "lexicon": LexiconScorer()}


def _compare(
    scorers: Mapping[str, SentimentScorer], examples: Sequence[LabelledText]
) -> dict[str, Any]:
    return {name: evaluate(scorer, examples).to_dict() for name, scorer in scorers.items()}


def main_sentiment_eval(
    path: Path,
    failure_path: Path | None = FAILURE_SENTENCES,
    timing_runs: int = 0,
    scorers: Mapping[str, SentimentScorer] | None = None,
) -> dict[str, Any]:
    """Metrics of plain VADER and LexiconScorer on Sanders (`path`) and the failure sentences.

    `failure_path` None skips the failure sentences (as does a missing default file);
    `timing_runs` > 0 also times each scorer on the Sanders texts.
    """
    scorers = dict(scorers) if scorers is not None else default_scorers()
    examples, excluded = load_sanders(path)
    result: dict[str, Any] = {
        "sanders": {
            "path": str(resolve_sanders(path)),
            "n": len(examples),
            "excluded_irrelevant": excluded,
            "scorers": _compare(scorers, examples),
        },
        "failure_sentences": None,
        "timing": None,
        "machine": machine_info(),
    }
    if failure_path is not None and failure_path.is_file():
        failures = load_jsonl(failure_path)
        result["failure_sentences"] = {
            "path": str(failure_path),
            "n": len(failures),
            "scorers": _compare(scorers, failures),
        }
    if timing_runs > 0:
        texts = [e.text for e in examples]
        result["timing"] = {name: time_scorer(s, texts, timing_runs) for name, s in scorers.items()}
    return result


# -- report ----------------------------------------------------------------------------------


def print_sentiment_report(result: Mapping[str, Any], console: Any = None) -> None:
    """One rich table per data set: per scorer, accuracy and macro-F1, then per gold class its
    precision, recall, F1, support and confusion-matrix row; then the speed, if timed."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    out = console if console is not None else Console()
    sections = [
        ("Sanders tweets", result.get("sanders")),
        ("Failure sentences (hand-labelled)", result.get("failure_sentences")),
    ]
    for title, section in sections:
        if not section:
            continue
        table = Table(
            title=f"{title}: {section['n']} texts (confusion: gold row, predicted column)",
            title_justify="left",
            box=box.SIMPLE_HEAD,
        )
        for header in ("scorer", "class", "prec", "recall", "F1", "n"):
            table.add_column(header, justify="left" if header in ("scorer", "class") else "right")
        for name in LABELS:
            table.add_column(f"->{name[:3]}", justify="right")
        for scorer_name, metrics in section["scorers"].items():
            table.add_row(
                f"[bold]{scorer_name}[/]",
                "accuracy",
                "",
                "",
                f"[bold]{metrics['accuracy']:.3f}[/]",
                str(metrics["n"]),
            )
            table.add_row("", "macro-F1", "", "", f"[bold]{metrics['macro_f1']:.3f}[/]")
            for gold in LABELS:
                s = metrics["per_class"][gold]
                row = metrics["confusion"][gold]
                table.add_row(
                    "",
                    gold,
                    f"{s['precision']:.3f}",
                    f"{s['recall']:.3f}",
                    f"{s['f1']:.3f}",
                    str(s["support"]),
                    *(str(row[p]) for p in LABELS),
                    end_section=gold == LABELS[-1],
                )
        out.print(table)
    timing = result.get("timing")
    if timing:
        machine = result.get("machine", {})
        table = Table(
            title=f"Speed: {machine.get('nproc')} x {machine.get('cpu')}, "
            f"load {machine.get('load_avg_1m') or 0:.2f}",
            title_justify="left",
            box=box.SIMPLE_HEAD,
        )
        for header in ("scorer", "median µs/text", "mean µs/text", "runs", "texts"):
            table.add_column(header, justify="left" if header == "scorer" else "right")
        for name, t in timing.items():
            table.add_row(
                name,
                f"{t['median_us']:.1f}",
                f"{t['mean_us']:.1f}",
                str(t["runs"]),
                str(t["texts"]),
            )
        out.print(table)
