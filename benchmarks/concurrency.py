"""Concurrent annotators on one DB file, measured on the path the screens run.

Each annotator is one process running the real annotation app (``StanceApp``, headless through
Textual's ``App.run_test``): its writer thread, its reader connections (progress counts, resume
check) and its team poll every 3 s, exactly as in ``stanceterm annotate``. Each presses a key at
a human pace (a random pause of 2-5 s, then ``0`` "no claim", or ``1`` then ``enter``), so every
press saves a label through the writer thread.

The number of annotators N rises step by step (``--steps``) until the p95 save latency (from the
key's action to the commit in the writer thread: the app's ``on_commit`` hook) passes 100 ms, or
the next step would not fit in the memory available. Per step: per-process RSS and CPU, p50/p95/
max save latency, lost writes (labels in the DB against the keys pressed), NOT SAVED errors, and
the size of the ``-wal`` file over the run (the screens' reader connections stay open the whole
time: checkpoints must keep it bounded). "Holds" is the largest N whose p95 stays under 100 ms
with nothing lost.

    python benchmarks/concurrency.py                                  # 4,8,16,32,48,64 x 60 s
    python benchmarks/concurrency.py --steps 2,4 --seconds 30         # quick
    python benchmarks/concurrency.py --steps 2,4,8,16,32 --all        # the whole curve

A step with one annotator alone runs first, as the same-run baseline: each step also reports its
p95 against it (``ratio``), which is what to judge on a loaded machine; the 100 ms verdict is on
the absolute p95 and needs a machine that is not saturated (the load is printed per step).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from _common import WORK, result, synthetic_db

N_ARTICLES = 40
PER_ARTICLE = 500  # 20,000 sentences
TARGET_P95_MS = 100.0
HERE = Path(__file__).resolve()


def build(path: str) -> None:
    store = synthetic_db(
        path, N_ARTICLES, PER_ARTICLE, lambda a, i: f"Sentence {i} of article {a} about the talks."
    )
    store.close()


# --------------------------------------------------------------------------- one annotator


async def annotate(
    path: str, who: str, seconds: float, pace: tuple[float, float], seed: int
) -> dict[str, Any]:
    from stanceterm.store import Store
    from stanceterm.ui.app import Job, StanceApp

    rng = random.Random(seed)
    latencies: list[float] = []

    def on_commit(dt: float, job: Job) -> None:
        if job.label == "save":
            latencies.append(dt)

    shown: list[float] = []
    t_start = time.perf_counter()
    store = Store.open(path)
    schema = store.label_schema()
    assert schema is not None
    app = StanceApp(
        store,
        schema,
        who,
        on_commit=on_commit,
        on_first_screen=lambda: shown.append(1.0),
        nudge_stances=False,  # "1, enter" is one finished sentence, as the count assumes
    )
    finished = 0  # sentences made done: the labels this annotator must have in the DB
    presses = 0
    async with app.run_test(size=(100, 30)) as pilot:
        while not shown:
            await pilot.pause(0.01)
        startup = time.perf_counter() - t_start
        t0 = time.perf_counter()
        cpu0 = time.process_time()
        await asyncio.sleep(rng.uniform(0, pace[1]))  # do not all start in step
        while time.perf_counter() - t0 < seconds:
            if rng.random() < 0.7:
                await pilot.press("0")
                presses += 1
            else:
                await pilot.press("1")
                await asyncio.sleep(rng.uniform(0.3, 1.0))
                await pilot.press("enter")
                presses += 2
            finished += 1
            await asyncio.sleep(rng.uniform(*pace))
        await app.flush()
        wall = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        errors = list(app.result.errors)
        await pilot.press("q")
    store.close()
    return {
        "who": who,
        "finished": finished,
        "presses": presses,
        "latencies": latencies,
        "errors": errors,
        "startup_s": startup,
        "wall_s": wall,
        "cpu_s": cpu,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def child(argv: list[str]) -> None:
    path, who, seconds, lo, hi, seed = argv  # as step() passes them
    out = asyncio.run(annotate(path, who, float(seconds), (float(lo), float(hi)), int(seed)))
    print("RESULT-JSON " + json.dumps(out), flush=True)


# --------------------------------------------------------------------------- one step


class WalWatch(threading.Thread):
    """The size of the -wal file (``stat`` only), every 0.2 s."""

    def __init__(self, db: str) -> None:
        super().__init__(daemon=True)
        self.wal = db + "-wal"
        self.stop = threading.Event()
        self.sizes: list[int] = []

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.sizes.append(os.stat(self.wal).st_size)
            except FileNotFoundError:
                self.sizes.append(-1)
            time.sleep(0.2)


def db_labels(path: str) -> dict[str, int]:
    """Labels per annotator, read through SQLite (after every process has quit)."""
    import sqlite3

    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT annotator, count(*) FROM annotations WHERE status != 'draft' "
            "AND propagated_from IS NULL GROUP BY annotator"
        ).fetchall()
        ok = conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    counts = {str(a): int(n) for a, n in rows}
    counts["__integrity__"] = int(ok)
    return counts


def pct(xs: list[float], q: int) -> float:
    if not xs:
        return float("nan")
    if len(xs) < 20:
        return max(xs) if q >= 90 else statistics.median(xs)
    return statistics.quantiles(xs, n=100)[q - 1]


def step(template: str, n: int, seconds: float, pace: tuple[float, float]) -> dict[str, Any]:
    path = str(WORK / f"concurrency-{os.getpid()}-{n}.db")  # two runs never share a file
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    shutil.copy(template, path)
    watch = WalWatch(path)
    watch.start()
    args = [str(seconds), str(pace[0]), str(pace[1])]
    procs = [
        subprocess.Popen(
            [sys.executable, str(HERE), "--child", path, f"a{i:03d}", *args, str(i)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(n)
    ]
    got: list[dict[str, Any]] = []
    failures: list[str] = []
    for p in procs:
        out, err = p.communicate(timeout=seconds * 10 + 600)
        line = next((ln for ln in out.splitlines() if ln.startswith("RESULT-JSON ")), None)
        if p.returncode != 0 or line is None:
            failures.append(f"rc {p.returncode}: {err.strip()[-300:]}")
        else:
            got.append(json.loads(line[len("RESULT-JSON ") :]))
    watch.stop.set()
    watch.join()
    counts = db_labels(path)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    lat = [x for g in got for x in g["latencies"]]
    lost = sum(max(0, g["finished"] - counts.get(g["who"], 0)) for g in got)
    extra = sum(max(0, counts.get(g["who"], 0) - g["finished"]) for g in got)
    sizes = [s for s in watch.sizes if s >= 0]
    return {
        "n": n,
        "ok_procs": len(got),
        "failures": failures,
        "saves": len(lat),
        "p50_ms": 1000 * pct(lat, 50),
        "p95_ms": 1000 * pct(lat, 95),
        "max_ms": 1000 * max(lat, default=float("nan")),
        "lost": lost + extra,
        "not_saved": sum(len(g["errors"]) for g in got),
        "integrity": bool(counts["__integrity__"]),
        "rss_mb_median": statistics.median([g["max_rss_mb"] for g in got]) if got else 0,
        "rss_mb_max": max((g["max_rss_mb"] for g in got), default=0),
        "cpu_pct_median": statistics.median([100 * g["cpu_s"] / g["wall_s"] for g in got])
        if got
        else 0,
        "startup_s_median": statistics.median([g["startup_s"] for g in got]) if got else 0,
        "wal_max_kb": max(sizes, default=0) // 1024,
        "wal_end_kb": (sizes[-1] if sizes else 0) // 1024,
        "wal_missing": sum(1 for s in watch.sizes if s < 0),
    }


def mem_available_mb() -> float:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    return float("inf")


def load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", default="4,8,16,32,48,64", help="annotator counts to try, rising")
    ap.add_argument("--seconds", type=float, default=60, help="typing time per step")
    ap.add_argument("--pace", default="2,5", help="seconds between two labels: min,max")
    ap.add_argument(
        "--all", action="store_true", help="run every step, even past the p95 target (a curve)"
    )
    args = ap.parse_args()
    lo, hi = (float(x) for x in args.pace.split(","))
    WORK.mkdir(parents=True, exist_ok=True)
    template = str(WORK / f"concurrency-template-{os.getpid()}.db")
    build(template)
    # same-run baseline: one annotator alone, so a loaded machine shows as a ratio
    base = step(template, 1, args.seconds, (lo, hi))
    print(
        f"baseline N=1: {base['saves']} saves, p50 {base['p50_ms']:.1f} ms, p95 "
        f"{base['p95_ms']:.1f} ms, RSS {base['rss_mb_max']:.0f} MB, CPU "
        f"{base['cpu_pct_median']:.1f}% of a core; load {load()}",
        flush=True,
    )
    steps = [int(s) for s in args.steps.split(",")]
    holds = 0
    stopped = "the last step"
    rows = []
    for n in steps:
        if rows:
            need = n * rows[-1]["rss_mb_max"] * 1.2
            if need > mem_available_mb():
                stopped = f"memory ({n} x {rows[-1]['rss_mb_max']:.0f} MB > available)"
                break
        before = load()
        r = step(template, n, args.seconds, (lo, hi))
        r["load"] = f"{before}->{load()}"
        rows.append(r)
        clean = not r["failures"] and r["lost"] == 0 and r["not_saved"] == 0 and r["integrity"]
        good = clean and r["p95_ms"] < TARGET_P95_MS
        print(
            f"N={n}: {r['saves']} saves, p50 {r['p50_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms, "
            f"max {r['max_ms']:.0f} ms; lost {r['lost']}, NOT SAVED {r['not_saved']}, "
            f"failed processes {len(r['failures'])}; per process RSS {r['rss_mb_median']:.0f} MB "
            f"(max {r['rss_mb_max']:.0f}), CPU {r['cpu_pct_median']:.1f}% of a core, start-up "
            f"{r['startup_s_median']:.1f} s; -wal max {r['wal_max_kb']} KiB, end "
            f"{r['wal_end_kb']} KiB; load {r['load']}",
            flush=True,
        )
        for f in r["failures"][:3]:
            print(f"  failed: {f}", flush=True)
        result(
            "concurrency_step",
            clean,
            annotators=n,
            saves=r["saves"],
            p50_ms=f"{r['p50_ms']:.1f}",
            p95_ms=f"{r['p95_ms']:.1f}",
            max_ms=f"{r['max_ms']:.0f}",
            lost=r["lost"],
            not_saved=r["not_saved"],
            rss_mb=f"{r['rss_mb_median']:.0f}",
            cpu_pct=f"{r['cpu_pct_median']:.1f}",
            wal_max_kb=r["wal_max_kb"],
            baseline_p95_ms=f"{base['p95_ms']:.1f}",
            ratio=f"{r['p95_ms'] / base['p95_ms']:.2f}",
            load=r["load"],
        )
        if not good:
            if stopped == "the last step":
                stopped = f"p95 {r['p95_ms']:.0f} ms at N={n}" if clean else f"errors at N={n}"
            if not args.all:
                break
        elif stopped == "the last step":
            holds = n
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(template + suffix):
            os.remove(template + suffix)
    wal_max = max(r["wal_max_kb"] for r in rows)
    result(
        "concurrency_headroom",
        holds > 0 and all(r["lost"] == 0 and r["integrity"] for r in rows),
        annotators_held=holds,
        stopped_by=stopped.replace(" ", "_"),
        target_p95_ms=int(TARGET_P95_MS),
        pace_s=args.pace,
        wal_max_kb=wal_max,
        cores=os.cpu_count(),
    )


if __name__ == "__main__":
    main()
