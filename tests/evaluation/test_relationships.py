"""Relationship evaluation: a broker-free replay through the core, on streams with known answers."""

from __future__ import annotations

import argparse
import itertools
import math
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from service.cli import evaluate_cmd, main
from service.core import ties
from service.evaluation.relationships import (
    RelationshipReplay,
    evaluate_relationships,
    overlap,
    quantile,
)
from service.sources.record import (
    LineError,
    SkippedLine,
    SourceItem,
    SourceRecord,
    mention_record,
    reply_record,
)

T = 1_341_100_000.0
DAY = 86400.0
_ids = itertools.count()


def mention(actor: str, *targets: str, t: float = T, event_id: str | None = None) -> SourceRecord:
    return mention_record(
        event_id=event_id or f"e{next(_ids)}", event_time=t, author_id=actor, target_ids=targets
    )


def reply(actor: str, target: str, t: float = T) -> SourceRecord:
    return reply_record(
        event_id=f"e{next(_ids)}", event_time=t, author_id=actor, in_reply_to_author_id=target
    )


def mentions(actor: str, target: str, n: int) -> list[SourceRecord]:
    return [mention(actor, target) for _ in range(n)]


def reciprocity_stream() -> list[SourceItem]:
    """Six dyads, all at one time (no decay): reciprocity 0.25, 0.5, 0.75, 1, 0 and 0."""
    return [
        *mentions("a", "b", 1), *mentions("b", "a", 7),  # 2·1/8
        *mentions("c", "d", 1), *mentions("d", "c", 3),  # 2·1/4
        *mentions("e", "f", 3), *mentions("f", "e", 5),  # 2·3/8
        *mentions("g", "h", 1), *mentions("h", "g", 1),  # 2·1/2
        *mentions("i", "j", 2),  # one-way
        reply("k", "l"),  # one-way
    ]  # fmt: skip


def celebrity_and_micro_stream() -> list[SourceItem]:
    """12 fans mention `celeb` once, unanswered; 3 friends and `micro` reply twice each way."""
    stream: list[SourceItem] = [mention(f"fan{i:02}", "celeb") for i in range(12)]
    for friend in ("ann", "bob", "cat"):
        for _ in range(2):
            stream += [reply(friend, "micro"), reply("micro", friend)]
    return stream


def test_counts_dyads_and_people() -> None:
    report = evaluate_relationships(reciprocity_stream())

    assert report.counts.events_in == report.counts.applied == 25
    assert (report.counts.duplicates, report.counts.too_late, report.counts.rejected) == (0, 0, {})
    assert (report.state.dyads, report.state.people) == (6, 12)
    assert report.counts.first_event_time == report.counts.last_event_time == T


def test_reciprocity_distribution_among_two_way_dyads() -> None:
    r = evaluate_relationships(reciprocity_stream()).reciprocity

    assert (r.dyads, r.two_way) == (6, 4)
    assert r.one_way_share == pytest.approx(2 / 6)
    # linear interpolation between ranks of 0.25, 0.5, 0.75, 1.0
    assert r.two_way_quantiles == pytest.approx(
        {"p25": 0.4375, "p50": 0.625, "p75": 0.8125, "p90": 0.925}
    )
    assert r.two_way_at_least_half == pytest.approx(3 / 4)


def test_strong_share_counts_ties_at_or_above_the_threshold() -> None:
    # x = w_ab + w_ba + 2 min: 1+7+2 = 10 (strength 0.63) and 3+5+6 = 14 (0.75) are strong;
    # 1+3+2 = 6, 1+1+2 = 4, 2 and 2 are not.
    r = evaluate_relationships(reciprocity_stream()).reciprocity

    assert r.strong_threshold == ties.TieParams().strong_tie_threshold
    assert r.strong_share == pytest.approx(2 / 6)


def test_strength_is_read_at_the_newest_event_time() -> None:
    # five unanswered replies: x = 10, strong; one half-life later x = 5, strength 0.39.
    stream = [reply("a", "b") for _ in range(5)] + [mention("c", "d", t=T + 14 * DAY)]

    r = evaluate_relationships(stream).reciprocity

    assert r.at == T + 14 * DAY
    assert r.strong_share == 0.0


