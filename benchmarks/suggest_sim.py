"""A simulated team with claim suggestions, on Reuters-21578 headlines (see benchmarks/README.md).

Data: benchmarks/data/reuters21578-titles.jsonl.xz, the TITLE, TOPICS and LEWISSPLIT of every
Reuters-21578 story with a title (20,121; the NOT-USED ones left out). Topics are mapped onto six
claim types (below); a headline with none of them is "no claim". The ModApte TRAIN part is the
team's queue, replayed in story order; the TEST part (6,160 headlines) is held out: the learning
curve is measured on it and nothing is tuned on it.

What it measures, as the tool runs:
- replay: labels arrive in order; the model is retrained when the background trainer would
  (``suggest_trainer.retrain_due``: 25 new labels, or 10% more, from ``--min-labels`` 50); each headline
  is suggested by the model of the moment, before its label is known;
- keys per headline, without suggestions: ``0`` for no claim, else one digit per claim + Enter;
  with: ``A`` (one key: take the suggestion, done, next) when the suggestion is exactly right,
  else the same keys as without. "One key" = the share of headlines whose suggestion is exactly
  right (a right "no claim" suggestion saves nothing: ``0`` was one key already);
- learning curve: micro F1 and exact share on the held-out TEST part at 50..5000 labels.

The speed targets (retrain in the trainer process, keypress in the screen, the screen's RSS) are
measured end to end by suggest_speed.py.
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import time

from _common import ROOT, result

from stanceterm import suggest, suggest_trainer

DATA = ROOT / "benchmarks" / "data" / "reuters21578-titles.jsonl.xz"
#: Reuters topic -> claim type. Anything else is not a claim.
TOPIC_CLAIMS = {
    "earn": "earnings",
    "acq": "acquisition",
    "crude": "energy",
    "nat-gas": "energy",
    "grain": "grain",
    "wheat": "grain",
    "corn": "grain",
    "oilseed": "grain",
    "soybean": "grain",
    "money-fx": "monetary",
    "interest": "monetary",
    "dlr": "monetary",
    "money-supply": "monetary",
    "trade": "trade",
}
CLAIMS = ["earnings", "acquisition", "energy", "grain", "monetary", "trade"]


def load() -> tuple[list[suggest.Example], list[suggest.Example]]:
    train, test = [], []
    with lzma.open(DATA, "rt", encoding="utf-8") as fh:
        lines = list(fh)
    for line in lines:
        d = json.loads(line)
        claims = tuple(c for c in CLAIMS if c in {TOPIC_CLAIMS.get(t) for t in d["topics"]})
        ex = suggest.Example(str(d["id"]), d["title"], claims)
        (train if d["split"] == "TRAIN" else test).append(ex)
    return train, test


def keys_without(truth: set[str]) -> int:
    return 1 if not truth else len(truth) + 1


def keys_with(truth: set[str], sug: set[str] | None) -> int:
    """``A`` accepts an exactly right suggestion in one key; a wrong one is typed as without
    (the annotator reads the ◌ marks before the first key)."""
    plain = keys_without(truth)
    if sug is None:
        return plain
    return 1 if sug == truth else plain


def replay(
    train: list[suggest.Example], limit: int, every: int, min_labels: int
) -> dict[str, float]:
    stream = train[:limit]
    model: suggest.ClaimModel | None = None
    without = with_ = exact = suggested_n = claimed = claimed_exact = 0
    retrains, retrain_s = 0, 0.0
    for i, ex in enumerate(stream):
        truth = set(ex.claims)
        sug = None
        if model is not None:
            sug = set(suggest.suggested(model.predict([ex.text])[0]))
            suggested_n += 1
            exact += sug == truth
            if truth:
                claimed += 1
                claimed_exact += sug == truth
        without += keys_without(truth)
        with_ += keys_with(truth, sug)
        labelled = i + 1
        trained_on = model.n_train if model is not None else 0
        if labelled >= min_labels and (
            model is None or suggest_trainer.retrain_due(labelled, trained_on, every)
        ):
            t0 = time.perf_counter()
            model = suggest_trainer.train(stream[:labelled], CLAIMS, "bench", seed=0)
            retrain_s += time.perf_counter() - t0
            retrains += 1
    n = len(stream)
    return {
        "sentences": n,
        "with_model": suggested_n,
        "one_key_share": exact / suggested_n if suggested_n else 0.0,
        "one_key_share_with_claims": claimed_exact / claimed if claimed else 0.0,
        "keys_per_100_without": 100 * without / n,
        "keys_per_100_with": 100 * with_ / n,
        "saved_per_100": 100 * (without - with_) / n,
        "retrains": retrains,
        "retrain_total_s": retrain_s,
    }


def curve(
    train: list[suggest.Example], test: list[suggest.Example], sizes: list[int]
) -> list[tuple[int, float, float]]:
    out = []
    for size in sizes:
        model = suggest_trainer.train(train[:size], CLAIMS, "bench", seed=0)
        preds = model.predict([e.text for e in test])
        tp = fp = fn = ex = 0
        for e, p in zip(test, preds, strict=True):
            got, truth = set(suggest.suggested(p)), set(e.claims)
            tp += len(got & truth)
            fp += len(got - truth)
            fn += len(truth - got)
            ex += got == truth
        f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
        out.append((size, f1, ex / len(test)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=3000, help="headlines replayed (TRAIN order)")
    ap.add_argument("--every", type=int, default=25)
    ap.add_argument("--min-labels", type=int, default=50)
    ap.add_argument("--small", action="store_true", help="a quick pass (1000 replayed)")
    args = ap.parse_args()
    if args.small:
        args.limit = 1000
    load_avg = os.getloadavg()[0]
    train, test = load()
    print(f"Reuters-21578 headlines: {len(train)} TRAIN (replayed), {len(test)} TEST (held out)")

    sizes = [s for s in (50, 100, 200, 500, 1000, 2000, 5000) if s <= len(train)]
    for size, f1, ex in curve(train, test, sizes):
        print(
            f"learning curve: {size:5d} labels  micro F1 {100 * f1:5.1f}%  exact {100 * ex:5.1f}%"
        )
    points = curve(train, test, [500])
    result(
        "suggest_curve_500",
        points[0][1] > 0.5,
        labels=500,
        micro_f1=round(points[0][1], 3),
        exact=round(points[0][2], 3),
        target="F1>0.5",
        load=round(load_avg, 1),
    )

    r = replay(train, args.limit, args.every, args.min_labels)
    print(json.dumps(r))
    result(
        "suggest_keystrokes",
        r["saved_per_100"] > 0,
        sentences=r["sentences"],
        one_key_share=round(r["one_key_share"], 3),
        one_key_share_with_claims=round(r["one_key_share_with_claims"], 3),
        keys_per_100_without=round(r["keys_per_100_without"], 1),
        keys_per_100_with=round(r["keys_per_100_with"], 1),
        saved_per_100=round(r["saved_per_100"], 1),
        retrains=r["retrains"],
        target="saved>0",
    )


if __name__ == "__main__":
    main()
