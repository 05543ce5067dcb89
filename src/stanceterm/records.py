"""Pydantic models for the records that cross a boundary.

* :class:`ArticleIn`: one article of a JSONL import.
* :class:`AnnotationRecord`, :class:`SentenceRecord`, :class:`GoldRecord`, :class:`FinalRecord`:
  export lines (``import-labels`` reads annotation records back).

The label schema is in :mod:`stanceterm.schema` (without pydantic, for the screen's start-up);
its pydantic model joins these in :data:`EXPORTED_MODELS`. Validation errors are turned into one
line naming the field by :func:`describe_error`.
"""

from __future__ import annotations

import json
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from stanceterm.schema import (
    ANNOTATOR_MAX,
    SCHEMA_VERSION,
    AnyStatus,
    GoldStatus,
    check_annotator_name,
    describe_error,
    label_schema_model,
)

__all__ = [
    "EXPORTED_MODELS",
    "AnnotationRecord",
    "ArticleIn",
    "FinalRecord",
    "GoldRecord",
    "GoldSource",
    "SentenceAnnotation",
    "SentenceRecord",
    "StanceRecord",
    "SuggestedRecord",
    "describe_error",
    "json_schemas",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False, defer_build=True)


# --------------------------------------------------------------------------- import records


class ArticleIn(BaseModel):
    """One article of a JSONL import (``text`` required, the rest optional)."""

    model_config = ConfigDict(extra="ignore", strict=True, defer_build=True)

    text: str
    id: str | None = None
    title: str | None = None
    source: str | None = None
    url: str | None = None
    published: str | None = None
    lang: str | None = None

    @field_validator("text")
    @classmethod
    def _non_empty(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("is empty")
        return v

    @field_validator("id")
    @classmethod
    def _id_ok(cls, v: str | None) -> str | None:
        if v is not None and (not v.strip() or len(v) > 200):
            raise ValueError("must be 1-200 characters")
        return v

    @field_validator("lang")
    @classmethod
    def _lang_ok(cls, v: str | None) -> str | None:
        if v is None:
            return v
        v = v.strip().lower()
        if not re.fullmatch(r"[a-z]{2,3}([-_][a-z0-9]+)?", v):
            raise ValueError("must be a language code such as 'fr' or 'en'")
        return v[:2]


# --------------------------------------------------------------------------- export records


class StanceRecord(_Strict):
    claim: str
    actor: str = Field(min_length=1)
    stance: str
    actor_id: str | None = None


class SuggestedRecord(_Strict):
    """Provenance of a label: the claim suggestion shown when it was made (issue 18)."""

    claims: list[str] = Field(default_factory=list)
    #: the model that made it (``tfidf-lr:...`` or ``plugin:module:function``)
    model: str = Field(min_length=1, max_length=500)
    #: the label's claims equal the suggestion, taken with the accept-suggestions key
    accepted: bool
    #: the annotator took the suggestion (``A``); False: shown, but the claims were typed
    applied: bool = False


class AnnotationRecord(_Strict):
    """One line of ``export --kind annotations``: the state of one (sentence, annotator)."""

    schema_version: int = SCHEMA_VERSION
    sentence_id: str
    #: Optional on import (hand-written label files): checked against the DB when given.
    article_id: str | None = None
    #: Optional on import; export always writes it.
    text: str | None = None
    annotator: str = Field(min_length=1, max_length=ANNOTATOR_MAX)
    status: AnyStatus
    claims: list[str] = Field(default_factory=list)
    stances: list[StanceRecord] = Field(default_factory=list)
    propagated_from: str | None = None
    note: str | None = None
    #: provenance: the suggestion shown when the label was made; null: none shown (typed)
    suggested: SuggestedRecord | None = None
    #: Optional on import: a record without them is stamped at import time, unless its labels
    #: equal the stored ones (so importing the same file twice still changes nothing).
    created_at: str | None = None
    updated_at: str | None = None

    @field_validator("annotator")
    @classmethod
    def _annotator(cls, v: str) -> str:
        return check_annotator_name(v)

    @field_validator("schema_version")
    @classmethod
    def _readable(cls, v: int) -> int:
        if v < 1 or v > SCHEMA_VERSION:
            raise ValueError(
                f"unsupported schema_version {v} (this stanceterm reads 1..{SCHEMA_VERSION})"
            )
        return v


class SentenceAnnotation(_Strict):
    annotator: str
    status: AnyStatus
    claims: list[str]
    stances: list[StanceRecord]
    propagated_from: str | None = None
    note: str | None = None
    updated_at: str


class SentenceRecord(_Strict):
    """One line of ``export --kind sentences``."""

    schema_version: int = SCHEMA_VERSION
    sentence_id: str
    article_id: str
    index: int
    text: str
    cluster_id: str | None = None
    annotations: list[SentenceAnnotation]


# --- hour2 (issue 15 §6): the record of ``export --kind final``
FinalSource = Literal["adjudicated", "agreed", "single"]


class FinalRecord(_Strict):
    """One line of ``export --kind final``: the label a lead ships for one sentence.

    ``source`` says where the labels come from: ``adjudicated`` (a gold decision; ``adjudicator``
    names who made it), ``agreed`` (every annotator with a ``done`` label gave these labels, and
    there were at least ``--min-annotators`` of them) or ``single`` (one annotator's ``done``
    label, only with ``--allow-single``). ``annotators`` are the annotators whose labels the
    record comes from. ``propagated_from``: null for a decision made on this sentence; the
    representative's id on a copy of a dedup cluster (a cluster is one unit).
    """

    schema_version: int = SCHEMA_VERSION
    sentence_id: str
    article_id: str
    text: str
    claims: list[str]
    stances: list[StanceRecord]
    source: FinalSource
    annotators: list[str]
    adjudicator: str | None = None
    propagated_from: str | None = None
    decided_at: str | None = None


# --- end hour2


class GoldSource(_Strict):
    """One annotator's version of the sentence when the gold decision was made.

    ``updated_at`` identifies the version (the time of the annotator's last change to it) and
    ``note`` is the annotator's note; both are absent from records written before they existed.
    """

    annotator: str
    status: AnyStatus
    claims: list[str]
    stances: list[StanceRecord]
    note: str | None = None
    updated_at: str | None = None


class GoldRecord(_Strict):
    """One line of ``export --kind gold``: the adjudicated labels of one sentence.

    ``status`` is ``gold`` (the labels are the decision) or ``unresolvable`` (no labels: the
    adjudicator could not decide). ``chosen_from`` names the annotator whose version the gold
    labels equal (accepted as is), else it is null (edited, or unresolvable). ``sources`` are the
    annotators' versions the decision was made from. ``propagated_from``: null for a decision
    made on this sentence; the representative's id on a copy of a dedup cluster, which carries
    the decision made on its representative (a cluster is one unit).
    """

    schema_version: int = SCHEMA_VERSION
    sentence_id: str
    article_id: str
    text: str
    status: GoldStatus
    claims: list[str]
    stances: list[StanceRecord]
    adjudicator: str
    chosen_from: str | None = None
    sources: list[GoldSource]
    note: str | None = None
    decided_at: str
    propagated_from: str | None = None


#: The models whose JSON Schema is written to schemas/ by ``stanceterm schemas``.
EXPORTED_MODELS: dict[str, type[BaseModel]] = {
    "labels": label_schema_model(),
    "article": ArticleIn,
    "annotation": AnnotationRecord,
    "sentence": SentenceRecord,
    "gold": GoldRecord,
    "final": FinalRecord,
}


def json_schemas() -> dict[str, str]:
    """File name → JSON text of each generated JSON Schema."""
    out: dict[str, str] = {}
    for name, model in EXPORTED_MODELS.items():
        schema = model.model_json_schema()
        out[f"{name}.schema.json"] = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
    return out
