"""Review speed: building the review queue, and loading one sentence of the review screen.

Targets (issue 6, review must start and move instantly on a large DB):
* the queue (every labelled sentence read and compared) is built at least as fast as
  ``export --kind annotations`` writes the same rows to /dev/null (baseline, same run, same DB):
  ratio queue/export <= 1.0;
* loading one sentence for display (its versions, actors canonical, its gold, its context)
  takes < 16 ms at p95 (one frame).

Two annotators label every sentence; a tenth of them differ (a stance or a claim).

    python benchmarks/review_queue.py --sentences 20000
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time

from _common import WORK, best_of, result, synthetic_db


def build(path: str, n_sent: int) -> None:
    from stanceterm.store import Annotation, Stance

    per_article = 50
    store = synthetic_db(
        path,
        n_sent // per_article,
        per_article,
        lambda a, i: f"Sentence {a}-{i}: Moscow denied the deal.",
    )
    stamp = "2026-01-01T00:00:00.000000Z"
    agree = (
        Stance("arms_deal", "vladimir-poutine", "support"),
        Stance("denial", "la-russie", "oppose"),
    )
    differ = (
        Stance("arms_deal", "vladimir-poutine", "oppose"),
        Stance("denial", "la-russie", "oppose"),
    )

    def recs():  # type: ignore[no-untyped-def]
        rng = random.Random(0)
        for a in range(n_sent // per_article):
            for i in range(per_article):
                sid = f"art{a}:{i}"
                yield Annotation(
                    sid, "alice", "done", ("arms_deal", "denial"), agree, None, None, stamp, stamp
                )
                theirs = differ if rng.random() < 0.1 else agree
                yield Annotation(
                    sid, "bob", "done", ("arms_deal", "denial"), theirs, None, None, stamp, stamp
                )

    store.labels.bulk_load(recs())
    store.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sentences", type=int, default=20000)
    args = ap.parse_args()

    from stanceterm.adjudicate import review_queue, versions_for
    from stanceterm.export import Filters, export
    from stanceterm.store import Store

    WORK.mkdir(parents=True, exist_ok=True)
    path = str(WORK / f"review-{args.sentences}.db")
    t0 = time.perf_counter()
    build(path, args.sentences)
    print(f"built {args.sentences} sentences x 2 annotators in {time.perf_counter() - t0:.1f}s")
    store = Store.open(path)
    try:
        export_t, rows = best_of(2, lambda: export(store, "annotations", os.devnull, Filters()))
        queue_t, queue = best_of(2, lambda: review_queue(store))
        all_t, everything = best_of(2, lambda: review_queue(store, include_all=True))
        ratio = queue_t / export_t
        print(
            f"rows={rows} export={export_t:.3f}s queue={queue_t:.3f}s ({len(queue)} to review) "
            f"--all={all_t:.3f}s ({len(everything)}) queue/export={ratio:.2f}"
        )
        canonical = store.actors.canonical()
        rng = random.Random(1)
        times = []
        for item in rng.sample(queue, min(300, len(queue))):
            t = time.perf_counter()
            sentence = store.corpus.sentence(item.sentence_id)
            assert sentence is not None
            versions_for(store, item.sentence_id, canonical)
            store.gold.get(item.sentence_id)
            store.corpus.context(sentence)
            times.append((time.perf_counter() - t) * 1000)
        p95 = statistics.quantiles(times, n=20)[-1]
        print(f"load one sentence: median {statistics.median(times):.2f} ms, p95 {p95:.2f} ms")
    finally:
        store.close()
        os.remove(path)
    result(
        "review_queue",
        ratio <= 1.0,
        sentences=args.sentences,
        queue_s=f"{queue_t:.3f}",
        export_s=f"{export_t:.3f}",
        ratio=f"{ratio:.2f}",
        target="<=1.0",
    )
    result("review_load", p95 < 16, sentences=args.sentences, p95_ms=f"{p95:.2f}", target="<16")


if __name__ == "__main__":
    main()
