"""Value objects, errors and row mappers of the store (no SQL here).

The dataclasses are what the rest of stanceterm sees of the DB; the ``*_from_row`` / ``*_params``
functions are the one place where a row becomes an object and an object becomes bind
parameters, so the single and the bulk writers of a table cannot drift apart.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from stanceterm.textkey import normalize


class StoreError(Exception):
    """A problem with the DB file itself; the message is one line."""


def now() -> str:
    """UTC timestamp with microseconds, e.g. ``2026-11-24T20:00:00.123456Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def text_key(text: str) -> str:
    """The key of a sentence text that a history event was about (``text_key`` of the events,
    migration v12): a 64-bit BLAKE2b of the text after import-labels' normalisation
    (:func:`~stanceterm.textkey.normalize`), so an event whose sentence id names another text
    since (``import --replace``) is told apart. Registered in SQL as ``stanceterm_text_key``."""
    return hashlib.blake2b(normalize(text).encode(), digest_size=8).hexdigest()


# ---- merge ordering (docs/ARCHITECTURE.md, "Merge ordering") --------------------------------
#: How far ahead of this machine's clock another DB's events may be before merge warns.
SKEW_TOLERANCE_S = 120.0
_STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"


def stamp_after(*seen: str | None) -> str:
    """The timestamp of a new event: this machine's clock, clamped to 1 µs after the latest
    timestamp already seen for the same record (so an edit made after a merged future-dated event
    still wins: the hybrid-logical-clock half of the (ts, uid) rule)."""
    stamp = now()
    latest = max((s for s in seen if s), default="")
    if latest and latest >= stamp:
        try:
            t = datetime.strptime(latest, _STAMP).replace(tzinfo=UTC)
        except ValueError:
            return stamp
        stamp = (t + timedelta(microseconds=1)).strftime(_STAMP)
    return stamp


def gold_json(gold: Gold | None) -> str | None:
    """A gold decision as kept in its history (``gold_events.before`` / ``after``)."""
    if gold is None:
        return None
    p = gold_params(gold)
    keys = GOLD_COLS.replace(" ", "").split(",")
    d = dict(zip(keys, p, strict=True))
    for k in ("claims", "stances", "sources"):
        d[k] = orjson.loads(d[k])
    return dumps(d)


def gold_from_json(raw: str | None) -> Gold | None:
    if raw is None:
        return None
    d = orjson.loads(raw)
    return Gold(
        d["sentence_id"],
        d["status"],
        tuple(d["claims"]),
        tuple(Stance(x["claim"], x["actor"], x["stance"]) for x in d["stances"]),
        d["adjudicator"],
        d.get("chosen_from"),
        list(d.get("sources") or []),
        d.get("note"),
        d.get("created_at", ""),
        d.get("updated_at", ""),
    )


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


# --------------------------------------------------------------------------- value objects


@dataclass(frozen=True, slots=True)
class Stance:
    claim: str
    actor: str  # actor id
    stance: str

    def as_dict(self) -> dict[str, str]:
        return {"claim": self.claim, "actor": self.actor, "stance": self.stance}


@dataclass(frozen=True, slots=True)
class Annotation:
    """The current labels of one sentence by one annotator."""

    sentence_id: str
    annotator: str
    status: str = "draft"
    claims: tuple[str, ...] = ()
    stances: tuple[Stance, ...] = ()
    note: str | None = None
    propagated_from: str | None = None
    created_at: str = ""
    updated_at: str = ""
    #: provenance (issue 18): the suggestion shown when the label was made, as sorted-key JSON
    #: ``{"accepted", "applied", "claims", "model"}``; None when none was shown
    suggested: str | None = None

    def labels(self) -> dict[str, Any]:
        """The part compared for equality and kept in the history."""
        out: dict[str, Any] = {
            "status": self.status,
            "claims": list(self.claims),
            "stances": [s.as_dict() for s in self.stances],
            "note": self.note,
            "propagated_from": self.propagated_from,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }
        if self.suggested is not None:  # provenance rides in the history
            out["suggested"] = self.suggested
        return out

    def same_labels(self, other: Annotation | None) -> bool:
        return (
            other is not None
            and self.status == other.status
            and self.claims == other.claims
            and self.stances == other.stances
            and self.note == other.note
            and self.suggested == other.suggested
        )


