"""Replay a file through the dyad and people core in one process, then measure the result.

Each source record goes through the same functions as in the worker, in the same order:

1. ingest: `EventValidator.validate(payload, now)`. The clock `now` is the event's own time
   plus one second, so the outcome does not depend on the wall clock. A rejection is counted
   by its code (the worker dead-letters it).
2. dyads: per target, `ties.apply` on the state of `ties.dyad_key(actor, target)`.
3. people: after an applied event, and after a duplicate (the dyad agent sends the snapshot
   again, which `apply_snapshot` ignores), `ties.snapshot(state, key, state.ref)` goes to
   both endpoints' `PersonState` through `apply_snapshot`. The replay holds the dyad state
   itself, so it calls `apply_dyad`, which takes the same numbers without building the
   snapshot dict.

Opt-outs and the broker are left out. The report measures, at the end of the replay:

- state size: the stored (changelog) value bytes of each dyad and person, as the table
  codecs write them, and the growth of the process RSS per dyad. RSS counts every Python
  object of the run (dyads, people, allocator slack), so it is an upper bound on what one
  dyad costs in memory; the stored bytes are what a changelog and a state store hold.
- reciprocity: time-free (both directions decay alike), so its distribution needs no clock.
  Strength is read at the newest event time of the replay.
- who, not how many: the top people by relationship influence (`rank_people`, at the newest
  event time) next to the top by raw in-degree (distinct people who addressed them) and by
  raw inbound interactions (mentions and replies received, undecayed), with the overlap.
  Influence differs from raw counts in two ways, recency (it decays) and reciprocity (a
  one-way tie counts `one_way_influence` of its weight). To tell them apart, the ranking
  also holds the decayed in-strength: the same sum with every tie counted in full.
- throughput: the time spent reading and converting the file is kept apart from the core
  (validation, dyads, people), with three clock reads per record; the process CPU time is
  kept too, since wall time on a shared machine also counts other processes.
"""

from __future__ import annotations

import bisect
import gc
import heapq
import os
import platform
import resource
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import orjson

from service.core import ties
from service.core.influence import PersonState, apply_dyad, rank_people
from service.core.interaction import Interaction
from service.core.validation import EventValidator, Rejection
from service.evaluation.measures import predictive_check, scores, top_k_overlaps
from service.sources.record import LineError, SkippedLine, SourceItem, SourceRecord

QUANTILES = (("p25", 0.25), ("p50", 0.50), ("p75", 0.75), ("p90", 0.90))
PROGRESS_EVERY = 1024  # records between progress callbacks
CLOCK_SKEW_S = 1.0  # validation clock: the event's own time plus this
TOP = 10

ProgressFn = Callable[[int], None]
_Score = TypeVar("_Score", int, float)


@dataclass(frozen=True, slots=True)
class ReplayCounts:
    """What came in and what the dyads did with it."""

    events_in: int  # source records read (after the limit)
    valid: int
    rejected: dict[str, int]  # by reason code
    interactions: int  # (event, target) pairs offered to the dyads
    applied: int
    duplicates: int
    too_late: int
    skipped_lines: dict[str, int]  # by reason: lines the converter did not publish
    line_errors: int  # lines the converter could not read
    first_event_time: float | None
    last_event_time: float | None


@dataclass(frozen=True, slots=True)
class StateSize:
    """Stored form of the state: the values the table codecs write (orjson of `to_dict`)."""

    dyads: int
    people: int
    bytes_per_dyad: float | None  # mean over dyads
    bytes_per_person: float | None  # mean over people
    dyad_bytes_total: int
    person_bytes_total: int


@dataclass(frozen=True, slots=True)
class ProcessMemory:
    """Resident memory of this process before and after the replay (machine-dependent)."""

    method: str  # "VmRSS" (current), "ru_maxrss" (peak) or "unavailable"
    rss_before: int | None
    rss_after: int | None
    growth_bytes: int | None
    growth_per_dyad: float | None  # Python objects in one process: an upper bound
    cpu_count: int | None
    cpu_model: str
    load_average: tuple[float, float, float] | None  # 1, 5, 15 min, at the end
    python: str


