"""The interaction record: `annotated` is `dataclasses.replace`, spelt out for speed."""

from __future__ import annotations

from dataclasses import fields, replace

from service.core.interaction import Interaction


def test_annotated_equals_replace_and_keeps_every_other_field() -> None:
    # Every field set to a value unlike its default, so a field left out would show.
    original = Interaction(
        event_id="e1",
        kind="reply",
        actor="ann",
        targets=("bob", "cat"),
        event_time=1_795_000_000.5,
        text="down again",
        sentiment=0.3,
        brands=("acme",),
        products=("router",),
        topics=("wifi",),
        source="twitter",
        failure=("old",),
    )
    done = original.annotated(-0.6, ("outage",))
    assert done == replace(original, sentiment=-0.6, failure=("outage",))
    for f in fields(Interaction):
        if f.name not in ("sentiment", "failure"):
            assert getattr(done, f.name) == getattr(original, f.name), f.name
