"""pipeline.heap.for_good: the first block per key runs without collections and its heap is
frozen; garbage made later (a sweep's jobs) is still collected. Each case runs in a fresh
interpreter, so this test process's collector is left as it was."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_python(body: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(body)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_first_use_runs_without_collections_and_freezes_what_it_built() -> None:
    out = run_python(
        """
        import gc
        from pipeline.heap import for_good
        with for_good("imports"):
            inside = gc.isenabled()
            kept = [[i] for i in range(1000)]  # what an import leaves for the process's life
        print(inside, gc.isenabled(), gc.get_freeze_count() >= 1000,
              any(o is kept for o in gc.get_objects()))
        """
    )
    assert out == "False True True False"  # paused, resumed, frozen, out of the collector's sight


def test_garbage_made_after_the_first_use_is_still_collected() -> None:
    out = run_python(
        """
        import gc, weakref
        from pipeline.heap import for_good
        class Node: pass
        with for_good("imports"):
            pass
        frozen = gc.get_freeze_count()
        with for_good("imports"):  # a later job: the same key
            enabled = gc.isenabled()
            node = Node(); node.me = node  # a reference cycle, garbage once dropped
            alive = weakref.ref(node)
        del node
        gc.collect()
        print(enabled, gc.get_freeze_count() == frozen, alive() is None)
        """
    )
    assert out == "True True True"


def test_a_collector_switched_off_before_stays_off() -> None:
    out = run_python(
        """
        import gc
        from pipeline.heap import for_good
        gc.disable()
        with for_good("imports"):
            pass
        print(gc.isenabled())
        """
    )
    assert out == "False"
