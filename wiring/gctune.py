"""Python's cyclic GC for a long-running server, set once it has started."""

from __future__ import annotations

import gc

# Past what one request allocates and frees (a receiver's request; the HEC stand-in's
# ~6,000 containers for a 1,000-envelope body), so request work never sets off a collection.
YOUNG_THRESHOLD = 10_000


def settle_after_startup() -> None:
    """Freeze what start-up made and collect the young generation less often.

    Full collections otherwise walk the ~55,000 objects of the imports and the app for nothing,
    stopping the event loop for 20-35 ms each time (the receiver's p99, docs/benchmarks.md).
    Requests free what they allocate by reference counting, so young collections find almost
    nothing: at the default threshold (700) they took ~3% of the receiver's event loop and
    ~0.7 us per envelope in the HEC stand-in; at 10,000 they run a few times a minute.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, 10, 10)
