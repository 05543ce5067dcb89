"""Helper processes that never outlive the command that started them."""

from __future__ import annotations

import os
import threading
import time

__all__ = ["exit_with_parent"]


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
