"""Dedup speed, end to end as a user runs it: ``stanceterm --db DB dedup --full --json`` on an
SQLite DB, timed from outside (wall, CPU of the process and its helper, peak RSS), against an
exhaustive rapidfuzz ``cdist`` over the same sentences' match keys in the same run.

**Data** (named in every RESULT line as ``source=``): the real sentences of
``benchmarks/realtext.py``'s sources (BBC News 2004-05, AG News test, UD English and French
treebanks; cut at sentence ends, each once: about 65k). Every 10th sentence is a **copy** of an
earlier one made by a benign rule of ``dedup_eval.py`` (typos, quotes, attribution moved, quoted
attribution, agency prefix, number format, digits/words), so the engine has wire copies to find
and explain. Beyond the real sentences, the rest are **made from real ones**: the first half of
one real sentence and the second half of another, each pair once (``synthetic-from-real``; the
line says how many are real). Nothing is repeated verbatim.

* **Ratio at 50k** (goal <= 0.1): the end-to-end CLI run against exhaustive ``process.cdist
  (scorer=fuzz.ratio, score_cutoff, workers=-1)`` over all n(n-1)/2 pairs of match keys
  (normalisation not counted for the baseline); measured on ``--exhaustive-rows`` sampled rows
  against all keys and scaled (cdist's cost is linear in the rows; ``0`` runs it in full).
* **1M** (goal < 5 min wall on this 2-core machine, peak RSS < 4 GB): ``--size huge``. It is loud
  (both cores for minutes): run it under ``nice`` and read the load printed beside it.

Each size's DB is built once into ``benchmarks/_work/`` (``--reuse`` keeps it across runs; the
DB build is not timed). ``--repeats N`` runs the CLI N times per size: median and best.

    python benchmarks/dedup_speed.py --size small            # 10k
    python benchmarks/dedup_speed.py --size large            # 50k (ratio) and 200k
    nice python benchmarks/dedup_speed.py --size huge --reuse  # 1M
    python benchmarks/dedup_speed.py --sizes 20000 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common
import numpy as np
from rapidfuzz import fuzz, process

SIZES = {"small": [10_000], "large": [50_000, 200_000], "huge": [1_000_000]}
GOAL_RATIO_50K = 0.1
GOAL_SECONDS_1M = 300.0
GOAL_RSS_MB = 4096.0
COPY_EVERY = 10
SOURCE = "realtext(bbc,ag_news,ud)+copies"


def corpus(n: int, seed: int = 1) -> tuple[list[str], int, int]:
    """(sentences, how many are real, how many are copies): see the module docstring."""
    import dedup_eval
    from search_speed import real_sentences

    rules = [
        dedup_eval.typos,
        dedup_eval.typography,
        dedup_eval.attribution_moved,
        dedup_eval.quoted_attribution,
        dedup_eval.attribution_added,
        dedup_eval.number_format,
        dedup_eval.digits_words,
    ]
    rng = random.Random(seed)
    real = real_sentences()
    seen: set[str] = set()
    out: list[str] = []
    n_real = n_copies = 0
    next_real = 0
    while len(out) < n:
        if len(out) % COPY_EVERY == COPY_EVERY - 1 and out:
            src = out[rng.randrange(len(out))]
            lang = (
                "fr" if any(w in src.split() for w in ("le", "la", "les", "des", "est")) else "en"
            )
            got = rng.choice(rules)(src, lang, rng)
            if got and got[1] not in seen:
                seen.add(got[1])
                out.append(got[1])
                n_copies += 1
                continue
        if next_real < len(real):
            t = real[next_real]
            next_real += 1
            if t not in seen:
                seen.add(t)
                out.append(t)
                n_real += 1
            continue
        a, b = rng.choice(real), rng.choice(real)
        wa, wb = a.split(), b.split()
        t = " ".join(wa[: len(wa) // 2] + wb[len(wb) // 2 :])
        if t not in seen and len(t.split()) >= 4:
            seen.add(t)
            out.append(t)
    return out, n_real, n_copies


def build_db(path: Path, texts: list[str]) -> None:
    from stanceterm.schema import load_schema
    from stanceterm.store import ImportCounts, NewArticle, Store

    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    per = 20
    with Store.open(path) as store:
        store.set_label_schema(load_schema())
        arts = (
            NewArticle(
                id=f"a{i}",
                title=None,
                source="bench",
                url=None,
                published=None,
                lang="en",
                content_hash=f"h{i}",
                sentences=texts[i : i + per],
                norms=[t.casefold() for t in texts[i : i + per]],
            )
            for i in range(0, len(texts), per)
        )
        while True:
            batch = [x for _, x in zip(range(500), arts, strict=False)]
            if not batch:
                break
            with store.tx():
                store.corpus.insert_articles(batch, ImportCounts())


def run_cli(db: Path) -> dict[str, float]:
    """``stanceterm --db DB dedup --full --json`` in a child process: wall, CPU (user+sys of the
    process and the helper it waited for), peak RSS (the larger of the two), and its summary."""
    cmd = [sys.executable, "-m", "stanceterm", "--db", str(db), "dedup", "--full", "--json"]
    env = dict(os.environ)
    env["PYTHONPATH"] = str(_common.SRC) + os.pathsep + env.get("PYTHONPATH", "")
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"dedup failed: {err.read().decode(errors='replace')[-2000:]}")
        summary = json.loads(out.read().decode())
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "rss_mb": usage.ru_maxrss / 1024.0,
        "clusters": summary["clusters"],
        "hidden": summary["hidden"],
        "engine_s": summary["seconds"],
    }


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
    ap.add_argument("--repeats", type=int, default=1, help="CLI runs per size (median, best)")
    ap.add_argument("--exhaustive-rows", type=int, default=2000)
    ap.add_argument("--reuse", action="store_true", help="keep and reuse the built DBs")
    args = ap.parse_args()
    from stanceterm.dedup import DEFAULT_THRESHOLD, compare_key

    threshold = DEFAULT_THRESHOLD
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else SIZES[args.size or "small"]
    _common.WORK.mkdir(parents=True, exist_ok=True)
    for n in sizes:
        texts, n_real, n_copies = corpus(n)
        db = _common.WORK / f"dedup_speed_{n}.db"
        if not (args.reuse and db.exists()):
            t0 = time.perf_counter()
            build_db(db, texts)
            print(f"# built {db.name} in {time.perf_counter() - t0:.0f}s (not timed)", flush=True)
        else:
            _common.upgrade_cached(db)
        source = f"{SOURCE}:{n_real}_real,{n_copies}_copies,{n - n_real - n_copies}_from_real"
        walls, cpus, rss = [], [], []
        r: dict[str, float] = {}
        for _ in range(args.repeats):
            load = os.getloadavg()
            r = run_cli(db)
            walls.append(r["wall_s"])
            cpus.append(r["cpu_s"])
            rss.append(r["rss_mb"])
            print(
                f"n={n:,}: stanceterm dedup --full {r['wall_s']:.1f}s wall, {r['cpu_s']:.1f}s CPU, "
                f"peak RSS {r['rss_mb']:.0f} MB, {r['clusters']:,} clusters, {r['hidden']:,} "
                f"copies hidden; load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} "
                f"at start, {os.getloadavg()[0]:.1f} at end",
                flush=True,
            )
        wall_med, wall_best = statistics.median(walls), min(walls)
        figures: dict[str, object] = {
            "n": n,
            "source": source,
            "wall_median_s": f"{wall_med:.1f}",
            "wall_best_s": f"{wall_best:.1f}",
            "cpu_median_s": f"{statistics.median(cpus):.1f}",
            "peak_rss_mb": f"{max(rss):.0f}",
            "runs": len(walls),
            "load": _common.load(),
        }
        ok = max(rss) < GOAL_RSS_MB
        if n >= 1_000_000:
            ok = ok and wall_best < GOAL_SECONDS_1M
            figures["target"] = f"best<{GOAL_SECONDS_1M:.0f}s,rss<{GOAL_RSS_MB:.0f}MB"
        elif n <= 200_000:
            keys = [compare_key(t) for t in texts]
            exh, full = exhaustive_seconds(keys, threshold, args.exhaustive_rows)
            goal = GOAL_RATIO_50K * 50_000 / n  # exhaustive work grows with n^2, ours with n
            figures["exhaustive_s"] = f"{exh:.1f}"
            figures["exhaustive"] = "full" if full else f"{args.exhaustive_rows}_rows_scaled"
            figures["ratio_median"] = f"{wall_med / exh:.3f}"
            figures["ratio_best"] = f"{wall_best / exh:.3f}"
            figures["target"] = f"ratio<={goal:.2g}"
            ok = ok and wall_best / exh <= goal
        _common.result(f"dedup_cli_{n}", ok, **figures)
        if not args.reuse:
            for suffix in ("", "-wal", "-shm"):
                Path(str(db) + suffix).unlink(missing_ok=True)


if __name__ == "__main__":
    main()
