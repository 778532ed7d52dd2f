"""Command-line parsing: no prefix matching anywhere, so a mistyped flag is an error."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from service.cli.main import build_parser, main


def every_parser(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from every_parser(child)


def test_no_parser_or_subparser_matches_prefixes() -> None:
    parsers = list(every_parser(build_parser()))

    assert len(parsers) > 12  # closeknit, its commands, and evaluate's and topics' own
    assert [p.prog for p in parsers if p.allow_abbrev] == []


@pytest.mark.parametrize(
    "argv",
    [
        ["replay", "--speed", "10", "events.jsonl"],  # was read as --speedup 10
        ["replay", "--lim", "3", "events.jsonl"],
        ["tail", "dead-letters", "--no-fol"],
        ["evaluate", "sentiment", "--timing", "3"],  # --timing-runs
    ],
)
def test_an_abbreviated_flag_is_refused(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)

    assert exited.value.code == 2
    assert "unrecognized arguments" in capsys.readouterr().err
