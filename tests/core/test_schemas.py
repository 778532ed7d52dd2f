"""The schema files compile, resolve their cross-file $refs locally, and agree with examples."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from service.core.interaction import Interaction
from service.core.schemas import (
    SCHEMAS_DIR_ENV,
    JsonSchemaValueException,
    SchemaError,
    compiled,
    load_schema,
    schema_names,
    schemas_dir,
)
from service.core.validation import REASONS, EventValidator, OptOut, Rejection

EXAMPLES = schemas_dir() / "examples"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC).timestamp()
EVENT_SCHEMAS = {"mention.v1", "reply.v1", "opt_out.v1"}
# Rules JSON Schema cannot express; EventValidator checks them after the schema passed (a
# repeated key is gone once the JSON is parsed, so the schema never sees it).
BEYOND_SCHEMA = {"self_mention", "future_timestamp", "bad_timestamp", "duplicate_key"}
# Examples whose fault the schema states in a description but cannot check: Unicode format
# characters (Cf) in an id, and schema_version 1.0 (equal to 1 for JSON Schema).
POST_CHECKED = {
    "invalid_value__author_id_with_zero_width_space.json",
    "invalid_value__schema_version_1_0.json",
}


def example_files(kind: str) -> list[Any]:
    return [
        pytest.param(path.parent.parent.name, path, id=f"{path.parent.parent.name}/{path.name}")
        for path in sorted(EXAMPLES.glob(f"*/{kind}/*.json"))
    ]


def passes(schema: str, payload: object) -> bool:
    try:
        compiled(schema)(payload)
    except JsonSchemaValueException:
        return False
    return True


def event_result(schema: str, path: Path) -> Interaction | OptOut | Rejection:
    validator = EventValidator()
    if schema == "opt_out.v1":
        return validator.validate_opt_out(path.read_bytes(), NOW)
    return validator.validate(path.read_bytes(), NOW)


def test_the_schemas_directory_holds_every_contract() -> None:
    assert set(schema_names()) >= {
        "mention.v1",
        "reply.v1",
        "opt_out.v1",
        "dead_letter.v1",
        "alert.v1",
    }


@pytest.mark.parametrize("schema", schema_names())
def test_every_schema_has_at_least_two_valid_and_three_invalid_examples(schema: str) -> None:
    assert len(list((EXAMPLES / schema / "valid").glob("*.json"))) >= 2
    assert len(list((EXAMPLES / schema / "invalid").glob("*.json"))) >= 3


@pytest.mark.parametrize(("schema", "path"), example_files("valid"))
def test_valid_examples_pass_their_schema(schema: str, path: Path) -> None:
    payload = json.loads(path.read_text())

    compiled(schema)(payload)

    if schema in EVENT_SCHEMAS:
        assert isinstance(event_result(schema, path), Interaction | OptOut)


@pytest.mark.parametrize(("schema", "path"), example_files("invalid"))
def test_invalid_examples_are_refused_for_the_reason_in_their_name(schema: str, path: Path) -> None:
    code = path.name.split("__", 1)[0]
    assert code in REASONS, f"{path.name}: name must start with a reason code"
    payload = json.loads(path.read_text())

    if schema not in EVENT_SCHEMAS:
        assert not passes(schema, payload)
        return
    result = event_result(schema, path)
    assert isinstance(result, Rejection)
    assert result.code == code, result.message()
    if passes(schema, payload):
        assert code in BEYOND_SCHEMA or path.name in POST_CHECKED, (
            f"{path.name} passes the schema but is not a post-check"
        )


def test_cross_file_refs_carry_the_referenced_rules() -> None:
    # reply.v1 takes person_id from mention.v1#/$defs: its pattern must apply.
    reply = load_schema("reply.v1")
    assert reply["properties"]["author_id"] == {"$ref": "mention.v1.json#/$defs/person_id"}
    payload = json.loads((EXAMPLES / "reply.v1" / "valid" / "full.json").read_text())

    with pytest.raises(JsonSchemaValueException) as caught:
        compiled("reply.v1")({**payload, "author_id": "has space"})

    assert (caught.value.name, caught.value.rule) == ("data.author_id", "pattern")


def test_compiled_validators_are_cached() -> None:
    assert compiled("mention.v1") is compiled("mention.v1")


def test_load_schema_returns_a_copy_the_caller_may_change() -> None:
    load_schema("mention.v1")["required"].clear()

    assert "text" in load_schema("mention.v1")["required"]


def test_the_schemas_directory_can_be_overridden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SCHEMAS_DIR_ENV, str(tmp_path))

    assert schemas_dir() == tmp_path.resolve()


def write(directory: Path, name: str, schema: dict[str, Any]) -> None:
    (directory / f"{name}.json").write_text(json.dumps(schema))


def test_a_ref_to_a_schema_outside_the_directory_fails_without_a_network_lookup(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        "thing.v1",
        {
            "$id": "https://closeknit.dev/schemas/thing.v1.json",
            "properties": {"x": {"$ref": "https://example.invalid/other.json#/$defs/x"}},
        },
    )

    with pytest.raises(SchemaError, match="unknown schema"):
        compiled("thing.v1", tmp_path)


def test_a_ref_with_sibling_keywords_applies_both(tmp_path: Path) -> None:
    write(
        tmp_path,
        "base.v1",
        {"$id": "https://closeknit.dev/schemas/base.v1.json", "$defs": {"s": {"type": "string"}}},
    )
    write(
        tmp_path,
        "short.v1",
        {
            "$id": "https://closeknit.dev/schemas/short.v1.json",
            "$ref": "base.v1.json#/$defs/s",
            "maxLength": 3,
        },
    )
    validate = compiled("short.v1", tmp_path)

    validate("abc")
    with pytest.raises(JsonSchemaValueException):
        validate("abcd")
    with pytest.raises(JsonSchemaValueException):
        validate(12)


def test_a_recursive_ref_is_reported_not_looped(tmp_path: Path) -> None:
    write(
        tmp_path,
        "tree.v1",
        {
            "$id": "https://closeknit.dev/schemas/tree.v1.json",
            "properties": {"child": {"$ref": "#"}},
        },
    )

    with pytest.raises(SchemaError, match="recursive"):
        compiled("tree.v1", tmp_path)


def test_an_unknown_schema_name_lists_the_known_ones() -> None:
    with pytest.raises(SchemaError, match=r"known: .*mention\.v1"):
        compiled("nope.v9")


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("2026-11-22T09:30:00Z", True),
        ("2026-11-22t09:30:00.123z", True),
        ("2026-11-22T10:30:00+01:00", True),
        ("2024-02-29T00:00:00-23:59", True),
        ("2026-11-22T10:30:00+0100", False),  # ISO 8601's basic offset, not RFC 3339
        ("2026-11-22T10:30:00+01", False),
        ("2026-11-22 09:30:00Z", False),
        ("2026-02-29T09:30:00Z", False),
        ("2026-11-22T09:30:00Z\n", False),
    ],
)
@pytest.mark.parametrize("schema", ["mention.v1", "opt_out.v1", "dead_letter.v1"])
def test_date_time_is_rfc3339_in_every_compiled_schema(schema: str, value: str, ok: bool) -> None:
    example = next((EXAMPLES / schema / "valid").glob("*.json"))
    payload = json.loads(example.read_text())
    payload["received_at" if schema == "dead_letter.v1" else "event_time"] = value

    assert passes(schema, payload) is ok
