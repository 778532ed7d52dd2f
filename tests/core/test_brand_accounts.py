"""Brand accounts: configured, marked by the source, or replying like a support desk, they
never feed a detector; the file's errors name the file and the entry."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.core.brand_accounts import (
    BrandAccounts,
    BrandAccountsError,
    SupportPattern,
    load_brand_accounts,
    review,
)
from service.core.interaction import Interaction
from service.core.signals import CriticRow, SignalParams, critic_apply, posts_for

T0 = 1_767_225_600.0
ACCOUNTS = BrandAccounts.of({"Acme": ["AcmeSupport", "acme_uk"]})


def reply(actor: str, target: str, *, inbound: bool | None = None, s: float = -0.6) -> Interaction:
    return Interaction(
        event_id=f"{actor}-{target}", kind="reply", actor=actor, targets=(target,),
        event_time=T0, text="so sorry about the outage", sentiment=s, brands=("acme",),
        inbound=inbound,
    )  # fmt: skip


def test_the_file_maps_brands_to_accounts_case_insensitively(tmp_path: Path) -> None:
    path = tmp_path / "accounts.toml"
    path.write_text('[brands]\nacme = ["AcmeSupport", "acme_uk"]\n')
    accounts = load_brand_accounts(path)
    assert accounts.brand_of("acmesupport") == "acme"
    assert accounts.brand_of("ACME") == "acme", "a brand's own name is one of its accounts"
    assert accounts.brand_of("k33") is None


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("brands = 3", r"\[brands\] table"),
        ('[brands]\nacme = "acme"', "brands.acme"),
        ("[brands\n", "not TOML"),
    ],
)
def test_a_bad_file_names_the_file_and_what_is_wrong(tmp_path: Path, text: str, names: str) -> None:
    path = tmp_path / "accounts.toml"
    path.write_text(text)
    with pytest.raises(BrandAccountsError, match=names) as caught:
        load_brand_accounts(path)
    assert str(path) in str(caught.value)


def test_a_missing_file_says_which_variable_to_fix(tmp_path: Path) -> None:
    with pytest.raises(BrandAccountsError, match="CLOSEKNIT_BRAND_ACCOUNTS"):
        load_brand_accounts(tmp_path / "nope.toml")


def test_a_configured_account_feeds_no_detector_in_either_direction() -> None:
    assert posts_for(reply("AcmeSupport", "k33"), ACCOUNTS) == []
    customer = posts_for(reply("k33", "acmesupport"), ACCOUNTS)
    assert [person for person, _ in customer] == ["k33"], "no drawn post for the desk"
    assert len(posts_for(reply("k33", "k12"), ACCOUNTS)) == 2


def test_an_account_the_source_marks_stays_silent_however_negative_it_sounds() -> None:
    row = CriticRow()
    params = SignalParams(min_influence=0.0)
    ((person, mark),) = posts_for(reply("desk", "k33", inbound=False))
    assert person == "desk" and mark["brand_account"]
    critic_apply(row, "desk", mark, None, params)
    for i in range(60):  # a drawn post from each unhappy customer
        drawn = {"op": "post", "role": "reply", "event_id": f"e{i}", "t": T0 + i * 60,
                 "s": -0.8, "scopes": ["acme"], "excerpt": "awful"}  # fmt: skip
        assert critic_apply(row, "desk", drawn, None, params) == (None, None)
    assert row.desk.marked and CriticRow.from_dict(row.to_dict()).desk.marked


def desk_posts(pattern: SupportPattern, people: int, replies_each: int, others: int) -> None:
    for p in range(people):
        for _ in range(replies_each):
            pattern.add(f"c{p}")
    for _ in range(others):
        pattern.add(None)


@given(people=st.integers(0, 19), replies_each=st.integers(1, 20), others=st.integers(0, 50))
def test_a_person_replying_to_fewer_than_twenty_people_is_never_a_suspect(
    people: int, replies_each: int, others: int
) -> None:
    pattern = SupportPattern()
    desk_posts(pattern, people, replies_each, others)
    assert not pattern.suspected("k33")


@given(people=st.integers(20, 200), replies_each=st.integers(1, 3))
def test_replying_to_many_strangers_and_little_else_is_a_desk(
    people: int, replies_each: int
) -> None:
    pattern = SupportPattern()
    desk_posts(pattern, people, replies_each, others=0)
    assert pattern.suspected("jane")
    assert len(pattern.replied_to) <= SupportPattern.KEEP, "bounded per row"
    assert SupportPattern.from_list(pattern.to_list()) == pattern


def test_a_handle_that_names_a_desk_needs_fewer_people() -> None:
    pattern = SupportPattern()
    desk_posts(pattern, people=6, replies_each=1, others=0)
    assert pattern.suspected("AcmeSupport") and not pattern.suspected("jane")


def test_the_review_lists_what_is_not_configured() -> None:
    desk, marked = SupportPattern(), SupportPattern(marked=True)
    desk_posts(desk, people=25, replies_each=1, others=0)
    answer = review([("helpdesk", desk), ("out", marked), ("acmesupport", desk)], ACCOUNTS)
    assert [s["id"] for s in answer["suspected"]] == ["helpdesk"]
    assert answer["marked_by_source"] == ["out"]
    assert answer["configured"] == {"acme": ["acmesupport", "acme_uk"]}
