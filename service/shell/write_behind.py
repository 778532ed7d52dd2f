"""Table rows changed many times in one batch reach the changelog once.

A Faust table writes a changelog record on every assignment. A stage that handles an
envelope of items reads and writes rows through `WriteBehind` instead, and `flush()` at the
end of the envelope assigns each changed row once (or deletes it), inside the same event,
so the changelog records land in the envelope's partition and are delivered before its
offset is committed, as single writes were.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

V = TypeVar("V")
_DELETED: Any = object()


class WriteBehind(Generic[V]):
    def __init__(self, table: Any) -> None:
        self.table = table
        self._pending: dict[bytes, V] = {}

    def get(self, key: bytes) -> V | None:
        value = self._pending.get(key)
        if value is _DELETED:
            return None
        return value if value is not None else self.table.get(key)

    def __contains__(self, key: bytes) -> bool:
        return self.get(key) is not None

    def set(self, key: bytes, value: V) -> None:
        self._pending[key] = value

    def delete(self, key: bytes) -> None:
        self._pending[key] = _DELETED

    def flush(self) -> int:
        """Write every changed row once; the number of changelog records written."""
        written = 0
        for key, value in self._pending.items():
            if value is _DELETED:
                if key in self.table:
                    del self.table[key]  # a tombstone in the changelog
                    written += 1
            else:
                self.table[key] = value
                written += 1
        self._pending.clear()
        return written
