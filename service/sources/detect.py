"""Pick the reader for a file: by name and extension first, then by sniffing its first line."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from service.core.validation import EventValidator
from service.sources.college_msg import read_college_msg
from service.sources.higgs import read_higgs
from service.sources.jsonl import read_jsonl
from service.sources.record import SourceItem, open_text
from service.sources.twcs import is_twcs_header, read_twcs

FORMATS: dict[str, str] = {
    "jsonl": "mention/reply v1 events, one JSON object a line (*.jsonl, *.ndjson)",
    "higgs": "SNAP Higgs activity stream (higgs-activity_time*.txt[.gz])",
    "twcs": "Customer Support on Twitter csv (header tweet_id,author_id,inbound,...)",
    "college": "SNAP CollegeMsg, 'src dst t' a line (CollegeMsg*.txt)",
}

_HIGGS_LINE = re.compile(r"^\S+ \S+ \d+ (RT|MT|RE)\s*$")
_COLLEGE_LINE = re.compile(r"^\S+ \S+ \d+\s*$")


class UnknownFormatError(ValueError):
    """The file's format could not be told, or `fmt` is not one closeknit reads."""


def detect_format(path: Path) -> str:
    """The format name of `path`, from its name or else its first line."""
    name = path.name.lower()
    stem = name.removesuffix(".gz")
    if stem.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if stem.startswith("higgs-activity_time"):
        return "higgs"
    if stem.startswith("collegemsg"):
        return "college"
    first = _first_line(path)
    if stem.endswith(".csv") and is_twcs_header(first):
        return "twcs"
    sniffed = _sniff(first)
    if sniffed is None:
        raise UnknownFormatError(_unknown_message(path))
    return sniffed


def open_source(path: Path, fmt: str = "auto", **opts: Any) -> Iterator[SourceItem]:
    """Items of `path` in format `fmt` ("auto": detect). Options a reader does not take
    are ignored: `validator` (jsonl), `include_retweets` (higgs)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt == "jsonl":
        validator: EventValidator | None = opts.get("validator")
        return read_jsonl(path, validator=validator)
    if fmt == "higgs":
        return read_higgs(path, include_retweets=bool(opts.get("include_retweets", False)))
    if fmt == "twcs":
        return read_twcs(path)
    if fmt == "college":
        return read_college_msg(path)
    raise UnknownFormatError(f"unknown format {fmt!r}: expected auto, {', '.join(FORMATS)}")


def _first_line(path: Path) -> str:
    try:
        with open_text(path) as handle:
            for line in handle:
                if line.strip():
                    return line
    except (UnicodeDecodeError, OSError, EOFError):
        return ""
    return ""


def _sniff(first: str) -> str | None:
    if first.lstrip().startswith("{"):
        return "jsonl"
    if is_twcs_header(first):
        return "twcs"
    if _HIGGS_LINE.match(first):
        return "higgs"
    if _COLLEGE_LINE.match(first):
        return "college"
    return None


def _unknown_message(path: Path) -> str:
    known = "\n".join(f"  {name:8} {doc}" for name, doc in FORMATS.items())
    return f"{path}: cannot tell its format. Known formats:\n{known}\nName one with --format."
