"""`stanceterm merge` beside a live annotation writer (issue 12 §3 and §4 leftovers).

A real writer process saves a label every ~100 ms through the screens' writer path
(``store.labels.get`` then ``store.labels.save``, as ui/writer.py's save job; the writer of
benchmarks/import_labels_live.py) on the team DB, while ``stanceterm merge OTHER.db`` runs as a
user runs it (a CLI subprocess). The other DB is a laptop's copy: every article of the corpus
(a third of them missing from the team DB, so merge copies those articles and their sentences)
and --labels labels with their history (imported there with ``import-labels``). Reported: the
writer's save latency alone (5 s) and during the merge (p50/p95/max; target p95 < 100 ms, and no
save waiting a second: every merge write transaction stays well under one), merge wall time and
CPU, and the ratio of the writer's p95 during the merge to its p95 alone (same run).

Data: real text only, from benchmarks/realtext.py (BBC News 2004-05, AG News test and UD
French/English treebank sentences; see benchmarks/README.md), labels from realtext.make_labels
(as import_labels_live.py); nothing replicated.

    python benchmarks/merge_live.py --labels 100000 [--runs 3] [--work DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import result, upgrade_cached  # noqa: E402
from import_labels_live import beside_writer, cli, pct  # noqa: E402


def build(work: Path, labels_wanted: int) -> tuple[Path, Path, int, int, str]:
    """(team DB, other DB, labels in other, articles only in other, data note); cached in work."""
    import realtext

    work.mkdir(parents=True, exist_ok=True)
    corpus = realtext.build_corpus(10**6)
    team, other = work / "team-base.db", work / f"other-{labels_wanted}.db"
    only_there = [a for i, a in enumerate(corpus.articles) if i % 3 == 0]
    if not team.exists():
        part = realtext.Corpus(
            [a for i, a in enumerate(corpus.articles) if i % 3 != 0], 0, 0, False
        )
        src = work / "team.jsonl"
        realtext.write_jsonl(part, src)
        cli(team, "import", "-q", str(src))
    if not other.exists():
        src = work / "all.jsonl"
        realtext.write_jsonl(corpus, src)
        tmp = work / "other-building.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{tmp}{suffix}").unlink(missing_ok=True)
        cli(tmp, "import", "-q", str(src))
        with sqlite3.connect(f"file:{tmp}?mode=ro", uri=True) as con:
            rows = con.execute("SELECT id, text FROM sentences ORDER BY seq").fetchall()
        labels = work / f"labels-{labels_wanted}.jsonl"
        n = 0
        with open(labels, "w", encoding="utf-8") as fh:
            for seed, annotators, offset in ((1, 4, 0), (2, 3, 4), (3, 4, 7)):
                for rec in realtext.make_labels(rows, annotators, seed):
                    if n >= labels_wanted:
                        break
                    rec["annotator"] = f"ann{int(str(rec['annotator'])[3:]) + offset}"
                    fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
                    n += 1
        cli(tmp, "import-labels", str(labels))
        cli(tmp, "backup", str(other))  # a clean single file, as a laptop would send it
    # DBs built by an older stanceterm (the work folder is kept between runs): upgrade them
    for db in (team, other):
        upgrade_cached(db)
    with sqlite3.connect(f"file:{other}?mode=ro", uri=True) as con:
        n = int(con.execute("SELECT count(*) FROM annotations").fetchone()[0])
    return team, other, n, len(only_there), corpus.note


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--labels", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--interval", type=float, default=0.1)
    ap.add_argument("--work", type=Path, default=Path("/tmp/stanceterm-bench-merge-live"))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    team, other, n, only_there, note = build(args.work, args.labels)
    runs = []
    for run in range(args.runs):
        db = args.work / f"run{run}.db"
        alone, lat, wall, out, cpu_s = beside_writer(team, db, args.interval, ["merge", str(other)])
        runs.append(
            {
                "wall_s": round(wall, 2),
                "merge_cpu_s": round(cpu_s, 1),
                "labels_per_s": round(n / wall),
                "alone_p95_ms": round(1000 * pct(alone, 0.95), 1),
                "saves": len(lat),
                "p50_ms": round(1000 * pct(lat, 0.5), 1),
                "p95_ms": round(1000 * pct(lat, 0.95), 1),
                "max_ms": round(1000 * max(lat), 1),
                "merge_output": out,
            }
        )
    p95s = [r["p95_ms"] for r in runs]
    maxes = [r["max_ms"] for r in runs]
    walls = [r["wall_s"] for r in runs]
    ratio = statistics.median(r["p95_ms"] / max(r["alone_p95_ms"], 0.1) for r in runs)
    summary = {
        "data": note,
        "labels_merged": n,
        "articles_only_in_other": only_there,
        "load": [round(x, 1) for x in os.getloadavg()],
        "runs": runs,
        "writer_p95_ms_median": statistics.median(p95s),
        "writer_p95_ms_best": min(p95s),
        "writer_max_ms_median": statistics.median(maxes),
        "writer_max_ms_best": min(maxes),
        "merge_wall_s_median": statistics.median(walls),
        "merge_wall_s_best": min(walls),
    }
    print(json.dumps(summary, indent=1, ensure_ascii=False) if args.json else summary)
    result(
        "merge_live",
        statistics.median(p95s) < 100 and statistics.median(maxes) < 1000,
        labels=n,
        writer_p95_ms=statistics.median(p95s),
        writer_max_ms=statistics.median(maxes),
        p95_vs_alone=round(ratio, 1),
        merge_s=statistics.median(walls),
        load=round(os.getloadavg()[0], 1),
    )


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"(took {time.perf_counter() - t0:.0f} s)", file=sys.stderr)
