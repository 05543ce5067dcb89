"""Review and adjudication: which sentences need a gold decision, and what the decision holds.

No Textual and no SQL here (the store reads; this module decides).

**What is compared.** Each annotator's *own* labels of a unit: a sentence, or a whole dedup
cluster (labels propagated to its copies are left out; labels written on a copy, before dedup hid
it, are versions of the cluster's unit, which is reviewed under its representative's id). One
annotator who labelled two copies of a cluster differently has two versions that disagree, so
the cluster goes to review. A version is *labelled*
when its status is ``done`` or ``flagged``; ``skipped`` is missing data (never "no claim", as in
``stanceterm agreement``) and ``draft`` is unfinished work, so neither is compared. Two labelled
versions agree when they have the same claim set and the same stance triples
``(claim, actor, stance)``, with actor ids resolved to their canonical actor (an actor later made
an alias of another one counts as that one). Order never matters.

**What needs review** (:func:`reasons`):

* ``disagree``: at least two labelled versions from different annotators differ;
* ``flagged``: an annotator flagged the sentence (a flag asks for a discussion; the review is it),
  even when the versions agree or there is only one.

A sentence labelled by one annotator and skipped by another is *not* a disagreement (the skip is
missing data); ``--all`` (``include_all``) reviews every sentence with a done, flagged or skipped
version, whatever the others say.

**Order and resume.** The queue is in sentence order (the DB's ``seq``); a sentence with a gold
record (``gold`` or ``unresolvable``) is reviewed, and review resumes at the first one without.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from stanceterm.store import Annotation, Gold, Stance, Store

#: Statuses whose labels are compared; skipped is missing data, draft is unfinished.
LABELLED: tuple[str, ...] = ("done", "flagged")

REASON_DISAGREE = "disagree"
REASON_FLAGGED = "flagged"


@dataclass(frozen=True, slots=True)
class Version:
    """One annotator's final labels of a sentence (actor ids canonical)."""

    annotator: str
    status: str
    claims: tuple[str, ...]
    stances: tuple[Stance, ...]
    note: str | None = None
    updated_at: str = ""
    #: the sentence the label is on: the unit's own id, or a copy of its dedup cluster
    sentence_id: str = ""

    @property
    def labelled(self) -> bool:
        return self.status in LABELLED

    def key(self) -> tuple[frozenset[str], frozenset[Stance]]:
        """What two versions must share to agree (order-free)."""
        return frozenset(self.claims), frozenset(self.stances)


@dataclass(frozen=True, slots=True)
class Disagreement:
    """The claims and stance triples not shared by every labelled version."""

    claims: frozenset[str]
    stances: frozenset[Stance]

    def __bool__(self) -> bool:
        return bool(self.claims or self.stances)


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """One sentence of the review queue."""

    seq: int
    sentence_id: str
    versions: tuple[Version, ...]
    reasons: tuple[str, ...]


def canonical_stances(
    stances: Iterable[Stance], canonical: Mapping[str, str]
) -> tuple[Stance, ...]:
    """Stances with canonical actor ids, duplicates dropped, in a fixed order."""
    out = {Stance(s.claim, canonical.get(s.actor, s.actor), s.stance) for s in stances}
    return tuple(sorted(out, key=lambda s: (s.claim, s.actor, s.stance)))


def version_of(ann: Annotation, canonical: Mapping[str, str] | None = None) -> Version:
    return Version(
        annotator=ann.annotator,
        status=ann.status,
        claims=tuple(ann.claims),
        stances=canonical_stances(ann.stances, canonical or {}),
        note=ann.note,
        updated_at=ann.updated_at,
        sentence_id=ann.sentence_id,
    )


def disagreement(versions: Sequence[Version]) -> Disagreement:
    """Claims and stance triples present in some labelled version but not in all of them.

    With fewer than two labelled versions nothing is disputed.
    """
    labelled = [v for v in versions if v.labelled]
    if len(labelled) < 2:
        return Disagreement(frozenset(), frozenset())
    keys = [v.key() for v in labelled]
    all_claims = frozenset().union(*(k[0] for k in keys))
    shared_claims = frozenset.intersection(*(k[0] for k in keys))
    all_stances = frozenset().union(*(k[1] for k in keys))
    shared_stances = frozenset.intersection(*(k[1] for k in keys))
    return Disagreement(all_claims - shared_claims, all_stances - shared_stances)


