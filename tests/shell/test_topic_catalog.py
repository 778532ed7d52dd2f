"""The README's topic table and `schemas/` agree with the topic catalog in the code."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from service.config import load_settings
from service.shell.topics import CATALOG, CATALOG_NAMES, TopicInfo, topic_specs

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
SCHEMA_PATH = re.compile(r"schemas/[A-Za-z0-9_]+\.v[0-9]+\.json")


@dataclass(frozen=True)
class Row:
    topic: str
    key: str
    value: str
    cleanup: str


def plain(cell: str) -> str:
    """A cell's words without markdown code spans, for comparing with the catalog's text."""
    return " ".join(cell.replace("`", "").split())


def readme_topic_rows() -> list[Row]:
    """The markdown table under `### Topics` in README.md, header and rule dropped."""
    lines = README.read_text().splitlines()
    start = lines.index("### Topics") + 1
    rows = []
    for line in lines[start:]:
        if line.startswith("#"):
            break
        if not line.startswith("|"):
            if rows:
                break
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        rows.append(cells)
    header, rule, *body = rows
    assert [plain(c).split(" ")[0] for c in header] == ["topic", "key", "value", "cleanup"]
    assert all(set(c) <= {"-", ":"} for c in rule)
    return [Row(plain(topic), key, value, plain(cleanup)) for topic, key, value, cleanup in body]


def test_the_readme_lists_exactly_the_catalog_topics() -> None:
    listed = [row.topic for row in readme_topic_rows()]

    assert len(listed) == len(set(listed)), f"a topic is listed twice: {listed}"
    assert set(listed) == set(CATALOG_NAMES), (
        f"missing from README: {sorted(set(CATALOG_NAMES) - set(listed))}; "
        f"not in the catalog: {sorted(set(listed) - set(CATALOG_NAMES))}"
    )


@pytest.mark.parametrize("info", CATALOG, ids=lambda info: info.short_name)
def test_the_readme_row_has_the_catalog_key_cleanup_and_schema(info: TopicInfo) -> None:
    rows = {row.topic: row for row in readme_topic_rows()}
    if info.short_name not in rows:
        pytest.fail(f"README.md's topic table has no row for {info.short_name!r}")
    row = rows[info.short_name]

    assert plain(row.key) == plain(info.key), f"{info.short_name}: key"
    assert row.cleanup == ("compact" if info.compacted else "delete"), f"{info.short_name}"
    named = SCHEMA_PATH.search(info.value)
    if named is not None:
        assert f"({named.group(0)})" in row.value, (
            f"{info.short_name}: the value cell should link {named.group(0)}, got {row.value!r}"
        )


@pytest.mark.parametrize("info", CATALOG, ids=lambda info: info.short_name)
def test_every_schema_file_the_catalog_names_exists(info: TopicInfo) -> None:
    named = SCHEMA_PATH.findall(info.value)

    if info.value.startswith("no records"):  # cluster-owner: only its assignment counts
        assert not named
        return
    assert named, f"{info.short_name}: the catalog names no schema file in {info.value!r}"
    for path in named:
        assert (REPO / path).is_file(), f"{info.short_name}: {path} does not exist"


def test_every_schema_file_is_the_contract_of_some_topic() -> None:
    named = {path for info in CATALOG for path in SCHEMA_PATH.findall(info.value)}
    on_disk = {f"schemas/{path.name}" for path in (REPO / "schemas").glob("*.json")}

    assert on_disk == named


def test_topic_specs_create_every_catalog_topic_with_its_cleanup_policy() -> None:
    settings = load_settings({}, topic_prefix="x.", partitions=3)
    specs = {spec.name: spec for spec in topic_specs(settings)}

    assert set(specs) == {f"x.{name}" for name in CATALOG_NAMES}
    for info in CATALOG:
        spec = specs[f"x.{info.short_name}"]
        assert spec.compacted == info.compacted
        assert spec.partitions == (info.partitions or 3)
