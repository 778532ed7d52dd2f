"""Relationship evaluation on the real data sets in ../shared/data: structure, not results.

CollegeMsg runs in full; Higgs is cut to its first HIGGS_LIMIT events to keep the test short
(`closeknit evaluate relationships` runs it in full). The only numbers asserted are the
converters' own counts and what the data READMEs document.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from service.evaluation.relationships import RelationshipReport, evaluate_relationships
from service.sources.detect import open_source
from service.sources.record import SkippedLine, SourceRecord

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
HIGGS_LIMIT = 25_000

pytestmark = pytest.mark.data


def _data(*parts: str) -> Path:
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"../shared/data not found: {path} (the real data sets sit beside the repo)")
    return path


def _converter_counts(path: Path, limit: int | None) -> tuple[int, Counter[str], int]:
    """(records, skipped lines by reason, line errors) the converter yields up to `limit`."""
    records, skipped, errors = 0, Counter[str](), 0
    for item in open_source(path):
        if isinstance(item, SourceRecord):
            records += 1
            if limit is not None and records >= limit:
                break
        elif isinstance(item, SkippedLine):
            skipped[item.reason] += 1
        else:
            errors += 1
    return records, skipped, errors


def _evaluate(path: Path, limit: int | None = None) -> RelationshipReport:
    return evaluate_relationships(open_source(path), source=path.name, limit=limit)


def _check_structure(report: RelationshipReport) -> None:
    counts, state = report.counts, report.state
    assert counts.interactions == counts.applied + counts.duplicates + counts.too_late
    assert state.dyads > 0 and state.people > 0
    assert state.people <= 2 * state.dyads and state.dyads <= counts.applied
    assert state.bytes_per_dyad is not None and state.bytes_per_dyad > 0
    assert state.bytes_per_person is not None and state.bytes_per_person > 0

    r = report.reciprocity
    assert r.at == counts.last_event_time
    assert r.one_way_share is not None and 0.0 <= r.one_way_share <= 1.0
    assert r.two_way == round((1.0 - r.one_way_share) * r.dyads)
    assert r.two_way_quantiles is not None
    quantiles = list(r.two_way_quantiles.values())
    assert all(0.0 < q <= 1.0 for q in quantiles)
    assert quantiles == sorted(quantiles)
    assert r.two_way_at_least_half is not None and 0.0 <= r.two_way_at_least_half <= 1.0
    assert r.strong_share is not None and 0.0 <= r.strong_share <= 1.0

    ranking = report.ranking
    assert len(ranking.by_influence) == len(ranking.by_in_degree) == 10
    assert len(ranking.by_inbound) == 10
    scores = [person.influence for person in ranking.by_influence]
    assert scores == sorted(scores, reverse=True) and scores[-1] > 0.0
    for person in ranking.by_influence:
        assert person.in_degree >= 1 and person.in_degree_rank >= 1
        assert person.inbound >= person.in_degree
    assert 0 <= ranking.influence_vs_in_degree.shared <= 10
    assert report.throughput.events == counts.events_in


def test_college_msg_in_full() -> None:
    path = _data("college_msg", "CollegeMsg.txt")
    records, skipped, errors = _converter_counts(path, None)

    report = _evaluate(path)

    counts = report.counts
    assert counts.events_in == records == 59_835  # the README's line count
    assert (counts.skipped_lines, counts.line_errors) == (dict(skipped), errors)
    assert counts.rejected == {} and counts.applied == 59_835 and counts.duplicates == 0
    assert report.state.people == 1_899  # the README's node count: every student messaged
    assert (counts.first_event_time, counts.last_event_time) == (1082040961.0, 1098777142.0)
    _check_structure(report)


def test_higgs_activity_first_events_and_determinism() -> None:
    path = _data("higgs_twitter", "higgs-activity_time.txt.gz")
    records, skipped, errors = _converter_counts(path, HIGGS_LIMIT)

    first = _evaluate(path, HIGGS_LIMIT)
    second = _evaluate(path, HIGGS_LIMIT)

    counts = first.counts
    assert counts.events_in == records == HIGGS_LIMIT
    assert (counts.skipped_lines, counts.line_errors) == (dict(skipped), errors)
    assert counts.rejected == {} and counts.applied == HIGGS_LIMIT
    assert counts.first_event_time is not None and counts.last_event_time is not None
    assert 1341100972.0 <= counts.first_event_time <= counts.last_event_time <= 1341705593.0
    _check_structure(first)
    assert first.deterministic_dict() == second.deterministic_dict()
