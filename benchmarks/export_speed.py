"""Export speed: annotation rows/s and memory at 10k vs 1M rows.

Target (issue 3): >= 200,000 annotation rows/s, memory flat from 10k to 1M rows.
Baseline in the same run: the bare SQLite scan of the same rows (no JSON), so the ratio
export/scan shows the cost of building lines. Each size runs in a child process so peak RSS
is measured per size.

    python benchmarks/export_speed.py --rows 10000,1000000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from _common import WORK, best_of, peak_rss_mb, result, synthetic_db


def build(path: str, rows: int) -> None:
    from stanceterm.store import Annotation, Stance

    annotators = ["alice", "bob"]
    n_sent = rows // len(annotators)
    per_article = 50
    store = synthetic_db(
        path,
        n_sent // per_article,
        per_article,
        lambda a, i: f"Sentence {a}-{i} says that Moscow denied the arms deal.",
    )
    claims = ("arms_deal", "denial")
    recs = (
        Annotation(
            f"art{a}:{i}",
            who,
            "done",
            claims,
            (
                Stance("arms_deal", "vladimir-poutine", "support"),
                Stance("denial", "la-russie", "oppose"),
            ),
            None,
            None,
            "2026-01-01T00:00:00.000000Z",
            "2026-01-01T00:00:00.000000Z",
        )
        for a in range(n_sent // per_article)
        for i in range(per_article)
        for who in annotators
    )
    store.labels.bulk_load(recs)
    store.close()


def measure(path: str) -> dict[str, float]:
    from stanceterm.export import Filters, export
    from stanceterm.store import Store

    store = Store.open(path)
    rss0 = peak_rss_mb()
    scan_t, n_scan = best_of(2, lambda: sum(1 for _ in store.labels.iter_rows()))
    t, n = best_of(2, lambda: export(store, "annotations", os.devnull, Filters()))
    assert n == n_scan
    return {
        "rows": n,
        "seconds": t,
        "scan_seconds": scan_t,
        "rss_before": rss0,
        "rss_peak": peak_rss_mb(),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", default="10000,1000000")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure(args.child)))
        return
    WORK.mkdir(parents=True, exist_ok=True)
    figures = []
    for rows in [int(x) for x in args.rows.split(",")]:
        path = str(WORK / f"export-{rows}.db")
        t0 = time.perf_counter()
        build(path, rows)
        print(f"built {rows} rows in {time.perf_counter() - t0:.1f}s", flush=True)
        out = subprocess.run(
            [sys.executable, __file__, "--child", path], capture_output=True, text=True, check=True
        )
        f = json.loads(out.stdout)
        rate = f["rows"] / f["seconds"]
        print(
            f"rows={f['rows']:>8} export={rate:,.0f} rows/s  scan={f['rows'] / f['scan_seconds']:,.0f} rows/s  "
            f"export/scan time ratio={f['seconds'] / f['scan_seconds']:.2f}  peak RSS={f['rss_peak']:.0f} MB "
            f"(+{f['rss_peak'] - f['rss_before']:.0f} MB during export)"
        )
        figures.append((rows, rate, f["rss_peak"] - f["rss_before"]))
        os.remove(path)
    big = figures[-1]
    result(
        "export_rate",
        big[1] >= 200_000,
        rows=big[0],
        rate=f"{big[1]:.0f}",
        target=">=200000",
        ratio=f"{big[1] / 200_000:.2f}",
    )
    if len(figures) > 1:
        small = figures[0]
        growth = big[2] - small[2]
        result(
            "export_memory_flat",
            growth < 50,
            rows=f"{small[0]}->{big[0]}",
            rss_growth_mb=f"{growth:.0f}",
            target="<50MB",
        )


if __name__ == "__main__":
    main()
