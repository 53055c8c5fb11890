"""How a long-running Levee process sets Python's cyclic garbage collector.

Memory is freed by reference counting; the cyclic collector only finds cycles. By default it runs every 700
net allocations of containers and, now and then, walks every object the process holds. A worker's cache
holds hundreds of thousands (aggregates, their lists, UUIDs), so each full walk costs a quarter of a second,
and draining a backlog made dozens of them: `bench/workers.py --complaints 20000`, 8 of the 34 CPU seconds
went to the collector. Less often, it finds the same cycles at a fraction of the cost.
"""

from __future__ import annotations

import gc

# Young generation: containers allocated (net) before it is scanned; then how many scans of one generation
# before the next older one is scanned too. CPython's default is (700, 10, 10).
THRESHOLDS = (50_000, 20, 20)


def tune_collector() -> None:
    """Collect cycles less often, and never walk again what the process has loaded to start (modules,
    classes, functions: they live as long as it does). Called by `levee serve` before it starts the service.

    Cycles that live long enough to reach the oldest generation and then die (say, an ended connection's)
    wait for a full collection, which now comes after about 20 million allocations instead of 70,000: at
    low traffic, later, but bounded. A replay sets its own (projections/rebuild.py)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
