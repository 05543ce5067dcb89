"""Training the claim model, its file, and the DB's one background trainer (no SQL, no Textual).

- :func:`train`: fit the default model with scikit-learn (imported here, lazily, inside the
  functions that fit), keep it as the plain arrays of :class:`stanceterm.suggest.ClaimModel`;
- :func:`save_model`: write the model file beside the DB atomically (the screen only reads it,
  :func:`stanceterm.suggest.load_model`);
- on a DB: :func:`train_store`, :func:`status`;
- the trainer process: :func:`run_trainer` (``stanceterm suggest --trainer``: one per DB, an
  ``flock`` on ``DB.suggest-lock``), :func:`start_trainer` (what ``annotate`` calls: a detached
  process, never the screen's), :func:`retrain_due`, :func:`trainer_running`.

The annotation screen never imports this module (an import contract checks it): it loads the
latest file with :class:`stanceterm.suggest.LiveSuggestions`.
"""

from __future__ import annotations

import io
import os
import pickle
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stanceterm.suggest import (
    MIN_LABELS,
    ClaimModel,
    Example,
    SuggestError,
    db_model_path,
    load_model,
    lock_path,
    model_path,
    screens_path,
    store_examples,
)
from stanceterm.wording import count

if TYPE_CHECKING:
    from stanceterm.schema import LabelSchema
    from stanceterm.store import Store


#: Each class weighted by the inverse of its frequency: claims are rare in a new team's labels,
#: and an unweighted fit learns that "no claim" is always safe (no mark ever shows).
CLASS_WEIGHT = "balanced"


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
        clf = LogisticRegression(
            C=10.0,
            solver="liblinear",
            # the dual problem: n-grams outnumber sentences, and liblinear's dual coordinate
            # descent reaches the same optimum 6x faster than its primal Newton method here
            # (10k Reuters headlines, 6 claims: 2.4 s of CPU against 15 s)
            dual=True,
            random_state=seed,
            max_iter=200,
            class_weight=CLASS_WEIGHT,
        )
        clf.fit(x, y)
        heads.append(clf)
    return vectorizer, heads


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


@dataclass
class Status:
    labels: int
    min_labels: int
    model: ClaimModel | None
    stale_schema: bool
    blind: int
    path: Path | None
    trainer_running: bool


def train_store(
    store: Store, schema: LabelSchema, *, min_labels: int = MIN_LABELS, seed: int = 0
) -> ClaimModel:
    """Train on the DB's training labels and write the model beside the DB (a model of another
    label schema there is replaced). Raises :class:`SuggestError` below ``min_labels``."""
    examples = store_examples(store, schema)
    if len(examples) < min_labels:
        raise SuggestError(
            f"{count(len(examples), 'training label')}; a model needs --min-labels {min_labels}"
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


# --------------------------------------------------------------------------- the trainer


def trainer_running(db_path: str | os.PathLike[str]) -> bool:
    """Does a trainer hold the DB's trainer lock? (Tries the lock without keeping it.)"""
    return _flock_held(lock_path(db_path))


def _flock_held(path: Path) -> bool:
    """Does some process hold an ``flock`` on ``path`` (a lock file beside the DB, never the DB
    itself)? Tries an exclusive lock without waiting and lets it go at once."""
    import fcntl

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


#: A trainer started by ``annotate`` exits this many seconds after the last screen closed.
SCREENS_GRACE = 10.0
_HELD: list[Any] = []  # this process's screen locks: held until it exits


def hold_screen_lock(db_path: str | os.PathLike[str]) -> Any:
    """Take this screen's share of ``DB.suggest-screens`` (a shared ``flock``, held until the
    process exits or the returned file is closed): the trainer that ``annotate`` starts lives
    while some screen holds it. The trainer is started with ``close_fds``, so it never holds
    a screen's share itself."""
    import fcntl

    fh = screens_path(db_path).open("a+b")
    fcntl.flock(fh.fileno(), fcntl.LOCK_SH)
    _HELD.append(fh)
    return fh


def screens_open(db_path: str | os.PathLike[str]) -> bool:
    """Does some screen hold the DB's screens lock? (Tries it without keeping it.)"""
    return _flock_held(screens_path(db_path))


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
    screens_grace: float | None = None,
    log: Callable[[str], None] = lambda _m: None,
) -> int:
    """The DB's one background trainer: holds ``DB.suggest-lock`` (an ``flock``; a second
    trainer exits at once, returning 3), polls the DB's label count every ``poll`` seconds and
    retrains when :func:`retrain_due` (``every`` new training labels, or 10% more, since the
    model on disk), or when the model is missing or of another label schema. Exits after ``idle_exit`` seconds without new labels,
    or after one check with ``once``, or (``screens_grace``: the trainer ``annotate`` starts)
    ``screens_grace`` seconds after the last screen released ``DB.suggest-screens``. Returns 0."""
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
        # this process exists to train: pay for scikit-learn once, at start, not in the first
        # retrain (the screens never import it)
        import sklearn.feature_extraction.text
        import sklearn.linear_model  # noqa: F401

        path = model_path(db_path)
        last_change = last_screen = time.monotonic()
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
                    t0, c0 = time.perf_counter(), time.process_time()
                    try:
                        new = train_store(store, schema, min_labels=min_labels, seed=seed)
                    except SuggestError as exc:
                        log(str(exc))
                    else:
                        log(
                            f"trained on {new.n_train} labels in "
                            f"{time.perf_counter() - t0:.2f}s (CPU "
                            f"{time.process_time() - c0:.2f}s): {new.model_id}"
                        )
            finally:
                store.close()
            if once or time.monotonic() - last_change > idle_exit:
                return 0
            if screens_grace is None:
                time.sleep(poll)
                continue
            waited = 0.0
            while waited < poll:  # the screens are checked every second, the DB every poll
                time.sleep(1.0)
                waited += 1.0
                if screens_open(db_path):
                    last_screen = time.monotonic()
                elif time.monotonic() - last_screen > screens_grace:
                    log("no screen open on the DB; exiting")
                    return 0
    finally:
        fh.close()


def start_trainer(
    db_path: str | os.PathLike[str], schema_file: str | None, every: int, min_labels: int
) -> int:
    """Start the DB's background trainer as its own process (detached; it exits at once if one
    is running already, and :data:`SCREENS_GRACE` seconds after the last screen holding
    :func:`hold_screen_lock` closed). Never blocks the caller; returns the process id."""
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "stanceterm", "--db", str(db_path)]
    if schema_file:
        cmd += ["--schema", schema_file]
    cmd += ["suggest", "--trainer", "--with-screens", "--every", str(every)]
    cmd += ["--min-labels", str(min_labels)]
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )
    return proc.pid
