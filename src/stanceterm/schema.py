"""The label schema (claim types, stances, actor gazetteer) and the rules every record shares.

* :class:`LabelSchema` (with :class:`ClaimType` and :class:`ActorEntry`): the label schema file,
  as plain dataclasses.
* :func:`check_annotator_name`: the one rule for annotator names.
* The pydantic models of the records that cross a boundary (article import lines, export lines)
  live in :mod:`stanceterm.records`.

Pydantic stays out of this module's import (startup, issue 17): the annotation screen reads its
label schema from the DB at every start, and importing pydantic and building the models cost
more than the rest of the CLI's start-up. A schema is checked by :func:`_fast_schema`, which
takes only plain JSON that the pydantic model takes unchanged (exact types, every rule of the
model); anything else (a missing or extra key, a value pydantic would coerce or refuse) goes
through the pydantic model, built on first use by :func:`label_schema_model`, so its errors stay
word for word what they were, and the JSON Schema of ``stanceterm schemas`` comes from it.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import orjson

from stanceterm import fileguard

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

#: Version of the exported JSONL records. Readers accept every version up to this one.
SCHEMA_VERSION = 1

Status = Literal["done", "skipped", "flagged"]
#: ``draft`` is the state of a sentence whose labels were touched but not yet accepted.
AnyStatus = Literal["draft", "done", "skipped", "flagged"]
STATUSES: tuple[str, ...] = ("draft", "done", "skipped", "flagged")
GoldStatus = Literal["gold", "unresolvable"]

_CLAIM_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_ID_SHAPE = "must be lowercase letters, digits and '_', starting with a letter"

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


def _default_stances() -> list[str]:
    return ["support", "oppose", "neutral"]


@dataclass(kw_only=True)
class ClaimType:
    """One claim type: its id, its key number (1-9) and the texts the guidelines panel shows."""

    id: str
    key: int
    label: str = ""
    description: str = ""
    guidelines: str = ""


@dataclass(kw_only=True)
class ActorEntry:
    """An actor of the schema's gazetteer, with its aliases."""

    name: str
    aliases: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class LabelSchema:
    """The label schema. Build one with :meth:`model_validate` (or :func:`load_schema`): the
    constructor trusts its arguments. The ``model_*`` methods are those of the pydantic model
    this class replaced, with the same results."""

    name: str = "custom"
    version: int = 1
    claims: list[ClaimType]
    stances: list[str] = field(default_factory=_default_stances)
    actors: list[ActorEntry] = field(default_factory=list)
    boilerplate: list[str] = field(default_factory=list)

    @classmethod
    def model_validate(cls, data: Any) -> LabelSchema:
        """Check ``data`` (a dict, as read from JSON) as the pydantic model does; raises
        pydantic's ``ValidationError`` when it is not a label schema."""
        fast = _fast_schema(data)
        if fast is not None:
            return fast
        return _from_dump(label_schema_model().model_validate(data).model_dump())

    @classmethod
    def model_json_schema(cls) -> dict[str, Any]:
        return label_schema_model().model_json_schema()

    def model_dump(self, mode: str = "python") -> dict[str, Any]:
        """The fields as plain dicts and lists, in the model's order (``mode`` as pydantic's:
        every value here is already JSON)."""
        return {
            "name": self.name,
            "version": self.version,
            "claims": [dataclasses.asdict(c) for c in self.claims],
            "stances": list(self.stances),
            "actors": [{"name": a.name, "aliases": list(a.aliases)} for a in self.actors],
            "boilerplate": list(self.boilerplate),
        }

    def model_copy(
        self, *, update: dict[str, Any] | None = None, deep: bool = False
    ) -> LabelSchema:
        out = copy.deepcopy(self) if deep else copy.copy(self)
        return dataclasses.replace(out, **update) if update else out

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


# --------------------------------------------------------------------------- checking a schema

_SCHEMA_KEYS = frozenset(("name", "version", "claims", "stances", "actors", "boilerplate"))
_CLAIM_KEYS = frozenset(("id", "key", "label", "description", "guidelines"))
_ACTOR_KEYS = frozenset(("name", "aliases"))


def _str_list(value: Any) -> list[str] | None:
    if type(value) is not list or any(type(x) is not str for x in value):
        return None
    return list(value)


