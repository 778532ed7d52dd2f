"""The dashboard's pure parts: the static route serves only its own files; alert ordering."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.shell.web.dashboard import STATIC_DIR, alert_rows, static_file


@pytest.mark.parametrize("name", ["dashboard.html", "dashboard.js", "dashboard.css"])
def test_the_static_files_are_served(name: str) -> None:
    assert static_file(name) == STATIC_DIR / name


@pytest.mark.parametrize(
    "name",
    [
        "../dashboard.py",
        "..%2Fdashboard.py",
        "../../pyproject.toml",
        "/etc/passwd",
        "..",
        ".hidden.js",
        "sub/dashboard.js",
        "..\\dashboard.js",
        "dashboard.py",  # not a static type
        "missing.js",
        "",
    ],
)
def test_the_static_route_refuses_anything_else(name: str) -> None:
    assert static_file(name) is None


def test_a_symlink_out_of_the_static_folder_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "static"
    root.mkdir()
    (root / "ok.js").write_text("1")
    secret = tmp_path / "secret.js"
    secret.write_text("2")
    (root / "link.js").symlink_to(secret)
    assert static_file("ok.js", root) == (root / "ok.js").resolve()
    assert static_file("link.js", root) is None


def entry(alert_id: str, state: str, emitted_at: str, is_open: bool) -> dict:
    record = {"alert_id": alert_id, "state": state, "emitted_at": emitted_at, "kind": "x"}
    return {"r": record, "f": [int(is_open), 0, 0, 1]}


ENTRIES = [
    entry("old-open", "open", "2026-01-20T10:00:00Z", True),
    entry("resolved-new", "resolved", "2026-01-27T12:00:00Z", False),
    entry("new-update", "update", "2026-01-26T09:00:00Z", True),
    entry("resolved-old", "resolved", "2026-01-21T12:00:00Z", False),
]


def test_alerts_list_open_ones_first_then_newest_first() -> None:
    rows = alert_rows(ENTRIES)
    assert [r["alert_id"] for r in rows] == [
        "new-update",
        "old-open",
        "resolved-new",
        "resolved-old",
    ]
    assert [r["open"] for r in rows] == [True, True, False, False]
    assert rows[0]["state"] == "update", "the latest record of the entry, as stored"


def test_alerts_filter_by_state() -> None:
    assert [r["alert_id"] for r in alert_rows(ENTRIES, "open")] == ["new-update", "old-open"]
    assert [r["alert_id"] for r in alert_rows(ENTRIES, "resolved")] == [
        "resolved-new",
        "resolved-old",
    ]


def test_entries_without_a_record_are_skipped() -> None:
    assert alert_rows([{}, {"r": None}, entry("a", "open", "2026-01-01T00:00:00Z", True)]) == [
        {"alert_id": "a", "state": "open", "emitted_at": "2026-01-01T00:00:00Z", "kind": "x",
         "open": True}
    ]  # fmt: skip
