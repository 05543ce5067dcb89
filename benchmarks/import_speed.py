#!/usr/bin/env python3
"""Import speed: the whole `stanceterm import` pipeline on real fr/en news and treebank text.

    python benchmarks/import_speed.py --sentences 30000          # real text (benchmarks/realtext.py)
    python benchmarks/import_speed.py --size all --profile       # all of benchmarks/data/text (72k)
    python benchmarks/import_speed.py --source synthetic --sentences 200000   # the old corpus.py

Real text: BBC News, AG News, UD French/English treebanks (see benchmarks/README.md); when the
sources hold fewer unique sentences than asked the corpus stops there and the figure says so.
Baseline, same run, same text: pysbd alone (the fr or en Segmenter on each paragraph, in this
process, one core) on the first articles of the same corpus; the ratio is import/pysbd.
The import is timed --repeats times (fresh DB each time), each run followed by a pysbd-alone
run, so both see the same load: best and median of each are reported, and the ratio is of medians.

--profile adds where the CPU goes, in this process on one core (same code the workers run):
reading and validation, normalisation, the fast path, pysbd on what the fast path hands over,
match_key, and the SQLite part (staging, then the commit with its FTS trigger), plus the share of
sentences that go to pysbd.

Runs `stanceterm import` as a subprocess (reading, validation, boilerplate, segmentation with the
fast path on --jobs processes, SQLite writes), samples the RSS of its whole process tree (the
import and its worker processes) every 20 ms, and reports sentences/s and the peak. Baseline, same
run: the same command on one core with pure pysbd (no fast path) on a subset of the corpus.
Targets: >= 8,000 sentences/s and peak RSS (sum over the tree) < 300 MB.
"""

from __future__ import annotations

import argparse
import os
import resource
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
from _common import SRC, WORK, result
from corpus import write_jsonl
from realtext import build_corpus
from realtext import write_jsonl as write_real

SIZES = {"small": 20_000, "large": 200_000, "all": 1_000_000}  # all: every real sentence
TARGET_RATE = 8000
TARGET_MB = 300
RATIO_TARGET = 7.0
PAGE = os.sysconf("SC_PAGE_SIZE")


def _children(pid: int) -> list[int]:
    out = []
    task = Path(f"/proc/{pid}/task")
    try:
        for t in task.iterdir():
            text = (t / "children").read_text()
            out += [int(x) for x in text.split()]
    except OSError:
        pass
    return out


def _tree_rss(pid: int) -> int:
    total = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * PAGE
        except (OSError, ValueError, IndexError):
            continue
        todo += _children(p)
    return total