def test_who_not_how_many() -> None:
    report = evaluate_relationships(celebrity_and_micro_stream(), top=2)
    ranking = report.ranking

    # micro: 3 reciprocal partners, 4 inbound weight each: 12. celeb: 12 one-way: 1.2.
    assert [(p.person, round(p.influence, 6)) for p in ranking.by_influence] == [
        ("micro", 12.0),
        ("ann", 4.0),
    ]
    assert ranking.by_in_degree == [("celeb", 12), ("micro", 3)]
    assert ranking.by_inbound == [("celeb", 12), ("micro", 6)]
    micro, ann = ranking.by_influence
    assert (micro.in_degree, micro.in_degree_rank, micro.inbound, micro.inbound_rank) == (
        3,
        2,
        6,
        2,
    )
    assert (ann.in_degree, ann.in_degree_rank, ann.inbound, ann.inbound_rank) == (1, 3, 2, 3)
    assert (micro.two_way_partners, ann.two_way_partners) == (3, 1)
    # counted in full, celeb's 12 mentions weigh as much as micro's 6 replies: a shared rank
    assert ranking.by_decayed_in_strength == [("celeb", 12.0), ("micro", 12.0)]
    assert (micro.decayed_in_strength, micro.decayed_in_strength_rank) == (12.0, 1)
    assert ranking.influence_vs_in_degree.shared == 1
    assert ranking.influence_vs_in_degree.jaccard == pytest.approx(1 / 3)
    assert ranking.influence_vs_decayed_in_strength.shared == 1


def test_overlap_of_two_top_lists() -> None:
    assert overlap(["a", "b", "c"], ["c", "d"]).shared == 1
    assert overlap(["a", "b", "c"], ["c", "d"]).jaccard == pytest.approx(1 / 4)
    assert overlap([], []).jaccard is None


def test_a_repeated_event_counts_once() -> None:
    stream = reciprocity_stream()
    first = stream[0]
    assert isinstance(first, SourceRecord)

    once = evaluate_relationships(stream)
    twice = evaluate_relationships([*stream, first, first])

    assert twice.counts.events_in == once.counts.events_in + 2
    assert (twice.counts.applied, twice.counts.duplicates) == (once.counts.applied, 2)
    assert (twice.state, twice.reciprocity, twice.ranking) == (
        once.state,
        once.reciprocity,
        once.ranking,
    )


def test_a_mention_of_several_people_is_one_interaction_per_target() -> None:
    report = evaluate_relationships([mention("a", "b", "c", "b")])

    assert (report.counts.events_in, report.counts.interactions, report.counts.applied) == (1, 2, 2)
    assert (report.state.dyads, report.state.people) == (2, 3)


def test_the_replay_state_is_the_workers() -> None:
    replay = RelationshipReplay()
    for item in [reply("a", "b"), mention("b", "a", t=T + 60)]:
        replay.feed(item)

    dyad = replay.dyads[("a", "b")]
    assert (dyad.replies_ab, dyad.mentions_ba, dyad.seq) == (1, 1, 2)
    assert set(replay.people) == {"a", "b"}
    tie = replay.people["b"].ties["a"]
    snap = ties.snapshot(dyad, ("a", "b"), dyad.ref)
    assert (tie.seq, tie.ref, tie.w_in, tie.w_out) == (2, T + 60, snap["weight_ab"], 1.0)


def test_stored_bytes_are_the_codec_sizes() -> None:
    replay = RelationshipReplay()
    for item in reciprocity_stream():
        replay.feed(item)
    report = evaluate_relationships(reciprocity_stream())

    dyad_sizes = [len(orjson.dumps(ties.to_dict(s))) for s in replay.dyads.values()]
    person_sizes = [len(orjson.dumps(p.to_dict())) for p in replay.people.values()]
    assert report.state.bytes_per_dyad == pytest.approx(sum(dyad_sizes) / len(dyad_sizes))
    assert report.state.bytes_per_person == pytest.approx(sum(person_sizes) / len(person_sizes))
    assert report.state.dyad_bytes_total == sum(dyad_sizes)


def test_rejections_skips_and_line_errors_are_tallied() -> None:
    bad = SourceRecord("mention", "bad", T, b'{"type": "mention"}')
    self_mention = mention("a", "a")
    stream: list[SourceItem] = [
        mention("a", "b"),
        bad,
        self_mention,
        SkippedLine(4, "retweet"),
        LineError(5, "broken"),
    ]

    counts = evaluate_relationships(stream).counts

    assert counts.events_in == 3
    assert counts.valid == 1
    assert counts.rejected == {"missing_field": 1, "self_mention": 1}
    assert (counts.skipped_lines, counts.line_errors) == ({"retweet": 1}, 1)


