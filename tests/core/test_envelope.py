"""Envelopes: every item lands in the partition its own key belongs to, in order, once."""

from __future__ import annotations

import orjson
import pytest
from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from service.core.envelope import pack, partition_for, unpack
from service.core.schemas import compiled

keys = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FFF, exclude_categories=("Cs",)),
    min_size=1,
    max_size=30,
).map(str.encode)
values = st.dictionaries(
    st.text(min_size=1, max_size=8),
    st.integers(min_value=-(2**53), max_value=2**53) | st.text(max_size=20),
    max_size=4,
).map(orjson.dumps)
items = st.lists(st.tuples(keys, values), max_size=60)


@given(keys, st.integers(min_value=1, max_value=64))
def test_partition_for_is_kafkas_default_partitioner(key: bytes, partitions: int) -> None:
    every = list(range(partitions))
    assert partition_for(key, partitions) == DefaultPartitioner()(key, every, every)


@given(items, st.integers(min_value=1, max_value=8), st.sampled_from([200, 2000, 512 * 1024]))
def test_pack_then_unpack_gives_every_item_once_in_its_own_partition(
    sent: list[tuple[bytes, bytes]], partitions: int, max_bytes: int
) -> None:
    records = pack(sent, partitions, max_bytes=max_bytes)

    received: dict[int, list[tuple[bytes, bytes]]] = {}
    for key, value in records:
        compiled("envelope.v1")(orjson.loads(value))
        home = partition_for(key, partitions)  # where the producer's partitioner sends it
        for item in unpack(key, value):
            assert partition_for(item.key, partitions) == home
            received.setdefault(home, []).append((item.key, orjson.dumps(item.value)))
    expected: dict[int, list[tuple[bytes, bytes]]] = {}
    for key, value in sent:
        expected.setdefault(partition_for(key, partitions), []).append((key, value))
    normalised = {p: [(k, orjson.dumps(orjson.loads(v))) for k, v in group]
                  for p, group in expected.items()}  # fmt: skip
    assert received == normalised  # each partition's items, in the order they were given


@given(items)
def test_one_record_per_partition_unless_the_size_limit_splits_it(
    sent: list[tuple[bytes, bytes]],
) -> None:
    records = pack(sent, 4)
    assert len(records) == len({partition_for(k, 4) for k, _ in sent})


def test_an_envelope_over_the_limit_is_split_and_none_is_empty() -> None:
    sent = [(b"k", orjson.dumps({"x": "y" * 100})) for _ in range(50)]
    records = pack(sent, 1, max_bytes=1000)
    assert len(records) > 1
    assert all(len(value) < 1200 for _, value in records)
    assert sum(len(unpack(k, v)) for k, v in records) == 50


def test_a_plain_record_is_one_item_with_its_own_bytes() -> None:
    raw = orjson.dumps({"op": "erase", "person": "alice"})
    (item,) = unpack(b"alice\tbob", raw)
    assert (item.key, item.value, item.raw) == (
        b"alice\tbob",
        {"op": "erase", "person": "alice"},
        raw,
    )


@pytest.mark.parametrize(
    "value",
    [b"[1, 2]", b'{"v": 2, "items": []}', b'{"v": 1, "items": {}}', b"{", None],
)
def test_a_record_that_is_neither_is_refused(value: bytes | None) -> None:
    with pytest.raises(ValueError):
        unpack(b"k", value)
