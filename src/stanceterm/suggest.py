"""Claim suggestions learnt from the team's own labels (no Textual, no SQL).

- :func:`training_examples`: the training label of each sentence (gold, else the agreed label,
  else the single annotator's ``done`` label; skipped and flagged labels are left out).
- :class:`ClaimModel`: character n-gram TF-IDF and one logistic regression per claim type
  (probabilities), deterministic. scikit-learn is imported lazily, when a model is trained or
  first used, so the annotation screen's cold start does not pay for it.
- :func:`save_model` / :func:`load_model`: the model file beside the DB (``DB.suggest-model``),
  with the label-schema fingerprint, training size and date; a model of another schema is
  ignored (and deleted by the trainer).
- :func:`evaluate`: k-fold cross-validation, per-claim precision/recall/F1, exact-match share,
  learning curve; :func:`anchoring`: how often labels equal the suggestion, with and without it.
- :func:`load_suggester`: the plug-in point ``module:function`` (sentences -> claim probabilities).
- on a DB: :func:`train_store`, :func:`status`, :func:`mark_blind`, :func:`run_trainer` (the one
  background trainer per DB); the screen's side: :class:`LiveSuggestions`.

Size: over 600 lines because it is the whole life of one model, each part short: the
training-label rule, fit and numpy prediction, the file, evaluation and anchoring, the trainer
process, and the screen's cache. It has no SQL (``store/suggest.py``) and no Textual (the
annotate screen); splitting the trainer out (``suggest_trainer.py``) is the next step if it grows.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import os
import pickle
import random
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stanceterm.schema import LabelSchema
    from stanceterm.store import Store

#: Default number of training labels before a model is trained.
MIN_LABELS = 50
#: A claim is suggested when its probability reaches this.
THRESHOLD = 0.5
#: Learning-curve sizes reported by :func:`evaluate`.
CURVE_SIZES = (50, 100, 200, 500)
MODEL_SUFFIX = ".suggest-model"
LOCK_SUFFIX = ".suggest-lock"
FORMAT = 2


class SuggestError(Exception):
    """A problem a user can fix (bad plug-in, too few labels); the message is one line."""


# --------------------------------------------------------------------------- training labels


@dataclass(frozen=True, slots=True)
class Example:
    """One training sentence: its id, text and claim set (schema order)."""

    sentence_id: str
    text: str
    claims: tuple[str, ...]


def training_examples(
    labels: Iterable[tuple[str, str, str, str, Sequence[str]]],
    gold: Mapping[str, tuple[str, Sequence[str]]],
    claim_ids: Sequence[str],
) -> list[Example]:
    """The training label of each sentence, in the order of ``labels``.

    ``labels``: (sentence_id, text, annotator, status, claims) of the direct (not propagated)
    labels, grouped by sentence (a sentence with only a gold record comes as one row whose
    status is ``""``). ``gold``: sentence_id -> (status, claims) of the gold records.
    The label is the gold one if there is a ``gold`` record (an ``unresolvable`` one leaves the
    sentence out), else the claim set every ``done`` label agrees on, else the single ``done``
    label. ``skipped``, ``flagged`` and ``draft`` labels are left out; claims outside the schema
    are dropped.
    """
    order = {c: i for i, c in enumerate(claim_ids)}

    def norm(claims: Sequence[str]) -> tuple[str, ...]:
        return tuple(sorted({c for c in claims if c in order}, key=order.__getitem__))

    out: list[Example] = []
    current: str | None = None
    text = ""
    done: list[tuple[str, ...]] = []

    def flush() -> None:
        if current is None:
            return
        g = gold.get(current)
        if g is not None:
            if g[0] == "gold":
                out.append(Example(current, text, norm(g[1])))
            return
        if done and all(d == done[0] for d in done):
            out.append(Example(current, text, done[0]))

    for sentence_id, sentence_text, _annotator, status, claims in labels:
        if sentence_id != current:
            flush()
            current, text, done = sentence_id, sentence_text, []
        if status == "done":
            done.append(norm(claims))
    flush()
    return out


# --------------------------------------------------------------------------- the model


@dataclass
class ClaimModel:
    """A trained claim model: per claim, P(claim | sentence).

    Fitted with scikit-learn (:func:`train`), then kept as plain data: the n-gram vocabulary,
    the idf weights and one row of coefficients per claim. Predicting needs numpy only, so a
    screen that loads the model never imports scikit-learn or scipy (RSS, cold start), and the
    file holds no scikit-learn object (no version coupling).
    """

    claim_ids: list[str]
    fingerprint: str
    n_train: int
    trained_at: str
    seed: int = 0
    ngram: tuple[int, int] = (2, 5)
    vocab: dict[str, int] = field(default_factory=dict)
    idf: Any = None  # float32 array, one weight per n-gram
    coef: Any = None  # float32 array (claims x n-grams); a one-class claim has a zero row
    intercept: Any = None  # float64 array, one per claim (a one-class claim: its log-odds)
    format: int = FORMAT

    @property
    def model_id(self) -> str:
        """A short stable name: ``tfidf-lr:<n>@<date>#<hash>``, carried with every label."""
        h = hashlib.sha256(f"{self.fingerprint}{self.n_train}{self.trained_at}".encode())
        return f"tfidf-lr:{self.n_train}@{self.trained_at[:19]}#{h.hexdigest()[:8]}"

    def features(self, texts: Sequence[str]) -> Any:
        """TF-IDF rows (dense float32, L2-normalised), exactly as the fitted vectorizer made
        them: scikit-learn's ``char_wb`` n-grams of the lower-cased text, sublinear tf."""
        import math

        import numpy as np

        lo, hi = self.ngram
        vocab, idf = self.vocab, self.idf
        x = np.zeros((len(texts), len(idf)), dtype=np.float32)
        for row, text in enumerate(texts):
            counts: dict[int, int] = {}
            for word in _WHITE.sub(" ", text.lower()).split():
                w = f" {word} "
                for n in range(lo, hi + 1):
                    offset = 0
                    j = vocab.get(w[offset : offset + n])
                    if j is not None:
                        counts[j] = counts.get(j, 0) + 1
                    while offset + n < len(w):
                        offset += 1
                        j = vocab.get(w[offset : offset + n])
                        if j is not None:
                            counts[j] = counts.get(j, 0) + 1
                    if offset == 0:  # a word shorter than n: counted once
                        break
            for j, c in counts.items():
                x[row, j] = (1.0 + math.log(c)) * idf[j]
            norm = float(np.sqrt(np.dot(x[row], x[row])))
            if norm > 0:
                x[row] /= norm
        return x

    def predict(self, texts: Sequence[str]) -> list[dict[str, float]]:
        if not texts:
            return []
        import numpy as np

        z = self.features(texts) @ self.coef.T + self.intercept
        p = 1.0 / (1.0 + np.exp(-z))
        return [
            {c: round(float(p[i, j]), 4) for j, c in enumerate(self.claim_ids)}
            for i in range(len(texts))
        ]


