"""How often the cyclic garbage collector runs in a worker (and in the core's bench).

closeknit's state is millions of small acyclic objects (dyads, ties, dict rows) that live
for the process's life. CPython 3.11 starts a young collection every 700 net allocations
and a full one after 100 young ones, and a full collection walks every live object: on
Higgs the core spent about 40% of its time collecting (50,000 events: 6.3k events/s with
the default thresholds, 10.6k/s with a first threshold of 100,000). Reference counting
still frees everything acyclic at once; cycles (asyncio futures, tracebacks) are still
collected, only in larger, rarer batches.
"""

from __future__ import annotations

import gc

OLDER_THRESHOLDS = (20, 100)  # young collections per middle one, middle ones per full


def apply_gc_policy(young_threshold: int) -> None:
    """Collect the youngest generation every `young_threshold` allocations (0: CPython's
    defaults, untouched), and move what start-up allocated out of the collector's sight."""
    if young_threshold <= 0:
        return
    gc.collect()
    gc.freeze()  # modules, code and config: never garbage, never rescanned
    gc.set_threshold(young_threshold, *OLDER_THRESHOLDS)
