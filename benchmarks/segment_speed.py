#!/usr/bin/env python3
"""Segmentation speed: the fast path (stanceterm.segment) vs pure pysbd, same text, same run.

    python benchmarks/segment_speed.py --size small      # 20k sentences
    python benchmarks/segment_speed.py --sentences 200000

Both run on one core over the paragraphs of the synthetic fr/en news corpus (benchmarks/corpus.py);
the pure-pysbd pass runs on a sample (it is the slow one) and its rate is the baseline. Also checks
that both give the same sentences on that sample, and times one 3,200-sentence paragraph (pysbd is
quadratic there, the fast path chunks it).
"""

from __future__ import annotations

import argparse
import time

from _common import result
from corpus import make_articles

from stanceterm import segment

SIZES = {"small": 20_000, "large": 200_000}


def paragraphs(n: int, seed: int) -> list[tuple[str, str]]:
    out = []
    for art in make_articles(n, seed):
        lang = art.get("lang") or segment.detect_lang(art["text"])
        for line in art["text"].splitlines():
            p = segment.normalize(line)
            if p:
                out.append((p, lang))
    return out


def rate(paras: list[tuple[str, str]], fn: object) -> tuple[float, int, list[list[str]]]:
    split = fn  # type: ignore[assignment]
    t0 = time.perf_counter()
    outs = [split(p, lang) for p, lang in paras]  # type: ignore[operator]
    took = time.perf_counter() - t0
    n = sum(len(o) for o in outs)
    return n / took, n, outs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", choices=SIZES, default=None)
    ap.add_argument("--sentences", type=int, default=None)
    ap.add_argument("--baseline-sentences", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    n = args.sentences or SIZES[args.size or "small"]
    paras = paragraphs(n, args.seed)
    # baseline sample: the first paragraphs (short and long alike) up to ~baseline-sentences
    sample, count = [], 0
    for p, lang in paras:
        if count >= min(args.baseline_sentences, n):
            break
        sample.append((p, lang))
        count += p.count(". ") + 1
    base_rate, base_n, base_out = rate(sample, segment.split_sentences_pysbd)
    fast_sample_rate, _, fast_out = rate(sample, segment.split_sentences)
    same = fast_out == base_out
    # pysbd is quadratic on long paragraphs: also compare on ordinary ones only
    short = [(p, lang) for p, lang in sample if len(p) <= 2000]
    short_base, short_n, _ = rate(short, segment.split_sentences_pysbd)
    short_fast, _, _ = rate(short, segment.split_sentences)
    fast_rate, fast_n, _ = rate(paras, segment.split_sentences)
    # one long paragraph: 3200 sentences
    arts = make_articles(3200, args.seed + 1, hard_share=0.35)
    long_para = " ".join(
        segment.normalize(line) for a in arts for line in a["text"].splitlines() if line.strip()
    )[:400_000]
    t0 = time.perf_counter()
    long_n = len(segment.split_sentences(long_para, "fr"))
    long_s = time.perf_counter() - t0
    print(f"corpus: {fast_n} sentences in {len(paras)} paragraphs (seed {args.seed})")
    print(f"pure pysbd (sample of {base_n} sentences): {base_rate:,.0f} sentences/s")
    print(f"fast path on the same sample:             {fast_sample_rate:,.0f} sentences/s")
    print(f"fast path, whole corpus:                  {fast_rate:,.0f} sentences/s")
    print(
        f"paragraphs <= 2000 chars only ({short_n} sentences): pysbd {short_base:,.0f}/s, "
        f"fast path {short_fast:,.0f}/s, ratio {short_fast / short_base:.2f}x"
    )
    print(f"same sentences on the sample: {same}")
    print(f"one paragraph of {long_n} sentences ({len(long_para)} chars): {long_s:.2f} s")
    ratio = fast_sample_rate / base_rate
    result(
        "segment_speed",
        same and ratio >= 2.0,
        sentences=fast_n,
        fast_per_s=round(fast_rate),
        pysbd_per_s=round(base_rate),
        ratio=round(ratio, 2),
        short_para_ratio=round(short_fast / short_base, 2),
        identical=same,
        long_para_s=round(long_s, 2),
    )


if __name__ == "__main__":
    main()