def _fast_schema(data: Any) -> LabelSchema | None:
    """``data`` as a :class:`LabelSchema` when it is plain JSON that the pydantic model takes
    unchanged (exact types, every field and model rule); None for anything else, which
    :func:`label_schema_model` then accepts, coerces or words the error of."""
    if type(data) is not dict or not data.keys() <= _SCHEMA_KEYS:
        return None
    name, version = data.get("name", "custom"), data.get("version", 1)
    raw_claims = data.get("claims")
    if type(name) is not str or type(version) is not int or type(raw_claims) is not list:
        return None
    if not 1 <= len(raw_claims) <= 9:
        return None
    claims: list[ClaimType] = []
    for c in raw_claims:
        if type(c) is not dict or not c.keys() <= _CLAIM_KEYS:
            return None
        cid, key = c.get("id"), c.get("key")
        texts = (c.get("label", ""), c.get("description", ""), c.get("guidelines", ""))
        if type(cid) is not str or not _CLAIM_ID.match(cid) or type(key) is not int:
            return None
        if not 1 <= key <= 9 or any(type(t) is not str for t in texts):
            return None
        claims.append(
            ClaimType(id=cid, key=key, label=texts[0], description=texts[1], guidelines=texts[2])
        )
    stances = _str_list(data["stances"]) if "stances" in data else _default_stances()
    boilerplate = _str_list(data.get("boilerplate", []))
    raw_actors = data.get("actors", [])
    if stances is None or boilerplate is None or type(raw_actors) is not list:
        return None
    actors: list[ActorEntry] = []
    for a in raw_actors:
        if type(a) is not dict or not a.keys() <= _ACTOR_KEYS:
            return None
        actor, aliases = a.get("name"), _str_list(a.get("aliases", []))
        if type(actor) is not str or not actor or aliases is None:
            return None
        actors.append(ActorEntry(name=actor, aliases=aliases))
    schema = LabelSchema(
        name=name,
        version=version,
        claims=claims,
        stances=stances,
        actors=actors,
        boilerplate=boilerplate,
    )
    return schema if _model_rule(schema) is None else None


def _model_rule(schema: LabelSchema) -> str | None:
    """The model-wide rules (the pydantic model's ``mode="after"`` validator): the message of
    the first one broken, or None."""
    ids = [c.id for c in schema.claims]
    if len(set(ids)) != len(ids):
        return f"claims: duplicate claim id in {ids}"
    keys = [c.key for c in schema.claims]
    if len(set(keys)) != len(keys):
        return f"claims: duplicate key number in {keys}"
    if not schema.stances or len(set(schema.stances)) != len(schema.stances):
        return "stances: must be a non-empty list of distinct names"
    for stance in schema.stances:  # stance names are keys and labels, shown as-is everywhere
        if not _CLAIM_ID.match(stance):
            return f"stances: {stance!r} {_ID_SHAPE}"
    for pattern in schema.boilerplate:
        try:
            re.compile(pattern)
        except re.error as exc:
            return f"boilerplate: bad regular expression {pattern!r}: {exc}"
    return None


def _from_dump(d: dict[str, Any]) -> LabelSchema:
    """A :class:`LabelSchema` from the pydantic model's ``model_dump()``."""
    return LabelSchema(
        name=d["name"],
        version=d["version"],
        claims=[ClaimType(**c) for c in d["claims"]],
        stances=list(d["stances"]),
        actors=[ActorEntry(name=a["name"], aliases=list(a["aliases"])) for a in d["actors"]],
        boilerplate=list(d["boilerplate"]),
    )


@functools.cache
def label_schema_model() -> type[BaseModel]:
    """The pydantic model of the label schema file (classes ``LabelSchema``, ``ClaimType``,
    ``ActorEntry``): what :func:`_fast_schema` does not take goes through it, and ``stanceterm
    schemas`` writes its JSON Schema. Built on first use, so that pydantic is imported only
    then."""
    from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

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
                raise ValueError(_ID_SHAPE)
            return v

    class ActorEntry(_Strict):
        name: str = Field(min_length=1)
        aliases: list[str] = Field(default_factory=list)

    class LabelSchema(_Strict):
        name: str = "custom"
        version: int = 1
        claims: list[ClaimType] = Field(min_length=1, max_length=9)
        stances: list[str] = Field(default_factory=_default_stances)
        actors: list[ActorEntry] = Field(default_factory=list)
        boilerplate: list[str] = Field(default_factory=list)

        @model_validator(mode="after")
        def _unique(self) -> LabelSchema:
            broken = _model_rule(_from_dump(self.model_dump()))
            if broken is not None:
                raise ValueError(broken)
            return self

    for model in (ClaimType, ActorEntry, LabelSchema):  # their names in the JSON Schema
        model.__qualname__ = model.__name__
    LabelSchema.model_rebuild(_types_namespace={"ClaimType": ClaimType, "ActorEntry": ActorEntry})
    return LabelSchema


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
    fast = _fast_schema(data)
    if fast is not None:
        return fast
    from pydantic import ValidationError

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