@dataclass(frozen=True, slots=True)
class ReciprocityDistribution:
    """Reciprocity `2 min / sum` of every dyad, and its strong-tie share, at the end."""

    dyads: int
    one_way_share: float | None  # reciprocity 0: only one direction ever spoke
    two_way: int
    two_way_quantiles: dict[str, float] | None  # p25, p50, p75, p90 among two-way dyads
    two_way_at_least_half: float | None  # share of two-way dyads with reciprocity >= 0.5
    strong_threshold: float
    strong_share: float | None  # strength >= threshold at `at`, among all dyads
    at: float | None  # the time strength is read at: the newest event time


@dataclass(frozen=True, slots=True)
class RankedPerson:
    """One of the most influential people, with where raw counts would have put them."""

    person: str
    influence: float
    in_degree: int  # distinct people who addressed them
    in_degree_rank: int  # 1 + people with a higher in-degree
    inbound: int  # mentions and replies received
    inbound_rank: int
    decayed_in_strength: float  # influence with one-way ties counted in full
    decayed_in_strength_rank: int
    two_way_partners: int  # partners who addressed them and whom they addressed


@dataclass(frozen=True, slots=True)
class Overlap:
    """How many of two top lists are the same people."""

    shared: int
    jaccard: float | None  # |A & B| / |A | B|


@dataclass(frozen=True, slots=True)
class Ranking:
    at: float | None
    by_influence: list[RankedPerson]
    by_in_degree: list[tuple[str, int]]
    by_inbound: list[tuple[str, int]]
    by_decayed_in_strength: list[tuple[str, float]]
    influence_vs_in_degree: Overlap
    influence_vs_inbound: Overlap
    influence_vs_decayed_in_strength: Overlap


@dataclass(frozen=True, slots=True)
class Throughput:
    """Seconds spent per stage and events per second (machine-dependent)."""

    events: int
    wall_s: float  # everything, file reading included
    cpu_s: float  # CPU time of this process over the same span
    parse_s: float  # reading and converting the file
    validate_s: float
    update_s: float  # dyads and people
    wall_events_per_s: float | None
    cpu_events_per_s: float | None  # events per CPU second, file reading included
    core_events_per_s: float | None  # validate + dyads + people
    update_events_per_s: float | None  # dyads + people only


