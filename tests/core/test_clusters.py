"""Tribes over time: ids kept across small changes, lifecycle events, emerging-cluster signals."""

from __future__ import annotations

import random
from itertools import combinations, pairwise

import pytest

from service.core.alerts import AlertBook
from service.core.clusters import (
    ClusterParams,
    ClusterTracker,
    EmergingStep,
    Observation,
    cluster_metrics,
    cluster_signal,
)
from service.core.communities import IncrementalCommunities, refine_partition
from service.core.graph import StrongTieGraph
from service.core.schemas import compiled

DAY = 86400.0
T0 = 1_795_000_000.0
ALERT_V1 = compiled("alert.v1")


class Tribes:
    """The cluster agent's core in one place: graph, detector, tracker."""

    def __init__(self, params: ClusterParams | None = None) -> None:
        self.graph = StrongTieGraph()
        self.comms = IncrementalCommunities(self.graph)
        self.tracker = ClusterTracker(params or ClusterParams())
        self.seq = 0
        self.now = T0

    def tie(self, a: str, b: str, strength: float = 0.9, scopes: dict | None = None) -> None:
        self.seq += 1
        snapshot = {
            "a": min(a, b),
            "b": max(a, b),
            "seq": self.seq,
            "ref": self.now,
            "strength": strength,
            "scopes": scopes or {},
        }
        self.comms.apply(self.graph.update(snapshot))

    def clique(self, people: list[str], strength: float = 0.9, scopes: dict | None = None) -> None:
        for a, b in combinations(people, 2):
            self.tie(a, b, strength, scopes)

    def cut(self, a: str, b: str) -> None:
        self.comms.apply(self.graph.remove(a, b))

    def tick(self, sentiment: dict[str, float] | None = None) -> Observation:
        refined = refine_partition(self.comms.snapshot_for_refinement())
        self.comms.adopt(refined.communities)
        communities = self.comms.communities()
        return self.tracker.observe(communities, self.graph, self.now, sentiment=sentiment)


def people(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i:02d}" for i in range(n)]


def kinds(observation: Observation) -> list[tuple[str, str]]:
    return [(e.kind, e.cluster_id) for e in observation.events]


# -- identity ----------------------------------------------------------------------------------


def groups_graph(*groups: list[str]) -> StrongTieGraph:
    graph = StrongTieGraph()
    seq = 0
    for group in groups:
        for a, b in combinations(sorted(group), 2):
            seq += 1
            graph.update({"a": a, "b": b, "seq": seq, "ref": T0, "strength": 0.9})
    return graph


def test_new_clusters_are_forming_with_ids_from_one_sequence() -> None:
    a, b, c = people("a", 8), people("b", 6), people("c", 2)
    tracker = ClusterTracker()
    seen = tracker.observe([set(b), set(a), set(c)], groups_graph(a, b, c), T0)
    # Largest first; a pair is no tribe (min_size 3).
    assert kinds(seen) == [("forming", "c-1"), ("forming", "c-2")]
    assert tracker.get("c-1").members == frozenset(a)
    assert tracker.get("c-2").members == frozenset(b)
    assert tracker.cluster_of("b03") == "c-2"


def test_ids_survive_small_changes() -> None:
    a, b = people("a", 10), people("b", 8)
    tracker = ClusterTracker()
    tracker.observe([a, b], groups_graph(a, b), T0)
    # One joins a, one leaves b, one moves from b to a.
    a2 = [*a, "newcomer", "b07"]
    b2 = b[1:7]
    seen = tracker.observe([a2, b2], groups_graph(a2, b2), T0 + 3600)
    assert tracker.cluster_of("newcomer") == "c-1"
    assert tracker.cluster_of("b03") == "c-2"
    assert [e.kind for e in seen.events] == []  # still forming: no new lifecycle event


def test_a_merge_keeps_the_larger_id_and_retires_the_other() -> None:
    a, b = people("a", 10), people("b", 6)
    tracker = ClusterTracker()
    tracker.observe([a, b], groups_graph(a, b), T0)
    seen = tracker.observe([a + b], groups_graph(a + b), T0 + 3600)
    assert [(e.kind, e.cluster_id, e.related) for e in seen.events] == [("merged", "c-2", ("c-1",))]
    assert set(tracker.clusters) == {"c-1"}


