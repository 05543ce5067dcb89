"""Shared helpers for the benchmark scripts (not part of the package)."""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / "_work"
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))


def peak_rss_mb(children: bool = False) -> float:
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 1024.0


def best_of(n: int, fn: Callable[[], T]) -> tuple[float, T]:
    """Best wall time of n runs (noisy 2-core machine: the minimum is the stable figure)."""
    best, out = float("inf"), None
    for _ in range(n):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    assert out is not None
    return best, out


def result(name: str, ok: bool, **figures: object) -> None:
    parts = " ".join(f"{k}={v}" for k, v in figures.items())
    print(f"RESULT {name} {parts} {'PASS' if ok else 'FAIL'}", flush=True)


def synthetic_db(
    path: str, n_articles: int, per_article: int, sentence: Callable[[int, int], str]
) -> Any:
    """A fresh stanceterm DB at ``path`` (an old one and its -wal/-shm removed) with the default
    label schema and articles ``art{a}`` of ``per_article`` sentences ``sentence(a, i)``, ids
    ``art{a}:{i}``. Returns the open Store (the caller loads labels, then closes it)."""
    import os

    from stanceterm.schema import load_schema
    from stanceterm.store import ImportCounts, NewArticle, Store

    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    store = Store.open(path)
    store.set_label_schema(load_schema())

    def article(a: int) -> NewArticle:
        texts = [sentence(a, i) for i in range(per_article)]
        return NewArticle(
            id=f"art{a}",
            title=f"Title {a}",
            source="wire",
            url=None,
            published=None,
            lang="en",
            content_hash=f"h{a}",
            sentences=texts,
            norms=[t.casefold() for t in texts],
        )

    with store.tx():
        store.corpus.insert_articles((article(a) for a in range(n_articles)), ImportCounts())
    return store
