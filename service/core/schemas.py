"""The JSON Schemas in the repository's `schemas/` directory, compiled into fast validators.

The schema files are the runtime contract: this module loads them and compiles them with
fastjsonschema, so no hand-written copy of their rules can drift from them.

Cross-file `$ref`s (reply and opt-out point into `mention.v1.json#/$defs`) are resolved from a
store of the directory's own schemas, keyed by `$id`; no reference is ever fetched from the
network. Before compiling, every `$ref` is inlined ("bundled"): fastjsonschema turns a `$ref`
under `items` into a call that formats the item's path eagerly, which costs about 2 µs per
array item on the hot path, while inlined rules format paths only when they raise.

Schema names are file names without `.json`, e.g. `mention.v1`.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin

import fastjsonschema
import orjson
from fastjsonschema import JsonSchemaValueException

__all__ = [
    "FORMATS",
    "RFC3339_DATE_TIME",
    "SCHEMAS_DIR_ENV",
    "JsonSchemaValueException",
    "SchemaError",
    "Validator",
    "compiled",
    "load_schema",
    "schema_names",
    "schemas_dir",
]

SCHEMAS_DIR_ENV = "CLOSEKNIT_SCHEMAS_DIR"

Validator = Callable[[Any], Any]
"""A compiled schema: returns its argument when valid, raises JsonSchemaValueException if not."""

# fastjsonschema's date-time also takes an offset without its colon (`+0100`), which RFC 3339
# does not (`time-numoffset = ("+" / "-") time-hour ":" time-minute`), so it is replaced.
_DATE = (
    r"\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)"
    r"|02-(?:0[1-9]|1\d|2[0-8]))"
    r"|(?:\d\d(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29"
)
RFC3339_DATE_TIME = (
    r"^(?:" + _DATE + r")[Tt](?:[01]\d|2[0-3]):[0-5]\d:(?:[0-5]\d|60)(?:\.\d+)?"
    r"(?:[Zz]|[+-](?:[01]\d|2[0-3]):[0-5]\d)\Z"
)
FORMATS = {"date-time": RFC3339_DATE_TIME}
"""Formats asserted as their RFC says, where fastjsonschema's own are looser."""

# Keywords whose value maps names to subschemas, and keywords whose value is data, not schema.
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "dependentSchemas"})
_DATA_KEYWORDS = frozenset({"const", "enum", "default", "examples"})
_DEFINITIONS = frozenset({"$defs", "definitions"})


class SchemaError(RuntimeError):
    """A schema file is missing, malformed, or refers to a schema the store does not hold."""


def schemas_dir() -> Path:
    """The top-level `schemas/` directory, or `$CLOSEKNIT_SCHEMAS_DIR` when that is set."""
    override = os.environ.get(SCHEMAS_DIR_ENV)
    if override:
        return Path(override).resolve()
    return Path(__file__).resolve().parents[2] / "schemas"


def schema_names(directory: Path | None = None) -> tuple[str, ...]:
    """Names of the schemas in the directory, sorted: `("alert.v1", "dead_letter.v1", ...)`."""
    return tuple(sorted(_files(directory or schemas_dir())))


def load_schema(name: str, directory: Path | None = None) -> dict[str, Any]:
    """A fresh copy of one schema document, exactly as its file holds it."""
    return copy.deepcopy(_document(name, directory or schemas_dir()))


def compiled(name: str, directory: Path | None = None) -> Validator:
    """The compiled validator of a schema; compiled once per directory and cached."""
    return _compile(name, directory or schemas_dir())


@lru_cache(maxsize=8)
def _files(directory: Path) -> dict[str, dict[str, Any]]:
    if not directory.is_dir():
        raise SchemaError(f"schemas directory not found: {directory}")
    documents: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.json")):
        try:
            document = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise SchemaError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(document, dict) or not isinstance(document.get("$id"), str):
            raise SchemaError(f"{path}: a schema must be a JSON object with a string $id")
        documents[path.stem] = document
    return documents


@lru_cache(maxsize=8)
def _store(directory: Path) -> dict[str, dict[str, Any]]:
    """$id (without fragment) -> schema document, for every schema in the directory."""
    return {urldefrag(doc["$id"])[0]: doc for doc in _files(directory).values()}


def _document(name: str, directory: Path) -> dict[str, Any]:
    documents = _files(directory)
    if name not in documents:
        known = ", ".join(sorted(documents)) or "none"
        raise SchemaError(f"no schema named {name!r} in {directory} (known: {known})")
    return documents[name]


@lru_cache(maxsize=64)
def _compile(name: str, directory: Path) -> Validator:
    document = _document(name, directory)
    store = _store(directory)
    bundled = _bundle(document, document["$id"], store, frozenset())

    def from_store(uri: str) -> Any:
        # Only reached if a reference survived bundling; never falls back to the network.
        try:
            return copy.deepcopy(store[urldefrag(uri)[0]])
        except KeyError:
            raise SchemaError(f"{name}: $ref to unknown schema {uri}") from None

    handlers = {"http": from_store, "https": from_store, "file": from_store}
    try:
        # fastjsonschema rewrites `$ref`s in place, so it gets a private copy.
        validator: Validator = fastjsonschema.compile(
            copy.deepcopy(bundled), handlers=handlers, formats=FORMATS
        )
    except fastjsonschema.JsonSchemaDefinitionException as exc:
        raise SchemaError(f"{name}: {exc}") from None
    return validator


def _bundle(
    node: Any, base: str, store: Mapping[str, dict[str, Any]], resolving: frozenset[str]
) -> Any:
    """A copy of `node` with every `$ref` replaced by the subschema it points to."""
    if isinstance(node, list):
        return [_bundle(item, base, store, resolving) for item in node]
    if not isinstance(node, dict):
        return node
    if isinstance(node.get("$id"), str):
        base = urljoin(base, node["$id"])
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref" or key in _DEFINITIONS:
            continue  # references are inlined below; definitions are then unused
        if key in _DATA_KEYWORDS:
            out[key] = copy.deepcopy(value)
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {k: _bundle(v, base, store, resolving) for k, v in value.items()}
        else:
            out[key] = _bundle(value, base, store, resolving)
    ref = node.get("$ref")
    if not isinstance(ref, str):
        return out
    target_uri = urljoin(base, ref)
    if target_uri in resolving:
        raise SchemaError(f"recursive $ref {target_uri} cannot be bundled")
    document_uri, fragment = urldefrag(target_uri)
    if document_uri not in store:
        raise SchemaError(f"$ref to unknown schema {target_uri}")
    target = _pointer(store[document_uri], fragment, target_uri)
    resolved = _bundle(target, document_uri, store, resolving | {target_uri})
    if not out:
        return resolved
    # 2020-12 applies a $ref alongside its sibling keywords: express that as allOf.
    out["allOf"] = [*out.get("allOf", []), resolved]
    return out


def _pointer(document: Any, fragment: str, uri: str) -> Any:
    if fragment and not fragment.startswith("/"):
        raise SchemaError(f"$ref {uri}: only JSON-pointer fragments are supported")
    node = document
    for raw in fragment.split("/")[1:]:
        part = unquote(raw).replace("~1", "/").replace("~0", "~")
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError, TypeError):
            raise SchemaError(f"$ref {uri} points to nothing") from None
    return node
