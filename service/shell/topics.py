"""Every topic closeknit reads or writes: name, partitions, key, value schema, cleanup.

This catalog is the one place topic names are made; the README's topic table and the
docker-compose topic job mirror it (a test keeps them in step).
"""

from __future__ import annotations

from dataclasses import dataclass

from service.broker.admin import TopicSpec
from service.config import Settings


@dataclass(frozen=True, slots=True)
class TopicInfo:
    short_name: str
    key: str
    value: str
    compacted: bool = False
    direction: str = "internal"  # "in", "out" or "internal"
    partitions: int | None = None  # None: CLOSEKNIT_PARTITIONS


CATALOG: tuple[TopicInfo, ...] = (
    TopicInfo("mentions", "event_id", "schemas/mention.v1.json", direction="in"),
    TopicInfo("replies", "event_id", "schemas/reply.v1.json", direction="in"),
    TopicInfo("opt-outs", "person_id", "schemas/opt_out.v1.json", compacted=True, direction="in"),
    TopicInfo(
        "interactions",
        "dyad key `a<TAB>b` (a < b); an envelope's first item's",
        "schemas/envelope.v1.json of schemas/interaction.v1.json items (one target each)",
    ),
    TopicInfo(
        "dyad-updates",
        "dyad key `a<TAB>b`",
        "schemas/dyad_update.v1.json (absolute snapshot; null = erased)",
        compacted=True,
    ),
    TopicInfo(
        "person-ties",
        "person_id; an envelope's first item's",
        "schemas/envelope.v1.json of schemas/dyad_update.v1.json items, posts, or "
        "erase/drop commands (internal)",
    ),
    TopicInfo(
        "cluster-owner",
        "none",
        "no records: the worker assigned its only partition holds the whole strong-tie "
        "graph, reading dyad-updates",
        partitions=1,
    ),
    TopicInfo(
        "complaints",
        "brand or product tag",
        "schemas/complaint.v1.json: a complaint with its author's influence and ties, or a tick",
    ),
    TopicInfo(
        "alert-signals",
        "route key (`incident:<brand>`, else `dedup_key`)",
        "schemas/alert_signal.v1.json: one detector step for the alerts agent (internal)",
    ),
    TopicInfo(
        "alert-actions",
        "route key (a `dedup_key` key is forwarded)",
        "schemas/alert_action.v1.json",
        direction="in",
    ),
    TopicInfo("dead-letters", "original key", "schemas/dead_letter.v1.json", direction="out"),
    TopicInfo("alerts", "dedup_key", "schemas/alert.v1.json", direction="out"),
)

CATALOG_NAMES: tuple[str, ...] = tuple(info.short_name for info in CATALOG)


# Delete-policy topics roll a segment at least this often, so retention (which drops whole
# segments) removes a record within one segment of its age passing `retention.ms`.
MAX_SEGMENT_MS = 3_600_000


def topic_configs(settings: Settings, *, compacted: bool) -> dict[str, str]:
    """Topic-level configs that bound how long a person's records stay on the broker.

    Compacted topics (and every table's changelog): an overwritten or erased record becomes
    due for cleaning within `CLOSEKNIT_COMPACTION_MAX_LAG_S`; the active segment rolls as
    often, since the cleaner never touches it; and a tombstone, whose key still names the
    person, is itself dropped that long after the cleaner first passed it.

    Delete topics: `retention.ms` counted from arrival (`LogAppendTime`), so a listening
    system that stamps records with old post times cannot make them vanish before they
    are processed, and a person's raw events are gone within a stated bound.
    """
    if compacted:
        lag_ms = str(int(settings.compaction_max_lag_s * 1000))
        return {
            "cleanup.policy": "compact",
            "max.compaction.lag.ms": lag_ms,
            "segment.ms": lag_ms,
            "delete.retention.ms": lag_ms,
        }
    retention_ms = int(settings.retention_hours * 3_600_000)
    return {
        "cleanup.policy": "delete",
        "retention.ms": str(retention_ms),
        "segment.ms": str(min(retention_ms, MAX_SEGMENT_MS)),
        "message.timestamp.type": "LogAppendTime",
    }


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """Specs to create before a worker starts, so partitions are ours, not auto-created."""
    return [
        TopicSpec(
            settings.topic(info.short_name),
            info.partitions or settings.partitions,
            topic_configs(settings, compacted=info.compacted),
        )
        for info in CATALOG
    ]


def changelog_configs(settings: Settings) -> dict[str, str]:
    """Configs of every table's changelog topic, which Faust creates (compacted)."""
    return topic_configs(settings, compacted=True)