@dataclass(frozen=True, slots=True)
class RelationshipReport:
    source: str
    format: str
    limit: int | None
    counts: ReplayCounts
    state: StateSize
    reciprocity: ReciprocityDistribution
    ranking: Ranking
    throughput: Throughput
    process: ProcessMemory
    # Influence, reach and in-degree: top-k overlaps, and which predicts two-way partners in
    # the second half (service.evaluation.measures).
    overlaps: dict[str, dict[str, int]] = field(default_factory=dict)
    prediction: dict[str, Any] | None = None

    MACHINE_DEPENDENT: ClassVar[tuple[str, ...]] = ("throughput", "process")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (`orjson.dumps` takes it as is)."""
        return asdict(self)

    def deterministic_dict(self) -> dict[str, Any]:
        """`to_dict` without the sections that depend on the machine and the moment."""
        data = self.to_dict()
        for name in self.MACHINE_DEPENDENT:
            del data[name]
        return data


@dataclass
class _Timing:
    parse_s: float = 0.0
    validate_s: float = 0.0
    update_s: float = 0.0
    wall_s: float = 0.0
    cpu_s: float = 0.0


@dataclass
class RelationshipReplay:
    """The dyads and people tables of one worker, held in plain dicts."""

    params: ties.TieParams = ties.DEFAULT_TIE_PARAMS
    validator: EventValidator = field(default_factory=EventValidator)
    dyads: dict[tuple[str, str], ties.DyadState] = field(default_factory=dict)
    people: dict[str, PersonState] = field(default_factory=dict)
    events_in: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    line_errors: int = 0
    first_event_time: float | None = None
    last_event_time: float | None = None

    def validate(self, record: SourceRecord) -> Interaction | None:
        """The ingest stage: the record as an interaction, or None (counted as rejected)."""
        self.events_in += 1
        # `kind` picks the topic the record would be published to, which carries that kind only.
        result = self.validator.validate(
            record.payload, record.event_time + CLOCK_SKEW_S, topic_kind=record.kind
        )
        if isinstance(result, Rejection):
            self.rejected[result.code] += 1
            return None
        return result

    def apply(self, interaction: Interaction) -> None:
        """The dyad and people stages, for each target of a valid interaction."""
        t = interaction.event_time
        if self.first_event_time is None or t < self.first_event_time:
            self.first_event_time = t
        if self.last_event_time is None or t > self.last_event_time:
            self.last_event_time = t
        actor = interaction.actor
        scopes = interaction.scopes
        params = self.params
        for target in interaction.targets:
            key = ties.dyad_key(actor, target)
            outcome, state = ties.apply(
                self.dyads.get(key), actor, target, interaction.kind, t,
                interaction.sentiment, scopes, interaction.event_id, params,
            )  # fmt: skip
            self.outcomes[outcome] += 1
            if outcome == ties.TOO_LATE:
                continue
            if outcome == ties.APPLIED:
                self.dyads[key] = state
            for person in key:
                held = self.people.get(person)
                if held is None:
                    held = self.people[person] = PersonState()
                apply_dyad(held, person, key, state)

    def feed(self, item: SourceItem) -> None:
        """One item of a source, untimed."""
        if isinstance(item, SourceRecord):
            interaction = self.validate(item)
            if interaction is not None:
                self.apply(interaction)
        else:
            self.tally(item)

    def tally(self, item: SkippedLine | LineError) -> None:
        if isinstance(item, SkippedLine):
            self.skipped[item.reason] += 1
        else:
            self.line_errors += 1

    def run(
        self,
        items: Iterable[SourceItem],
        limit: int | None = None,
        on_progress: ProgressFn | None = None,
    ) -> _Timing:
        """Feed `items` until `limit` source records, timing the file apart from the core."""
        timing = _Timing()
        clock = time.perf_counter
        iterator = iter(items)
        cpu_start = time.process_time()
        start = mark = clock()
        next_report = PROGRESS_EVERY
        try:
            for item in iterator:
                got = clock()
                timing.parse_s += got - mark
                if isinstance(item, SourceRecord):
                    interaction = self.validate(item)
                    checked = clock()
                    timing.validate_s += checked - got
                    if interaction is not None:
                        self.apply(interaction)
                    mark = clock()
                    timing.update_s += mark - checked
                    if self.events_in >= next_report:
                        next_report += PROGRESS_EVERY
                        if on_progress is not None:
                            on_progress(self.events_in)
                    if limit is not None and self.events_in >= limit:
                        break
                else:
                    self.tally(item)
                    mark = clock()
                    timing.parse_s += mark - got
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
        timing.wall_s = clock() - start
        timing.cpu_s = time.process_time() - cpu_start
        if on_progress is not None:
            on_progress(self.events_in)
        return timing

    def counts(self) -> ReplayCounts:
        return ReplayCounts(
            events_in=self.events_in,
            valid=self.events_in - sum(self.rejected.values()),
            rejected=dict(sorted(self.rejected.items())),
            interactions=sum(self.outcomes.values()),
            applied=self.outcomes[ties.APPLIED],
            duplicates=self.outcomes[ties.DUPLICATE],
            too_late=self.outcomes[ties.TOO_LATE],
            skipped_lines=dict(sorted(self.skipped.items())),
            line_errors=self.line_errors,
            first_event_time=self.first_event_time,
            last_event_time=self.last_event_time,
        )


def evaluate_relationships(
    items: Iterable[SourceItem],
    *,
    source: str = "",
    fmt: str = "",
    limit: int | None = None,
    params: ties.TieParams = ties.DEFAULT_TIE_PARAMS,
    validator: EventValidator | None = None,
    top: int = TOP,
    on_progress: ProgressFn | None = None,
) -> RelationshipReport:
    """Replay `items` (at most `limit` source records) and report on the state they leave."""
    replay = _RecordingReplay(params, validator or EventValidator())
    method, rss_before = _measure_rss()
    timing = replay.run(items, limit, on_progress)
    _, rss_after = _measure_rss()
    at = replay.last_event_time
    overlaps = (
        top_k_overlaps(scores(replay.dyads, replay.people, at, params)) if at is not None else {}
    )
    prediction = predictive_check(replay.recorded, params)
    return RelationshipReport(
        source=source,
        format=fmt,
        limit=limit,
        counts=replay.counts(),
        state=state_size(replay.dyads, replay.people),
        reciprocity=reciprocity_distribution(replay.dyads, replay.last_event_time, params),
        ranking=rank(replay.dyads, replay.people, replay.last_event_time, top, params),
        throughput=_throughput(replay.events_in, timing),
        process=_process_memory(method, rss_before, rss_after, len(replay.dyads)),
        overlaps=overlaps,
        prediction=prediction.to_dict() if prediction is not None else None,
    )


@dataclass
class _RecordingReplay(RelationshipReplay):
    """A replay that keeps the valid interactions, for the predictive check's second pass."""

    recorded: list[Interaction] = field(default_factory=list)

    def apply(self, interaction: Interaction) -> None:
        self.recorded.append(interaction)
        super().apply(interaction)


