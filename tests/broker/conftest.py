"""Fixtures for the broker tests.

The session-scoped `broker` fixture (a real Tansu on a free port, from
`service.broker.embedded.start_test_broker`) lives in tests/conftest.py and is shared with
the rest of the suite; this module only adds what the broker tests need on top of it.
"""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def unique() -> str:
    """A short suffix that keeps this test's topics and groups apart from every other's."""
    return uuid.uuid4().hex[:8]