def test_a_split_keeps_the_id_on_the_larger_part_and_names_the_new_one() -> None:
    whole = people("p", 20)
    tracker = ClusterTracker()
    tracker.observe([whole], groups_graph(whole), T0)
    left, right = whole[:12], whole[12:]
    seen = tracker.observe([left, right], groups_graph(left, right), T0 + 3600)
    assert [(e.kind, e.cluster_id, e.related) for e in seen.events] == [("split", "c-1", ("c-2",))]
    assert tracker.get("c-1").members == frozenset(left)
    assert tracker.get("c-2").members == frozenset(right)


def test_a_cluster_that_falls_apart_is_dissolved() -> None:
    a, b = people("a", 6), people("b", 6)
    tracker = ClusterTracker()
    tracker.observe([a, b], groups_graph(a, b), T0)
    scattered = [a[:2], a[2:4], a[4:]]  # pairs: below min_size
    seen = tracker.observe([b, *scattered], groups_graph(b), T0 + 3600)
    assert kinds(seen) == [("dissolved", "c-1")]
    assert set(tracker.clusters) == {"c-2"}


def test_growth_and_shrinkage_after_forming_are_events() -> None:
    params = ClusterParams(forming_window_s=DAY, growth_window_s=7 * DAY)
    tracker = ClusterTracker(params)
    core = people("a", 10)
    tracker.observe([core], groups_graph(core), T0)
    assert tracker.get("c-1").state == "forming"
    grown = core + people("n", 4)
    seen = tracker.observe([grown], groups_graph(grown), T0 + 2 * DAY)
    assert kinds(seen) == [("growing", "c-1")]
    summary = tracker.summaries()[0]
    assert summary["growth"]["gained"] == 4 and summary["growth"]["rate"] == pytest.approx(0.4)
    # Ten days later the window starts after the growth; then it loses 5 of 14.
    tracker.observe([grown], groups_graph(grown), T0 + 10 * DAY)
    assert tracker.get("c-1").state == "stable"
    seen = tracker.observe([grown[5:]], groups_graph(grown[5:]), T0 + 11 * DAY)
    assert kinds(seen) == [("shrinking", "c-1")]


def test_same_input_same_ids_and_state_round_trips() -> None:
    a, b, c = people("a", 9), people("b", 9), people("c", 5)
    graph = groups_graph(a, b, c)

    def run(tracker: ClusterTracker) -> list:
        out = [tracker.observe([c, b, a], graph, T0 + 60).events]
        out.append(tracker.observe([a + c, b], graph, T0 + 120).events)
        return out

    assert run(ClusterTracker()) == run(ClusterTracker())
    first = ClusterTracker()
    first.observe([a, b, c], graph, T0)
    second = ClusterTracker.from_dict(first.to_dict())
    one = first.observe([a + c, b], graph, T0 + 60)
    two = second.observe([a + c, b], graph, T0 + 60)
    assert one.events == two.events
    assert first.to_dict() == second.to_dict()


# -- metrics and evidence ----------------------------------------------------------------------


def test_metrics_of_a_clique_with_one_tie_out() -> None:
    a = people("a", 4)
    graph = groups_graph(a)
    graph.update({"a": "a00", "b": "zed", "seq": 99, "ref": T0, "strength": 0.9})
    m = cluster_metrics(frozenset(a), graph)
    assert (m.size, m.edges, m.density) == (4, 6, 1.0)
    assert m.internal_weight == pytest.approx(5.4)
    assert m.boundary_weight == pytest.approx(0.9)
    assert m.cohesion == pytest.approx(5.4 / 6.3)
    assert m.mean_tie_strength == pytest.approx(0.9)


def test_details_name_the_critical_ties_central_members_bridges_and_topics() -> None:
    t = Tribes()
    runners = people("run", 6)
    t.clique(runners, 0.8, scopes={"trail": [1.0, 1.0]})
    for other in runners[1:]:
        t.tie("run00", other, 0.97, scopes={"trail": [1.0, 1.0], "shoes": [1.0, 0.0]})
    cooks = people("cook", 5)
    t.clique(cooks, 0.85)
    t.tie("run05", "cook00", 0.7)  # the one tie between the tribes
    t.tick()
    cid = t.tracker.cluster_of("run00")
    detail = t.tracker.detail(cid, t.graph)
    assert detail["members"] == runners
    assert detail["central"][0]["id"] == "run00"
    assert detail["critical_ties"][0]["a"] == "run00"
    assert detail["critical_ties"][0]["strength"] == pytest.approx(0.97)
    roles = {p["id"]: p["role"] for p in detail["critical_people"]}
    assert "central" in roles["run00"]
    assert "bridge" in roles["run05"]
    assert [topic["topic"] for topic in detail["topics"]] == ["trail", "shoes"]


