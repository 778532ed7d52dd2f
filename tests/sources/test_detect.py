"""Format detection: by name and extension, then by the first line; unknown is explained."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from service.sources.detect import UnknownFormatError, detect_format, open_source
from service.sources.record import SourceRecord

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("events.jsonl", "jsonl"),
        ("higgs-activity_time-sample.txt", "higgs"),
        ("CollegeMsg-sample.txt", "college"),
        ("twcs_sample.csv", "twcs"),
    ],
)
def test_fixtures_are_detected_by_name(name: str, fmt: str) -> None:
    assert detect_format(FIXTURES / name) == fmt


@pytest.mark.parametrize(
    ("source", "fmt"),
    [
        ("events.jsonl", "jsonl"),
        ("higgs-activity_time-sample.txt", "higgs"),
        ("CollegeMsg-sample.txt", "college"),
        ("twcs_sample.csv", "twcs"),
    ],
)
def test_neutral_names_are_detected_by_first_line(source: str, fmt: str, tmp_path: Path) -> None:
    path = tmp_path / "input.dat"
    shutil.copy(FIXTURES / source, path)

    assert detect_format(path) == fmt


def test_ndjson_and_gz_names(tmp_path: Path) -> None:
    assert detect_format(tmp_path / "x.ndjson") == "jsonl"
    assert detect_format(tmp_path / "x.jsonl.gz") == "jsonl"
    assert detect_format(tmp_path / "higgs-activity_time.txt.gz") == "higgs"
    assert detect_format(tmp_path / "CollegeMsg.txt") == "college"


def test_unknown_names_every_format_and_the_flag() -> None:
    with pytest.raises(UnknownFormatError) as caught:
        open_source(FIXTURES / "unknown.csv")

    message = str(caught.value)
    for fmt in ("jsonl", "higgs", "twcs", "college", "--format"):
        assert fmt in message


def test_open_source_dispatches_and_passes_options() -> None:
    higgs = FIXTURES / "higgs-activity_time-sample.txt"
    default = [i for i in open_source(higgs) if isinstance(i, SourceRecord)]
    with_rt = [i for i in open_source(higgs, include_retweets=True) if isinstance(i, SourceRecord)]

    # line 1 is the mention twin of the reply on line 2: skipped, so the reply counts once
    assert (len(default), len(with_rt)) == (3, 5)


def test_an_explicit_format_wins_over_the_name(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    shutil.copy(FIXTURES / "CollegeMsg-sample.txt", path)

    records = list(open_source(path, "college"))

    assert len(records) == 4


def test_a_missing_file_or_format_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        open_source(tmp_path / "nope.jsonl")
    with pytest.raises(UnknownFormatError, match="'xml'"):
        open_source(FIXTURES / "events.jsonl", "xml")