def reasons(versions: Sequence[Version]) -> tuple[str, ...]:
    """Why a sentence needs review (empty: it does not). See the module docstring."""
    out: list[str] = []
    labelled = [v for v in versions if v.labelled]
    if len(labelled) >= 2 and len({v.key() for v in labelled}) > 1:
        out.append(REASON_DISAGREE)
    if any(v.status == "flagged" for v in versions):
        out.append(REASON_FLAGGED)
    return tuple(out)


def shared_labels(versions: Sequence[Version]) -> tuple[tuple[str, ...], tuple[Stance, ...]]:
    """The claims and stances every labelled version has (the agreed part), in version order."""
    labelled = [v for v in versions if v.labelled]
    if not labelled:
        return (), ()
    claims = [c for c in labelled[0].claims if all(c in v.claims for v in labelled[1:])]
    stances = [s for s in labelled[0].stances if all(s in v.stances for v in labelled[1:])]
    return tuple(claims), tuple(stances)


class _Parser:
    """Stored claims/stances JSON -> tuples (canonical actors), memoised: most rows share a few
    distinct label sets, so each is parsed once (the cache is bounded)."""

    def __init__(self, canonical: Mapping[str, str], limit: int = 20_000) -> None:
        self.canonical = canonical
        self.limit = limit
        self.claims: dict[str, tuple[str, ...]] = {}
        self.stances: dict[str, tuple[Stance, ...]] = {}

    def parse_claims(self, raw: str) -> tuple[str, ...]:
        out = self.claims.get(raw)
        if out is None:
            if len(self.claims) >= self.limit:
                self.claims.clear()
            out = self.claims[raw] = tuple(orjson.loads(raw))
        return out

    def parse_stances(self, raw: str) -> tuple[Stance, ...]:
        out = self.stances.get(raw)
        if out is None:
            if len(self.stances) >= self.limit:
                self.stances.clear()
            parsed = (Stance(d["claim"], d["actor"], d["stance"]) for d in orjson.loads(raw))
            out = self.stances[raw] = canonical_stances(parsed, self.canonical)
        return out


def _needs_parsing(rows: Sequence[tuple[Any, ...]]) -> bool:
    """Cheap test on the raw rows of one sentence: could it need review at all?

    A flag always does. Otherwise it takes two labelled versions whose stored JSON differs
    (equal JSON means equal labels; different JSON may still be equal labels in another order
    or through an alias, which the full comparison settles).
    """
    labelled = [r for r in rows if r[3] in LABELLED]
    if any(r[3] == "flagged" for r in rows):
        return True
    if len(labelled) < 2:
        return False
    first = labelled[0]
    return any(r[4] != first[4] or r[5] != first[5] for r in labelled[1:])


def _rows_to_items(
    rows: Iterator[tuple[Any, ...]], canonical: Mapping[str, str], include_all: bool
) -> Iterator[ReviewItem]:
    parser = _Parser(canonical)

    def item(group: list[tuple[Any, ...]]) -> ReviewItem | None:
        if not include_all and not _needs_parsing(group):
            return None
        versions = tuple(
            Version(
                annotator=str(annotator),
                status=str(status),
                claims=parser.parse_claims(claims),
                stances=parser.parse_stances(stances),
                note=note,
                updated_at=str(updated),
                sentence_id=str(sid),
            )
            for _seq, _uid, annotator, status, claims, stances, note, updated, sid in group
        )
        why = reasons(versions)
        if why or include_all:
            return ReviewItem(int(group[0][0]), str(group[0][1]), versions, why)
        return None

    group: list[tuple[Any, ...]] = []
    for row in rows:
        if group and row[1] != group[0][1]:
            found = item(group)
            if found is not None:
                yield found
            group = []
        group.append(row)
    if group:
        found = item(group)
        if found is not None:
            yield found


def review_queue(store: Store, *, include_all: bool = False) -> list[ReviewItem]:
    """The sentences to review, in sentence order (see the module docstring)."""
    return list(iter_review_items(store, include_all=include_all))


