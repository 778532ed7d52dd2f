"""The README's configuration table is exactly what `closeknit config --markdown` prints."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

from service.config import Settings

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"


def section(markdown: str, heading: str) -> str:
    """The text under `heading`, up to the next heading of the same or a higher level."""
    level = len(heading) - len(heading.lstrip("#"))
    lines = markdown.splitlines()
    body = []
    for line in lines[lines.index(heading) + 1 :]:
        if line.startswith("#") and len(line) - len(line.lstrip("#")) <= level:
            break
        body.append(line)
    return "\n".join(body)


def table_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("|")]


def printed_table() -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSEKNIT_")}
    result = subprocess.run(
        [sys.executable, "-m", "service", "config", "--markdown"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.splitlines()


def test_the_configuration_section_holds_exactly_the_printed_table() -> None:
    readme = README.read_text()
    assert "CONFIG_TABLE" not in readme, "the placeholder was never replaced"

    in_readme = table_lines(section(readme, "## Configuration"))

    assert in_readme == printed_table(), (
        "README.md's configuration table drifted from the code; paste the output of "
        "`closeknit config --markdown` under '## Configuration'"
    )


def test_the_printed_table_has_one_row_per_setting() -> None:
    rows = printed_table()[2:]
    documented = [row.split("|")[1].strip().strip("`") for row in rows]

    assert documented == [spec.metadata["env"] for spec in fields(Settings)]
    assert all(name.startswith("CLOSEKNIT_") for name in documented)