_WHITE = re.compile(r"\s\s+")


def train(
    examples: Sequence[Example],
    claim_ids: Sequence[str],
    fingerprint: str,
    *,
    seed: int = 0,
    trained_at: str | None = None,
) -> ClaimModel:
    """Fit the default model: char n-gram TF-IDF (2-5, word-bounded: robust across French and
    English, no download) and one L2 logistic regression per claim type."""
    import math

    import numpy as np

    vectorizer, fitted = _fit(examples, claim_ids, seed)
    n_features = len(vectorizer.vocabulary_)
    coef = np.zeros((len(claim_ids), n_features), dtype=np.float32)
    intercept = np.zeros(len(claim_ids), dtype=np.float64)
    for j, head in enumerate(fitted):
        if isinstance(head, float):  # one class only: the smoothed share, never a certainty
            intercept[j] = math.log(head / (1.0 - head))
        else:
            coef[j] = head.coef_[0]
            intercept[j] = float(head.intercept_[0])
    stamp = trained_at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return ClaimModel(
        list(claim_ids),
        fingerprint,
        len(examples),
        stamp,
        seed,
        (2, 5),
        {str(k): int(v) for k, v in vectorizer.vocabulary_.items()},
        vectorizer.idf_.astype(np.float32),
        coef,
        intercept,
    )


