"""Concurrent annotators on one SQLite file: lost writes, lock errors, commit latency, throughput.

Target (issue 7): 8 writer processes x 10,000 label writes (store.labels.save, one short transaction
each, on overlapping sentences) on one DB file: 0 lost writes, 0 "database is locked" errors
surfacing, p95 latency of a save (waiting for the lock included) under 250 ms. Baseline in the
same run: one writer alone doing the same number of writes, so the throughput ratio shows what
contention costs. Headroom: how many annotators the measured aggregate throughput serves, at one
write every 2 s (fast) or 5 s (typical).

    python benchmarks/concurrency.py                      # 8 writers x 10,000 writes
    python benchmarks/concurrency.py --writers 4 --writes 1000
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import time
from array import array
from typing import Any

from _common import WORK, result, synthetic_db

N_ARTICLES = 40
PER_ARTICLE = 500  # 20,000 sentences
CLAIMS = ("arms_deal", "denial", "sanctions_efficacy")


def build(path: str) -> None:
    store = synthetic_db(
        path, N_ARTICLES, PER_ARTICLE, lambda a, i: f"Sentence {i} of article {a}."
    )
    store.close()


def writer(path: str, who: str, offset: int, writes: int, go: Any, out: Any) -> None:
    """One annotator process: `writes` saves; returns latencies, errors and its last states."""
    from stanceterm.store import Annotation, Store

    store = Store.open(path)
    total = N_ARTICLES * PER_ARTICLE
    lat = array("d")
    errors: list[str] = []
    last: dict[str, str] = {}
    go.wait()
    t0 = time.time()
    for i in range(writes):
        # writers walk the same sentences from different starting points: they overlap
        n = (offset * 997 + i * 7) % total
        sid = f"art{n // PER_ARTICLE}:{n % PER_ARTICLE}"
        claims = (CLAIMS[i % 3],) if i % 5 else ()
        t = time.perf_counter()
        try:
            store.labels.save(Annotation(sid, who, "done" if i % 7 else "flagged", claims))
            last[sid] = ",".join(claims)
        except Exception as exc:  # counted, never hidden
            errors.append(f"{type(exc).__name__}: {exc}")
        lat.append(time.perf_counter() - t)
    t1 = time.time()
    store.close()
    out.put((who, t0, t1, lat.tobytes(), errors, last))


def run(path: str, writers: int, writes: int) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    go, out = ctx.Barrier(writers), ctx.Queue()
    names = [f"w{i}" for i in range(writers)]
    procs = [
        ctx.Process(target=writer, args=(path, n, i, writes, go, out)) for i, n in enumerate(names)
    ]
    for p in procs:
        p.start()
    got = [out.get(timeout=3600) for _ in procs]
    for p in procs:
        p.join()
    start = min(g[1] for g in got)
    end = max(g[2] for g in got)
    lat = array("d")
    for g in got:
        lat.frombytes(g[3])
    errors = [e for g in got for e in g[4]]
    # lost writes: every save must be in the history, and each sentence's state must be the
    # writer's last save of it
    from stanceterm.store import Store

    store = Store.open(path)
    with store.read() as c:
        events = dict(
            c.execute("SELECT annotator, count(*) FROM annotation_events GROUP BY 1").fetchall()
        )
    lost = 0
    for who, _, _, _, errs, last in got:
        lost += writes - len(errs) - int(events.get(who, 0))
        for sid, claims in last.items():
            ann = store.labels.get(sid, who)
            if ann is None or ",".join(ann.claims) != claims:
                lost += 1
    ok = store.integrity_ok()
    store.close()
    ordered = sorted(lat)
    return {
        "seconds": end - start,
        "throughput": writers * writes / (end - start),
        "p50_ms": 1000 * ordered[len(ordered) // 2],
        "p95_ms": 1000 * ordered[int(len(ordered) * 0.95)],
        "p99_ms": 1000 * ordered[int(len(ordered) * 0.99)],
        "max_ms": 1000 * ordered[-1],
        "lost": lost,
        "lock_errors": sum("locked" in e.lower() or "busy" in e.lower() for e in errors),
        "errors": len(errors),
        "integrity": ok,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--writes", type=int, default=10_000, help="label writes per writer")
    args = ap.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    template = str(WORK / "concurrency-template.db")
    build(template)

    def fresh(name: str) -> str:
        path = str(WORK / name)
        for suffix in ("-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
        shutil.copy(template, path)
        return path

    single = run(fresh("concurrency-single.db"), 1, args.writes)
    multi = run(fresh("concurrency-multi.db"), args.writers, args.writes)
    ratio = multi["throughput"] / single["throughput"]
    print(
        f"single writer: {single['throughput']:.0f} writes/s, p95 {single['p95_ms']:.2f} ms; "
        f"{args.writers} writers: {multi['throughput']:.0f} writes/s aggregate, "
        f"p50 {multi['p50_ms']:.2f} ms, p95 {multi['p95_ms']:.2f} ms, p99 {multi['p99_ms']:.2f} ms, max {multi['max_ms']:.0f} ms, "
        f"{multi['seconds']:.1f} s; lost {multi['lost']}, lock errors {multi['lock_errors']}, "
        f"other errors {multi['errors'] - multi['lock_errors']}",
        flush=True,
    )
    ok = (
        multi["lost"] == 0
        and single["lost"] == 0
        and multi["errors"] == 0
        and single["errors"] == 0
        and multi["integrity"]
        and multi["p95_ms"] < 250
    )
    result(
        "concurrency",
        ok,
        writers=args.writers,
        writes=args.writes,
        lost=multi["lost"],
        lock_errors=multi["lock_errors"],
        errors=multi["errors"],
        p95_ms=f"{multi['p95_ms']:.2f}",
        target_p95_ms=250,
        throughput=f"{multi['throughput']:.0f}/s",
        single=f"{single['throughput']:.0f}/s",
        ratio=f"{ratio:.2f}",
    )
    # one annotator writes about once every 2-5 s
    result(
        "concurrency_headroom",
        ok,
        annotators_at_1_per_2s=int(multi["throughput"] * 2),
        annotators_at_1_per_5s=int(multi["throughput"] * 5),
    )


if __name__ == "__main__":
    main()
