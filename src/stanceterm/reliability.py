"""Reliability data: annotations turned into units, field by field, for agreement statistics.

This module sits between the labels (the DB through :class:`~stanceterm.store.Store`, or an
``export --kind annotations`` file) and the pure statistics of :mod:`stanceterm.agreement`.

**What counts.** Only *final* labels are values: status ``done``. Everything else is *missing*
(no value, never "no claim"):

* ``skipped``: the annotator chose not to label the sentence;
* ``draft``: labels touched but not accepted;
* ``flagged``: set aside "for discussion", i.e. not the annotator's settled answer. Missing by
  default; ``include_flagged=True`` (``--include-flagged``) counts flagged labels as final;
* a sentence the annotator never saw.

Labels *propagated* to the duplicates of a dedup cluster (``propagated_from`` set) are left out,
so a cluster counts once, through its representative (members labelled directly count as their
own units).

**Fields** (each is a list of units; a unit holds one value per annotator who has one):

* ``claims``: the claim set of a sentence (a frozenset), compared with MASI;
* ``claim:<id>``: for each claim type of the label schema, its presence in a sentence
  (``True``/``False``, nominal). An annotator with a final label who did not tag it says False;
* ``stance``: the stance per (sentence, claim, actor), nominal. The units are the triples to which
  at least one annotator gave a stance. An annotator who tagged the claim on the sentence but gave
  this actor no stance has the value ``"none"``; an annotator who did not tag the claim, or has no
  final label, is missing (stance agreement is conditional on the claim: disagreement about the
  claim itself is measured by ``claim:<id>``). ``stance:<claim>`` and ``stance@<actor>`` are the
  same restricted to one claim type or one actor;
* ``actors``: the set of actors an annotator gave a stance to in a sentence (ids normalised, aliases
  merged), compared with MASI.

**Actor identity.** Actor ids are put through the alias table: an actor whose display name has
become an alias of another actor is counted as that actor. Reading an export, an actor is matched
by its ``actor_id`` if the DB knows it, else by name or alias (accent- and case-insensitive), else
kept as its ``actor_id`` (or a slug of its name).

**The report.** :func:`report` runs the whole ``stanceterm agreement`` computation (rows from the
DB or an export, the fields, alpha with its CI, Cohen's kappa per pair, the disagreements) and
returns an :class:`AgreementReport` value; the renderers (rich table, Markdown, LaTeX, JSON) live
beside the CLI, in :mod:`stanceterm.cli.render`. :func:`claim_agreement` is the claim alpha of
``stanceterm stats``: the ``claims`` field of this module, so it has one definition.

No SQL here (the store has it) and no Textual.

Size: over 600 lines on purpose: rows, corpus, fields, measures, disagreements and the report all
share the :class:`Corpus`, :class:`Field` and :class:`Unit` types; the renderers are elsewhere.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import orjson

from stanceterm.actors import alias_key, follow_aliases, slugify
from stanceterm.agreement import (
    AgreementResult,
    Coded,
    Level,
    ReliabilityData,
    alpha,
    alpha_with_ci,
    alphas_with_ci,
    cohen_kappa,
    jaccard_distance,
    masi_distance,
    percent_agreement,
)
from stanceterm.export import LabelsError, read_label_records
from stanceterm.labelcodes import CodedField, LabelTable, build_table
from stanceterm.schema import LabelSchema
from stanceterm.store import Store

__all__ = [
    "BY",
    "NO_STANCE",
    "ActorResolver",
    "AgreementError",
    "AgreementReport",
    "ClaimAgreement",
    "Corpus",
    "Disagreement",
    "Field",
    "FieldResult",
    "Label",
    "LabelRow",
    "PairKappa",
    "Unit",
    "actor_set_field",
    "build_fields",
    "claim_agreement",
    "claim_presence_field",
    "claim_set_field",
    "collect",
    "counted_statuses",
    "disagreements",
    "iter_fields",
    "measure",
    "pairwise_kappa",
    "report",
    "rows_from_export",
    "rows_from_store",
    "stance_field",
    "store_claim_agreement",
    "unit_disagreements",
    "worst_first",
]

BY: Final[tuple[str, ...]] = ("annotator", "claim", "actor")
#: The stance value of an annotator who tagged the claim but gave the actor no stance.
NO_STANCE: Final = "none"
#: Used instead of :data:`NO_STANCE` when the label schema has a stance called "none".
_NO_STANCE_ALT: Final = "(no stance)"
#: Bound of the caches of parsed label JSON and of :class:`Label` objects.
_PARSE_CACHE: Final = 20_000


def counted_statuses(include_flagged: bool = False) -> tuple[str, ...]:
    """The statuses whose labels are values; every other status is missing data."""
    return ("done", "flagged") if include_flagged else ("done",)


# --------------------------------------------------------------------------- input rows


@dataclass(frozen=True, slots=True)
class LabelRow:
    """One (sentence, annotator) label, from the DB or an export line (actor ids resolved)."""

    sentence_id: str
    text: str
    annotator: str
    status: str
    claims: tuple[str, ...]
    stances: tuple[tuple[str, str, str], ...]  # (claim, actor id, stance)
    propagated_from: str | None = None
    #: the label was made while claim suggestions were shown (an export's ``suggested``)
    assisted: bool = False


class ActorResolver:
    """Actor ids with aliases merged: the id every name, alias or id of one actor maps to.

    ``names``: actor id -> display name; ``keys``: alias key -> actor id (the DB's alias table).
    An actor whose display name is (now) an alias of another actor is merged into that actor,
    following such links to the end (cycles are cut).
    """

    def __init__(self, names: Mapping[str, str], keys: Mapping[str, str]) -> None:
        self.names = dict(names)
        self.keys = dict(keys)
        self._canon: dict[str, str] = {}

    @classmethod
    def from_store(cls, store: Store | None) -> ActorResolver:
        if store is None:
            return cls({}, {})
        return cls(store.actors.names(), store.actors.alias_keys())

    def canonical(self, actor_id: str) -> str:
        """The merged id of a stored actor id (unknown ids are returned unchanged)."""
        cached = self._canon.get(actor_id)
        if cached is None:
            cached = self._canon[actor_id] = follow_aliases(actor_id, self.names, self.keys)
        return cached

    def resolve(self, name: str, actor_id: str | None) -> str:
        """The merged id of an exported stance's actor (by id, then name or alias, then slug)."""
        if actor_id is not None and actor_id in self.names:
            return self.canonical(actor_id)
        target = self.keys.get(alias_key(name))
        if target is not None:
            return self.canonical(target)
        return actor_id if actor_id is not None else slugify(name)

    def display(self, actor_id: str) -> str:
        return self.names.get(actor_id, actor_id)


def rows_from_store(
    store: Store,
    *,
    annotators: Sequence[str] = (),
    include_flagged: bool = False,
    resolver: ActorResolver | None = None,
) -> Iterator[LabelRow]:
    """The direct labels with a counted status, streamed in sentence order."""
    resolver = resolver or ActorResolver.from_store(store)
    canonical = resolver.canonical
    # many labels share the same claims / stances JSON: parse each distinct string once
    claims_cache: dict[str, tuple[str, ...]] = {}
    stances_cache: dict[str, tuple[tuple[str, str, str], ...]] = {}
    for sid, text, annotator, status, claims_raw, stances_raw in store.labels.iter_reliability_rows(
        statuses=counted_statuses(include_flagged), annotators=annotators
    ):
        claims = claims_cache.get(claims_raw)
        if claims is None:
            if len(claims_cache) >= _PARSE_CACHE:
                claims_cache.clear()
            claims = claims_cache[claims_raw] = tuple(orjson.loads(claims_raw))
        stances = stances_cache.get(stances_raw)
        if stances is None:
            if len(stances_cache) >= _PARSE_CACHE:
                stances_cache.clear()
            stances = stances_cache[stances_raw] = tuple(
                (str(d["claim"]), canonical(str(d["actor"])), str(d["stance"]))
                for d in orjson.loads(stances_raw or "[]")
            )
        yield LabelRow(str(sid), str(text), str(annotator), str(status), claims, stances)


def rows_from_export(
    path: Path, resolver: ActorResolver, claim_types: Sequence[str]
) -> Iterator[LabelRow]:
    """Every record of an annotations export (any status), checked line by line.

    A line that is not a valid annotation record, names a claim type the label schema does not
    have, or repeats a (sentence, annotator) pair raises :class:`~stanceterm.export.LabelsError`
    naming ``file:line``.
    """
    known = set(claim_types)
    try:
        for lineno, rec in read_label_records(path):
            where = f"{path}:{lineno}"
            for claim in [*rec.claims, *(s.claim for s in rec.stances)]:
                if claim not in known:
                    raise LabelsError(
                        f"{where}: unknown claim {claim!r} (the label schema has "
                        f"{', '.join(claim_types)}; pass the right one with --schema)"
                    )
            yield LabelRow(
                sentence_id=rec.sentence_id,
                text=rec.text or "",
                annotator=rec.annotator,
                status=rec.status,
                claims=tuple(rec.claims),
                stances=tuple(
                    (s.claim, resolver.resolve(s.actor, s.actor_id), s.stance) for s in rec.stances
                ),
                propagated_from=rec.propagated_from,
                assisted=rec.suggested is not None,
            )
    except OSError as exc:
        raise LabelsError(f"{path}: cannot read: {exc.strerror or exc}") from None


# --------------------------------------------------------------------------- the corpus


@dataclass(frozen=True, slots=True)
class Label:
    """One annotator's final label of one sentence."""

    claims: frozenset[str]
    stances: Mapping[tuple[str, str], str]  # (claim, actor id) -> stance

    def tagged(self, claim: str) -> bool:
        """The annotator tagged ``claim`` (a stance on a claim implies the claim)."""
        return claim in self.claims or any(c == claim for c, _ in self.stances)


@dataclass
class Corpus:
    """The final labels per sentence (in sentence order), and what is needed to report them."""

    claim_types: list[str]
    sentences: dict[str, dict[str, Label]] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    no_stance: str = NO_STANCE

    @property
    def annotators(self) -> list[str]:
        """Annotators with at least one final label, sorted."""
        return sorted({a for labels in self.sentences.values() for a in labels})

    def order(self) -> dict[str, int]:
        return {sid: i for i, sid in enumerate(self.sentences)}


def _stance_map(stances: Iterable[tuple[str, str, str]]) -> dict[tuple[str, str], str]:
    """(claim, actor) -> stance; a pair given several stances keeps them all, joined by '|'."""
    found: dict[tuple[str, str], set[str]] = {}
    for claim, actor, stance in stances:
        found.setdefault((claim, actor), set()).add(stance)
    return {key: "|".join(sorted(v)) for key, v in found.items()}


def collect(
    rows: Iterable[LabelRow],
    claim_types: Sequence[str],
    *,
    stances: Sequence[str] = (),
    annotators: Sequence[str] = (),
    include_flagged: bool = False,
    keep_text: bool = True,
) -> Corpus:
    """Keep the rows that are values (counted status, not propagated, chosen annotators).

    ``include_flagged`` must match the one given to :func:`rows_from_store` (which already leaves
    out the other statuses); ``keep_text=False`` saves the memory of the sentence texts (only
    the disagreements report shows them).
    """
    counted = set(counted_statuses(include_flagged))
    wanted = set(annotators)
    corpus = Corpus(
        list(claim_types), no_stance=_NO_STANCE_ALT if NO_STANCE in stances else NO_STANCE
    )
    labels: dict[tuple[tuple[str, ...], tuple[tuple[str, str, str], ...]], Label] = {}
    for row in rows:
        if row.propagated_from is not None or row.status not in counted:
            continue
        if wanted and row.annotator not in wanted:
            continue
        key = (row.claims, row.stances)
        label = labels.get(key)
        if label is None:  # Labels are immutable: equal ones are shared
            if len(labels) >= _PARSE_CACHE:
                labels.clear()
            label = labels[key] = Label(frozenset(row.claims), _stance_map(row.stances))
        corpus.sentences.setdefault(row.sentence_id, {})[row.annotator] = label
        if keep_text:
            corpus.texts.setdefault(row.sentence_id, row.text)
    return corpus


# --------------------------------------------------------------------------- fields


@dataclass(frozen=True, slots=True)
class Unit:
    """One unit of a field: a value per annotator who has one (absent annotators are missing)."""

    sentence_id: str
    values: Mapping[str, Hashable]
    claim: str | None = None
    actor: str | None = None


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    level: Level
    units: list[Unit]
    claim: str | None = None
    actor: str | None = None

    def matrix(self, annotators: Sequence[str]) -> list[list[Hashable | None]]:
        """Reliability data: one row per annotator, one column per unit, None = missing."""
        return [[u.values.get(a) for u in self.units] for a in annotators]

    def at_least(self, k: int) -> Field:
        """Only the units with values from ``k`` annotators or more."""
        if k <= 1:
            return self
        units = [u for u in self.units if len(u.values) >= k]
        return Field(self.name, self.level, units, self.claim, self.actor)


def claim_set_field(corpus: Corpus) -> Field:
    units = [
        Unit(sid, {a: lab.claims for a, lab in labels.items()})
        for sid, labels in corpus.sentences.items()
    ]
    return Field("claims", "masi", units)


def claim_presence_field(corpus: Corpus, claim: str) -> Field:
    units = [
        Unit(sid, {a: claim in lab.claims for a, lab in labels.items()}, claim=claim)
        for sid, labels in corpus.sentences.items()
    ]
    return Field(f"claim:{claim}", "nominal", units, claim=claim)


def stance_field(
    corpus: Corpus, *, claim: str | None = None, actor: str | None = None, name: str = "stance"
) -> Field:
    units: list[Unit] = []
    for sid, labels in corpus.sentences.items():
        keys = sorted(
            {
                k
                for lab in labels.values()
                for k in lab.stances
                if (claim is None or k[0] == claim) and (actor is None or k[1] == actor)
            }
        )
        for key in keys:
            values = {
                a: lab.stances.get(key, corpus.no_stance)
                for a, lab in labels.items()
                if lab.tagged(key[0])
            }
            units.append(Unit(sid, values, claim=key[0], actor=key[1]))
    return Field(name, "nominal", units, claim=claim, actor=actor)


def actor_set_field(corpus: Corpus, level: Level = "masi") -> Field:
    units = [
        Unit(sid, {a: frozenset(act for _, act in lab.stances) for a, lab in labels.items()})
        for sid, labels in corpus.sentences.items()
    ]
    return Field("actors", level, units)


def stance_actors(corpus: Corpus) -> list[str]:
    """Every actor that received a stance, sorted."""
    return sorted(
        {
            act
            for labels in corpus.sentences.values()
            for lab in labels.values()
            for _, act in lab.stances
        }
    )


def iter_fields(corpus: Corpus, by: str | None = None) -> Iterator[Field]:
    """The fields of a report, built one at a time (only one field's units in memory).

    Default (and ``by="annotator"``): ``claims``, each ``claim:<id>``, ``stance``, ``actors``.
    ``by="claim"``: for each claim type, ``claim:<id>`` and ``stance:<id>``.
    ``by="actor"``: ``actors``, then ``stance@<actor id>`` for each actor given a stance.
    """
    if by == "claim":
        for claim in corpus.claim_types:
            yield claim_presence_field(corpus, claim)
            yield stance_field(corpus, claim=claim, name=f"stance:{claim}")
    elif by == "actor":
        yield actor_set_field(corpus)
        for act in stance_actors(corpus):
            yield stance_field(corpus, actor=act, name=f"stance@{act}")
    else:
        yield claim_set_field(corpus)
        for claim in corpus.claim_types:
            yield claim_presence_field(corpus, claim)
        yield stance_field(corpus)
        yield actor_set_field(corpus)


def build_fields(corpus: Corpus, by: str | None = None) -> list[Field]:
    """All the fields of :func:`iter_fields`, as a list."""
    return list(iter_fields(corpus, by))


# --------------------------------------------------------------------------- measuring


@dataclass(frozen=True, slots=True)
class FieldResult:
    """Krippendorff's alpha of one field, its bootstrap CI and percent agreement.

    ``units``: units with values from two annotators or more (the ones alpha uses);
    ``annotators``: annotators with a value in one of those units; ``percent_agreement``: the mean
    share of agreeing pairs of values per unit (exact equality, also for sets). NaN = undefined.
    """

    field: str
    level: Level
    value: float
    ci_low: float
    ci_high: float
    units: int
    annotators: int
    percent_agreement: float
    ci: float
    n_boot: int
    claim: str | None = None
    actor: str | None = None
    metric: str = "alpha"

    def as_json(self, actor_names: Mapping[str, str] | None = None) -> dict[str, Any]:
        def num(x: float) -> float | None:
            return None if math.isnan(x) else x

        out: dict[str, Any] = {
            "field": self.field,
            "metric": self.metric,
            "level": self.level,
            "value": num(self.value),
            "ci_low": num(self.ci_low),
            "ci_high": num(self.ci_high),
            "units": self.units,
            "annotators": self.annotators,
            "percent_agreement": num(self.percent_agreement),
            "ci": self.ci,
            "bootstrap": self.n_boot,
        }
        if self.claim is not None:
            out["claim"] = self.claim
        if self.actor is not None:
            out["actor"] = self.actor
            out["actor_name"] = (actor_names or {}).get(self.actor, self.actor)
        return out


def _coded(fld: Field, annotators: Sequence[str]) -> ReliabilityData:
    """The field's reliability data; nominal values recoded as integers in a float array.

    Nominal statistics only compare values for equality, so the recoding changes no figure but
    takes :mod:`stanceterm.agreement`'s vectorised numeric path. Set levels keep the sets.
    """
    if fld.level != "nominal":
        return fld.matrix(annotators)
    index = {a: i for i, a in enumerate(annotators)}
    codes: dict[Hashable, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    vals: list[int] = []
    for j, u in enumerate(fld.units):
        for a, v in u.values.items():
            i = index.get(a)
            if i is None:  # not among the chosen annotators (as in Field.matrix)
                continue
            code = codes.get(v)
            if code is None:
                code = codes[v] = len(codes)
            rows.append(i)
            cols.append(j)
            vals.append(code)
    arr = np.full((len(annotators), len(fld.units)), np.nan)
    arr[rows, cols] = vals
    return arr


def measure(
    fld: Field,
    annotators: Sequence[str],
    *,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int | None = 0,
) -> FieldResult:
    """Alpha (at the field's level) with a unit-bootstrap CI, and percent agreement."""
    data = _coded(fld, annotators)
    res: AgreementResult = alpha_with_ci(data, fld.level, n_boot=n_boot, ci=ci, seed=seed)
    return _field_result(fld, res, data, bool(fld.units), n_boot)


def _field_result(
    fld: Field | CodedField,
    res: AgreementResult,
    data: ReliabilityData,
    has_units: bool,
    n_boot: int,
) -> FieldResult:
    """A field's :class:`FieldResult` from its alpha and bootstrap (``res``) and its coded data
    (for percent agreement, when it has units)."""
    return FieldResult(
        field=fld.name,
        level=res.level,
        value=res.value,
        ci_low=res.ci_low,
        ci_high=res.ci_high,
        units=res.units,
        annotators=res.annotators,
        percent_agreement=percent_agreement(data) if has_units else math.nan,
        ci=res.ci,
        n_boot=n_boot,
        claim=fld.claim,
        actor=fld.actor,
    )


@dataclass(frozen=True, slots=True)
class PairKappa:
    """Cohen's kappa of two annotators over the units both have values for."""

    a: str
    b: str
    kappa: float
    units: int
    percent_agreement: float

    def as_json(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "kappa": None if math.isnan(self.kappa) else self.kappa,
            "units": self.units,
            "percent_agreement": (
                None if math.isnan(self.percent_agreement) else self.percent_agreement
            ),
        }


def pairwise_kappa(fields: Sequence[Field], annotators: Sequence[str]) -> list[PairKappa]:
    """Cohen's kappa for every pair of annotators, pooling the units of ``fields``.

    Used on the ``claim:<id>`` presence fields: the units are (sentence, claim type) pairs, the
    values True/False. Units where either annotator is missing are dropped.
    """
    units = [u for f in fields for u in f.units]
    out: list[PairKappa] = []
    for a, b in itertools.combinations(annotators, 2):
        xs: list[Hashable | None] = []
        ys: list[Hashable | None] = []
        for u in units:
            if a in u.values and b in u.values:
                xs.append(u.values[a])
                ys.append(u.values[b])
        n = len(xs)
        agree = sum(1 for x, y in zip(xs, ys, strict=True) if x == y)
        out.append(PairKappa(a, b, cohen_kappa(xs, ys), n, agree / n if n else math.nan))
    return out


# --------------------------------------------------------------------------- disagreements


@dataclass(frozen=True, slots=True)
class Disagreement:
    field: str
    sentence_id: str
    text: str
    disagreement: float
    distinct: int
    values: Mapping[str, Hashable]
    claim: str | None = None
    actor: str | None = None

    def as_json(self, actor_names: Mapping[str, str] | None = None) -> dict[str, Any]:
        names = actor_names or {}
        out: dict[str, Any] = {
            "sentence_id": self.sentence_id,
            "field": self.field,
            "text": self.text,
        }
        if self.claim is not None:
            out["claim"] = self.claim
        if self.actor is not None:
            out["actor"] = self.actor
            out["actor_name"] = names.get(self.actor, self.actor)
        out["disagreement"] = round(self.disagreement, 6)
        out["distinct"] = self.distinct
        out["values"] = {a: _json_value(v) for a, v in sorted(self.values.items())}
        return out


def _json_value(v: Hashable) -> Any:
    if isinstance(v, AbstractSet):
        return sorted(str(x) for x in v)
    return v


def unit_disagreement(values: Iterable[Hashable], level: Level) -> float:
    """Observed disagreement within one unit: the mean distance over ordered pairs of values.

    Nominal: the share of pairs that differ. ``masi``/``jaccard``: the mean set distance.
    0 when every value is the same; NaN with fewer than two values.
    """
    vals = list(values)
    m = len(vals)
    if m < 2:
        return math.nan
    if level in ("masi", "jaccard"):
        dist = masi_distance if level == "masi" else jaccard_distance
        total = 0.0
        for x, y in itertools.combinations(vals, 2):
            assert isinstance(x, AbstractSet) and isinstance(y, AbstractSet)
            total += dist(x, y)
        return total / (m * (m - 1) / 2)
    counts = Counter(vals)
    same = sum(n * (n - 1) for n in counts.values())
    return 1.0 - same / (m * (m - 1))


def unit_disagreements(fld: Field, corpus: Corpus) -> list[Disagreement]:
    """The units of one field whose values are not all equal (in unit order)."""
    out: list[Disagreement] = []
    texts = corpus.texts
    for u in fld.units:
        vals = list(u.values.values())
        distinct = len(set(vals))
        if len(vals) < 2 or distinct < 2:
            continue
        out.append(
            Disagreement(
                fld.name,
                u.sentence_id,
                texts.get(u.sentence_id, ""),
                unit_disagreement(vals, fld.level),
                distinct,
                u.values,
                u.claim,
                u.actor,
            )
        )
    return out


def worst_first(
    items: Iterable[Disagreement], field_order: Sequence[str], corpus: Corpus
) -> list[Disagreement]:
    """Sort disagreements: highest observed disagreement within the unit
    (:func:`unit_disagreement`), then most distinct values, then most annotators; ties keep the
    order of ``field_order``, then the sentence order."""
    order = corpus.order()
    pos = {name: i for i, name in enumerate(field_order)}
    return sorted(
        items,
        key=lambda d: (
            -d.disagreement,
            -d.distinct,
            -len(d.values),
            pos.get(d.field, len(pos)),
            order.get(d.sentence_id, 0),
            d.claim or "",
            d.actor or "",
        ),
    )


def disagreements(fields: Sequence[Field], corpus: Corpus) -> list[Disagreement]:
    """Units whose values are not all equal, over several fields, worst first (:func:`worst_first`)."""
    found = [d for fld in fields for d in unit_disagreements(fld, corpus)]
    return worst_first(found, [f.name for f in fields], corpus)


# --------------------------------------------------------------------------- the report


class AgreementError(ValueError):
    """Agreement cannot be computed on these labels; the message is one line."""


@dataclass(frozen=True)
class AgreementReport:
    """Everything ``stanceterm agreement`` shows: one :class:`FieldResult` per field, and how.

    ``kappa``: Cohen's kappa per pair of annotators on claim presence (``by="annotator"``);
    ``disagreements``: the units annotators disagree on, worst first (when asked for).
    """

    source: str
    annotators: list[str]
    counted_statuses: tuple[str, ...]
    min_annotators: int
    ci: float
    n_boot: int
    seed: int
    by: str | None
    results: list[FieldResult]
    actor_names: dict[str, str]
    kappa: list[PairKappa] | None = None
    disagreements: list[Disagreement] | None = None
    #: suggestions (issue 18): units used (labelled by at least ``min_annotators``), those of
    #: them with a label made while claim suggestions were shown, and whether such units were
    #: left out (``--unassisted-only``)
    suggestion_units: int = 0
    units_with_suggestions: int = 0
    unassisted_only: bool = False

    @property
    def include_flagged(self) -> bool:
        return "flagged" in self.counted_statuses

    @property
    def undefined(self) -> bool:
        """Some alpha is undefined (NaN)."""
        return any(math.isnan(r.value) for r in self.results)

    def label(self, r: FieldResult) -> str:
        """The display name of a field (raw text: renderers escape it)."""
        if r.actor is not None:
            return f"stance @ {self.actor_names.get(r.actor, r.actor)}"
        return r.field


def _store_table(
    store: Store,
    resolver: ActorResolver,
    statuses: Sequence[str],
    annotators: Sequence[str],
    drop: set[str],
) -> LabelTable:
    """The DB's counted labels as a :class:`LabelTable` (JSON parsed once per distinct text)."""
    canonical = resolver.canonical

    def stances(raw: str | None) -> list[tuple[str, str, str]]:
        return [
            (str(d["claim"]), canonical(str(d["actor"])), str(d["stance"]))
            for d in orjson.loads(raw or "[]")
        ]

    return build_table(
        store.labels.reliability_batches(statuses=statuses, annotators=annotators),
        lambda raw: tuple(orjson.loads(raw)),
        stances,
        _dropper(drop),
    )


def _dropper(drop: set[str]) -> Any:
    if not drop:
        return None
    return lambda ids: np.fromiter((i in drop for i in ids), dtype=bool, count=len(ids))


def _row_table(rows: Iterable[LabelRow], drop: set[str]) -> LabelTable:
    """Already filtered rows (an export's) as a :class:`LabelTable`."""
    batch = [(r.sentence_id, r.annotator, r.claims, r.stances) for r in rows]
    return build_table([batch], lambda c: c, lambda s: s, _dropper(drop))


def _coded_fields(
    table: LabelTable, claim_types: Sequence[str], by: str | None, no_stance: str
) -> list[CodedField]:
    """The fields of :func:`iter_fields`, in its order, from a :class:`LabelTable`."""
    if by == "actor":
        stance, _, actors, pairs = table.stance_field(no_stance)
        out = [table.actor_set_field()]
        for i, act in enumerate(actors):
            cols = pairs[1] == i
            out.append(
                CodedField(
                    f"stance@{act}", "nominal", stance.codes[:, cols], stance.domain, actor=act
                )
            )
        return out
    if by == "claim":
        stance, claims, _, pairs = table.stance_field(no_stance)
        out = []
        for claim in claim_types:
            cols = pairs[0] == (claims.index(claim) if claim in claims else -1)
            out.append(table.claim_presence_field(claim))
            out.append(
                CodedField(
                    f"stance:{claim}", "nominal", stance.codes[:, cols], stance.domain, claim=claim
                )
            )
        return out
    return [
        table.claim_set_field(),
        *(table.claim_presence_field(c) for c in claim_types),
        table.stance_field(no_stance)[0],
        table.actor_set_field(),
    ]


def _coded_kappa(fields: Sequence[CodedField], annotators: Sequence[str]) -> list[PairKappa]:
    """:func:`pairwise_kappa` on coded presence fields (units pooled over claim types)."""
    pooled = np.concatenate([f.codes for f in fields], axis=1)
    out: list[PairKappa] = []
    for i, j in itertools.combinations(range(len(annotators)), 2):
        both = (pooled[i] >= 0) & (pooled[j] >= 0)
        xs, ys = pooled[i][both], pooled[j][both]
        n = int(xs.size)
        agree = int((xs == ys).sum())
        out.append(
            PairKappa(
                annotators[i],
                annotators[j],
                cohen_kappa(xs.tolist(), ys.tolist()),
                n,
                agree / n if n else math.nan,
            )
        )
    return out


def _one_blas_thread() -> Any:
    """BLAS on one thread while the bootstrap runs: its products are thin (a few dozen rows
    against the units), so a second thread gains little, and on a busy machine the threads'
    spin-waiting made ``stanceterm agreement`` 3.5x slower in wall time (30 k sentences x 4
    annotators: 29.9 s with 2 threads vs 8.6 s with one, at a load average of 12)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def _measure_coded(
    fields: Sequence[CodedField], n_boot: int, ci: float, seed: int
) -> list[FieldResult]:
    """:func:`measure` of every field; the resample weights are drawn once for the fields that
    share their units (:func:`~stanceterm.agreement.alphas_with_ci`)."""
    coded = [Coded(f.codes, f.domain) for f in fields]
    levels: list[Level] = [f.level for f in fields]  # type: ignore[misc]
    with _one_blas_thread():
        results = alphas_with_ci(
            list(zip(coded, levels, strict=True)), n_boot=n_boot, ci=ci, seed=seed
        )
    return [
        _field_result(f, res, c, bool(f.codes.shape[1]), n_boot)
        for f, c, res in zip(fields, coded, results, strict=True)
    ]


def report(
    store: Store | None,
    schema: LabelSchema,
    *,
    from_file: Path | None = None,
    by: str | None = None,
    min_annotators: int = 2,
    ci: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
    annotators: Sequence[str] = (),
    include_flagged: bool = False,
    with_disagreements: bool = False,
    unassisted_only: bool = False,
) -> AgreementReport:
    """Agreement per field on the DB's labels, or on an annotations export (``from_file``).

    With ``from_file``, ``store`` (None when there is no DB) only resolves actor aliases.
    Raises :class:`AgreementError` when fewer than two annotators have final labels, and
    :class:`~stanceterm.export.LabelsError` for a bad export line.

    The figures come from the columnar path (:mod:`stanceterm.labelcodes`); with
    ``with_disagreements`` the units are built as objects (:func:`collect`, :func:`iter_fields`),
    which the list of disagreements needs. Both give the same numbers (a test compares them).

    Suggestions: a unit is *assisted* if any direct label on it was made while claim
    suggestions were shown: the DB's provenance, or, from an export, a record with
    ``suggested`` (any status the file carries). ``unassisted_only`` leaves those units out.
    """
    resolver = ActorResolver.from_store(store)
    statuses = counted_statuses(include_flagged)
    no_stance = _NO_STANCE_ALT if NO_STANCE in schema.stances else NO_STANCE
    if from_file is not None:
        source = str(from_file)
        wanted = set(annotators)
        assisted: set[str] = set()
        kept: list[LabelRow] = []
        for row in rows_from_export(from_file, resolver, schema.claim_ids):
            if row.propagated_from is not None:
                continue
            if row.assisted:
                assisted.add(row.sentence_id)
            if row.status in statuses and (not wanted or row.annotator in wanted):
                kept.append(row)
        rows: Iterable[LabelRow] = kept
    elif store is not None:
        source = store.path
        assisted = store.suggest.assisted_units()
    else:
        raise ValueError("report() needs a store or a file")
    drop = assisted if unassisted_only else set()
    if with_disagreements:
        if from_file is None:
            assert store is not None
            rows = rows_from_store(
                store, annotators=annotators, include_flagged=include_flagged, resolver=resolver
            )
        rows = (r for r in rows if r.sentence_id not in drop)
        corpus = collect(
            rows,
            schema.claim_ids,
            stances=schema.stances,
            annotators=annotators,
            include_flagged=include_flagged,
            keep_text=True,
        )
        names = corpus.annotators
        used_units = [
            sid for sid, labels in corpus.sentences.items() if len(labels) >= min_annotators
        ]
    else:
        if from_file is None:
            assert store is not None
            table = _store_table(store, resolver, statuses, annotators, drop)
        else:
            table = _row_table(rows, drop)
        names = table.annotators
        per_unit = table.values_per_unit()
        used_units = [table.unit_ids[i] for i in np.flatnonzero(per_unit >= min_annotators)]
    if len(names) < 2:
        found = f"{len(names)} ({', '.join(names)})" if names else "none"
        raise AgreementError(
            f"{source}: agreement needs final labels from at least 2 annotators; found {found}"
            + (f" among --annotator {', '.join(annotators)}" if annotators else "")
        )
    results: list[FieldResult] = []
    found_units: list[Disagreement] = []
    pairs = None
    if with_disagreements:
        for fld in iter_fields(corpus, by):  # one field at a time: memory stays at one field's
            fld = fld.at_least(min_annotators)
            results.append(measure(fld, names, n_boot=n_boot, ci=ci, seed=seed))
            found_units.extend(unit_disagreements(fld, corpus))
        if by == "annotator":
            presence = [
                claim_presence_field(corpus, c).at_least(min_annotators) for c in corpus.claim_types
            ]
            pairs = pairwise_kappa(presence, names)
    else:
        fields = [
            f.at_least(min_annotators)
            for f in _coded_fields(table, schema.claim_ids, by, no_stance)
        ]
        if by == "annotator":
            coded_presence = [
                table.claim_presence_field(c).at_least(min_annotators) for c in schema.claim_ids
            ]
            pairs = _coded_kappa(coded_presence, names)
        del table  # the fields hold what the bootstrap needs: free the rows before it runs
        results = _measure_coded(fields, n_boot, ci, seed)
    return AgreementReport(
        suggestion_units=len(used_units),
        units_with_suggestions=sum(1 for sid in used_units if sid in assisted),
        unassisted_only=unassisted_only,
        source=source,
        annotators=names,
        counted_statuses=statuses,
        min_annotators=min_annotators,
        ci=ci,
        n_boot=n_boot,
        seed=seed,
        by=by,
        results=results,
        actor_names=resolver.names,
        kappa=pairs,
        disagreements=(
            worst_first(found_units, [r.field for r in results], corpus)
            if with_disagreements
            else None
        ),
    )


# --------------------------------------------------------------------------- stats


@dataclass(frozen=True)
class ClaimAgreement:
    """Krippendorff's alpha of the ``claims`` field and the sentences it is computed on.
    ``alpha`` is NaN when undefined (no shared sentence, or no variation at all)."""

    alpha: float
    units: int


def _claims_alpha(fld: Field, units: list[Unit]) -> ClaimAgreement:
    if not units:
        return ClaimAgreement(math.nan, 0)
    part = Field(fld.name, fld.level, units)
    present = sorted({a for u in units for a in u.values})
    return ClaimAgreement(alpha(_coded(part, present), fld.level), len(units))


def claim_agreement(corpus: Corpus) -> tuple[ClaimAgreement, dict[str, ClaimAgreement]]:
    """Overall and per-annotator alpha of the ``claims`` field (:func:`claim_set_field`) on the
    sentences labelled by two annotators or more.

    An annotator's figure is alpha over the sentences they share with others (all annotators'
    labels of those sentences), so it shows who agrees less with the rest of the team.
    """
    fld = claim_set_field(corpus).at_least(2)
    overall = _claims_alpha(fld, fld.units)
    names = sorted({a for u in fld.units for a in u.values})
    per = {a: _claims_alpha(fld, [u for u in fld.units if a in u.values]) for a in names}
    return overall, per


def store_claim_agreement(store: Store) -> tuple[ClaimAgreement, dict[str, ClaimAgreement]]:
    """:func:`claim_agreement` on the DB's final (done) labels, propagated copies left out."""
    rows = rows_from_store(store, resolver=ActorResolver({}, {}))  # actors play no part
    return claim_agreement(collect(rows, (), keep_text=False))
