"""Brand accounts: the handles a brand speaks through, which are never people who can page.

A brand's own accounts (`acme`, `acmesupport`, `acme_uk`) reply to customers all day. Their
posts are the brand's side of the relationship, not a person's sentiment, so they never
feed a critic detector and never count as complaints. An account is a brand account when:

- **configured**: a TOML file maps each brand to its accounts (`CLOSEKNIT_BRAND_ACCOUNTS`):

      [brands]
      acme = ["acme", "acmesupport", "acme_uk"]

- **marked by the source**: the event says `"inbound": false` (the author is the company,
  as TWCS and listening tools' "outbound" flag say);
- **suspected from the data**: `SupportPattern` sees an account that replies to many
  different people and rarely posts anything else, the shape of a support desk. Suspects
  are listed for review (`closeknit doctor`, `/api/brand-accounts`) and, like the others,
  never raise a critic alert: a person wrongly suspected loses only that alert, while a
  support desk wrongly treated as a person pages on every bad day it has.

Handles compare case-insensitively.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from hashlib import blake2b
from pathlib import Path
from typing import Any

__all__ = [
    "NO_BRAND_ACCOUNTS",
    "BrandAccounts",
    "BrandAccountsError",
    "SupportPattern",
    "load_brand_accounts",
    "review",
]

# Handles that name a desk rather than a person, e.g. AppleSupport, virginmedia_help.
DESK_NAME = re.compile(r"(support|help|care|cares|service|team|official|cs)(_?[a-z]{2})?$")


class BrandAccountsError(ValueError):
    """A brand-accounts file closeknit cannot use; the message names the file and the entry."""


@dataclass(frozen=True, slots=True)
class BrandAccounts:
    """Configured accounts by brand, and the reverse lookup."""

    by_brand: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    _brand_of: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, by_brand: Mapping[str, Iterable[str]]) -> BrandAccounts:
        brands: dict[str, tuple[str, ...]] = {}
        owner: dict[str, str] = {}
        for brand, accounts in by_brand.items():
            name = brand.strip().lower()
            handles = tuple(dict.fromkeys(a.strip().lower() for a in accounts if a.strip()))
            brands[name] = handles
            for handle in (name, *handles):
                owner.setdefault(handle, name)
        return cls(brands, owner)

    def brand_of(self, account: str) -> str | None:
        """The brand whose account this is, if configured (a brand's own name counts)."""
        return self._brand_of.get(account.lower())

    def is_brand_account(self, account: str, inbound: bool | None = None) -> bool:
        """Configured, or marked by the source as the company's own post (`inbound` False)."""
        return inbound is False or account.lower() in self._brand_of

    def __len__(self) -> int:
        return len(self.by_brand)


NO_BRAND_ACCOUNTS = BrandAccounts()


def load_brand_accounts(path: Path | None) -> BrandAccounts:
    """The accounts in a TOML file (the module docstring), or none without a file."""
    if path is None:
        return NO_BRAND_ACCOUNTS
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BrandAccountsError(
            f"{path}: cannot read the brand-accounts file ({exc.strerror}); "
            "fix CLOSEKNIT_BRAND_ACCOUNTS or unset it"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise BrandAccountsError(f"{path}: not TOML ({exc})") from exc
    brands = data.get("brands")
    if not isinstance(brands, dict):
        raise BrandAccountsError(
            f'{path}: expected a [brands] table, e.g. acme = ["acme", "acmesupport"]'
        )
    for brand, accounts in brands.items():
        if not isinstance(accounts, list) or not all(isinstance(a, str) for a in accounts):
            raise BrandAccountsError(
                f"{path}: brands.{brand}: expected a list of account ids, got {accounts!r}"
            )
    return BrandAccounts.of(brands)


@dataclass(slots=True)
class SupportPattern:
    """Counts of one account's own posts that tell a support desk from a person.

    `suspected` holds when the account replies to at least `MIN_PEOPLE` different people
    (`DESK_MIN_PEOPLE` when its handle names a desk) and at least `MIN_REPLY_SHARE` of its
    own posts are replies. A person in lively conversation replies to a handful of friends,
    again and again; a desk replies once or twice to each of hundreds of strangers.
    """

    MIN_PEOPLE = 20
    DESK_MIN_PEOPLE = 5
    MIN_REPLY_SHARE = 0.8
    KEEP = 32  # distinct reply targets remembered: enough to decide, bounded per row

    posts: int = 0
    replies: int = 0
    # Short hashes of whom it replied to, never the ids: the row is another person's, and
    # must not name someone who opts out (distinct hashes count distinct people).
    replied_to: list[str] = field(default_factory=list)
    marked: bool = False  # the source said so (`inbound: false` on one of its posts)

    def add(self, reply_to: str | None) -> None:
        self.posts += 1
        if reply_to is not None:
            self.replies += 1
            mark = blake2b(reply_to.encode(), digest_size=6).hexdigest()
            if mark not in self.replied_to and len(self.replied_to) < self.KEEP:
                self.replied_to.append(mark)

    def suspected(self, account: str) -> bool:
        if self.posts == 0 or self.replies < self.MIN_REPLY_SHARE * self.posts:
            return False
        needed = self.DESK_MIN_PEOPLE if DESK_NAME.search(account.lower()) else self.MIN_PEOPLE
        return len(self.replied_to) >= needed

    def to_list(self) -> list[Any]:
        return [self.posts, self.replies, self.replied_to, int(self.marked)]

    @classmethod
    def from_list(cls, data: list[Any] | None) -> SupportPattern:
        if not data:
            return cls()
        posts, replies, replied_to, marked = data
        return cls(int(posts), int(replies), list(replied_to), bool(marked))


def review(desks: Iterable[tuple[str, SupportPattern]], accounts: BrandAccounts) -> dict[str, Any]:
    """What an operator should look at: the configured accounts, those the source marks, and
    those that reply like a support desk but are not configured (add them, or say they are
    people by leaving them out: either way they do not page meanwhile)."""
    marked: list[str] = []
    suspected: list[dict[str, Any]] = []
    for account, desk in desks:
        if accounts.brand_of(account) is not None:
            continue
        if desk.marked:
            marked.append(account)
        elif desk.suspected(account):
            suspected.append(
                {"id": account, "replies": desk.replies, "posts": desk.posts,
                 "people_replied_to": len(desk.replied_to)}
            )  # fmt: skip
    suspected.sort(key=lambda s: (-s["people_replied_to"], -s["replies"], s["id"]))
    return {
        "configured": {brand: list(handles) for brand, handles in accounts.by_brand.items()},
        "marked_by_source": sorted(marked),
        "suspected": suspected,
        "hint": "List a brand's accounts in the TOML file named by CLOSEKNIT_BRAND_ACCOUNTS "
        "(see deploy/brand-accounts/); accounts here never raise a critic alert meanwhile.",
    }