def state_size(
    dyads: dict[tuple[str, str], ties.DyadState], people: dict[str, PersonState]
) -> StateSize:
    dumps = orjson.dumps
    dyad_bytes = sum(len(dumps(ties.to_dict(state))) for state in dyads.values())
    person_bytes = sum(len(dumps(state.to_dict())) for state in people.values())
    return StateSize(
        dyads=len(dyads),
        people=len(people),
        bytes_per_dyad=dyad_bytes / len(dyads) if dyads else None,
        bytes_per_person=person_bytes / len(people) if people else None,
        dyad_bytes_total=dyad_bytes,
        person_bytes_total=person_bytes,
    )


def reciprocity_distribution(
    dyads: dict[tuple[str, str], ties.DyadState],
    at: float | None,
    params: ties.TieParams = ties.DEFAULT_TIE_PARAMS,
) -> ReciprocityDistribution:
    two_way: list[float] = []
    strong = 0
    threshold = params.strong_tie_threshold
    for state in dyads.values():
        r = state.reciprocity()
        if r > 0.0:
            two_way.append(r)
        if at is not None and state.strength(at, params) >= threshold:
            strong += 1
    n = len(dyads)
    two_way.sort()
    return ReciprocityDistribution(
        dyads=n,
        one_way_share=(n - len(two_way)) / n if n else None,
        two_way=len(two_way),
        two_way_quantiles=(
            {name: quantile(two_way, q) for name, q in QUANTILES} if two_way else None
        ),
        two_way_at_least_half=(
            (len(two_way) - bisect.bisect_left(two_way, 0.5)) / len(two_way) if two_way else None
        ),
        strong_threshold=threshold,
        strong_share=strong / n if n else None,
        at=at,
    )


def quantile(ordered: Sequence[float], q: float) -> float:
    """The `q` quantile of ascending `ordered`, interpolating linearly between the closest
    ranks (numpy's default, Hyndman & Fan type 7): the median of 1, 2, 3, 4 is 2.5."""
    if not ordered:
        raise ValueError("no values")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must be in [0, 1], got {q!r}")
    position = q * (len(ordered) - 1)
    below = int(position)
    if below + 1 >= len(ordered):
        return ordered[-1]
    fraction = position - below
    return ordered[below] + (ordered[below + 1] - ordered[below]) * fraction


