"""The collector settings of a Levee service (services/runtime/collector.py): cycles are found less often, and
still found. Run in a child interpreter, since the settings are the whole process's."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from services.runtime.collector import THRESHOLDS

CHILD = textwrap.dedent(
    """
    import gc, weakref
    from services.runtime.collector import THRESHOLDS, tune_collector

    class Node:
        pass

    tune_collector()
    assert gc.get_threshold() == THRESHOLDS and gc.get_freeze_count() > 0
    refs = []
    for _ in range(3 * THRESHOLDS[0]):  # garbage cycles, more than the young generation holds
        a, b = Node(), Node()
        a.other, b.other = b, a
        refs.append(weakref.ref(a))
        del a, b
    print(sum(ref() is not None for ref in refs))
    """
)


def test_a_tuned_process_still_frees_garbage_cycles_without_being_asked() -> None:
    child = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60, check=True
    )
    alive = int(child.stdout)
    # Collected along the way: at most what the young generation holds waits (a pair is three containers).
    assert alive <= THRESHOLDS[0] // 2
