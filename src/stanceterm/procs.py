"""Process-level helpers: worker processes that never outlive the command that started them,
and pausing the cyclic garbage collector over a phase that allocates much and makes no cycles."""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["exit_with_parent", "gc_paused", "jobs_env"]


def jobs_env() -> int | None:
    """The worker count the user set in ``STANCETERM_JOBS`` (a positive integer), else None."""
    env = os.environ.get("STANCETERM_JOBS", "").strip()
    return int(env) if env.isdigit() and int(env) > 0 else None


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection in the block; the collector is switched back on at the end
    if it was on. For phases that build millions of objects and make no reference cycles
    (reading a labels file, building a label table), where the collector would walk the growing
    heap again and again for nothing."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def exit_with_parent(parent: int) -> None:
    """Pool initializer: in the worker, exit as soon as ``parent`` is gone (``kill -9`` of the
    command, say) instead of lingering as an orphan blocked on the task queue.

    A forked worker holds its own copy of the queue's pipe ends, so it never sees the parent's
    end close; it polls ``getppid()`` (re-parenting means the parent died), as dedup's helper does.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()
