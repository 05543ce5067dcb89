"""import-labels of many labels beside a live annotation writer (issue 12 §3, issue 17).

A real writer process saves a label every ~100 ms through the code path of the screens' writer
worker (``store.labels.get`` then ``store.labels.save``, ui/writer.py) while ``stanceterm
import-labels`` runs as a user runs it (a CLI subprocess). Reported: the writer's save latency
(p50/p95/max; target p95 < 100 ms) alone and during the import, and import-labels' labels/s end
to end (target >= 30k labels/s).

Data: real text only, from benchmarks/realtext.py (BBC News, AG News and UD French/English
treebank sentences; see benchmarks/README.md). The label records come from realtext.make_labels
(varied claims, stances, many distinct actors from each sentence's own names): 4 annotators with
seed 1, then 3 more (seed 2) until --labels is reached; no sentence or text is replicated.

    python benchmarks/import_labels_live.py --labels 500000 [--work DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

WRITER = r"""
import json, sys, time
from stanceterm.store import Annotation, Store
s = Store.open(sys.argv[1], create=False)
ids = [r[1] for r in s.corpus.iter_sentence_rows()][-5000:]
interval = float(sys.argv[2])
print("ready", flush=True)
lat = []
i = 0
import select
while True:
    t0 = time.perf_counter()
    ann = Annotation(ids[i % len(ids)], "live-writer", "done", ("arms_deal",) if i % 2 else ())
    s.labels.get(ann.sentence_id, ann.annotator)      # what ui/writer.py's save job does
    s.labels.save(ann, "set")
    lat.append(time.perf_counter() - t0)
    i += 1
    if select.select([sys.stdin], [], [], max(0.0, interval - (time.perf_counter() - t0)))[0]:
        break
s.close()
print(json.dumps(lat), flush=True)
"""


def env() -> dict[str, str]:
    e = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    e.pop("STANCETERM_DB", None)
    return e


def cli(db: Path, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stanceterm", "--db", str(db), *args],
        env=env(),
        capture_output=True,
        text=True,
        check=True,
        **kw,  # type: ignore[arg-type]
    )


def build(work: Path, labels_wanted: int) -> tuple[Path, Path, int, str]:
    import realtext

    work.mkdir(parents=True, exist_ok=True)
    corpus = realtext.build_corpus(10**6)
    base = work / "real-base.db"
    if not base.exists():
        src = work / "real.jsonl"
        realtext.write_jsonl(corpus, src)
        cli(base, "import", "-q", str(src))
    labels = work / f"real-{labels_wanted}.labels.jsonl"
    n = 0
    if not labels.exists():
        with sqlite3.connect(f"file:{base}?mode=ro", uri=True) as con:
            rows = con.execute("SELECT id, text FROM sentences ORDER BY seq").fetchall()
        with open(labels, "w", encoding="utf-8") as fh:
            for seed, annotators, offset in ((1, 4, 0), (2, 3, 4), (3, 4, 7)):
                for rec in realtext.make_labels(rows, annotators, seed):
                    if n >= labels_wanted:
                        break
                    k = int(str(rec["annotator"])[3:]) + offset
                    rec["annotator"] = f"ann{k}"
                    fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
                    n += 1
    with open(labels, "rb") as fh:
        n = sum(1 for _ in fh)
    return base, labels, n, corpus.note


def writer_run(
    db: Path, seconds: float | None, interval: float, during: list[str] | None, cpu: list[float]
):
    w = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db), str(interval)],
        env=env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert w.stdin is not None and w.stdout is not None
    assert w.stdout.readline().strip() == "ready"
    wall = None
    out = ""
    if during is not None:
        time.sleep(1.0)
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        p = cli(db, *during)
        wall = time.perf_counter() - t0
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu[0] = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
        out = p.stderr.strip()
        time.sleep(1.0)
    else:
        time.sleep(seconds or 5)
    w.stdin.write("\n")
    w.stdin.flush()
    lat = json.loads(w.stdout.readline())
    w.wait(30)
    return lat, wall, out


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--labels", type=int, default=500_000)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--interval", type=float, default=0.1)
    ap.add_argument("--work", type=Path, default=Path("/tmp/stanceterm-bench-import-live"))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    base, labels, n, note = build(args.work, args.labels)
    results = []
    for run in range(args.runs):
        db = args.work / f"run{run}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        cli(base, "backup", str(db))
        cpu = [0.0]
        alone, _, _ = writer_run(db, 5.0, args.interval, None, cpu)
        lat, wall, out = writer_run(db, None, args.interval, ["import-labels", str(labels)], cpu)
        assert wall is not None
        results.append(
            {
                "labels": n,
                "wall_s": round(wall, 2),
                "labels_per_s": round(n / wall),
                "import_cpu_s": round(cpu[0], 1),
                "labels_per_cpu_s": round(n / cpu[0]) if cpu[0] else None,
                "writer_alone_ms": {
                    "p50": round(1000 * pct(alone, 0.5), 1),
                    "p95": round(1000 * pct(alone, 0.95), 1),
                    "max": round(1000 * max(alone), 1),
                },
                "writer_during_ms": {
                    "saves": len(lat),
                    "p50": round(1000 * pct(lat, 0.5), 1),
                    "p95": round(1000 * pct(lat, 0.95), 1),
                    "max": round(1000 * max(lat), 1),
                },
                "import_output": out,
            }
        )
    rates = [r["labels_per_s"] for r in results]
    summary = {
        "data": note,
        "load": os.getloadavg(),
        "runs": results,
        "labels_per_s_median": statistics.median(rates),
        "labels_per_s_best": max(rates),
    }
    print(json.dumps(summary, indent=1, ensure_ascii=False) if args.json else summary)


if __name__ == "__main__":
    main()
