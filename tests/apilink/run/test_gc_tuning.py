"""Garbage collection tuning: fewer collections inside a sync, thresholds restored after."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest

from apilink.run.gc_tuning import YOUNG_THRESHOLD, fewer_collections


def test_thresholds_are_raised_inside_and_restored_after() -> None:
    before = gc.get_threshold()
    with fewer_collections():
        young, *older = gc.get_threshold()
        assert young == max(before[0], YOUNG_THRESHOLD)
        assert tuple(older) == before[1:]
    assert gc.get_threshold() == before


def test_thresholds_are_restored_when_the_block_raises() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("stop")
    assert gc.get_threshold() == before


def test_a_higher_threshold_already_set_is_kept() -> None:
    before = gc.get_threshold()
    gc.set_threshold(50_000, *before[1:])
    try:
        with fewer_collections():
            assert gc.get_threshold()[0] == 50_000
    finally:
        gc.set_threshold(*before)


def test_cycles_are_still_collected() -> None:
    code = (
        "import gc, weakref\n"
        "from apilink.run.gc_tuning import fewer_collections, freeze_startup_objects\n"
        "freeze_startup_objects()\n"
        "class Node: pass\n"
        "with fewer_collections():\n"
        "    a, b = Node(), Node(); a.b, b.a = b, a; probe = weakref.ref(a); del a, b\n"
        "    kept = [{} for _ in range(30_000)]\n"
        "    assert probe() is None, 'a cycle outlived many collections'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
