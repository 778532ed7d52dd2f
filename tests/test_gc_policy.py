"""The worker's collector policy: raised thresholds, or CPython's left alone."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from service.gc_policy import OLDER_THRESHOLDS, apply_gc_policy


@pytest.fixture(autouse=True)
def restore_gc() -> Iterator[None]:
    saved = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*saved)


def test_a_threshold_raises_the_young_generation_and_freezes_start_up() -> None:
    gc.unfreeze()
    apply_gc_policy(100_000)
    assert gc.get_threshold() == (100_000, *OLDER_THRESHOLDS)
    assert gc.get_freeze_count() > 0


def test_zero_keeps_cpythons_defaults() -> None:
    before = gc.get_threshold()
    apply_gc_policy(0)
    assert gc.get_threshold() == before