def rank(
    dyads: dict[tuple[str, str], ties.DyadState],
    people: dict[str, PersonState],
    at: float | None,
    top: int = TOP,
    params: ties.TieParams = ties.DEFAULT_TIE_PARAMS,
) -> Ranking:
    """Top people by influence at `at`, by raw in-degree and by raw inbound interactions."""
    in_degree: Counter[str] = Counter()
    inbound: Counter[str] = Counter()
    for (a, b), state in dyads.items():
        to_b = state.mentions_ab + state.replies_ab
        to_a = state.mentions_ba + state.replies_ba
        if to_b:
            in_degree[b] += 1
            inbound[b] += to_b
        if to_a:
            in_degree[a] += 1
            inbound[a] += to_a
    influential: list[tuple[str, float]] = []
    in_strength: dict[str, float] = {}
    if at is not None:
        influential = rank_people(people, at, limit=top, params=params)
        full = replace(params, one_way_influence=1.0)  # every tie in full: no reciprocity
        in_strength = {person: state.influence(at, None, full) for person, state in people.items()}
    degree_rank = _competition_rank(in_degree)
    inbound_rank = _competition_rank(inbound)
    strength_rank = _competition_rank(in_strength)
    by_influence = [
        RankedPerson(
            person=person,
            influence=score,
            in_degree=in_degree[person],
            in_degree_rank=degree_rank(in_degree[person]),
            inbound=inbound[person],
            inbound_rank=inbound_rank(inbound[person]),
            decayed_in_strength=in_strength[person],
            decayed_in_strength_rank=strength_rank(in_strength[person]),
            two_way_partners=sum(
                1 for tie in people[person].ties.values() if tie.w_in > 0.0 and tie.w_out > 0.0
            ),
        )
        for person, score in influential
    ]
    by_in_degree = _top_counts(in_degree, top)
    by_inbound = _top_counts(inbound, top)
    by_in_strength = _top_counts({p: v for p, v in in_strength.items() if v > 0.0}, top)
    chosen = [person.person for person in by_influence]
    return Ranking(
        at=at,
        by_influence=by_influence,
        by_in_degree=by_in_degree,
        by_inbound=by_inbound,
        by_decayed_in_strength=by_in_strength,
        influence_vs_in_degree=overlap(chosen, [person for person, _ in by_in_degree]),
        influence_vs_inbound=overlap(chosen, [person for person, _ in by_inbound]),
        influence_vs_decayed_in_strength=overlap(chosen, [person for person, _ in by_in_strength]),
    )


def overlap(first: Iterable[str], second: Iterable[str]) -> Overlap:
    a, b = set(first), set(second)
    union = a | b
    return Overlap(shared=len(a & b), jaccard=len(a & b) / len(union) if union else None)


def _top_counts(scores: Mapping[str, _Score], top: int) -> list[tuple[str, _Score]]:
    """The `top` highest scores as (person, score), highest first, equal scores by id."""
    return heapq.nsmallest(top, scores.items(), key=lambda item: (-item[1], item[0]))


def _competition_rank(scores: Mapping[str, float]) -> Callable[[float], int]:
    """`score -> 1 + how many people score higher` (equal scores share a rank: 1, 2, 2, 4)."""
    descending = sorted(-value for value in scores.values())
    return lambda value: bisect.bisect_left(descending, -value) + 1


def _throughput(events: int, timing: _Timing) -> Throughput:
    core_s = timing.validate_s + timing.update_s
    return Throughput(
        events=events,
        wall_s=timing.wall_s,
        cpu_s=timing.cpu_s,
        parse_s=timing.parse_s,
        validate_s=timing.validate_s,
        update_s=timing.update_s,
        wall_events_per_s=events / timing.wall_s if timing.wall_s > 0 else None,
        cpu_events_per_s=events / timing.cpu_s if timing.cpu_s > 0 else None,
        core_events_per_s=events / core_s if core_s > 0 else None,
        update_events_per_s=events / timing.update_s if timing.update_s > 0 else None,
    )


def _measure_rss() -> tuple[str, int | None]:
    """This process's resident set in bytes, after a full collection."""
    gc.collect()
    status = Path("/proc/self/status")
    try:
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return "VmRSS", int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        # Linux reports kilobytes; this is the peak, not the current size.
        return "ru_maxrss", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    except (OSError, ValueError):
        return "unavailable", None


def _process_memory(
    method: str, before: int | None, after: int | None, dyads: int
) -> ProcessMemory:
    growth = after - before if before is not None and after is not None else None
    return ProcessMemory(
        method=method,
        rss_before=before,
        rss_after=after,
        growth_bytes=growth,
        growth_per_dyad=growth / dyads if growth is not None and dyads else None,
        cpu_count=os.cpu_count(),
        cpu_model=_cpu_model(),
        load_average=_load_average(),
        python=platform.python_version(),
    )


def _load_average() -> tuple[float, float, float] | None:
    try:
        return os.getloadavg()
    except OSError:
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
