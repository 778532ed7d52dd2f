"""TWCS: no critic alert is about a brand account, whether the reader's inbound flag, the
shipped accounts file or the support-desk pattern recognises it."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from service.core.brand_accounts import NO_BRAND_ACCOUNTS, BrandAccounts, load_brand_accounts
from service.evaluation.alerts import AlertReplay
from service.sources.detect import open_source
from service.sources.record import SourceRecord

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data" / "twitter_customer_support_subset" / "twcs_first5000.csv"

pytestmark = pytest.mark.data


def twcs() -> Path:
    if not DATA.exists():
        pytest.skip(f"../shared/data not found: {DATA} (the real data sets sit beside the repo)")
    return DATA


def companies(path: Path) -> set[str]:
    with path.open(newline="") as f:
        return {row["author_id"] for row in csv.DictReader(f) if row["inbound"] == "False"}


def without_inbound(path: Path) -> Iterator[SourceRecord]:
    """The file as an export that dropped the inbound column would give it."""
    for item in open_source(path, "twcs"):
        if isinstance(item, SourceRecord):
            event = orjson.loads(item.payload)
            event.pop("inbound", None)
            yield SourceRecord(item.kind, item.event_id, item.event_time, orjson.dumps(event))


def critic_subjects(source: object, accounts: BrandAccounts) -> set[str]:
    run = AlertReplay(brand_accounts=accounts)
    run.run(source)  # type: ignore[arg-type]
    run.finish()
    return {r["subject"]["id"] for r in run.records if r["kind"] == "influencer_turned_negative"}


def test_the_reader_marks_company_tweets_so_no_brand_account_pages() -> None:
    path = twcs()
    assert not critic_subjects(open_source(path, "twcs"), NO_BRAND_ACCOUNTS) & companies(path)


def test_the_shipped_accounts_file_covers_an_export_without_the_flag() -> None:
    path = twcs()
    accounts = load_brand_accounts(REPO / "deploy" / "brand-accounts" / "twcs.toml")
    assert all(accounts.brand_of(c) for c in companies(path)), "every company is listed"
    assert not critic_subjects(without_inbound(path), accounts) & companies(path)


def test_without_flag_or_file_the_desks_are_suspected_and_stay_silent() -> None:
    path = twcs()
    run = AlertReplay()
    run.run(without_inbound(path))
    critics = {r["subject"]["id"] for r in run.records if r["kind"] == "influencer_turned_negative"}
    assert not critics & companies(path)
    suspects = {s["id"] for s in run.brand_account_review()["suspected"]}
    assert {"AppleSupport", "Tesco", "AmericanAir"} <= suspects
    assert suspects <= companies(path), "no customer is taken for a desk"
