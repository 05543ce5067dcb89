"""How good the claim model is, and how much it anchors the annotators (no SQL, no Textual).

- :func:`evaluate`: k-fold cross-validation of the default model on the DB's training labels:
  per-claim precision, recall and F1, the share of sentences where the suggestion is exactly
  right, and a learning curve (``stanceterm suggest --evaluate``);
- :func:`anchoring`, :func:`store_anchoring`: how often labels equal the suggestion, on labels
  made with suggestions shown and on labels made without (``--evaluate --bias``).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from stanceterm.suggest import CURVE_SIZES, THRESHOLD, Example, SuggestError, suggested
from stanceterm.suggest_trainer import train

if TYPE_CHECKING:
    from stanceterm.store import Store


# --------------------------------------------------------------------------- evaluation


@dataclass
class ClaimScore:
    claim: str
    precision: float | None
    recall: float | None
    f1: float | None
    support: int


@dataclass
class Evaluation:
    n: int
    folds: int
    claims: list[ClaimScore]
    micro_f1: float | None
    exact: float
    curve: list[tuple[int, float | None, float]]  # (train size, micro F1, exact share)


def _prf(tp: int, fp: int, fn: int) -> tuple[float | None, float | None, float | None]:
    p = tp / (tp + fp) if tp + fp else None
    r = tp / (tp + fn) if tp + fn else None
    if p is None or r is None:
        f = None if tp + fp + fn == 0 else 0.0
    else:
        f = 0.0 if p + r == 0 else 2 * p * r / (p + r)
    return p, r, f


def folds_of(n: int, k: int, seed: int) -> list[list[int]]:
    idx = list(range(n))
    random.Random(seed).shuffle(idx)
    return [idx[i::k] for i in range(k)]


def evaluate(
    examples: Sequence[Example],
    claim_ids: Sequence[str],
    *,
    folds: int = 5,
    seed: int = 0,
    threshold: float = THRESHOLD,
    curve_sizes: Sequence[int] = CURVE_SIZES,
) -> Evaluation:
    """k-fold cross-validation of the default model on ``examples``.

    Per claim: precision, recall, F1 of the suggested set against the training label; the share
    of sentences whose suggested set is exactly right; and a learning curve (micro F1 and exact
    share on each held-out fold when training on the first N of the other folds' labels, for
    the N of ``curve_sizes`` the data allows).
    """
    n = len(examples)
    if n < folds or folds < 2:
        raise SuggestError(f"need at least {max(folds, 2)} training labels to evaluate, have {n}")
    parts = folds_of(n, folds, seed)
    tp = dict.fromkeys(claim_ids, 0)
    fp = dict.fromkeys(claim_ids, 0)
    fn = dict.fromkeys(claim_ids, 0)
    support = dict.fromkeys(claim_ids, 0)
    exact = 0
    sizes = [s for s in curve_sizes if s < n - n // folds]
    curve_counts = {s: [0, 0, 0, 0, 0] for s in sizes}  # tp fp fn exact total
    for k, test_idx in enumerate(parts):
        train_idx = [i for j, part in enumerate(parts) if j != k for i in part]
        train_set = [examples[i] for i in train_idx]
        test_set = [examples[i] for i in test_idx]
        model = train(train_set, claim_ids, "eval", seed=seed, trained_at="eval")
        preds = model.predict([e.text for e in test_set])
        for e, probs in zip(test_set, preds, strict=True):
            got = set(suggested(probs, threshold))
            exact += got == set(e.claims)
            for c in claim_ids:
                truth = c in e.claims
                support[c] += truth
                tp[c] += truth and c in got
                fp[c] += (not truth) and c in got
                fn[c] += truth and c not in got
        for size in sizes:
            sub = train(train_set[:size], claim_ids, "eval", seed=seed, trained_at="eval")
            counts = curve_counts[size]
            for e, probs in zip(test_set, sub.predict([e.text for e in test_set]), strict=True):
                got = set(suggested(probs, threshold))
                truth_set = set(e.claims)
                counts[0] += len(got & truth_set)
                counts[1] += len(got - truth_set)
                counts[2] += len(truth_set - got)
                counts[3] += got == truth_set
                counts[4] += 1
    scores = []
    for c in claim_ids:
        p, r, f = _prf(tp[c], fp[c], fn[c])
        scores.append(ClaimScore(c, p, r, f, support[c]))
    micro = _prf(sum(tp.values()), sum(fp.values()), sum(fn.values()))[2]
    curve = [
        (s, _prf(v[0], v[1], v[2])[2], v[3] / v[4] if v[4] else 0.0)
        for s, v in curve_counts.items()
    ]
    curve.append((n - n // folds, micro, exact / n))
    return Evaluation(n, folds, scores, micro, exact / n, curve)


# --------------------------------------------------------------------------- anchoring


@dataclass
class Anchoring:
    """How often labels equal the model's suggestion, on units labelled with suggestions shown
    (the suggestion shown) and on units labelled without (scored afterwards, out of fold)."""

    with_shown: int
    with_equal: int
    without_shown: int
    without_equal: int
    #: labels made without a suggestion outside the blind and overlap units (before a model
    #: existed, or not shown for another reason): no control group, left out of the shares
    left_out: int = 0

    @property
    def with_share(self) -> float | None:
        return self.with_equal / self.with_shown if self.with_shown else None

    @property
    def without_share(self) -> float | None:
        return self.without_equal / self.without_shown if self.without_shown else None

    @property
    def effect(self) -> float | None:
        """Share equal with suggestions minus share equal without: the anchoring, in points."""
        a, b = self.with_share, self.without_share
        return None if a is None or b is None else a - b


def anchoring(
    assisted: Iterable[tuple[Sequence[str], Sequence[str]]],
    unassisted: Iterable[tuple[Sequence[str], Sequence[str]]],
) -> Anchoring:
    """``assisted``: (label claims, claims suggested when it was made) of labels made with
    suggestions shown; ``unassisted``: (label claims, claims the current model suggests) of
    labels made without."""
    a = [set(lab) == set(sug) for lab, sug in assisted]
    u = [set(lab) == set(sug) for lab, sug in unassisted]
    return Anchoring(len(a), sum(a), len(u), sum(u))


def store_anchoring(
    store: Store,
    examples: Sequence[Example],
    claim_ids: Sequence[str],
    *,
    folds: int = 5,
    seed: int = 0,
    threshold: float = THRESHOLD,
) -> Anchoring:
    """Anchoring on a DB: labels made with a suggestion shown, against the suggestion shown;
    labels on blind and overlap units (no suggestion for anyone), against what a model that
    never saw them suggests. Each unassisted
    label is scored out of fold: by the model trained on the other folds of ``examples`` (the
    training labels) than its sentence's, like the suggestion shown, which was made before the
    label existed. A model trained on a label "agrees" with it by memory, not by text."""
    n = len(examples)
    if n < folds or folds < 2:
        raise SuggestError(f"need at least {max(folds, 2)} training labels for --bias, have {n}")
    parts = folds_of(n, folds, seed)
    fold_of = {examples[i].sentence_id: k for k, part in enumerate(parts) for i in part}
    assisted: list[tuple[list[str], list[str]]] = []
    without: list[tuple[str, str, list[str]]] = []
    for sid, text, claims, sug in store.suggest.provenance_rows():
        if sug is not None:
            assisted.append((claims, list(sug.get("claims", []))))
        else:
            without.append((sid, text, claims))
    # the control group is the blind units and the overlap units (ROUND-NOTES): units that
    # showed no suggestion to anyone by design. A label made without a suggestion elsewhere
    # (before the first model, or by someone else's choice) would mix a before/after and a
    # between-annotator difference into the effect.
    control = store.suggest.unassisted(sorted({sid for sid, _t, _c in without}))
    plain: dict[int, list[tuple[str, list[str]]]] = {}
    left_out = 0
    for sid, text, claims in without:
        if sid in control:  # outside the training labels: no fold's model saw it
            plain.setdefault(fold_of.get(sid, 0), []).append((text, claims))
        else:
            left_out += 1
    unassisted: list[tuple[list[str], list[str]]] = []
    for k, rows in sorted(plain.items()):
        held_out = set(parts[k])
        model = train(
            [e for i, e in enumerate(examples) if i not in held_out],
            claim_ids,
            "anchoring",
            seed=seed,
            trained_at="anchoring",
        )
        preds = model.predict([t for t, _ in rows])
        unassisted += [
            (claims, list(suggested(p, threshold)))
            for (_t, claims), p in zip(rows, preds, strict=True)
        ]
    return replace(anchoring(assisted, unassisted), left_out=left_out)
