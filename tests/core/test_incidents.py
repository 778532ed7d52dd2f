"""One incident pages once: critics of a brand fold into its open moment of truth, and the
scope routing keeps everything about one brand in one order."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from service.core.alerts import AlertSignal, Kind, Step, dedup_key_for
from service.core.incidents import (
    FOLD_AFTER_S,
    IncidentBook,
    route_key,
    route_key_from_dedup,
    route_key_of,
)
from service.core.interaction import Interaction
from service.core.schemas import compiled
from service.core.signals import posts_for

VALIDATE = compiled("alert.v1")
T0 = 1_795_000_000.0


def critic(person: str, what: Step, at: float, topic: str | None = "acme") -> AlertSignal:
    evidence = {
        "people": [{"id": person, "role": "critic", "influence": 14.0}],
        "ties": [{"a": person, "b": "friend", "strength": 0.8}],
        "messages": [{"event_id": f"{person}-1", "event_time": at, "excerpt": "down again",
                      "sentiment": -0.6}],
        "baseline": 0.3, "current": -0.4,
    }  # fmt: skip
    kind: Kind = "influencer_turned_negative"
    return AlertSignal(kind, person, what, at, 1.5, at - 600, evidence, topic)


def moment(what: Step, at: float, brand: str = "acme") -> AlertSignal:
    evidence = {"count": 40, "expected": 2.0, "minutes": 20, "complainers": 30}
    return AlertSignal("moment_of_truth", brand, what, at, 20.0, at - 1200, evidence)


def records(book: IncidentBook, *signals: AlertSignal) -> list[tuple[dict[str, Any], bool]]:
    out = []
    for signal in signals:
        for emitted in book.observe(signal):
            VALIDATE(emitted.record)
            out.append((emitted.record, emitted.pages))
    return out


def test_a_critic_who_opens_during_the_outage_folds_into_it_and_does_not_page() -> None:
    book = IncidentBook()
    [(mot, paged)] = records(book, moment("opened", T0))
    assert paged and mot["incident_id"] == mot["alert_id"]
    folded = records(book, critic("k13", "opened", T0 + 300))
    (own, own_pages), (update, update_pages) = folded
    assert own["state"] == "open" and not own_pages, "the incident pages, not its parts"
    assert own["incident_id"] == mot["alert_id"] != own["alert_id"]
    assert update["alert_id"] == mot["alert_id"] and not update_pages
    [listed] = update["evidence"]["influential_critics"]
    assert listed["id"] == "k13" and listed["influence"] == 14.0
    assert listed["ties"] and listed["messages"], "with their ties and messages"
    # The burst's next update keeps the list; the critic's later records stay folded.
    later = records(book, moment("update", T0 + 2000), critic("k13", "still_open", T0 + 2000))
    assert later[0][0]["evidence"]["influential_critics"][0]["id"] == "k13"
    assert all(not pages for _, pages in later)
    assert later[-1][0]["incident_id"] == mot["alert_id"]


def test_a_critic_already_open_keeps_its_page_and_is_listed() -> None:
    book = IncidentBook()
    [(first, paged)] = records(book, critic("k33", "opened", T0 - 86400))
    assert paged and first["incident_id"] == first["alert_id"]
    records(book, moment("opened", T0))
    after = records(book, critic("k33", "still_open", T0 + 1000))
    assert after[0][0]["incident_id"] == first["alert_id"], "its own incident still"
    assert after[1][0]["evidence"]["influential_critics"][0]["id"] == "k33"


def test_after_the_incident_and_its_grace_a_critic_pages_on_its_own() -> None:
    book = IncidentBook()
    records(book, moment("opened", T0), moment("resolved", T0 + 3600))
    straggler = records(book, critic("k13", "opened", T0 + 3600 + FOLD_AFTER_S / 2))
    assert not straggler[0][1], "within the grace: still the incident's"
    late = records(book, critic("k14", "opened", T0 + 3600 + FOLD_AFTER_S + 60))
    assert late == [(late[0][0], True)] and late[0][0]["incident_id"] == late[0][0]["alert_id"]


def test_other_brands_and_topic_free_critics_are_their_own_incidents() -> None:
    book = IncidentBook()
    records(book, moment("opened", T0))
    [(other, paged)] = records(book, critic("k13", "opened", T0 + 60, topic="globex"))
    assert paged and other["incident_id"] == other["alert_id"]
    [(free, paged)] = records(book, critic("k14", "opened", T0 + 60, topic=None))
    assert paged and free["incident_id"] == free["alert_id"]


def test_on_call_resolving_the_moment_of_truth_ends_the_fold_after_its_grace() -> None:
    book = IncidentBook()
    records(book, moment("opened", T0))
    book.apply_action("moment_of_truth:acme", "resolve", None, "anna", T0 + 60)
    late = records(book, critic("k13", "opened", T0 + 60 + FOLD_AFTER_S + 1))
    assert late[0][1], "a resolved incident stops taking critics once its grace is over"


def test_one_scope_one_route_for_signals_and_records() -> None:
    assert route_key("moment_of_truth", "acme", None) == route_key(
        "influencer_turned_negative", "k33", "acme"
    )
    record = {"kind": "influencer_turned_negative", "subject": {"id": "k33", "topic": None}}
    assert route_key_of(record) == "influencer_turned_negative:k33"


ids = st.text(st.characters(blacklist_characters=":", blacklist_categories=["Cs"]), min_size=1)


@given(
    kind=st.sampled_from(["influencer_turned_negative", "moment_of_truth", "emerging_cluster"]),
    subject=ids,
    topic=st.none() | ids,
)
def test_an_action_keyed_by_its_dedup_key_finds_the_same_route(
    kind: Kind, subject: str, topic: str | None
) -> None:
    if kind == "emerging_cluster":
        topic = None  # critics and moments of truth (by failure category) have topics
    assert route_key_from_dedup(dedup_key_for(kind, subject, topic)) == route_key(
        kind, subject, topic
    )


def test_a_product_complaint_counts_in_its_brand_burst_with_the_product_as_evidence() -> None:
    def post(brands: tuple[str, ...]) -> dict[str, Any]:
        interaction = Interaction(
            event_id="e1", kind="mention", actor="k1", targets=("acme",), event_time=T0,
            text="router down", sentiment=-0.7, brands=brands, products=("acme-router",),
            failure=("outage",),
        )  # fmt: skip
        return posts_for(interaction)[0][1]

    branded = post(("acme",))
    assert branded["brands"] == ["acme"] and branded["products"] == ["acme-router"]
    assert post(())["brands"] == ["acme-router"], "a product alone is its own subject"


def test_a_category_burst_of_an_open_incident_folds_and_the_incident_stays_open() -> None:
    book = IncidentBook()
    outage = AlertSignal("moment_of_truth", "acme", "opened", T0, 20.0, T0 - 600, {}, "outage")
    [(lead, paged)] = records(book, outage)
    [(overall, overall_pages)] = records(book, moment("opened", T0 + 60))
    assert paged and not overall_pages and overall["incident_id"] == lead["alert_id"]
    records(book, AlertSignal("moment_of_truth", "acme", "resolved", T0 + 600, 1.0, T0, {},
                              "outage"))  # fmt: skip
    folded = records(book, critic("k13", "opened", T0 + 700))
    assert not folded[0][1], "the overall burst is still open: the incident too"
