"""Shared helpers for the benchmark scripts (not part of the package)."""

from __future__ import annotations

import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / "_work"
# STANCETERM_BENCH_SRC: measure another checkout's code (e.g. the base commit, for "before" figures)
SRC = Path(os.environ.get("STANCETERM_BENCH_SRC") or ROOT / "src")
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))


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


def upgrade_cached(db: Path) -> Path:
    """Bring a DB cached in the work folder by an older stanceterm to this one's schema, as a user
    would (``stanceterm upgrade``; a no-op when current), and drop the backup it leaves beside
    it (a cache needs none). Not timed by the callers."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    subprocess.run(
        [sys.executable, "-m", "stanceterm", "--db", str(db), "upgrade"],
        check=True,
        env=env,
        stderr=subprocess.DEVNULL,
    )
    for bak in db.parent.glob(f"{db.name}.v*.bak"):
        bak.unlink()
    return db


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


def load() -> str:
    """The 1-minute load average (the machine is shared: every figure is printed beside it)."""
    return f"{os.getloadavg()[0]:.1f}"


def runs(n: int, fn: Callable[[], T]) -> tuple[float, float, T]:
    """(best, median) wall time of n runs and the last result."""
    times: list[float] = []
    out = None
    for _ in range(n):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    assert out is not None
    return min(times), statistics.median(times), out


def timed_cmd(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float, str]:
    """Run ``cmd`` with this checkout's ``src`` first on PYTHONPATH: (wall s, CPU s (user +
    system), peak RSS MB, stdout), from ``os.wait4`` on the child itself.

    The peak RSS is this child's own ``ru_maxrss`` (with the children it waited for, such as
    import's worker pool), so it is not the maximum over every child the benchmark ever started
    (what ``RUSAGE_CHILDREN`` would give). The CPU time goes beside the wall time: on a shared
    machine the wall time mostly measures the load. A failure raises with stderr's tail."""
    e = dict(os.environ if env is None else env)
    e["PYTHONPATH"] = str(SRC) + os.pathsep + e.get("PYTHONPATH", "")
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=e)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            tail = err.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"{shlex.join(cmd)} failed ({proc.returncode}): {tail}")
        cpu = usage.ru_utime + usage.ru_stime
        return wall, cpu, usage.ru_maxrss / 1024.0, out.read().decode()
