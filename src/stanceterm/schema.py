"""Pydantic models for every record that crosses a boundary.

* :class:`LabelSchema`: the label schema file (claim types, stances, actor gazetteer).
* :class:`ArticleIn`: one article of a JSONL import.
* :class:`AnnotationRecord`, :class:`SentenceRecord`, :class:`GoldRecord`: export lines.

Validation errors are turned into one line naming the field by :func:`describe_error`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from stanceterm import fileguard

#: Version of the exported JSONL records. Readers accept every version up to this one.
SCHEMA_VERSION = 1

Status = Literal["done", "skipped", "flagged"]
#: ``draft`` is the state of a sentence whose labels were touched but not yet accepted.
AnyStatus = Literal["draft", "done", "skipped", "flagged"]
STATUSES: tuple[str, ...] = ("draft", "done", "skipped", "flagged")
GoldStatus = Literal["gold", "unresolvable"]

_CLAIM_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

#: The longest annotator name (characters, after stripping).
ANNOTATOR_MAX = 100


def check_annotator_name(raw: str) -> str:
    """THE rule for annotator names, wherever they come from (``--annotator``, the environment,
    the config file, ``assign --annotators``, label files): surrounding whitespace is stripped;
    the rest must be 1-100 characters with no C0 control character (NUL, ESC, TAB, CR, LF...).
    Other characters are data, shown through ``textsafe`` like any text. Returns the stripped
    name; raises :class:`ValueError` with a one-line reason."""
    name = raw.strip()
    if not name:
        raise ValueError("annotator name is empty")
    if len(name) > ANNOTATOR_MAX:
        raise ValueError(f"annotator name is longer than {ANNOTATOR_MAX} characters")
    for ch in name:
        if ord(ch) < 32:  # C0 controls (NUL, ESC, CR, LF, TAB...): what --annotator refused
            what = _CONTROL_NAMES.get(ch, "")
            raise ValueError(
                f"annotator name must be 1-{ANNOTATOR_MAX} printable characters; it holds "
                f"U+{ord(ch):04X}{' ' + what if what else ''} (a control character)"
            )
    return name


_CONTROL_NAMES = {"\0": "NUL", "\t": "TAB", "\n": "LF", "\r": "CR", "\x1b": "ESC"}


class SchemaError(ValueError):
    """The label schema file is unusable; the message is one line."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False, defer_build=True)


class ClaimType(_Strict):
    id: str
    key: int = Field(ge=1, le=9)
    label: str = ""
    description: str = ""
    guidelines: str = ""

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str) -> str:
        if not _CLAIM_ID.match(v):
            raise ValueError("must be lowercase letters, digits and '_', starting with a letter")
        return v


class ActorEntry(_Strict):
    name: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list)


class LabelSchema(_Strict):
    name: str = "custom"
    version: int = 1
    claims: list[ClaimType] = Field(min_length=1, max_length=9)
    stances: list[str] = Field(default_factory=lambda: ["support", "oppose", "neutral"])
    actors: list[ActorEntry] = Field(default_factory=list)
    boilerplate: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> LabelSchema:
        ids = [c.id for c in self.claims]
        if len(set(ids)) != len(ids):
            raise ValueError(f"claims: duplicate claim id in {ids}")
        keys = [c.key for c in self.claims]
        if len(set(keys)) != len(keys):
            raise ValueError(f"claims: duplicate key number in {keys}")
        if not self.stances or len(set(self.stances)) != len(self.stances):
            raise ValueError("stances: must be a non-empty list of distinct names")
        for stance in self.stances:  # stance names are keys and labels, shown as-is everywhere
            if not _CLAIM_ID.match(stance):
                raise ValueError(
                    f"stances: {stance!r} must be lowercase letters, digits and '_', "
                    "starting with a letter"
                )
        for pattern in self.boilerplate:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"boilerplate: bad regular expression {pattern!r}: {exc}") from exc
        return self

    @property
    def claim_ids(self) -> list[str]:
        """Claim ids in schema order (the order of their key numbers)."""
        return [c.id for c in sorted(self.claims, key=lambda c: c.key)]

    def claim_by_key(self, key: int) -> ClaimType | None:
        return next((c for c in self.claims if c.key == key), None)

    def canonical_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)

    @property
    def fingerprint(self) -> str:
        """Hash of what labels mean (claims and stances): two DBs with equal fingerprints merge."""
        core = {"claims": sorted(self.claim_ids), "stances": sorted(self.stances)}
        return hashlib.sha256(json.dumps(core, sort_keys=True).encode()).hexdigest()[:16]

    def order_claims(self, claims: Sequence[str]) -> list[str]:
        """Deduplicate and sort claim ids into schema order."""
        order = {c: i for i, c in enumerate(self.claim_ids)}
        return sorted(set(claims), key=lambda c: order.get(c, len(order)))


def describe_error(exc: ValidationError) -> str:
    """One line for a pydantic error: ``field: message`` (the first error, plus a count)."""
    errors = exc.errors()
    first = errors[0]
    loc = ".".join(str(p) for p in first.get("loc", ())) or "record"
    msg = first.get("msg", "invalid")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{loc}: {msg}{more}"


def default_schema_path() -> Path:
    """The bundled labels.default.json (installed wheel or source checkout)."""
    packaged = resources.files("stanceterm").joinpath("_data/labels.default.json")
    if packaged.is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "schemas" / "labels.default.json"


def load_schema_text(text: str | bytes, origin: str) -> LabelSchema:
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise SchemaError(f"{origin}: not valid JSON: {exc}") from None
    try:
        return LabelSchema.model_validate(data)
    except ValidationError as exc:
        raise SchemaError(f"{origin}: invalid label schema: {describe_error(exc)}") from None


def load_schema(path: Path | None = None) -> LabelSchema:
    path = path or default_schema_path()
    if fileguard.is_connected(path):
        raise SchemaError(f"{path}: is the open database, not a label schema; refusing to read it")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SchemaError(f"{path}: cannot read label schema: {exc.strerror}") from None
    return load_schema_text(raw, str(path))


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
    "labels": LabelSchema,
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
