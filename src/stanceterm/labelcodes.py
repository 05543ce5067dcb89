"""Label rows as integer codes: the columnar path from labels to per-field reliability data.

:mod:`stanceterm.reliability` builds its fields (``claims``, ``claim:<id>``, ``stance``,
``actors`` and the ``--by`` variants) here without a Python object per unit or per value:

* the rows ``(unit id, annotator, claims key, stances key)`` are numbered column by column
  (``np.fromiter`` over a dict that numbers each distinct value at its first occurrence), batch
  by batch, straight from the store's cursor or an export file;
* a claims or stances *key* (the stored JSON text, or a parsed tuple) is parsed once per
  distinct key, by the caller's functions (which also merge actor aliases);
* each field is then a ``Coded`` matrix (annotators x units, ``-1`` missing) made by numpy
  indexing: a field's value is a function of the row's key, so it is computed per distinct key
  and gathered per row.

The meaning is the object path's (:func:`stanceterm.reliability.collect` and the field
builders), unit for unit and in the same order (a test compares them): a unit's annotators keep
their last row; units come in order of first appearance; stance units are a sentence's
(claim, actor) pairs in sorted order; an annotator who tagged the claim but gave the actor no
stance has ``no_stance``; one who did not tag it is missing.

No SQL and no statistics here: this is a leaf (numpy only).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from stanceterm.procs import gc_paused

__all__ = ["CodedField", "LabelTable", "StanceEntry", "build_table"]

IntArray: TypeAlias = npt.NDArray[np.int64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]
StanceEntry: TypeAlias = tuple[str, str, str]  # (claim, actor id, stance)


@dataclass(frozen=True)
class CodedField:
    """One field as codes: ``codes[annotator, unit]`` indexes ``domain``, ``-1`` is missing."""

    name: str
    level: str
    codes: IntArray
    domain: list[Any]
    claim: str | None = None
    actor: str | None = None

    def at_least(self, k: int) -> CodedField:
        """Only the units with values from ``k`` annotators or more."""
        if k <= 1 or self.codes.shape[1] == 0:
            return self
        keep = (self.codes >= 0).sum(axis=0) >= k
        if keep.all():
            return self
        return CodedField(
            self.name, self.level, self.codes[:, keep], self.domain, self.claim, self.actor
        )


def _numbering() -> defaultdict[Hashable, int]:
    return defaultdict(itertools.count().__next__)


@dataclass
class LabelTable:
    """One row per (unit, annotator), sorted by unit (order of first appearance), then annotator.

    ``claims[k]`` / ``stances[k]`` are the parsed values of the k-th distinct key; a stances value
    is a dict ``(claim, actor) -> stance`` (several stances of one pair joined by ``|``).
    """

    unit_ids: list[str]
    annotators: list[str]
    unit: IntArray
    ann: IntArray
    claims_key: IntArray
    stances_key: IntArray
    claims: list[tuple[str, ...]]
    stances: list[dict[tuple[str, str], str]]

    @property
    def n_units(self) -> int:
        return len(self.unit_ids)

    def values_per_unit(self) -> IntArray:
        """How many annotators have a value on each unit."""
        return np.bincount(self.unit, minlength=self.n_units)

    def _gather(self, per_key: IntArray, keys: IntArray) -> IntArray:
        codes = np.full((len(self.annotators), self.n_units), -1, dtype=np.int64)
        codes[self.ann, self.unit] = per_key[keys]
        return codes

    def claim_set_field(self) -> CodedField:
        number = _numbering()
        per_key = np.fromiter(
            (number[frozenset(c)] for c in self.claims), dtype=np.int64, count=len(self.claims)
        )
        return CodedField("claims", "masi", self._gather(per_key, self.claims_key), list(number))

    def claim_presence_field(self, claim: str) -> CodedField:
        per_key = np.fromiter(
            (claim in c for c in self.claims), dtype=np.int64, count=len(self.claims)
        )
        codes = self._gather(per_key, self.claims_key)
        return CodedField(f"claim:{claim}", "nominal", codes, [False, True], claim=claim)

    def actor_set_field(self) -> CodedField:
        number = _numbering()
        per_key = np.fromiter(
            (number[frozenset(a for _, a in s)] for s in self.stances),
            dtype=np.int64,
            count=len(self.stances),
        )
        return CodedField("actors", "masi", self._gather(per_key, self.stances_key), list(number))

    def stance_actors(self) -> list[str]:
        """Every actor that received a stance, sorted."""
        return sorted({a for s in self.stances for _, a in s})

    def stance_field(self, no_stance: str) -> tuple[CodedField, list[str], list[str], IntArray]:
        """The ``stance`` field, its sorted claims and actors, and each unit's (claim, actor)
        codes as a ``(2, units)`` array (for the ``stance:<claim>`` / ``stance@<actor>``
        restrictions)."""
        claims = sorted({c for s in self.stances for c, _ in s})
        actors = self.stance_actors()
        n_ann = len(self.annotators)
        empty = CodedField("stance", "nominal", np.full((n_ann, 0), -1, dtype=np.int64), [])
        if not claims:
            return empty, claims, actors, np.zeros((2, 0), dtype=np.int64)
        c_code = {c: i for i, c in enumerate(claims)}
        a_code = {a: i for i, a in enumerate(actors)}
        n_c, n_a = len(claims), len(actors)
        values = _numbering()
        none_code = values[no_stance]
        # entries of each distinct stances key, in (claim, actor) order
        lens = np.fromiter((len(s) for s in self.stances), dtype=np.int64, count=len(self.stances))
        ent_pair = np.fromiter(
            (c_code[c] * n_a + a_code[a] for s in self.stances for c, a in sorted(s)),
            dtype=np.int64,
            count=int(lens.sum()),
        )
        ent_value = np.fromiter(
            (values[s[k]] for s in self.stances for k in sorted(s)),
            dtype=np.int64,
            count=int(lens.sum()),
        )
        starts = np.concatenate(([0], np.cumsum(lens)[:-1])).astype(np.int64)
        # tagged[r, c]: the row's annotator tagged claim c (in the claims or through a stance)
        tag_claims = np.zeros((len(self.claims), n_c), dtype=bool)
        for k, cs in enumerate(self.claims):
            for c in cs:
                if c in c_code:
                    tag_claims[k, c_code[c]] = True
        tag_stances = np.zeros((len(self.stances), n_c), dtype=bool)
        for k, st in enumerate(self.stances):
            for c, _ in st:
                tag_stances[k, c_code[c]] = True
        tagged: BoolArray = tag_claims[self.claims_key] | tag_stances[self.stances_key]
        # every row's entries, exploded
        row_lens = lens[self.stances_key]
        rows = np.repeat(np.arange(self.unit.size, dtype=np.int64), row_lens)
        first = np.repeat(starts[self.stances_key] - (np.cumsum(row_lens) - row_lens), row_lens)
        ent = first + np.arange(rows.size, dtype=np.int64)
        pair = ent_pair[ent]
        width = n_c * n_a
        row_key = rows * width + pair  # sorted: rows ascending, pairs sorted within a key
        unit_key = np.unique(self.unit[rows] * width + pair)  # (unit, claim, actor) in order
        s_unit, s_pair = unit_key // width, unit_key % width
        # each stance unit against every row of its sentence
        row_start = np.searchsorted(self.unit, np.arange(self.n_units + 1, dtype=np.int64))
        span = row_start[s_unit + 1] - row_start[s_unit]
        j = np.repeat(np.arange(unit_key.size, dtype=np.int64), span)
        r = np.repeat(row_start[s_unit] - (np.cumsum(span) - span), span) + np.arange(
            j.size, dtype=np.int64
        )
        keep = tagged[r, s_pair[j] // n_a]
        j, r = j[keep], r[keep]
        want = r * width + s_pair[j]
        pos = np.minimum(np.searchsorted(row_key, want), max(row_key.size - 1, 0))
        hit = row_key[pos] == want if row_key.size else np.zeros(want.size, dtype=bool)
        val = np.where(hit, ent_value[ent[pos]] if ent.size else none_code, none_code)
        codes = np.full((n_ann, unit_key.size), -1, dtype=np.int64)
        codes[self.ann[r], j] = val
        pairs = np.stack([s_pair // n_a, s_pair % n_a])
        return CodedField("stance", "nominal", codes, list(values)), claims, actors, pairs


def build_table(
    batches: Iterable[Sequence[tuple[Any, Any, Any, Any]]],
    parse_claims: Callable[[Any], tuple[str, ...]],
    parse_stances: Callable[[Any], Iterable[StanceEntry]],
    drop_units: Callable[[list[str]], BoolArray] | None = None,
) -> LabelTable:
    """A :class:`LabelTable` from batches of ``(unit id, annotator, claims key, stances key)``.

    Keys are hashable (JSON text or tuples); each distinct key is parsed once. When one
    annotator has several rows on a unit, the last one counts. ``drop_units``: given the unit
    ids (in numbering order), a mask of the units to leave out (``--unassisted-only``).

    The cyclic garbage collector is paused meanwhile (:func:`stanceterm.procs.gc_paused`):
    building a table allocates millions of row tuples and keeps the parsed labels, and its full
    collections were 2 s of the 9 s of CPU of reading 1M sentences x 3 labels.
    """
    with gc_paused():
        return _build_table(batches, parse_claims, parse_stances, drop_units)


def _build_table(
    batches: Iterable[Sequence[tuple[Any, Any, Any, Any]]],
    parse_claims: Callable[[Any], tuple[str, ...]],
    parse_stances: Callable[[Any], Iterable[StanceEntry]],
    drop_units: Callable[[list[str]], BoolArray] | None,
) -> LabelTable:
    nums = [_numbering() for _ in range(4)]
    parts: list[list[IntArray]] = [[], [], [], []]
    for batch in batches:
        if not batch:
            continue
        for col, number, part in zip(zip(*batch, strict=True), nums, parts, strict=True):
            part.append(np.fromiter(map(number.__getitem__, col), dtype=np.int64, count=len(col)))
    cols = [np.concatenate(p) if p else np.empty(0, dtype=np.int64) for p in parts]
    unit, ann, ck, sk = cols
    unit_ids = [str(u) for u in nums[0]]
    if drop_units is not None and unit.size:
        keep = ~drop_units(unit_ids)[unit]
        unit, ann, ck, sk = unit[keep], ann[keep], ck[keep], sk[keep]
    # units that kept a row, renumbered densely in their order of first appearance
    used = np.unique(unit)
    if used.size != len(unit_ids):
        unit = np.searchsorted(used, unit)
        unit_ids = [unit_ids[i] for i in used.tolist()]
    raw_names = [str(a) for a in nums[1]]
    present = np.unique(ann)
    names = sorted(raw_names[i] for i in present.tolist())
    rank = np.full(len(raw_names), -1, dtype=np.int64)
    rank[present] = [names.index(raw_names[i]) for i in present.tolist()]
    ann = rank[ann]
    # one row per (unit, annotator): the last one (a stable sort keeps the stream order)
    key = unit * max(len(names), 1) + ann
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    last = np.ones(order.size, dtype=bool)
    last[:-1] = sorted_key[1:] != sorted_key[:-1]
    order = order[last]
    stances: list[dict[tuple[str, str], str]] = []
    for raw in nums[3]:
        found: dict[tuple[str, str], set[str]] = {}
        for claim, actor, stance in parse_stances(raw):
            found.setdefault((claim, actor), set()).add(stance)
        stances.append({k: "|".join(sorted(v)) for k, v in found.items()})
    return LabelTable(
        unit_ids=unit_ids,
        annotators=names,
        unit=unit[order],
        ann=ann[order],
        claims_key=ck[order],
        stances_key=sk[order],
        claims=[parse_claims(raw) for raw in nums[2]],
        stances=stances,
    )
