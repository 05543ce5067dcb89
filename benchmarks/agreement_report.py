"""`stanceterm agreement` end to end: DB rows -> reliability data per field -> alpha + bootstrap CI.

Target (set for this benchmark; issue 6 has none for the command): the whole default report
(every field, 1000 bootstrap resamples) on 100,000 sentences x 3 annotators in under 60 s of
CPU (scaled linearly with sentences x annotators), and reading and shaping the labels into
units no slower than 10x the bare SQLite scan of the same rows, measured in the same run.
CPU time (process_time) is reported because the machine is shared and wall time is noise. Labels are random with a shared
"truth" so alpha is neither 0 nor 1; 10% of the labels are skipped (missing).

    python benchmarks/agreement_report.py --sentences 100000
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections.abc import Callable
from typing import TypeVar

from _common import WORK, peak_rss_mb, result, synthetic_db

T = TypeVar("T")

CLAIMS = ("arms_deal", "denial", "sanctions_efficacy")
ACTORS = ("vladimir-poutine", "kim-jong-un", "la-russie", "les-etats-unis")
STANCES = ("support", "oppose", "neutral")


def build(path: str, n_sent: int, annotators: int, seed: int = 0) -> None:
    from stanceterm.store import Annotation, Stance

    per_article = 50
    store = synthetic_db(
        path, n_sent // per_article, per_article, lambda a, i: f"Sentence {a}-{i} on the arms deal."
    )
    rng = random.Random(seed)

    def labels() -> object:
        for a in range(n_sent // per_article):
            for i in range(per_article):
                truth = [c for c in CLAIMS if rng.random() < 0.3]
                stances = [(c, rng.choice(ACTORS), rng.choice(STANCES)) for c in truth]
                for k in range(annotators):
                    if rng.random() < 0.1:
                        yield Annotation(
                            f"art{a}:{i}",
                            f"ann{k}",
                            "skipped",
                            (),
                            (),
                            None,
                            None,
                            "2026-01-01T00:00:00Z",
                            "2026-01-01T00:00:00Z",
                        )
                        continue
                    claims = (
                        truth if rng.random() < 0.85 else [c for c in CLAIMS if rng.random() < 0.3]
                    )
                    st = tuple(
                        Stance(c, act, s if rng.random() < 0.8 else rng.choice(STANCES))
                        for c, act, s in stances
                        if c in claims
                    )
                    yield Annotation(
                        f"art{a}:{i}",
                        f"ann{k}",
                        "done",
                        tuple(claims),
                        st,
                        None,
                        None,
                        "2026-01-01T00:00:00Z",
                        "2026-01-01T00:00:00Z",
                    )

    store.labels.bulk_load(labels())  # type: ignore[arg-type]
    store.close()


def cpu_best_of(n: int, fn: Callable[[], T]) -> tuple[float, T]:
    """Best CPU time (process_time) of n runs: the machine is shared, wall time is noise."""
    best, out = float("inf"), None
    for _ in range(n):
        t0 = time.process_time()
        out = fn()
        best = min(best, time.process_time() - t0)
    assert out is not None
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sentences", type=int, default=100_000)
    ap.add_argument("--annotators", type=int, default=3)
    ap.add_argument("--bootstrap", type=int, default=1000)
    args = ap.parse_args()

    from stanceterm.reliability import ActorResolver, collect, iter_fields, measure, rows_from_store
    from stanceterm.schema import load_schema
    from stanceterm.store import Store

    WORK.mkdir(parents=True, exist_ok=True)
    path = str(WORK / f"agreement-{args.sentences}.db")
    t0 = time.perf_counter()
    build(path, args.sentences, args.annotators)
    print(
        f"built {args.sentences} sentences x {args.annotators} annotators in "
        f"{time.perf_counter() - t0:.1f}s",
        flush=True,
    )
    store = Store.open(path)
    schema = load_schema()
    resolver = ActorResolver.from_store(store)
    rss0 = peak_rss_mb()
    scan_cpu, n_rows = cpu_best_of(
        2, lambda: sum(1 for _ in store.labels.iter_reliability_rows(statuses=("done",)))
    )
    collect_cpu, corpus = cpu_best_of(
        2,
        lambda: collect(
            rows_from_store(store, resolver=resolver),
            schema.claim_ids,
            stances=schema.stances,
            keep_text=False,
        ),
    )
    fields_cpu, n_fields = cpu_best_of(1, lambda: sum(1 for _ in iter_fields(corpus)))
    wall0, cpu0 = time.perf_counter(), time.process_time()
    results = [measure(f, corpus.annotators, n_boot=args.bootstrap) for f in iter_fields(corpus)]
    report_cpu, report_wall = time.process_time() - cpu0, time.perf_counter() - wall0
    rss = peak_rss_mb() - rss0
    for r in results:
        print(
            f"  {r.field:<26} alpha={r.value:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}] units={r.units}"
        )
    shape_cpu = collect_cpu + fields_cpu
    stats_cpu = report_cpu - fields_cpu
    total = collect_cpu + report_cpu
    ratio = shape_cpu / scan_cpu
    print(
        f"rows={n_rows} fields={n_fields} CPU: scan={scan_cpu:.2f}s collect={collect_cpu:.2f}s "
        f"fields={fields_cpu:.2f}s (shape x{ratio:.1f} the scan) alpha+CI={stats_cpu:.2f}s "
        f"total={total:.2f}s (report wall {report_wall:.2f}s) peak RSS +{rss:.0f} MB"
    )
    store.close()
    os.remove(path)
    budget = 60.0 * args.sentences / 100_000 * args.annotators / 3
    result(
        "agreement_report",
        total < budget and ratio <= 10.0,
        sentences=args.sentences,
        annotators=args.annotators,
        cpu_seconds=f"{total:.2f}",
        shape_vs_scan=f"{ratio:.2f}",
        target=f"<{budget:.0f}s,shape<=10x_scan",
        rss_mb=f"{rss:.0f}",
    )


def main_cli() -> None:
    """`stanceterm agreement --bootstrap 1000` as a user runs it, on real text (realtext.py) with
    4 annotators' varied labels; baseline, same run, same DB: `stanceterm export --kind
    annotations` to a file (one pass over the same labels). Target: ratio <= 3 (issue 17: <= 5 s
    and <= 200 MB at 30k x 4, where the export takes ~1.5-2 s); wall and RSS reported beside."""
    import statistics

    from _common import cli_run, load
    from realtext import build_db

    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", action="store_true")
    ap.add_argument("--sentences", type=int, default=30_000)
    ap.add_argument("--annotators", type=int, default=4)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    db, corpus, n_labels = build_db(args.sentences, args.annotators, WORK)
    ours, base, peaks = [], [], []
    out = str(WORK / "agreement-baseline.jsonl")
    for _ in range(args.repeats):
        wall, peak, text = cli_run(
            ["--db", str(db), "agreement", "--bootstrap", str(args.bootstrap), "--json"]
        )
        ours.append(wall)
        peaks.append(peak)
        base.append(cli_run(["--db", str(db), "export", "--kind", "annotations", "--out", out])[0])
    os.remove(out)
    med, best = statistics.median(ours), min(ours)
    ratio = med / statistics.median(base)
    print(text[:400])
    print(
        f"{corpus.note}; {n_labels} labels; agreement median {med:.2f} s best {best:.2f} s, "
        f"peak RSS {max(peaks):.0f} MB; export baseline median {statistics.median(base):.2f} s"
    )
    result(
        "agreement_report",
        ratio <= 3.0,
        source="realtext" + ("_SHORT" if corpus.short else ""),
        sentences=args.sentences,
        annotators=args.annotators,
        labels=n_labels,
        bootstrap=args.bootstrap,
        wall_median_s=f"{med:.2f}",
        wall_best_s=f"{best:.2f}",
        target_s=5,
        peak_rss_mb=f"{max(peaks):.0f}",
        target_mb=200,
        export_baseline_s=f"{statistics.median(base):.2f}",
        ratio=f"{ratio:.2f}",
        target_ratio="<=3",
        load=load(),
    )


if __name__ == "__main__":
    if "--cli" in sys.argv:
        main_cli()
    else:
        main()