def iter_review_items(store: Store, *, include_all: bool = False) -> Iterator[ReviewItem]:
    """:func:`review_queue`, streamed (unit by unit, in unit order: ``export --kind final`` reads
    every unit without holding them all)."""
    canonical = store.actors.canonical()
    rows = store.gold.iter_review_rows(candidates_only=not include_all)
    return _rows_to_items(rows, canonical, include_all)


def versions_for(
    store: Store, sentence_id: str, canonical: Mapping[str, str] | None = None
) -> tuple[Version, ...]:
    """The current final versions of one sentence, by annotator (re-read for display)."""
    canon = store.actors.canonical() if canonical is None else canonical
    return tuple(version_of(a, canon) for a in store.gold.review_versions(sentence_id))


def first_unreviewed(items: Sequence[ReviewItem], gold: Mapping[str, str]) -> int | None:
    """Index of the first item without a gold record (where review resumes), or None."""
    return next((i for i, it in enumerate(items) if it.sentence_id not in gold), None)


def source_dicts(versions: Sequence[Version]) -> list[dict[str, Any]]:
    """The annotators' versions as stored in a gold record's ``sources``."""
    return [
        {
            "annotator": v.annotator,
            "status": v.status,
            "claims": list(v.claims),
            "stances": [s.as_dict() for s in v.stances],
            "note": v.note,
            "updated_at": v.updated_at,
        }
        for v in versions
    ]


def accept_version(
    sentence_id: str, versions: Sequence[Version], index: int, adjudicator: str
) -> Gold:
    """Gold = version ``index`` (0-based) as it is. Only a labelled version can be accepted."""
    chosen = versions[index]
    if not chosen.labelled:
        raise ValueError(f"{chosen.annotator} {chosen.status} this sentence: nothing to accept")
    return Gold(
        sentence_id=sentence_id,
        status="gold",
        claims=chosen.claims,
        stances=chosen.stances,
        adjudicator=adjudicator,
        chosen_from=chosen.annotator,
        sources=source_dicts(versions),
    )


def edited_gold(
    sentence_id: str,
    versions: Sequence[Version],
    claims: Sequence[str],
    stances: Sequence[Stance],
    adjudicator: str,
    claim_order: Sequence[str] = (),
    note: str | None = None,
) -> Gold:
    """Gold = the adjudicator's own labels. Stances on claims not chosen are dropped.

    ``chosen_from`` names an annotator only when the labels equal that annotator's version.
    """
    order = {c: i for i, c in enumerate(claim_order)}
    kept = sorted(set(claims), key=lambda c: (order.get(c, len(order)), c))
    st = tuple(s for s in canonical_stances(stances, {}) if s.claim in kept)
    key = (frozenset(kept), frozenset(st))
    same = next((v for v in versions if v.labelled and v.key() == key), None)
    return Gold(
        sentence_id=sentence_id,
        status="gold",
        claims=tuple(kept),
        stances=st,
        adjudicator=adjudicator,
        chosen_from=None if same is None else same.annotator,
        sources=source_dicts(versions),
        note=note,
    )


def unresolvable_gold(
    sentence_id: str, versions: Sequence[Version], adjudicator: str, note: str | None = None
) -> Gold:
    """The adjudicator could not decide: no gold labels, the versions kept as sources."""
    return Gold(
        sentence_id=sentence_id,
        status="unresolvable",
        claims=(),
        stances=(),
        adjudicator=adjudicator,
        chosen_from=None,
        sources=source_dicts(versions),
        note=note,
    )


def stale_sources(gold: Gold, versions: Sequence[Version]) -> bool:
    """True when an annotator changed (or added, or withdrew) a version after the decision. A
    record that kept no versions (made outside the review screen) has nothing to compare: not
    stale."""
    if not gold.sources:
        return False
    then = {
        (str(s.get("annotator")), s.get("updated_at")) for s in gold.sources if isinstance(s, dict)
    }
    if any(upd is None for _, upd in then):  # records from before versions were stamped
        return {a for a, _ in then} != {v.annotator for v in versions}
    return then != {(v.annotator, v.updated_at) for v in versions}