def _fit(examples: Sequence[Example], claim_ids: Sequence[str], seed: int) -> tuple[Any, list[Any]]:
    """The scikit-learn fit behind :func:`train`: (vectorizer, per claim a fitted
    LogisticRegression or the smoothed share of a one-class claim)."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    if not examples:
        raise SuggestError("no training labels")
    texts = [e.text for e in examples]
    vectorizer = TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(2, 5),
        min_df=2 if len(texts) >= 20 else 1,
        max_features=100_000,
        sublinear_tf=True,
        lowercase=True,
        dtype=np.float32,
    )
    x = vectorizer.fit_transform(texts)
    heads: list[Any] = []
    for claim in claim_ids:
        y = [1 if claim in e.claims else 0 for e in examples]
        positives = sum(y)
        if positives == 0 or positives == len(y):
            heads.append(round((positives + 0.5) / (len(y) + 1.0), 4))
            continue
        clf = LogisticRegression(C=10.0, solver="liblinear", random_state=seed, max_iter=200)
        clf.fit(x, y)
        heads.append(clf)
    return vectorizer, heads


def suggested(probs: Mapping[str, float], threshold: float = THRESHOLD) -> tuple[str, ...]:
    """The claims suggested for one sentence (in the order of ``probs``)."""
    return tuple(c for c, p in probs.items() if p >= threshold)


def uncertainty(probs: Mapping[str, float]) -> float:
    """How unsure the model is about a sentence: 1 at p = 0.5 for some claim, 0 when every
    claim is 0 or 1 (the least sure claim decides)."""
    if not probs:
        return 0.0
    return max(1.0 - abs(2.0 * p - 1.0) for p in probs.values())


# --------------------------------------------------------------------------- files


def model_path(db_path: str | os.PathLike[str]) -> Path:
    p = Path(db_path)
    return p.with_name(p.name + MODEL_SUFFIX)


def lock_path(db_path: str | os.PathLike[str]) -> Path:
    p = Path(db_path)
    return p.with_name(p.name + LOCK_SUFFIX)


def save_model(model: ClaimModel, path: Path) -> None:
    """Write atomically (temporary file, then rename): a screen never reads half a model."""
    buf = io.BytesIO()
    pickle.dump(model, buf, protocol=pickle.HIGHEST_PROTOCOL)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(buf.getvalue())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_model(path: Path, fingerprint: str | None = None) -> ClaimModel | None:
    """The model in ``path``, or None (no file, unreadable, another format, or trained for
    another label schema when ``fingerprint`` is given)."""
    try:
        with path.open("rb") as fh:
            model = pickle.load(fh)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return None
    if not isinstance(model, ClaimModel) or model.format != FORMAT:
        return None
    if fingerprint is not None and model.fingerprint != fingerprint:
        return None
    return model


def file_stamp(path: Path) -> tuple[int, int] | None:
    """(mtime_ns, size) of the model file: the cheap "is there a newer model?" check."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


# --------------------------------------------------------------------------- plug-ins

Suggester = Callable[[Sequence[str]], Sequence[Mapping[str, float]]]


def load_suggester(spec: str) -> Suggester:
    """``module:function``: a callable taking sentences and returning, per sentence, a mapping
    claim id -> probability. Errors are one line."""
    module_name, sep, func_name = spec.partition(":")
    if not sep or not module_name or not func_name:
        raise SuggestError(f"--suggester {spec!r}: expected module:function")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any import error of user code is the user's to fix
        raise SuggestError(f"--suggester {spec!r}: cannot import {module_name}: {exc}") from None
    func = getattr(module, func_name, None)
    if not callable(func):
        raise SuggestError(f"--suggester {spec!r}: {module_name} has no function {func_name}")
    return func  # type: ignore[no-any-return]


