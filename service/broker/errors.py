"""Errors a broker start can end in."""

from __future__ import annotations


class BrokerStartError(RuntimeError):
    """A local broker could not be started; the message says what to do."""