# -- emerging clusters -------------------------------------------------------------------------


# The bars of an emerging cluster alone: no bootstrap, no persistence span (both below).
EAGER = ClusterParams(bootstrap_window_s=0, bootstrap_min_history_s=0, emerging_min_span_s=0)


def test_a_planted_tight_group_fires_an_emerging_signal_with_evidence() -> None:
    t = Tribes(EAGER)
    tribe = people("fan", 6)
    t.clique(tribe, 0.9, scopes={"acme": [2.0, 1.0]})
    for i in range(30):  # weak background: a chain of strong-enough but sparse ties
        t.tie(f"bg{i:02d}", f"bg{i + 1:02d}", 0.65)
    seen = t.tick(sentiment={"fan00": 0.5, "fan01": -0.1})
    opened = [s for s in seen.signals if s.step == "opened"]
    assert len(opened) == 1
    signal = opened[0]
    ev = signal.evidence
    assert signal.kind == "emerging_cluster" and signal.subject_id == t.tracker.cluster_of("fan00")
    assert ev["members"] == tribe
    assert ev["density"] == 1.0 and ev["trigger"] == ["tight"]
    assert signal.score == pytest.approx(1.0)  # no tie leaves the tribe: cohesion 1
    assert len(ev["ties"]) == 10 and all(tie["strength"] == 0.9 for tie in ev["ties"])
    assert {p["role"] for p in ev["people"]} >= {"central"}
    assert ev["topics"][0]["topic"] == "acme"
    assert ev["sentiment"] == {"mean": 0.2, "scored": 2}
    # The alert book turns it into a valid alert.v1 record that pages.
    book = AlertBook()
    emitted = book.observe(signal)
    assert emitted is not None and emitted.pages
    ALERT_V1(emitted.record)
    assert emitted.record["severity"] == "critical"
    assert "A tight group of 6 people" in emitted.record["summary"]


def test_a_sparse_random_group_does_not_fire() -> None:
    t = Tribes()
    rng = random.Random(11)
    crowd = people("x", 40)
    for a, b in combinations(crowd, 2):
        if rng.random() < 0.08:
            t.tie(a, b, 0.65)
    seen = t.tick()
    big = [c for c in t.tracker.clusters.values() if len(c.members) >= 4]
    assert len(big) >= 4, "the detector still finds communities in it"
    assert all(c.metrics is not None and c.metrics.density < 0.5 for c in big)
    assert seen.signals == []


def test_fast_growth_of_an_old_cluster_fires_and_a_dissolved_one_resolves() -> None:
    t = Tribes(
        ClusterParams(
            emerging_min_size=6, emerging_max_age_s=DAY, bootstrap_window_s=0,
            bootstrap_min_history_s=0,
        )
    )  # fmt: skip
    core = people("g", 5)
    t.clique(core, 0.9)  # tight, but too small to emerge
    assert t.tick().signals == []
    cid = t.tracker.cluster_of("g00")
    t.now += 3 * DAY  # too old to be new: only growth can make it emerge now
    for joiner in people("j", 6):
        for member in core:
            t.tie(joiner, member, 0.9)
    seen = t.tick()
    assert t.tracker.cluster_of("j05") == cid
    # Mostly new ties, so it is news; growth is what made it big enough to emerge.
    assert [(s.step, s.subject_id, "growth" in s.evidence["trigger"]) for s in seen.signals] == [
        ("opened", cid, True)
    ]
    assert seen.signals[0].evidence["growth"] == {"window_s": 7 * DAY, "gained": 6, "rate": 1.2}
    # Everyone's ties are cut: the cluster dissolves, and its alert resolves.
    for a, b, _ in list(t.graph.edges()):
        t.cut(a, b)
    t.now += 60
    seen = t.tick()
    assert kinds(seen) == [("dissolved", cid)]
    assert [(s.step, s.subject_id) for s in seen.signals] == [("resolved", cid)]