@dataclass(frozen=True, slots=True)
class Sentence:
    seq: int
    id: str
    article_id: str
    idx: int
    text: str
    cluster_id: str | None = None
    hidden: bool = False


@dataclass(frozen=True, slots=True)
class Article:
    id: str
    title: str | None
    source: str | None
    url: str | None
    published: str | None
    lang: str
    n_sentences: int


@dataclass(slots=True)
class ImportCounts:
    articles_added: int = 0
    articles_skipped: int = 0
    sentences_added: int = 0
    sentences_skipped: int = 0
    # --- safeimport (issue 12 §6): changed articles replaced with --replace
    articles_replaced: int = 0
    #: (article id, annotator, sentence text) of labels whose sentence changed: removed from
    #: the current labels, kept in the history
    dropped_labels: list[tuple[str, str, str]] = field(default_factory=list)


class ChangedArticle(StoreError):
    """An article id already imported with another text (``origin``: ``file:line``)."""

    def __init__(self, article_id: str, origin: str | None) -> None:
        super().__init__(f"article {article_id!r} already imported with another text")
        self.article_id = article_id
        self.origin = origin


class ReplaceRefused(StoreError):
    """``import --replace`` would drop or change a sentence that something else stands on (a
    gold decision, a dedup cluster); ``origin``: the article's ``file:line``."""

    def __init__(self, message: str, origin: str | None) -> None:
        super().__init__(message)
        self.origin = origin


@dataclass(frozen=True, slots=True)
class NewArticle:
    id: str
    title: str | None
    source: str | None
    url: str | None
    published: str | None
    lang: str
    content_hash: str
    sentences: Sequence[str]
    norms: Sequence[str]
    origin: str | None = None


@dataclass(frozen=True, slots=True)
class Gold:
    sentence_id: str
    status: str
    claims: tuple[str, ...]
    stances: tuple[Stance, ...]
    adjudicator: str
    chosen_from: str | None
    sources: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None
    created_at: str = ""
    updated_at: str = ""


class MergeConflict(StoreError):
    """The other DB cannot be merged into this one; the message is one line."""


@dataclass(frozen=True, slots=True)
class DedupState:
    """Where the last dedup run stopped (see :mod:`stanceterm.store.clusters`)."""

    last_seq: int = -1
    threshold: float = float("nan")
    version: str = ""
    splits: int = 0
    #: fingerprint of the trusted gazetteer the run used (a new one rebuilds the clusters)
    gazetteer: str = ""


@dataclass(slots=True)
class MergeCounts:
    """What :meth:`Merge.from_db <stanceterm.store.merge.Merge.from_db>` changed."""

    articles_added: int = 0
    sentences_added: int = 0
    annotators_added: int = 0
    actors_added: int = 0
    actors_remapped: int = 0
    aliases_added: int = 0
    events_added: int = 0
    labels_taken: int = 0
    labels_kept: int = 0
    labels_deleted: int = 0
    gold_taken: int = 0
    gold_kept: int = 0
    splits_applied: int = 0
    actor_events_added: int = 0
    #: label / gold history events left out: about another text of their sentence (a sentence
    #: id that ``import --replace`` gave to another text; docs/ARCHITECTURE.md "Merge ordering")
    events_other_text: int = 0
    gold_events_other_text: int = 0
    #: how far (seconds) the other DB's latest event is ahead of this machine's clock (0: none)
    future_skew_s: float = 0.0


#: The counters of :meth:`Team.progress_by_annotator` besides ``last_activity``.
PROGRESS_KINDS: tuple[str, ...] = ("done", "skipped", "flagged", "draft", "assigned")


# --------------------------------------------------------------------------- row mappers

