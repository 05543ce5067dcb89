"""Dedup accuracy on the labelled corpus (benchmarks/dedup_corpus.py).

Reports, at one threshold:

* pairwise precision and recall of the clusters against the ground truth (two sentences in one
  cluster = a predicted pair; two sentences of one group = a true pair), with the false merges
  broken down by hard-negative kind and the missed pairs by variant kind;
* blocking recall: of the pairs an exhaustive rapidfuzz ``cdist`` finds at the same threshold on
  the same match keys, the share that blocking + verification find (goal >= 0.99).

    python benchmarks/dedup_accuracy.py --size small     # 5k sentences
    python benchmarks/dedup_accuracy.py --size large     # 50k sentences (exhaustive: 5k random rows)
    python benchmarks/dedup_accuracy.py --sentences 20000 --threshold 88
"""

from __future__ import annotations

import argparse
import os
import random
import time
from collections import Counter

import _common
import numpy as np
from dedup_corpus import build, truth_pairs
from rapidfuzz import fuzz, process

from stanceterm.dedup import DEFAULT_THRESHOLD, cluster_texts, compare_key, similar_pairs
from stanceterm.schema import load_schema

SIZES = {"small": 5000, "large": 50_000}


def exhaustive_pairs(
    keys: list[str], threshold: float, rows: list[int] | None = None, chunk: int = 1000
) -> set[tuple[int, int]]:
    """Every pair (i < j) with ``fuzz.ratio >= threshold`` (only pairs touching ``rows`` if
    given): cdist over row chunks against all keys, on all cores."""
    out: set[tuple[int, int]] = set()
    todo = list(range(len(keys))) if rows is None else rows
    for start in range(0, len(todo), chunk):
        idx = todo[start : start + chunk]
        m = process.cdist(
            [keys[i] for i in idx],
            keys,
            scorer=fuzz.ratio,
            score_cutoff=threshold,
            dtype=np.uint8,
            workers=-1,
        )
        ii, jj = np.nonzero(m)
        for i, j in zip(ii.tolist(), jj.tolist(), strict=True):
            a = idx[i]
            if a != j:
                out.add((min(a, j), max(a, j)))
    return out


def gazetteer() -> dict[str, str]:
    out: dict[str, str] = {}
    for actor in load_schema().actors:
        out[actor.name] = actor.name
        for alias in actor.aliases:
            out[alias] = actor.name
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--size", choices=sorted(SIZES), default=None)
    ap.add_argument("--sentences", type=int, default=None)
    ap.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--exhaustive-rows",
        type=int,
        default=5000,
        help="exhaustive cdist on this many random rows against all (0: every row)",
    )
    args = ap.parse_args()
    n = args.sentences or SIZES[args.size or "small"]
    print(f"# load average {os.getloadavg()[0]:.2f} (shared 2-core machine)", flush=True)
    items = build(n, args.seed)
    texts = [it.text for it in items]
    t0 = time.perf_counter()
    reps = cluster_texts(texts, args.threshold, gazetteer())
    took = time.perf_counter() - t0
    truth = truth_pairs(items)
    by_rep: dict[int, list[int]] = {}
    for i, r in enumerate(reps):
        by_rep.setdefault(r, []).append(i)
    predicted: set[tuple[int, int]] = set()
    for members in by_rep.values():
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                predicted.add((members[x], members[y]))
    tp = len(predicted & truth)
    precision = tp / len(predicted) if predicted else 1.0
    recall = tp / len(truth) if truth else 1.0
    false_merges = Counter(
        "/".join(sorted({items[i].kind for i in p if items[i].kind.startswith("neg:")})) or "other"
        for p in predicted - truth
    )
    missed = Counter(
        "+".join(sorted({items[i].kind for i in p if items[i].kind != "base"})) or "base"
        for p in truth - predicted
    )
    print(
        f"clusters: {len(texts)} sentences, {len(by_rep)} clusters, {took:.1f}s; "
        f"pairs predicted {len(predicted)}, true {len(truth)}, correct {tp}"
    )
    print(f"  precision {precision:.4f}  recall {recall:.4f}")
    print(f"  false merges by negative kind: {dict(false_merges.most_common(8))}")
    print(f"  missed pairs by variant kinds: {dict(missed.most_common(8))}")
    _common.result(
        "dedup_pairwise",
        precision >= 0.99 and recall >= 0.95,
        sentences=n,
        threshold=args.threshold,
        precision=f"{precision:.4f}",
        recall=f"{recall:.4f}",
        target="precision>=0.99,recall>=0.95",
    )
    keys = [compare_key(t) for t in texts]
    sample = None
    if args.exhaustive_rows and args.exhaustive_rows < n:
        sample = sorted(random.Random(1).sample(range(n), args.exhaustive_rows))
    t0 = time.perf_counter()
    exhaustive = exhaustive_pairs(keys, args.threshold, sample)
    t_exh = time.perf_counter() - t0
    t0 = time.perf_counter()
    found = similar_pairs(keys, args.threshold)
    t_blk = time.perf_counter() - t0
    if sample is not None:  # recall over the pairs touching the sampled rows (unbiased)
        rows = set(sample)
        found = {p for p in found if p[0] in rows or p[1] in rows}
        print(f"exhaustive pairs: those touching {len(sample)} random rows (of {n})")
    block_recall = len(found & exhaustive) / len(exhaustive) if exhaustive else 1.0
    extra = len(found - exhaustive)
    print(
        f"blocking: exhaustive cdist finds {len(exhaustive)} pairs in {t_exh:.1f}s; blocking + "
        f"verify (all pairs) finds {len(found)} of them in {t_blk:.1f}s ({extra} not in exhaustive)"
    )
    _common.result(
        "dedup_blocking_recall",
        block_recall >= 0.99 and extra == 0,
        sentences=n,
        threshold=args.threshold,
        recall=f"{block_recall:.4f}",
        target=">=0.99",
        exhaustive_pairs=len(exhaustive),
    )


if __name__ == "__main__":
    main()
