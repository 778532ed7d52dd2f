"""A person who opts out vanishes from all derived state, within seconds, with tombstones.

Opting back in counts only events from the opt-in on.
"""

from __future__ import annotations

import time

import orjson
import pytest

from service.config import Settings
from service.core.routing import dyad_key
from service.shell.process import WorkerProcess
from tests.integration.harness import (
    as_records,
    mention,
    produce,
    read_all,
    reply,
    running_worker,
    wait_until,
)

pytestmark = pytest.mark.integration

FRIENDS = ("bob", "carol", "dan", "erin", "frank")


def opt_out_record(person: str, opted_out: bool, t: float, n: int) -> tuple[str, bytes, bytes]:
    choice = {
        "type": "opt_out",
        "schema_version": 1,
        "event_id": f"choice-{n}",
        "event_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)),
        "person_id": person,
        "opted_out": opted_out,
    }
    return ("opt-outs", person.encode(), orjson.dumps(choice))


def status(worker: WorkerProcess, path: str) -> int:
    try:
        worker.get_json(path)
    except OSError as exc:  # urllib's HTTPError carries the status
        return int(getattr(exc, "code", 0))
    return 200


def alice_is_gone(worker: WorkerProcess) -> bool:
    if status(worker, "/api/people/alice") != 404:
        return False
    if any(status(worker, f"/api/dyads/alice/{f}") != 404 for f in FRIENDS):
        return False
    for friend in FRIENDS:
        if status(worker, f"/api/people/{friend}") == 404:
            continue  # alice was their only tie, so they have none left
        partners = {t["partner"] for t in worker.get_json(f"/api/people/{friend}")["top_ties"]}
        if "alice" in partners:
            return False
    top = worker.get_json("/api/people/top?limit=100")["people"]
    return all(p["id"] != "alice" for p in top)


def latest_by_key(records: list) -> dict[bytes, bytes | None]:
    latest: dict[bytes, bytes | None] = {}
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        latest[record.key] = record.value
    return latest


def test_opt_out_erases_everywhere_and_opt_in_counts_only_new_events(
    isolated_settings: Settings,
) -> None:
    settings = isolated_settings
    start = time.time() - 86400
    events = []
    for n, friend in enumerate(FRIENDS):
        events.append(mention(2 * n, "alice", friend, start + 60 * n))
        events.append(reply(2 * n + 1, friend, "alice", start + 60 * n + 30))
    events.append(mention(99, "bob", "carol", start + 1000))
    with running_worker(settings) as worker:
        produce(settings, as_records(events))
        assert wait_until(lambda: status(worker, "/api/people/alice") == 200, 30)
        assert wait_until(lambda: worker.get_json("/api/people/alice")["ties"] == len(FRIENDS), 30)

        opted_out_at = time.time()
        began = time.monotonic()
        produce(settings, [opt_out_record("alice", True, opted_out_at, 1)])
        assert wait_until(lambda: alice_is_gone(worker), 30, interval_s=0.05)
        erasure_s = time.monotonic() - began
        print(f"erasure complete in {erasure_s:.2f} s")  # reported in the closing note

        # Tombstones: every dyad of alice's and alice's own row end deleted in the changelogs
        # and on dyad-updates, so no compacted topic keeps her.
        alice_dyads = {dyad_key("alice", f).encode() for f in FRIENDS}
        dyad_log = latest_by_key(read_all(settings, f"{settings.app_id}-dyads-changelog"))
        people_log = latest_by_key(read_all(settings, f"{settings.app_id}-people-changelog"))
        updates = latest_by_key(read_all(settings, settings.topic("dyad-updates")))
        assert all(dyad_log[key] is None for key in alice_dyads)
        # Her row holds her sentiment baseline and recent messages (the critic detector's
        # row) too: they go with it. She posted, so there was one to erase.
        assert people_log[b"alice"] is None
        held = [r.value for r in read_all(settings, f"{settings.app_id}-people-changelog")
                if r.key == b"alice" and r.value is not None]  # fmt: skip
        assert any(orjson.loads(v).get("c") for v in held), "alice's critic row was stored"
        assert all(updates[key] is None for key in alice_dyads)
        assert status(worker, "/api/dyads/bob/carol") == 200, "others' ties are untouched"

        # Her later events are dropped.
        later = [mention(200 + n, "alice", f, opted_out_at + 10 + n) for n, f in enumerate(FRIENDS)]
        before = worker.get_json("/api/stats")["opted_out_dropped"]
        produce(settings, as_records(later))
        assert wait_until(
            lambda: worker.get_json("/api/stats")["opted_out_dropped"] >= before + len(later), 30
        )
        assert alice_is_gone(worker)

        # Opting back in counts only what happens from then on: an older event stays out.
        opted_in_at = opted_out_at + 100
        produce(settings, [opt_out_record("alice", False, opted_in_at, 2)])
        time.sleep(1.0)  # let every worker's registry take the choice
        produce(settings, as_records([
            mention(300, "alice", "bob", opted_in_at - 50),  # before the opt-in: dropped
            mention(301, "alice", "bob", opted_in_at + 5),  # after: counted
        ]))  # fmt: skip
        assert wait_until(lambda: status(worker, "/api/dyads/alice/bob") == 200, 30)
        dyad = worker.get_json(f"/api/dyads/alice/bob?at={opted_in_at + 5}")
        ab = "ab" if "alice" < "bob" else "ba"
        assert dyad[f"mentions_{ab}"] == 1
        assert dyad[f"weight_{ab}"] == pytest.approx(1.0)
        assert dyad["seq"] == 1