def test_limit_stops_after_n_events_and_closes_the_source() -> None:
    closed = []

    def source() -> Iterator[SourceItem]:
        try:
            for i in range(100):
                yield SkippedLine(i, "noise")
                yield mention("a", f"p{i}")
        finally:
            closed.append(True)

    report = evaluate_relationships(source(), limit=3)

    assert report.counts.events_in == 3
    assert report.counts.skipped_lines == {"noise": 3}
    assert report.state.dyads == 3
    assert closed == [True]


def test_progress_is_reported_to_the_end() -> None:
    seen: list[int] = []

    evaluate_relationships(reciprocity_stream(), on_progress=seen.append)

    assert seen[-1] == 25


def test_the_report_is_json_and_deterministic() -> None:
    first = evaluate_relationships(celebrity_and_micro_stream())
    second = evaluate_relationships(celebrity_and_micro_stream())

    data = orjson.loads(orjson.dumps(first.to_dict()))
    assert set(data) >= {"counts", "state", "reciprocity", "ranking", "throughput", "process"}
    assert data["throughput"]["events"] == 24
    assert data["process"]["cpu_count"] is None or data["process"]["cpu_count"] >= 1
    assert first.deterministic_dict() == second.deterministic_dict()
    assert "throughput" not in first.deterministic_dict()


def test_an_empty_stream_reports_nothing_without_failing() -> None:
    report = evaluate_relationships([])

    assert (report.state.dyads, report.state.people, report.state.bytes_per_dyad) == (0, 0, None)
    assert report.reciprocity.one_way_share is None
    assert report.ranking.by_influence == [] and report.ranking.by_in_degree == []
    assert report.throughput.core_events_per_s is None


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([1.0, 2.0, 3.0, 4.0], 0.5, 2.5),
        ([1.0, 2.0, 3.0, 4.0], 0.0, 1.0),
        ([1.0, 2.0, 3.0, 4.0], 1.0, 4.0),
        ([1.0, 2.0, 3.0, 4.0], 0.9, 3.7),
        ([7.0], 0.25, 7.0),
    ],
)
def test_quantile_interpolates_between_ranks(
    values: list[float], q: float, expected: float
) -> None:
    assert math.isclose(quantile(values, q), expected)


def _run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="closeknit")
    evaluate_cmd.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.func(args))


def _college_file(tmp_path: Path) -> Path:
    path = tmp_path / "CollegeMsg.txt"
    path.write_text("1 2 1082040961\n2 1 1082040962\n3 1 1082040963\n1 3 1082040964\n")
    return path


def test_cli_prints_the_summary_tables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # wide enough that no header is cut
    code = _run_cli(["evaluate", "relationships", str(_college_file(tmp_path))])

    out, err = capsys.readouterr()
    assert code == 0, err
    for phrase in ("events in", "dyads", "stored bytes per dyad", "RSS growth per dyad",
                   "one-way dyads", "p50", "strong ties", "by influence", "by in-degree",
                   "events/s, core"):  # fmt: skip
        assert phrase in out


def test_cli_json_is_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = _run_cli(
        ["evaluate", "relationships", "--json", "--limit", "3", str(_college_file(tmp_path))]
    )

    out, _ = capsys.readouterr()
    assert code == 0
    data = orjson.loads(out)
    assert (data["format"], data["limit"], data["counts"]["events_in"]) == ("college", 3, 3)
    assert data["state"]["dyads"] == 2


def test_cli_usage_errors_and_invalid_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run_cli(["evaluate", "relationships", str(tmp_path / "nope.txt")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert _run_cli(["evaluate"]) == 2
    broken = tmp_path / "CollegeMsg.txt"
    broken.write_text("1 2 1082040961\n1 2 yesterday\n")
    assert _run_cli(["evaluate", "relationships", str(broken)]) == 1
    assert "1 invalid line(s)" in capsys.readouterr().err


def test_evaluate_is_one_command_that_main_can_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    if "service.cli.evaluate_cmd" not in main.COMMAND_MODULES:
        modules = (*main.COMMAND_MODULES, "service.cli.evaluate_cmd")
        monkeypatch.setattr(main, "COMMAND_MODULES", modules)
    subparsers = argparse.ArgumentParser().add_subparsers()
    evaluate_cmd.register(subparsers)
    assert list(subparsers.choices) == ["evaluate"]
    assert "relationships" in subparsers.choices["evaluate"].format_help()

    code = main.main(["evaluate", "relationships", "--json", str(_college_file(tmp_path))])

    assert code == 0
    assert orjson.loads(capsys.readouterr().out)["counts"]["events_in"] == 4