#: The columns of ``annotations``, in the order of :func:`annotation_from_row` and
#: :func:`annotation_params`.
ANN_COLS = (
    "sentence_id, annotator, status, claims, stances, note, propagated_from, created_at, updated_at"
    ", suggested"
)
#: :data:`ANN_COLS` of a DB from before the provenance column (a merge source): NULL for it.
ANN_COLS_NO_PROVENANCE = ANN_COLS.replace(", suggested", ", NULL")
#: ``INSERT OR REPLACE`` of one ``annotations`` row from :func:`annotation_params`.
ANN_UPSERT = f"INSERT OR REPLACE INTO annotations({ANN_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

SENTENCE_COLS = "seq, id, article_id, idx, text, cluster_id, hidden"

GOLD_COLS = (
    "sentence_id, status, claims, stances, adjudicator, chosen_from, sources, note, "
    "created_at, updated_at"
)


def stances_from_json(raw: str | None) -> tuple[Stance, ...]:
    if not raw:
        return ()
    return tuple(Stance(d["claim"], d["actor"], d["stance"]) for d in orjson.loads(raw))


def annotation_from_row(row: sqlite3.Row | tuple[Any, ...]) -> Annotation:
    """An ``annotations`` row selected as :data:`ANN_COLS`."""
    return Annotation(
        sentence_id=row[0],
        annotator=row[1],
        status=row[2],
        claims=tuple(orjson.loads(row[3])),
        stances=stances_from_json(row[4]),
        note=row[5],
        propagated_from=row[6],
        created_at=row[7],
        updated_at=row[8],
        suggested=row[9] if len(row) > 9 else None,
    )


def annotation_params(a: Annotation) -> tuple[Any, ...]:
    """Bind parameters of :data:`ANN_UPSERT`: the one mapping used by the single writer
    (``labels.write_state``) and the bulk loader (``Labels.bulk_load``)."""
    return (
        a.sentence_id,
        a.annotator,
        a.status,
        dumps(list(a.claims)),
        dumps([s.as_dict() for s in a.stances]),
        a.note,
        a.propagated_from,
        a.created_at,
        a.updated_at,
        a.suggested,
    )


def state_from_json(sentence_id: str, annotator: str, raw: str | None) -> Annotation | None:
    """An annotation state as kept in the history (``Annotation.labels()`` JSON)."""
    if raw is None:
        return None
    d = orjson.loads(raw)
    return Annotation(
        sentence_id=sentence_id,
        annotator=annotator,
        status=d["status"],
        claims=tuple(d["claims"]),
        stances=tuple(Stance(**s) for s in d["stances"]),
        note=d.get("note"),
        propagated_from=d.get("propagated_from"),
        created_at=d.get("created_at", ""),
        updated_at=d.get("updated_at", ""),
        suggested=d.get("suggested"),
    )


def sentence_from_row(row: Sequence[Any]) -> Sentence:
    """A ``sentences`` row selected as :data:`SENTENCE_COLS`."""
    return Sentence(
        int(row[0]), str(row[1]), str(row[2]), int(row[3]), str(row[4]), row[5], bool(row[6])
    )


def gold_from_row(row: Sequence[Any]) -> Gold:
    """A ``gold`` row selected as :data:`GOLD_COLS`."""
    return Gold(
        row[0],
        row[1],
        tuple(orjson.loads(row[2])),
        stances_from_json(row[3]),
        row[4],
        row[5],
        orjson.loads(row[6]),
        row[7],
        row[8],
        row[9],
    )


def gold_params(gold: Gold) -> tuple[Any, ...]:
    """Bind parameters of a ``gold`` row in :data:`GOLD_COLS` order."""
    return (
        gold.sentence_id,
        gold.status,
        dumps(list(gold.claims)),
        dumps([s.as_dict() for s in gold.stances]),
        gold.adjudicator,
        gold.chosen_from,
        dumps(gold.sources),
        gold.note,
        gold.created_at,
        gold.updated_at,
    )
