"""The cyclic garbage collector during bulk work."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collection_deferred(threshold: int = 100_000) -> Iterator[None]:
    """Run the cyclic garbage collector less often inside the block.

    A large catalog refresh builds millions of small dicts and lists that reference counting frees anyway; the
    collector's default (a pass every 700 new containers, re-walking older ones as they pile up) spent about a tenth
    of its CPU finding nothing. Cycles are still collected, later; the thresholds come back when the block ends.
    Process-wide while it lasts: other threads only see fewer collections.
    """
    before = gc.get_threshold()
    gc.set_threshold(max(threshold, before[0]), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
