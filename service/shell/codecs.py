"""Changelog codecs for table values: compact dicts as orjson bytes."""

from __future__ import annotations

from typing import Any

import orjson
from faust.serializers import codecs

from service.core import ties
from service.core.influence import PersonState

DYAD_CODEC = "closeknit-dyad"
PERSON_CODEC = "closeknit-person"


class DyadCodec(codecs.Codec):
    def _dumps(self, obj: Any) -> bytes:
        return orjson.dumps(ties.to_dict(obj))

    def _loads(self, s: bytes) -> Any:
        return ties.from_dict(orjson.loads(s))


class PersonCodec(codecs.Codec):
    def _dumps(self, obj: Any) -> bytes:
        return orjson.dumps(obj.to_dict())

    def _loads(self, s: bytes) -> Any:
        return PersonState.from_dict(orjson.loads(s))


codecs.register(DYAD_CODEC, DyadCodec())
codecs.register(PERSON_CODEC, PersonCodec())


def use_codec(table: Any, codec: str) -> None:
    """Make a table write *and restore* its values with `codec`.

    Faust derives a table's value codec from its value type and offers no argument for it.
    The table's store is made lazily, but its changelog topic is made (and registered for
    recovery) in the constructor, so both must be told; setting only the table writes with
    the codec and restores plain dicts after a restart.
    """
    table.value_serializer = codec
    table.changelog_topic.value_serializer = codec