def test_an_open_alert_updates_only_when_members_change_and_resolves_with_hysteresis() -> None:
    t = Tribes(EAGER)
    tribe = people("fan", 6)
    t.clique(tribe, 0.9)
    assert [s.step for s in t.tick().signals] == ["opened"]
    t.now += 60
    assert t.tick().signals == []  # nothing changed: nothing to say
    t.clique([*tribe, "fan06"], 0.9)
    t.now += 60
    assert [s.step for s in t.tick().signals] == ["update"]
    # Ties weaken to 0.61: below the 0.7 bar but above 0.8 * 0.7, so the alert holds.
    t.clique([*tribe, "fan06"], 0.61)
    t.now += 60
    assert [s.step for s in t.tick().signals] == []
    cid = t.tracker.cluster_of("fan00")
    for a, b, _ in list(t.graph.edges()):  # what is left is a chain: density 6 / 21
        t.cut(a, b)
    chain = [*tribe, "fan06"]
    for a, b in pairwise(chain):
        t.tie(a, b, 0.9)
    t.now += 60
    assert [(s.step, s.subject_id) for s in t.tick().signals] == [("resolved", cid)]


def test_forget_erases_a_person_from_every_cluster() -> None:
    a = people("a", 5)
    tracker = ClusterTracker()
    tracker.observe([a], groups_graph(a), T0)
    tracker.forget("a02")
    assert "a02" not in tracker.get("c-1").members
    assert "a02" not in str(tracker.to_dict())


def test_cluster_signal_is_shaped_like_the_other_detectors() -> None:
    step = EmergingStep("c-7", "opened", T0, 0.66, T0 - DAY, {"size": 5})
    signal = cluster_signal(step, extra={"messages": []})
    assert signal.dedup_key == "emerging_cluster:c-7"
    assert signal.topic is None and signal.evidence == {"size": 5, "messages": []}


def test_parameters_are_checked() -> None:
    with pytest.raises(ValueError):
        ClusterParams(min_size=1)
    with pytest.raises(ValueError):
        ClusterParams(match_containment=0.4)
    with pytest.raises(ValueError):
        ClusterParams(hysteresis=0.0)


def test_nothing_emerges_while_the_graph_is_filling_in() -> None:
    """A replay's first hours: every tribe already there is not new, however tight."""
    t = Tribes(ClusterParams(emerging_min_span_s=0.0))
    for hour in range(12):  # the graph doubles every few hours: bootstrapping
        t.clique(people(f"old{hour:02d}-", 5), 0.9)
        t.now += 3600
        assert t.tick().signals == []
    assert t.tracker.bootstrapping
    for _ in range(8):  # then it stops growing; its history is half a day long
        t.now += 3600
        t.tick()
    assert t.tracker.bootstrapping, "relationships that began hours ago are still filling in"
    t.now += 7 * DAY
    t.tick()
    assert not t.tracker.bootstrapping
    assert t.tick().signals == [], "the tribes of the bootstrap are preexisting"
    t.clique(people("new", 5), 0.9)
    t.now += 3600
    assert [s.step for s in t.tick().signals] == ["opened"], "a tribe formed after it is new"


def test_a_tribe_must_persist_a_day_and_one_that_is_gone_within_it_never_pages() -> None:
    t = Tribes(ClusterParams(bootstrap_window_s=0, bootstrap_min_history_s=0))
    t.clique(people("bg", 4), 0.65)  # a loose group, so the graph is not empty
    t.tick()
    flash = people("flash", 5)
    t.clique(flash, 0.9)
    t.now += 3600
    assert t.tick().signals == [], "an hour old: not yet"
    for a, b in combinations(flash, 2):  # gone within the day
        t.cut(a, b)
    t.now += DAY
    assert [s for s in t.tick().signals if s.step == "opened"] == []
    lasting = people("tribe", 5)
    t.clique(lasting, 0.9)
    t.tick()
    t.now += DAY + 60
    opened = [s for s in t.tick().signals if s.step == "opened"]
    assert [s.subject_id for s in opened] == [t.tracker.cluster_of("tribe00")]


def test_the_bootstrap_survives_a_round_trip_of_the_state() -> None:
    t = Tribes()
    t.clique(people("a", 5), 0.9)
    t.tick()
    again = ClusterTracker.from_dict(t.tracker.to_dict())
    assert again.bootstrapping and again.first_seen == T0
    assert again.get(t.tracker.cluster_of("a00") or "").preexisting  # type: ignore[union-attr]