def run(cmd: list[str]) -> tuple[float, float, str, float]:
    """Wall time, peak tree RSS (MB), stderr, CPU seconds of the process tree (user + system of
    the import and its workers: the figure a loaded machine disturbs least)."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(proc.pid))
            done.wait(0.02)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    _, err = proc.communicate()
    took = time.perf_counter() - t0
    done.set()
    th.join()
    if proc.returncode != 0:
        sys.exit(f"import failed ({proc.returncode}): {err.decode()[-500:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return took, peak / 2**20, err.decode(), cpu


def count(db: Path) -> int:
    with sqlite3.connect(db) as c:
        return int(c.execute("SELECT count(*) FROM sentences").fetchone()[0])


def pysbd_alone(path: Path, limit: int) -> tuple[int, float, float]:
    """Sentences, wall seconds and CPU seconds of bare pysbd on the paragraphs of the first
    articles (one core, this process)."""
    import pysbd

    segs = {lang: pysbd.Segmenter(language=lang, clean=False) for lang in ("fr", "en")}
    n = 0
    t0, c0 = time.perf_counter(), time.process_time()
    with path.open("rb") as fh:
        for line in fh:
            art = orjson.loads(line)
            seg = segs["fr" if art.get("lang") == "fr" else "en"]
            for para in [art.get("title") or "", *art["text"].split("\n\n")]:
                if para.strip():
                    n += len(seg.segment(para))
            if n >= limit:
                break
    return n, time.perf_counter() - t0, time.process_time() - c0


def profile(corpus: Path) -> None:
    """CPU seconds per stage of the import, in this process (one core), on ``corpus``."""
    sys.path.insert(0, str(SRC))
    from stanceterm import ingest, segment
    from stanceterm.store import ImportCounts, NewArticle, Store

    cpu = time.process_time
    t: dict[str, float] = {}
    t0 = cpu()
    pending = list(ingest.read_jsonl(corpus))
    t["read + validate (orjson, pydantic)"] = cpu() - t0
    t0 = cpu()
    work = []
    for p in pending:
        paras = [x for x in (segment.normalize(line) for line in p.body.splitlines()) if x]
        paras = segment.strip_boilerplate(paras, None)
        work.append((paras, p.article.lang or segment.detect_lang(" ".join(paras))))
    t["normalise, boilerplate, language"] = cpu() - t0
    hard = [0.0, 0]
    real = segment._split_pysbd_chunk

    def timed(chunk: str, lang: str) -> list[str]:
        s0 = cpu()
        out = real(chunk, lang)
        hard[0] += cpu() - s0
        hard[1] += len(out)
        return out

    segment._split_pysbd_chunk = timed  # type: ignore[assignment]
    t0 = cpu()
    sents = [[s for q in paras for s in segment.split_sentences(q, lang)] for paras, lang in work]
    split = cpu() - t0
    segment._split_pysbd_chunk = real  # type: ignore[assignment]
    t["fast path (split_sentences without pysbd)"] = split - hard[0]
    t["pysbd, on what the fast path hands over"] = hard[0]
    t0 = cpu()
    norms = [[segment.match_key(x) for x in ss] for ss in sents]
    t["match_key"] = cpu() - t0
    arts = [
        NewArticle(
            id=f"p{i}",
            title=None,
            source=None,
            url=None,
            published=None,
            lang=lang,
            content_hash=f"h{i}",
            sentences=ss,
            norms=nn,
        )
        for i, ((_, lang), ss, nn) in enumerate(zip(work, sents, norms, strict=True))
        if ss
    ]
    db = WORK / "import-profile.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    store = Store.open(db)
    try:
        t0 = cpu()
        store.corpus.stage_articles(iter(arts))
        t["SQLite: staging (TEMP tables)"] = cpu() - t0
        t0 = cpu()
        with store.tx():
            store.corpus.commit_staged(ImportCounts())
        t["SQLite: commit (sentences, FTS trigram trigger)"] = cpu() - t0
    finally:
        store.close()
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
    total = sum(t.values())
    n = sum(map(len, sents))
    print(f"where the CPU goes ({n} sentences, one process, CPU seconds):")
    for what, sec in t.items():
        print(f"  {what:<50} {sec:6.2f} s  {100 * sec / total:4.1f}%")
    print(f"  {'total':<50} {total:6.2f} s")
    print(f"  sentences that go to pysbd: {hard[1]} of {n} ({100 * hard[1] / n:.1f}%)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", choices=SIZES, default=None)
    ap.add_argument("--sentences", type=int, default=None)
    ap.add_argument("--source", choices=("real", "synthetic"), default="real")
    ap.add_argument("--baseline-sentences", type=int, default=4000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--profile", action="store_true", help="also print where the CPU goes")
    args = ap.parse_args()
    n = args.sentences or SIZES[args.size or "small"]
    WORK.mkdir(parents=True, exist_ok=True)
    if args.source == "real":
        rc = build_corpus(n)
        corpus = WORK / f"import-real-{n}.jsonl"
        tmp = corpus.with_suffix(f".{os.getpid()}.tmp")
        write_real(rc, tmp)
        tmp.replace(corpus)  # atomic: a run beside this one never reads a half-written file
        source = "realtext(bbc,ag_news,ud_en_gum,ud_en_ewt,ud_fr_*)" + (
            "_all" if args.size == "all" else "_SHORT" if rc.short else ""
        )
        print(rc.note)
    else:
        corpus = write_jsonl(WORK / f"import-{n}-{args.seed}.jsonl", n, args.seed)
        source = "synthetic(corpus.py)"
    db = WORK / f"import-{n}-{os.getpid()}.db"  # one per run: two runs side by side do not mix
    py = sys.executable
    times, peaks, base_rates, cpus, base_cpu_rates = [], [], [], [], []
    got = base_n = 0
    for _ in range(args.repeats):
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        took, peak_mb, _, cpu = run(
            [
                py,
                "-m",
                "stanceterm",
                "--db",
                str(db),
                "import",
                "-q",
                "--jobs",
                str(args.jobs),
                str(corpus),
            ]
        )
        got = count(db)
        times.append(took)
        peaks.append(peak_mb)
        cpus.append(cpu)
        base_n, base_s, base_cpu = pysbd_alone(corpus, args.baseline_sentences)
        base_rates.append(base_n / base_s)
        base_cpu_rates.append(base_n / base_cpu)
    base_rate = sorted(base_rates)[len(base_rates) // 2]
    best, med = min(times), sorted(times)[len(times) // 2]
    rate, rate_med = got / best, got / med
    peak = max(peaks)
    load = os.getloadavg()[0]
    print(
        f"corpus: {corpus.name}, {corpus.stat().st_size / 2**20:.1f} MB, {got} sentences imported"
    )
    print(
        f"stanceterm import --jobs {args.jobs}: best {best:.2f} s, median {med:.2f} s -> "
        f"{rate:,.0f} / {rate_med:,.0f} sentences/s, peak RSS {peak:.0f} MB (process tree)"
    )
    print(
        f"baseline, pysbd alone, one core, same text ({base_n} sentences): median "
        f"{base_rate:,.0f}, best {max(base_rates):,.0f} sentences/s"
    )
    print(f"ratio: {rate_med / base_rate:.2f}x (median)  load {load:.1f} on {os.cpu_count()} cores")
    cpu_med = sorted(cpus)[len(cpus) // 2]
    base_cpu_rate = sorted(base_cpu_rates)[len(base_cpu_rates) // 2]
    print(
        f"CPU (least disturbed by load): import {cpu_med:.1f} CPU-s median (process tree) -> "
        f"{got / cpu_med:,.0f} sentences per CPU-second; pysbd alone {base_cpu_rate:,.0f} per "
        f"CPU-second -> {got / cpu_med / base_cpu_rate:.2f}x; on 2 idle cores that CPU takes "
        f"at best {cpu_med / 2:.1f} s wall ({2 * got / cpu_med:,.0f} sentences/s)"
    )
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    if args.profile:
        profile(corpus)
    # Ratio (fails the run): the median import against pysbd alone, same text, same run. The issue
    # measured 6.3k/s against 1.1k/s (5.7x) on real text; 8k/s at that baseline is 7.3x, so the
    # ratio target is 7. The absolute rate and RSS are reported beside it.
    ratio = rate_med / base_rate
    result(
        "import_speed",
        ratio >= RATIO_TARGET,
        source=source,
        sentences=got,
        per_s_median=round(rate_med),
        per_s_best=round(rate),
        target_per_s=TARGET_RATE,
        pysbd_alone_per_s=round(base_rate),
        ratio=round(ratio, 2),
        target_ratio=RATIO_TARGET,
        cpu_s_median=round(cpu_med, 1),
        per_cpu_s=round(got / cpu_med),
        cpu_ratio=round(got / cpu_med / base_cpu_rate, 2),
        peak_rss_mb=round(peak),
        target_mb=TARGET_MB,
        load=round(load, 1),
    )


if __name__ == "__main__":
    main()
