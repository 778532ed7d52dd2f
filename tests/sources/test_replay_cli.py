"""`closeknit replay`: dry runs, invalid lines as FILE:LINE, exit codes, a missing broker."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from service.broker.probe import find_free_port
from service.cli.main import main

FIXTURES = Path(__file__).parent / "fixtures"
EVENTS = FIXTURES / "events.jsonl"
HIGGS = FIXTURES / "higgs-activity_time-sample.txt"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in [v for v in os.environ if v.startswith("CLOSEKNIT_")]:
        monkeypatch.delenv(var)


def test_dry_run_reports_bad_lines_as_file_line_and_exits_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["replay", "--dry-run", str(EVENTS)])

    out, err = capsys.readouterr()
    assert code == 1
    assert f"{EVENTS}:4: $.event_time: expected " in err
    assert f"{EVENTS}:6: $.target_ids" in err or f"{EVENTS}:6: $: " in err
    assert "would publish: mentions" in out
    assert "invalid lines" in out
    assert "2 invalid line(s)" in out
    assert "Exit status 1" in out


def test_dry_run_of_a_clean_file_exits_0_with_a_summary(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["replay", "--dry-run", str(HIGGS)])

    out, err = capsys.readouterr()
    assert code == 0, err
    assert "would publish: mentions" in out
    assert "retweet: not a mention or reply" in out
    assert "events/s" in out
    assert err == ""


def test_limit_stops_after_n_events(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["replay", "--dry-run", "--limit", "1", "--format", "higgs", str(HIGGS)])

    out, _ = capsys.readouterr()
    assert code == 0
    # line 1 is the mention twin of the reply on line 2, so the first event is that reply
    assert re.search(r"would publish: mentions\W+0\W", out)
    assert re.search(r"would publish: replies\W+1\W", out)


def test_more_than_20_bad_lines_are_cut_short(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("not json\n" * 25)

    code = main(["replay", "--dry-run", str(path)])

    _, err = capsys.readouterr()
    assert code == 1
    assert f"{path}:20: " in err
    assert f"{path}:21: " not in err
    assert "... and 5 more" in err


def test_a_missing_file_exits_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["replay", "--dry-run", str(tmp_path / "nope.jsonl")])

    _, err = capsys.readouterr()
    assert code == 2
    assert "nope.jsonl: no such file" in err


def test_an_unknown_format_exits_2_naming_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["replay", "--dry-run", str(FIXTURES / "unknown.csv")])

    _, err = capsys.readouterr()
    assert code == 2
    assert "--format" in err


def test_no_broker_exits_2_quickly_with_advice(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = find_free_port()
    monkeypatch.setenv("CLOSEKNIT_EMBEDDED_PORT", str(port))

    code = main(["replay", str(HIGGS)])

    _, err = capsys.readouterr()
    assert code == 2
    assert (
        f"no broker at 127.0.0.1:{port}: start one with `closeknit broker`, or set CLOSEKNIT_BROKER"
    ) in err


def test_rate_and_speedup_together_are_a_usage_error() -> None:
    with pytest.raises(SystemExit) as caught:
        main(["replay", "--rate", "10", "--speedup", "2", str(HIGGS)])
    assert caught.value.code == 2


def test_help_lists_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["replay", "--help"])

    out, _ = capsys.readouterr()
    assert caught.value.code == 0
    for option in ("--format", "--rate", "--speedup", "--limit", "--dry-run", "--broker"):
        assert option in out
