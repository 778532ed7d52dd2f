"""Incremental communities vs offline Louvain on the real email-Eu-core graph in ../shared/data.

Measured when written (count weights, refinement every 5,000 edges adopted 500 edges later,
2 x AMD EPYC): NMI against the 42 departments 0.662 incremental, 0.549 incremental + networkit
PLM refinement, 0.569 incremental + networkx refinement; offline networkx Louvain 0.587
(median of seeds 0-4, range 0.570-0.596), offline networkit PLM 0.542. Modularity 0.414,
0.426, 0.429; offline 0.427 and 0.422. Incremental is finer (18 communities against 7-8),
which is what lifts its NMI against 42 departments above the offline methods'.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from service.core.communities import available_methods
from service.evaluation.communities import evaluate_email, load_email, replay, score

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
EMAIL = DATA / "email_eu_core"

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def result() -> dict:
    if not (EMAIL / "email-Eu-core.txt").is_file():
        pytest.skip(f"{EMAIL} not found: the real data sets live in ../shared/data beside the repo")
    out = evaluate_email(EMAIL, runs=3)
    inc, ref = out["incremental"], out["incremental_refined"]
    louvain = out["offline"]["networkx_louvain"]
    print()
    print(
        f"  incremental              NMI {inc['nmi']:.4f} ARI {inc['ari']:.4f} "
        f"Q {inc['modularity']:.4f}"
    )
    print(
        f"  incremental + {ref.get('refinement_method', '?'):16} NMI {ref['nmi']:.4f} "
        f"ARI {ref['ari']:.4f} Q {ref['modularity']:.4f}"
    )
    print(
        f"  offline networkx Louvain NMI {louvain['nmi']:.4f} ARI {louvain['ari']:.4f} "
        f"Q {louvain['modularity']:.4f} (NMI {louvain['nmi_min']:.4f}-{louvain['nmi_max']:.4f})"
    )
    if "networkit_plm" in out["offline"]:
        plm = out["offline"]["networkit_plm"]
        print(
            f"  offline networkit PLM    NMI {plm['nmi']:.4f} ARI {plm['ari']:.4f} "
            f"Q {plm['modularity']:.4f}"
        )
    for name, s in (("incremental", inc), ("+ refinement", ref)):
        t = s["speed"]
        print(
            f"  {name:24} {t['edges_per_s']:,.0f} edges/s, p50 {t['p50_us']:.1f} us, "
            f"p99 {t['p99_us']:.1f} us (median of {t['runs']} runs)"
        )
    return out


def test_the_stream_matches_the_readme(result: dict) -> None:
    data = result["data"]
    # README: 25,571 directed edges, 642 self-loops, 1,005 people, 42 departments.
    assert data["directed_edges"] + data["self_loops_dropped"] == 25571
    assert data["self_loops_dropped"] == 642
    assert data["labelled_people"] == 1005 and data["departments"] == 42


def test_incremental_is_at_least_95_percent_of_offline_louvain(result: dict) -> None:
    offline = result["offline"]["networkx_louvain"]["nmi"]
    assert result["incremental"]["nmi"] >= 0.95 * offline  # measured 0.662 vs 0.587


def test_incremental_with_refinement_is_at_least_95_percent_of_the_same_offline_method(
    result: dict,
) -> None:
    """The refined stream ends on the refinement method's partition plus the edges since, so
    it is compared with that method run offline on the same final graph."""
    refined = result["incremental_refined"]
    method = refined["refinement_method"]
    key = "networkit_plm" if method == "networkit-plm" else "networkx_louvain"
    offline = result["offline"][key]["nmi"]
    assert refined["nmi"] >= 0.95 * offline  # measured 0.549 vs PLM's 0.542


def test_networkx_refinement_is_at_least_95_percent_of_offline_networkx_louvain(
    result: dict,
) -> None:
    data = load_email(EMAIL)
    run = replay(data.edges, refine_every=5000, refine_lag=500, method="networkx")
    refined = score(run.graph, run.labels, data.labels)
    offline = result["offline"]["networkx_louvain"]["nmi"]
    print(f"  incremental + networkx refinement NMI {refined.nmi:.4f} vs offline {offline:.4f}")
    assert refined.nmi >= 0.95 * offline  # measured 0.569 vs 0.587


def test_refinement_keeps_modularity_at_the_offline_level(result: dict) -> None:
    best_offline = max(s["modularity"] for s in result["offline"].values())
    assert result["incremental_refined"]["modularity"] >= 0.98 * best_offline


def test_updates_are_timed(result: dict) -> None:
    # Measured about 30k edges/s and p99 about 170 us on an idle host; the speed is reported,
    # not asserted tightly: this host is shared and a busy neighbour moves p99 tenfold.
    speed = result["incremental"]["speed"]
    assert speed["runs"] == 3
    assert speed["edges_per_s"] >= 1_000
    assert 0.0 < speed["p50_us"] <= speed["p99_us"] <= speed["max_us"]


def test_networkit_is_used_when_installed(result: dict) -> None:
    expected = "networkit-plm" if "networkit" in available_methods() else "networkx-louvain"
    assert result["incremental_refined"]["refinement_method"] == expected