@dataclass
class PluginModel:
    """A plug-in suggester wrapped like a :class:`ClaimModel` (predict only)."""

    func: Suggester
    claim_ids: list[str]
    name: str

    @property
    def model_id(self) -> str:
        return f"plugin:{self.name}"

    def predict(self, texts: Sequence[str]) -> list[dict[str, float]]:
        out = list(self.func(list(texts)))
        if len(out) != len(texts):
            raise SuggestError(
                f"suggester {self.name}: returned {len(out)} results for {len(texts)} sentences"
            )
        return [{c: float(row.get(c, 0.0)) for c in self.claim_ids} for row in out]


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
    and on units labelled without (same model, scored afterwards)."""

    with_shown: int
    with_equal: int
    without_shown: int
    without_equal: int

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


def blind_units(unit_ids: Sequence[str], share: float, seed: int) -> list[str]:
    """A seeded ``share`` of ``unit_ids`` (the units shown to nobody with suggestions); the same
    ids, share and seed give the same units, whatever the input order."""
    if not 0.0 <= share <= 1.0:
        raise SuggestError(f"--blind-sample {share}: must be between 0 and 1")
    ranked = sorted(unit_ids, key=lambda u: hashlib.sha256(f"{seed}:{u}".encode()).hexdigest())
    return sorted(ranked[: round(share * len(unit_ids))])


# --------------------------------------------------------------------------- on a DB


def store_examples(store: Store, schema: LabelSchema) -> list[Example]:
    """The training examples of a DB (see :func:`training_examples`)."""
    gold = {sid: (status, claims) for sid, (status, claims) in store.suggest.gold_claims().items()}
    return training_examples(store.suggest.training_rows(), gold, schema.claim_ids)


@dataclass
class Status:
    labels: int
    min_labels: int
    model: ClaimModel | None
    stale_schema: bool
    blind: int
    path: Path | None
    trainer_running: bool


def db_model_path(store: Store) -> Path | None:
    """Where the DB's model lives (None for an in-memory DB)."""
    return None if store.path == ":memory:" else model_path(store.path)


def train_store(
    store: Store, schema: LabelSchema, *, min_labels: int = MIN_LABELS, seed: int = 0
) -> ClaimModel:
    """Train on the DB's training labels and write the model beside the DB (a model of another
    label schema there is replaced). Raises :class:`SuggestError` below ``min_labels``."""
    examples = store_examples(store, schema)
    if len(examples) < min_labels:
        raise SuggestError(
            f"{len(examples)} training label(s); a model needs --min-labels {min_labels}"
        )
    model = train(examples, schema.claim_ids, schema.fingerprint, seed=seed)
    path = db_model_path(store)
    if path is not None:
        save_model(model, path)
    return model


def status(store: Store, schema: LabelSchema, *, min_labels: int = MIN_LABELS) -> Status:
    path = db_model_path(store)
    model = stale = None
    if path is not None and path.exists():
        model = load_model(path, schema.fingerprint)
        stale = model is None
    return Status(
        labels=len(store_examples(store, schema)),
        min_labels=min_labels,
        model=model,
        stale_schema=bool(stale),
        blind=store.suggest.blind_count(),
        path=path,
        trainer_running=path is not None and trainer_running(store.path),
    )


def mark_blind(store: Store, share: float, seed: int) -> int:
    """Mark a seeded ``share`` of the units as blind (no suggestions for anyone)."""
    return store.suggest.set_blind(blind_units(store.suggest.unit_ids(), share, seed), seed)


def store_anchoring(store: Store, model: Any, threshold: float = THRESHOLD) -> Anchoring:
    """Anchoring on a DB: labels made with a suggestion shown, against the suggestion shown;
    labels made without, against what ``model`` suggests for them now."""
    assisted: list[tuple[list[str], list[str]]] = []
    plain: list[tuple[str, list[str]]] = []
    for _sid, text, claims, sug in store.suggest.provenance_rows():
        if sug is not None:
            assisted.append((claims, list(sug.get("claims", []))))
        else:
            plain.append((text, claims))
    preds = model.predict([t for t, _ in plain]) if plain else []
    unassisted = [
        (claims, list(suggested(p, threshold)))
        for (_t, claims), p in zip(plain, preds, strict=True)
    ]
    return anchoring(assisted, unassisted)


# --------------------------------------------------------------------------- the trainer


def trainer_running(db_path: str | os.PathLike[str]) -> bool:
    """Does a trainer hold the DB's trainer lock? (Tries the lock without keeping it.)"""
    import fcntl

    path = lock_path(db_path)
    if not path.exists():
        return False
    with path.open("a+b") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    return False


