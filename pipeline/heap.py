"""Large heaps that last as long as the process, kept out of the garbage collector's way.

Importing TensorFlow, MLflow's SQL store or matplotlib builds hundreds of thousands of
objects that are never freed. CPython 3.11 runs a full collection each time its long-lived
heap has grown by a quarter, so one import of TensorFlow pays for about ten full collections
over an ever larger heap, and every later full collection walks it all again. In a sweep's
training process that was 2.1 s of 16 (1.6 s during the imports, 0.5 s for one collection at
the end), and as much again in the two helpers.

Work done inside `for_good(key)` the first time (per process) runs with the collector paused;
everything alive afterwards is then frozen (`gc.freeze`): never collected and never walked
again. Later garbage is collected as before. A key is frozen once only, so garbage that a
sweep's jobs leave behind is never frozen with it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_done: set[str] = set()


@contextmanager
def for_good(key: str) -> Iterator[None]:
    """The first time per process for `key`: the block runs without collections, and what is
    alive after it is frozen. Later times: the block runs as is."""
    if key in _done:
        yield
        return
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        _done.add(key)
        gc.freeze()
        if enabled:
            gc.enable()
