"""`stanceterm export --kind annotations` end to end on real text with varied labels.

Data: benchmarks/realtext.py (BBC News, AG News, UD fr/en treebanks), imported with
`stanceterm import`, then 4 annotators' varied labels (claims, stances, actors taken from the
sentence's own capitalised names) loaded with `stanceterm import-labels`.

Each size: `python -m stanceterm export --kind annotations --out FILE` as a subprocess, to a real
file (the command's temp file, fsync and rename included), --repeats times: wall time (median and
best), rows/s, and the child's peak RSS (os.wait4). Baseline, same run, same DB: a minimal
exporter in its own subprocess (sqlite3 SELECT of the same rows joined to the sentence text,
json.dumps per row, temp file, fsync, rename). Ratio = export / minimal (median walls).
Target: ratio <= 1.5 (set before measuring: stanceterm's exporter validates and renders, so it
may cost up to half again a bare dump); the issue's >= 200k rows/s is reported beside it. Memory: RSS
growth from the smallest to the largest size < 50 MB (reported; sizes are capped by the unique
real text available).

    python benchmarks/export_speed.py --sentences 2500,30000
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from _common import WORK, cli_run, load, result
from realtext import build_db

RAW = r"""
import json, os, sqlite3, sys
db, out = sys.argv[1], sys.argv[2]
con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
cur = con.execute(
    "SELECT a.sentence_id, s.article_id, s.text, a.annotator, a.status, a.claims, a.stances,"
    " a.propagated_from, a.note, a.created_at, a.updated_at FROM annotations a"
    " JOIN sentences s ON s.id = a.sentence_id WHERE a.status IN ('done','skipped','flagged')"
    " ORDER BY a.sentence_id, a.annotator")
tmp = out + ".tmp"
n = 0
with open(tmp, "w", encoding="utf-8") as fh:
    while rows := cur.fetchmany(10000):
        for r in rows:
            fh.write(json.dumps({"schema_version": 1, "sentence_id": r[0], "article_id": r[1],
                "text": r[2], "annotator": r[3], "status": r[4], "claims": json.loads(r[5]),
                "stances": json.loads(r[6]), "propagated_from": r[7], "note": r[8],
                "created_at": r[9], "updated_at": r[10]}, ensure_ascii=False) + "\n")
            n += 1
    fh.flush()
    os.fsync(fh.fileno())
os.replace(tmp, out)
print(n)
"""


def raw_export(db: str, out: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    p = subprocess.run(
        [sys.executable, "-c", RAW, db, out], check=True, capture_output=True, text=True
    )
    return time.perf_counter() - t0, int(p.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sentences", default="2500,30000")
    ap.add_argument("--annotators", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    sizes = [int(x) for x in args.sentences.split(",")]
    rss: dict[int, float] = {}
    for n in sizes:
        db, corpus, _ = build_db(n, args.annotators, WORK)
        out = str(WORK / f"export-{n}.jsonl")
        ours, theirs, peaks = [], [], []
        rows = 0
        for _ in range(args.repeats):
            wall, peak, _ = cli_run(
                ["--db", str(db), "export", "--kind", "annotations", "--out", out]
            )
            ours.append(wall)
            peaks.append(peak)
            with open(out, "rb") as fh:
                rows = sum(1 for _ in fh)
            t, raw_rows = raw_export(str(db), out + ".raw")
            theirs.append(t)
        os.remove(out)
        os.remove(out + ".raw")
        med, best = statistics.median(ours), min(ours)
        ratio = med / statistics.median(theirs)
        rss[n] = max(peaks)
        print(
            f"{n} sentences ({corpus.note}): {rows} rows (minimal exporter {raw_rows}); export "
            f"median {med:.2f} s best {best:.2f} s = {rows / med:,.0f} / {rows / best:,.0f} rows/s; "
            f"minimal median {statistics.median(theirs):.2f} s; ratio {ratio:.2f}; RSS {rss[n]:.0f} MB"
        )
        result(
            "export_rate",
            ratio <= 1.5,
            source="realtext" + ("_SHORT" if corpus.short else ""),
            rows=rows,
            rows_per_s_median=round(rows / med),
            rows_per_s_best=round(rows / best),
            target_rows_per_s=200000,
            minimal_per_s=round(rows / statistics.median(theirs)),
            ratio=f"{ratio:.2f}",
            target_ratio="<=1.5",
            peak_rss_mb=round(rss[n]),
            load=load(),
        )
    if len(sizes) > 1:
        growth = rss[sizes[-1]] - rss[sizes[0]]
        result(
            "export_memory",
            growth < 50,
            source="realtext",
            sentences=f"{sizes[0]}->{sizes[-1]}",
            rss_mb=f"{rss[sizes[0]]:.0f}->{rss[sizes[-1]]:.0f}",
            growth_mb=f"{growth:.0f}",
            target="<50MB",
            load=load(),
        )


if __name__ == "__main__":
    main()
