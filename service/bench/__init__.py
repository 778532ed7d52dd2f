"""`closeknit bench`: how fast closeknit is on this machine, and what stands in the way.

Every figure is measured on the embedded Tansu broker and in-process, in one command:

1. ceiling (`ceiling.py`): a raw aiokafka consumer's `getmany` rate over the same pre-filled
   input topics the pipeline reads, and one raw produce-to-consume hop at the offered load.
2. end to end (`pipeline.py`): one real worker process on pre-filled input topics, from the
   start of consumption until its dyad stage has seen every interaction; also two workers.
3. in-process core (`core.py`): the same events through the functional core, no broker.
4. latency (`latency.py`): event to alert at a fixed offered load, on live timestamps.
5. memory (`core.py`): state bytes per dyad and RSS after replaying the Higgs file.
6. community updates (`core.py`): incremental updates per second on email-Eu-core edges.

`report.py` takes the median, min and max over the runs and writes the JSON report and the
table. This module holds what the measurements share: the workload (the Higgs activity
stream in the schema format, with text, since the file carries none) and readings of a
process's CPU time and resident memory.
"""

from __future__ import annotations

import itertools
import os
import platform
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from service.evaluation.machine import cpu_model
from service.evaluation.paths import SHARED_DATA
from service.sources.higgs import read_higgs
from service.sources.record import SourceRecord, mention_record, reply_record

HIGGS_FILE = Path("higgs_twitter") / "higgs-activity_time.txt.gz"
EMAIL_FILE = Path("email_eu_core") / "email-Eu-core.txt"
TEXT_SEED = 20260105

# Tweet-sized texts, so the sentiment scorer and the failure classifier do real work (the
# Higgs file has no text). Shares: positive, neutral, negative, product-failure complaint.
POSITIVE_TEXTS = (
    "love this, thanks so much for the help!",
    "great chat today, you made my week",
    "brilliant thread, learned a lot from it",
    "thanks, that really helped",
    "so happy with how this turned out, awesome work",
)
NEUTRAL_TEXTS = (
    "anyone going to the meetup on thursday?",
    "sharing the notes from the session",
    "what time does the venue open tomorrow",
    "reading the new report now",
)
NEGATIVE_TEXTS = (
    "this is terrible, worst service ever, I hate it",
    "absolutely furious, you ruined my whole day, never again",
    "awful, disgusting and useless, what a horrible experience",
)
COMPLAINT_TEXTS = (
    "@{b} total outage, my router is down and no internet since 10am",
    "{b} service down again?? stranded working from home",
    "@{b} charged twice and still no refund, really disappointed",
)
BRANDS = ("acme", "globex", "initech", "umbrella")
TEXT_MIX = (("positive", 0.40), ("neutral", 0.30), ("negative", 0.15), ("complaint", 0.15))


def shared_data_dir() -> Path:
    """Where the real data sets live: `../shared/data` beside the repository."""
    return SHARED_DATA


@dataclass(frozen=True, slots=True)
class Workload:
    """Schema-format input events, in time order, and where they came from."""

    records: list[SourceRecord]
    source: str  # what the events are, for the report
    with_text: bool

    @property
    def interactions(self) -> int:
        """Directed interactions (event, target) the dyad stage will see."""
        return sum(len(orjson.loads(r.payload).get("target_ids", ("",))) for r in self.records)


def load_workload(limit: int, *, with_text: bool = True, data_dir: Path | None = None) -> Workload:
    """The first `limit` Higgs events (mentions and replies, one target each), or a synthetic
    stream of the same shape when the data set is absent."""
    path = (data_dir or shared_data_dir()) / HIGGS_FILE
    items: Iterator[object]
    if path.exists():
        items = read_higgs(path)
        source = f"Higgs activity stream ({path.name}), first {{n}} mentions and replies"
    else:
        items = synthetic_records()
        source = f"synthetic power-law stream ({{n}} events; {path} not found)"
    stream = (item for item in items if isinstance(item, SourceRecord))
    # Each record is made tight as it comes, so the loose originals are freed one by one.
    tight = with_texts(stream) if with_text else map(compact, stream)
    records = list(itertools.islice(tight, limit))
    close = getattr(items, "close", None)
    if close is not None:
        close()
    source = source.format(n=len(records))
    if with_text:
        source += ", with tweet-sized texts (15% product complaints about 4 brands)"
    return Workload(records, source, with_text)


def compact(record: SourceRecord, payload: bytes | None = None) -> SourceRecord:
    """The record with its payload copied tight: a `bytes` made by orjson.dumps keeps a
    4 KiB allocation (measured with orjson 3.13: 150,000 records took 1.2 GB of RSS)."""
    tight = bytes(memoryview(record.payload if payload is None else payload))
    return SourceRecord(record.kind, record.event_id, record.event_time, tight)


def synthetic_records(seed: int = 7, people: int = 50_000) -> Iterator[SourceRecord]:
    """A Higgs-like stream: Zipf-ish targets, 80% mentions, one event per second."""
    rng = random.Random(seed)
    t = 1_341_100_000.0
    for n in itertools.count(1):
        author = f"u{rng.randrange(people)}"
        target = f"u{int(people * rng.random() ** 3)}"
        if target == author:
            continue
        t += 1.0
        if rng.random() < 0.8:
            yield mention_record(
                event_id=f"syn:{n}", event_time=t, author_id=author, target_ids=(target,)
            )
        else:
            yield reply_record(
                event_id=f"syn:{n}", event_time=t, author_id=author, in_reply_to_author_id=target
            )


def with_texts(records: Iterable[SourceRecord], seed: int = TEXT_SEED) -> Iterator[SourceRecord]:
    """The same events with a text drawn from the pools (and a brand on complaints)."""
    rng = random.Random(seed)
    kinds = [kind for kind, _ in TEXT_MIX]
    weights = [share for _, share in TEXT_MIX]
    for record in records:
        event = orjson.loads(record.payload)
        kind = rng.choices(kinds, weights)[0]
        event["text"], brand = pick_text(kind, rng)
        if brand is not None:
            event["brands"] = [brand]
        yield compact(record, orjson.dumps(event))


def pick_text(kind: str, rng: random.Random) -> tuple[str, str | None]:
    """A text of one kind from the pools, and the brand it complains about (complaints)."""
    if kind == "positive":
        return rng.choice(POSITIVE_TEXTS), None
    if kind == "neutral":
        return rng.choice(NEUTRAL_TEXTS), None
    if kind == "negative":
        return rng.choice(NEGATIVE_TEXTS), None
    brand = rng.choice(BRANDS)
    return rng.choice(COMPLAINT_TEXTS).format(b=brand), brand


# -- process readings --------------------------------------------------------------------------


def process_cpu_s(pid: int | None) -> float | None:
    """User + system CPU seconds of a process so far (Linux /proc), or None."""
    if pid is None:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat.rpartition(")")[2].split()
        ticks = int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def process_rss(pid: int | None = None) -> int | None:
    """Resident set size in bytes (VmRSS) of `pid` (default: this process), or None."""
    where = "self" if pid is None else str(pid)
    try:
        for line in Path(f"/proc/{where}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def machine() -> dict[str, object]:
    """What the figures depend on: CPUs, CPU model, Python, load."""
    model = cpu_model()
    try:
        load: list[float] | None = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": load,
    }