def retrain_due(labels: int, trained_on: int, every: int) -> bool:
    """Retrain after ``every`` new training labels, or 10% more than the model saw, whichever
    is larger (so a big DB is not retrained on every 25 labels)."""
    return labels - trained_on >= max(every, trained_on // 10)


def run_trainer(
    db_path: str | os.PathLike[str],
    schema: LabelSchema,
    *,
    every: int = 25,
    min_labels: int = MIN_LABELS,
    poll: float = 5.0,
    idle_exit: float = 3600.0,
    seed: int = 0,
    once: bool = False,
    log: Callable[[str], None] = lambda _m: None,
) -> int:
    """The DB's one background trainer: holds ``DB.suggest-lock`` (an ``flock``; a second
    trainer exits at once, returning 3), polls the DB's label count every ``poll`` seconds and
    retrains when :func:`retrain_due` (``every`` new training labels, or 10% more, since the
    model on disk), or when the model is missing or of another label schema. Exits after ``idle_exit`` seconds without new labels,
    or after one check with ``once``. Returns 0."""
    import fcntl
    import time

    from stanceterm.store import Store

    lock = lock_path(db_path)
    fh = lock.open("a+b")
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            log("another trainer holds the lock; exiting")
            return 3
        path = model_path(db_path)
        last_change = time.monotonic()
        seen = -1
        while True:
            store = Store.open(db_path, create=False)
            try:
                count = store.suggest.label_count()
                model = load_model(path, schema.fingerprint) if path.exists() else None
                if path.exists() and model is None:
                    path.unlink(missing_ok=True)  # another label schema: never shown again
                    log("deleted a model of another label schema")
                if count != seen:
                    seen, last_change = count, time.monotonic()
                due = model is None or retrain_due(count, model.n_train, every)
                if due and count >= min_labels:
                    t0 = time.perf_counter()
                    try:
                        new = train_store(store, schema, min_labels=min_labels, seed=seed)
                    except SuggestError as exc:
                        log(str(exc))
                    else:
                        log(
                            f"trained on {new.n_train} labels in "
                            f"{time.perf_counter() - t0:.2f}s: {new.model_id}"
                        )
            finally:
                store.close()
            if once or time.monotonic() - last_change > idle_exit:
                return 0
            time.sleep(poll)
    finally:
        fh.close()


def start_trainer(
    db_path: str | os.PathLike[str], schema_file: str | None, every: int, min_labels: int
) -> int:
    """Start the DB's background trainer as its own process (detached; it exits at once if one
    is running already). Never blocks the caller; returns the process id."""
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "stanceterm", "--db", str(db_path)]
    if schema_file:
        cmd += ["--schema", schema_file]
    cmd += ["suggest", "--trainer", "--every", str(every), "--min-labels", str(min_labels)]
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )
    return proc.pid


# --------------------------------------------------------------------------- the screen's side


@dataclass(frozen=True)
class Shown:
    """What the screen shows for one sentence: the probabilities, the suggested claims and the
    model that made them. ``excluded`` says why none are shown (an overlap or blind unit)."""

    probs: dict[str, float]
    claims: tuple[str, ...]
    model_id: str
    excluded: str | None = None

    def provenance(self, claims: Sequence[str], applied: bool) -> dict[str, Any]:
        """The label's ``suggested`` record: the suggestion shown, the model, whether the
        annotator applied it (``A``) and whether the label's claims equal it (accepted as-is)."""
        return {
            "claims": list(self.claims),
            "model": self.model_id,
            "accepted": applied and set(claims) == set(self.claims),
            "applied": applied,
        }


