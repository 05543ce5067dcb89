"""Dedup speed: the engine against exhaustive rapidfuzz ``cdist`` in the same run, and the growth
curve with peak memory.

* **Ratio at 50k** (goal <= 0.2; at a smaller n the goal is 0.2 * 50k / n, as exhaustive work
  grows with n^2 and the engine's with n): the whole engine (normalise, block, verify, guard, cluster) on
  the labelled corpus, against an exhaustive ``process.cdist(scorer=fuzz.ratio, score_cutoff,
  workers=-1)`` over the same match keys (normalisation not counted for the baseline). The
  exhaustive all-pairs time is measured on a random sample of rows against all sentences and
  scaled to the n*(n-1)/2 pairs (the cost of cdist is linear in the rows), so the benchmark
  finishes on a shared machine; ``--exhaustive-rows 0`` runs it in full.
* **Growth curve** (goal: 1M sentences < 5 min on 2 cores, peak RSS < 4 GB): each size runs in
  its own process (clean peak RSS), in memory (``cluster_texts``), plus one end-to-end
  ``run_dedup`` on an SQLite DB (reading, clustering and writing clusters).

    python benchmarks/dedup_speed.py --size small   # 10k (ratio at 10k, goal scaled to 1.0)
    python benchmarks/dedup_speed.py --size large   # 10k, 50k, 200k; ratio at 50k; DB at 50k
    python benchmarks/dedup_speed.py --size huge    # 1M
    python benchmarks/dedup_speed.py --sizes 10000,50000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common
import numpy as np
from dedup_accuracy import gazetteer
from dedup_corpus import build
from rapidfuzz import fuzz, process

from stanceterm.dedup import DEFAULT_THRESHOLD, cluster_texts, compare_key

SIZES = {"small": [10_000], "large": [10_000, 50_000, 200_000], "huge": [1_000_000]}
GOAL_SECONDS_1M = 300.0
GOAL_RSS_MB = 4096.0


def child(n: int, threshold: float, db: bool) -> None:
    """One size, in a fresh process: prints one JSON line."""
    t0 = time.perf_counter()
    texts = [it.text for it in build(n, seed=1)]
    built = time.perf_counter() - t0
    rss_corpus = _common.peak_rss_mb()
    out: dict[str, object] = {"n": n, "build_s": round(built, 1)}
    if db:
        from stanceterm.dedup import run_dedup
        from stanceterm.schema import load_schema
        from stanceterm.store import ImportCounts, NewArticle, Store

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "speed.db"
            with Store.open(path) as store:
                store.set_label_schema(load_schema())
                with store.tx():
                    store.corpus.insert_articles(
                        (
                            NewArticle(
                                id=f"a{i}",
                                title=None,
                                source=None,
                                url=None,
                                published=None,
                                lang="en",
                                content_hash=f"h{i}",
                                sentences=texts[i : i + 20],
                                norms=[t.casefold() for t in texts[i : i + 20]],
                            )
                            for i in range(0, n, 20)
                        ),
                        ImportCounts(),
                    )
                c0, t0 = time.process_time(), time.perf_counter()
                result = run_dedup(store, threshold)
                out["wall_s"] = round(time.perf_counter() - t0, 2)
                out["cpu_s"] = round(time.process_time() - c0, 2)
                out["clusters"] = result.clusters
    else:
        c0, t0 = time.process_time(), time.perf_counter()
        reps = cluster_texts(texts, threshold, gazetteer())
        out["wall_s"] = round(time.perf_counter() - t0, 2)
        out["cpu_s"] = round(time.process_time() - c0, 2)
        out["clusters"] = len(set(reps))
    out["rss_mb"] = round(_common.peak_rss_mb(), 0)
    # the helper process that prepares the next batch (its pages are mostly shared with ours)
    out["helper_rss_mb"] = round(_common.peak_rss_mb(children=True), 0)
    out["rss_corpus_mb"] = round(rss_corpus, 0)
    print(json.dumps(out), flush=True)


def run_child(n: int, threshold: float, db: bool = False) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", str(n), "--threshold", str(threshold)]
    if db:
        cmd.append("--db")
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"child {n} failed: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def exhaustive_seconds(keys: list[str], threshold: float, rows: int) -> tuple[float, bool]:
    """Seconds an exhaustive cdist over all n*(n-1)/2 pairs takes (measured on ``rows`` sampled
    rows against all keys and scaled, or in full when rows is 0 or >= n)."""
    n = len(keys)
    if rows <= 0 or rows >= n:
        t0 = time.perf_counter()
        for start in range(0, n, 2000):
            process.cdist(
                keys[start : start + 2000],
                keys[start:],
                scorer=fuzz.ratio,
                score_cutoff=threshold,
                dtype=np.uint8,
                workers=-1,
            )
        return time.perf_counter() - t0, True
    sample = random.Random(0).sample(keys, rows)
    t0 = time.perf_counter()
    for start in range(0, rows, 1000):
        process.cdist(
            sample[start : start + 1000],
            keys,
            scorer=fuzz.ratio,
            score_cutoff=threshold,
            dtype=np.uint8,
            workers=-1,
        )
    took = time.perf_counter() - t0
    return took * (n - 1) / 2 / rows, False


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--size", choices=sorted(SIZES), default=None)
    ap.add_argument("--sizes", help="comma-separated sentence counts")
    ap.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    ap.add_argument("--exhaustive-rows", type=int, default=2000)
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--db", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument(
        "--end-to-end", action="store_true", help="also run_dedup on SQLite at 50k (with --sizes)"
    )
    args = ap.parse_args()
    if args.child:
        child(args.child, args.threshold, args.db)
        return
    size = args.size or "small"
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else SIZES[size]
    load = os.getloadavg()
    print(
        f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
        f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} (shared machine)",
        flush=True,
    )
    curve: dict[int, dict[str, float]] = {}
    for n in sizes:
        r = run_child(n, args.threshold)
        curve[n] = r
        print(
            f"n={n:>9,}  engine {r['wall_s']:8.1f}s wall {r['cpu_s']:8.1f}s cpu  "
            f"{n / max(r['wall_s'], 1e-9):9,.0f} sentences/s  peak RSS {r['rss_mb']:6.0f} MB "
            f"(corpus alone {r['rss_corpus_mb']:.0f} MB; helper process {r['helper_rss_mb']:.0f} MB)"
            f"  clusters {r['clusters']:,}",
            flush=True,
        )
    ratio_n = 50_000 if 50_000 in curve else min(curve)
    exh = None
    if ratio_n > 200_000:  # --size huge: the ratio is measured at 50k (--size large)
        print("exhaustive comparison: see --size large (at 50k)")
    else:
        exh = ratio_vs_exhaustive(curve, ratio_n, args.threshold, args.exhaustive_rows, load[0])
    growth(curve)
    if exh is not None and ((size == "large" and not args.sizes) or args.end_to_end):
        end_to_end(args.threshold, exh)


def ratio_vs_exhaustive(
    curve: dict[int, dict[str, float]], ratio_n: int, threshold: float, rows: int, load: float
) -> float:
    """Prints and checks engine time / exhaustive cdist time; returns the exhaustive seconds."""
    keys = [compare_key(it.text) for it in build(ratio_n, seed=1)]
    exh, full = exhaustive_seconds(keys, threshold, rows)
    engine = curve[ratio_n]["wall_s"]
    ratio = engine / exh
    # the goal is 0.2 at 50k; exhaustive work grows with n^2 and the engine's with n, so a
    # smaller n gets the proportionally looser goal 0.2 * 50k / n
    goal = 0.2 * 50_000 / ratio_n
    how = "in full" if full else f"{rows} sampled rows, scaled"
    print(
        f"exhaustive cdist at n={ratio_n:,}: {exh:.1f}s ({how}); engine {engine:.1f}s", flush=True
    )
    _common.result(
        "dedup_vs_exhaustive",
        ratio <= goal,
        n=ratio_n,
        engine_s=engine,
        exhaustive_s=f"{exh:.1f}",
        ratio=f"{ratio:.3f}",
        target=f"<={goal:.2g}",
        load=f"{load:.1f}",
    )
    return exh


def growth(curve: dict[int, dict[str, float]]) -> None:
    for n, r in curve.items():
        helper = r.get("helper_rss_mb", 0.0)
        rss = r["rss_mb"] + helper  # counted in full, though much is shared
        ok = rss < GOAL_RSS_MB and (n < 1_000_000 or r["wall_s"] < GOAL_SECONDS_1M)
        _common.result(
            f"dedup_growth_{n}",
            ok,
            wall_s=r["wall_s"],
            cpu_s=r["cpu_s"],
            per_s=f"{n / max(r['wall_s'], 1e-9):.0f}",
            peak_rss_mb=r["rss_mb"],
            helper_rss_mb=helper,
            target=f"rss<{GOAL_RSS_MB:.0f}MB" + (",1M<300s" if n >= 1_000_000 else ""),
        )


def end_to_end(threshold: float, exh: float) -> None:
    r = run_child(50_000, threshold, db=True)
    print(
        f"end to end (SQLite, run_dedup) n=50,000: {r['wall_s']:.1f}s wall, "
        f"{r['cpu_s']:.1f}s cpu, peak RSS {r['rss_mb']:.0f} MB",
        flush=True,
    )
    _common.result(
        "dedup_db_50000",
        r["wall_s"] <= 0.2 * exh,
        wall_s=r["wall_s"],
        ratio_vs_exhaustive=f"{r['wall_s'] / exh:.3f}",
        peak_rss_mb=r["rss_mb"],
    )


if __name__ == "__main__":
    main()
