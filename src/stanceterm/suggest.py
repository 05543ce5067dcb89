"""Claim suggestions learnt from the team's own labels: what the screen needs (no Textual, no
SQL, no scikit-learn).

- :func:`training_examples`: the training label of each sentence (gold, else the agreed label,
  else the single annotator's ``done`` label; skipped and flagged labels are left out).
- :class:`ClaimModel`: a trained model kept as plain arrays (character n-gram TF-IDF, one
  logistic regression per claim type); :meth:`ClaimModel.predict` needs numpy only.
- the model file beside the DB (``DB.suggest-model``): :func:`model_path`, :func:`load_model`
  (a model of another label schema is ignored), :func:`file_stamp`. Only the trainer writes it.
- :func:`load_suggester`: the plug-in point ``module:function`` (sentences -> claim probabilities).
- blind units (:func:`blind_units`, :func:`mark_blind`), provenance, the uncertainty order and the
  actor picker's boost; the screen's side: :class:`LiveSuggestions`.

The other side of the boundary: fitting a model with scikit-learn, writing its file and the DB's
one background trainer process are in :mod:`stanceterm.suggest_trainer`; k-fold evaluation, the
learning curve and the anchoring check in :mod:`stanceterm.suggest_eval`. This module imports
neither (an import contract checks it), so the annotation screen never loads scikit-learn.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import pickle
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Real
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
SCREENS_SUFFIX = ".suggest-screens"
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

    def _row(self, text: str) -> tuple[Any, Any]:
        """One sentence's TF-IDF row, sparse: (n-gram indices, L2-normalised float32 weights),
        exactly as the fitted vectorizer makes it: scikit-learn's ``char_wb`` n-grams of the
        lower-cased text, sublinear tf. Never a dense row of the whole vocabulary (a model
        trained on 10k labels has up to 100k n-grams)."""
        import math

        import numpy as np

        lo, hi = self.ngram
        vocab = self.vocab
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
        idx = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
        tf = np.fromiter((1.0 + math.log(c) for c in counts.values()), np.float64, len(counts))
        vals = (tf * self.idf[idx]).astype(np.float32)
        norm = float(np.sqrt(np.dot(vals, vals)))
        if norm > 0:
            vals /= np.float32(norm)
        return idx, vals

    def features(self, texts: Sequence[str]) -> Any:
        """Dense TF-IDF rows (float32), as the fitted vectorizer's ``transform(...).toarray()``
        (tests compare the two; :meth:`predict` never builds them)."""
        import numpy as np

        x = np.zeros((len(texts), len(self.idf)), dtype=np.float32)
        for row, text in enumerate(texts):
            idx, vals = self._row(text)
            x[row, idx] = vals
        return x

    def predict(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """P(claim | sentence) per sentence: the logistic link on the sparse rows (memory in
        the sentences' n-grams, not in the vocabulary)."""
        if not texts:
            return []
        import numpy as np

        coef_t = self.coef.T  # a view: n-grams x claims
        z = np.empty((len(texts), len(self.claim_ids)), dtype=np.float64)
        for i, text in enumerate(texts):
            idx, vals = self._row(text)
            z[i] = vals.astype(np.float64) @ coef_t[idx] if len(idx) else 0.0
        z += self.intercept
        p = 1.0 / (1.0 + np.exp(-z))
        return [
            {c: round(float(p[i, j]), 4) for j, c in enumerate(self.claim_ids)}
            for i in range(len(texts))
        ]


_WHITE = re.compile(r"\s\s+")


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


def screens_path(db_path: str | os.PathLike[str]) -> Path:
    """The file every open screen holds a shared ``flock`` on (the trainer's keep-alive)."""
    p = Path(db_path)
    return p.with_name(p.name + SCREENS_SUFFIX)


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
        return [self._checked(i, row) for i, row in enumerate(out, 1)]

    def _checked(self, i: int, row: Any) -> dict[str, float]:
        """One result row as claim -> probability; a SuggestError names what is wrong."""
        where = f"suggester {self.name}: sentence {i}"
        if not isinstance(row, Mapping):
            raise SuggestError(
                f"{where}: {row!r:.60} is not a mapping of claim type to probability"
            )
        unknown = [k for k in row if k not in self.claim_ids]
        if unknown:
            raise SuggestError(
                f"suggester {self.name}: claim type {unknown[0]!r:.60} is not in the label schema "
                f"({', '.join(self.claim_ids)})"
            )
        probs: dict[str, float] = {}
        for c in self.claim_ids:
            v = row.get(c, 0.0)
            p = float(v) if isinstance(v, Real) and not isinstance(v, bool) else None
            if p is None or not 0.0 <= p <= 1.0:  # NaN fails both comparisons
                raise SuggestError(f"{where}: {c} is {v!r:.40}, not a probability from 0 to 1")
            probs[c] = p
        return probs


# --------------------------------------------------------------------------- blind units, on a DB


def blind_units(unit_ids: Sequence[str], share: float, seed: int) -> list[str]:
    """A seeded ``share`` of ``unit_ids`` (the units shown to nobody with suggestions); the same
    ids, share and seed give the same units, whatever the input order."""
    if not 0.0 <= share <= 1.0:
        raise SuggestError(f"--blind-sample {share}: must be between 0 and 1")
    ranked = sorted(unit_ids, key=lambda u: hashlib.sha256(f"{seed}:{u}".encode()).hexdigest())
    return sorted(ranked[: round(share * len(unit_ids))])


def store_examples(store: Store, schema: LabelSchema) -> list[Example]:
    """The training examples of a DB (see :func:`training_examples`)."""
    gold = {sid: (status, claims) for sid, (status, claims) in store.suggest.gold_claims().items()}
    return training_examples(store.suggest.training_rows(), gold, schema.claim_ids)


def db_model_path(store: Store) -> Path | None:
    """Where the DB's model lives (None for an in-memory DB)."""
    return None if store.path == ":memory:" else model_path(store.path)


def mark_blind(store: Store, share: float, seed: int) -> int:
    """Mark a seeded ``share`` of the units as blind (no suggestions for anyone)."""
    return store.suggest.set_blind(blind_units(store.suggest.unit_ids(), share, seed), seed)


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
        # the screen's workers (suggestions ahead, the uncertain order) refresh concurrently:
        # one loads, the others wait for its model
        self._loading = threading.Lock()

    @property
    def model_id(self) -> str | None:
        return None if self.model is None else str(self.model.model_id)

    def refresh(self) -> bool:
        """Load the model file if it changed since the last look (a ``stat``: cheap). Returns
        True when the model changed (the cache is then emptied)."""
        if self.path is None or isinstance(self.model, PluginModel):
            return False
        with self._loading:
            return self._refresh(self.path)

    def _refresh(self, path: Path) -> bool:
        stamp = file_stamp(path)
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        model = None if stamp is None else load_model(path, self.fingerprint)
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
