#!/usr/bin/env python3
"""What the fast path hands to pysbd, and what pysbd spends on it, grouped by the reason.

    python benchmarks/segment_hard.py                  # tuning half of benchmarks/data/text
    python benchmarks/segment_hard.py --split heldout --top 10 --examples 2

Runs ``segment.split_sentences`` on every paragraph (as segment_equality.py reads them) and
times each call to pysbd (``_split_pysbd_chunk``, CPU seconds). A call on a whole paragraph is
grouped by why the fast path gave it up: ``blocked:<check>`` (a :func:`segment._blocked` check,
the paragraph goes to pysbd whole) or ``no safe cut``. A call on a run of hard pieces is grouped
by what the run holds that the easy patterns refuse: double quotes with punctuation inside
(``dq+punct``) or without, ``!``, a "?" inside, an ellipsis, a number with a period, a period
inside after a token (``abbr`` when the token is one of pysbd's abbreviations, ``initial`` for a
capital, ``dot`` otherwise), parentheses, apostrophes. The time goes to the first class in
that order, so the table adds up to pysbd's total.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import defaultdict
from typing import Any

from _common import SRC
from realtext import unique_paragraphs

_INNER_DOT = re.compile(r"(?<!\S)(\S+?)\.(?= )")


def _reason(s: Any, chunk: str, paragraph: str, lang: str) -> str:
    if chunk == paragraph:
        checks = [
            ("placeholder or backslash", lambda p: s._PLACEHOLDER_CHARS.search(p)),
            ("quote not after a word", lambda p: s._QUOTE_NOT_AFTER_WORD.search(p)),
            ("parentheses between quotes", lambda p: s._PARENS_BETWEEN_QUOTES.search(p)),
            ("numbered reference", lambda p: s._NUMBERED_REFERENCE.search(p)),
            ("unbalanced pair", s._unbalanced),
        ]
        for name, check in checks:
            if check(chunk):
                return f"blocked: {name}"
        return "blocked: list" if s._blocked(chunk) else "whole: no safe cut"
    body = chunk[:-1]
    if '"' in chunk:
        return "run: dq+punct" if re.search(r'[.!?,]"|"[^"]*[.!?][^"]*"', chunk) else "run: dq"
    if "!" in chunk:
        return "run: !"
    if "?" in body:
        return "run: ? inside"
    if "..." in chunk or "…" in chunk:
        return "run: ellipsis"
    if re.search(r"\d\.", chunk):
        return "run: number with a period"
    m = _INNER_DOT.search(body)
    if m:
        tok = m.group(1).strip("(\"'").lower()
        if tok in s._abbreviations(lang):
            return "run: abbr"
        return "run: initial" if re.fullmatch(r"[a-z]", tok) else "run: dot after a token"
    if "(" in chunk:
        return "run: parentheses"
    if "'" in chunk or "’" in chunk:
        return "run: apostrophe"
    return "run: other"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--split", choices=("all", "heldout", "tune"), default="tune")
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument("--examples", type=int, default=0)
    args = ap.parse_args()
    sys.path.insert(0, str(SRC))
    from stanceterm import segment

    real = segment._split_pysbd_chunk
    stats: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0])  # calls, CPU s, sentences
    examples: dict[str, list[str]] = defaultdict(list)
    current = ["", "en"]

    def timed(chunk: str, lang: str) -> list[str]:
        t0 = time.process_time()
        out = real(chunk, lang)
        took = time.process_time() - t0
        why = _reason(segment, chunk, current[0], lang)
        st = stats[why]
        st[0] += 1
        st[1] += took
        st[2] += len(out)
        if len(examples[why]) < args.examples:
            examples[why].append(chunk[:200])
        return out

    segment._split_pysbd_chunk = timed  # type: ignore[assignment]
    n = 0
    t0 = time.process_time()
    for p, lang in unique_paragraphs(args.split, segment.normalize):
        current[0] = p
        n += len(segment.split_sentences(p, lang))
    total = time.process_time() - t0
    hard = sum(v[1] for v in stats.values())
    sent = sum(int(v[2]) for v in stats.values())
    print(
        f"split {args.split}: {n} sentences, {sent} ({100 * sent / n:.1f}%) from pysbd in "
        f"{sum(int(v[0]) for v in stats.values())} calls; pysbd {hard:.2f} CPU-s of {total:.2f}"
    )
    print(f"{'CPU s':>7} {'share':>6} {'calls':>6} {'sentences':>9}  reason")
    for why, (calls, sec, sents) in sorted(stats.items(), key=lambda kv: -kv[1][1])[: args.top]:
        print(f"{sec:7.3f} {100 * sec / hard:5.1f}% {int(calls):6d} {int(sents):9d}  {why}")
        for ex in examples[why]:
            print(f"{'':32}{ex!r}")


if __name__ == "__main__":
    main()
