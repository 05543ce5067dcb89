#!/usr/bin/env python3
"""The fast path gives exactly pysbd's sentences on every paragraph of benchmarks/data/text.

It also runs each whole paragraph through the sped-up pysbd that the fast path hands its hard
pieces to (``segment._split_pysbd_chunk``: abbreviation and list passes skipped where they cannot
change the text, session 3) and checks it against pure pysbd too.

    python benchmarks/segment_equality.py            # all sources, all splits (34k paragraphs)
    python benchmarks/segment_equality.py --split heldout

tests/test_segment.py checks a sample of the same text (every 5th held-out article, every 50th
of the rest); this checks all of it, as done for each fast-path rule of issue 17. Prints the
first differences and exits 1 if there is any. Paragraphs over 20,000 characters are skipped
(pure pysbd is quadratic there).
"""

from __future__ import annotations

import argparse
import sys
import time

from _common import SRC
from realtext import unique_paragraphs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--split", choices=("all", "heldout", "tune"), default="all")
    args = ap.parse_args()
    sys.path.insert(0, str(SRC))
    from stanceterm import segment

    n = bad = bad_pysbd = 0
    t0 = time.perf_counter()
    for p, lang in unique_paragraphs(args.split, segment.normalize):
        n += 1
        fast = segment.split_sentences(p, lang)
        pure = segment.split_sentences_pysbd(p, lang)
        if fast != pure:
            bad += 1
            if bad <= 10:
                print(f"DIFF ({lang}) {p[:300]!r}\n  fast: {fast}\n  pysbd: {pure}")
        faster = segment._split_pysbd_chunk(p, lang)
        if faster != pure:
            bad_pysbd += 1
            if bad_pysbd <= 10:
                print(f"DIFF sped-up pysbd ({lang}) {p[:300]!r}\n  {faster}\n  {pure}")
    took = time.perf_counter() - t0
    print(
        f"split {args.split}: {n} paragraphs, {bad} differences (fast path), "
        f"{bad_pysbd} differences (sped-up pysbd on whole paragraphs) ({took:.0f} s)"
    )
    sys.exit(1 if bad or bad_pysbd else 0)


if __name__ == "__main__":
    main()