class LiveSuggestions:
    """The latest model on disk for a screen, and the suggestions computed ahead of the
    sentence on screen. :meth:`refresh` and :meth:`compute` run off the UI thread (they load
    scikit-learn and the model, and predict); :meth:`get` is a dict lookup for the UI thread."""

    def __init__(
        self,
        db_path: str | None,
        fingerprint: str,
        claim_ids: Sequence[str],
        *,
        threshold: float = THRESHOLD,
        plugin: PluginModel | None = None,
        on_overlap: bool = False,
    ) -> None:
        self.path = None if db_path in (None, ":memory:") else model_path(str(db_path))
        self.fingerprint = fingerprint
        self.claim_ids = list(claim_ids)
        self.threshold = threshold
        self.on_overlap = on_overlap
        self.model: Any = plugin
        self._stamp: tuple[int, int] | None = None
        self._cache: dict[str, Shown] = {}

    @property
    def model_id(self) -> str | None:
        return None if self.model is None else str(self.model.model_id)

    def refresh(self) -> bool:
        """Load the model file if it changed since the last look (a ``stat``: cheap). Returns
        True when the model changed (the cache is then emptied)."""
        if self.path is None or isinstance(self.model, PluginModel):
            return False
        stamp = file_stamp(self.path)
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        model = None if stamp is None else load_model(self.path, self.fingerprint)
        if model is not None and model.claim_ids != self.claim_ids:
            model = None
        changed = (model is None) != (self.model is None) or (
            model is not None and model.model_id != self.model_id
        )
        self.model = model
        if changed:
            self._cache = {}
        return changed

    def set_model(self, model: Any) -> None:
        """Use ``model`` (tests, benchmarks) instead of the file's."""
        self.model, self._cache = model, {}

    def compute(self, sentences: Sequence[tuple[str, str]], excluded: Mapping[str, str]) -> int:
        """Predict the sentences (id, text) not computed yet; ``excluded``: id -> why no
        suggestion is shown for it. Returns how many were predicted."""
        model = self.model
        if model is None:
            return 0
        todo = [(sid, text) for sid, text in sentences if sid not in self._cache]
        cache = dict(self._cache)
        for sid, _t in todo:
            if sid in excluded:
                cache[sid] = Shown({}, (), model.model_id, excluded[sid])
        todo = [(sid, text) for sid, text in todo if sid not in excluded]
        preds = model.predict([t for _s, t in todo]) if todo else []
        for (sid, _t), probs in zip(todo, preds, strict=True):
            cache[sid] = Shown(probs, suggested(probs, self.threshold), model.model_id)
        self._cache = cache
        return len(todo)

    def get(self, sentence_id: str) -> Shown | None:
        return self._cache.get(sentence_id)


def suggestion_record(ann: Any) -> dict[str, Any] | None:
    """The ``suggested`` record of a label (an :class:`~stanceterm.store.Annotation`), parsed;
    None when no suggestion was shown when it was made."""
    raw = getattr(ann, "suggested", None)
    if not raw:
        return None
    import orjson

    value = orjson.loads(raw)
    return value if isinstance(value, dict) else None


def provenance(record: Mapping[str, Any] | None) -> str:
    """``typed`` (no suggestion taken), ``accepted`` (taken as-is) or ``edited``."""
    if not record or not record.get("applied"):
        return "typed"
    return "accepted" if record.get("accepted") else "edited"


def uncertain_order(
    model: Any, rows: Sequence[tuple[int, str, str]], batch: int = 2000
) -> list[str]:
    """Sentence ids of ``rows`` (seq, id, text), least sure first (:func:`uncertainty`; ties in
    document order): the ``--order uncertain`` walk, active learning."""
    scored: list[tuple[float, int, str]] = []
    for start in range(0, len(rows), batch):
        part = rows[start : start + batch]
        for (seq, sid, _t), probs in zip(
            part, model.predict([t for _s, _i, t in part]), strict=True
        ):
            scored.append((-uncertainty(probs), seq, sid))
    scored.sort()
    return [sid for _u, _seq, sid in scored]


def boost_counts(
    by_claim: Mapping[str, Mapping[str, int]], claim: str, on_screen: Iterable[Any]
) -> dict[str, int]:
    """The actor picker's boost for ``claim``: actor id -> labels that used it with the claim,
    counting only OTHER sentences (``on_screen``: the direct non-draft labels of the sentence
    on screen, whatever annotator, are taken away: blindness first)."""
    counts = dict(by_claim.get(claim, {}))
    for ann in on_screen:
        if getattr(ann, "propagated_from", None) or getattr(ann, "status", "") == "draft":
            continue
        for st in ann.stances:
            if st.claim == claim and st.actor in counts:
                counts[st.actor] -= 1
    return {a: n for a, n in counts.items() if n > 0}
