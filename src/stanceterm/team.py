"""Annotation teams: who annotates what, how fast and how consistently, and merging DBs.

* :func:`plan_assignment` gives each visible sentence to exactly K annotators (or a seeded sample
  to K and the rest to one), with loads that differ by at most one, deterministically for a seed;
  each annotator's queue is made of a few long runs of consecutive sentences, so articles are read
  in order rather than one sentence in three.
* :func:`activity` turns the history into labels per hour of active time.
* :func:`assign` applies a plan to the DB, with the refusal rule (a DB that already has
  assignments is only re-planned with ``replace`` or topped up with ``extend``).
* :func:`merge_databases` folds other annotators' DB files into this one.

Pure planning and statistics; the reads and writes go through :class:`~stanceterm.store.Store`
(the only module with SQL). Never imports Textual.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from stanceterm.schema import check_annotator_name
from stanceterm.store import MergeConflict, MergeCounts, Store, StoreError
from stanceterm.wording import count

#: A pause of this many seconds or more between two changes ends an annotation session.
SESSION_GAP_SECONDS = 600.0
#: Statuses that finish a sentence (a label); ``draft`` does not.
FINAL_STATUSES = frozenset({"done", "skipped", "flagged"})


class AssignmentError(ValueError):
    """Assignment options that cannot work; the message is one line."""


# --------------------------------------------------------------------------- assignment


@dataclass(frozen=True)
class AssignmentPlan:
    """Annotator -> sequence numbers of their sentences, in document order."""

    queues: dict[str, list[int]]
    overlap: int
    #: sentences given ``overlap`` annotators (all of them unless ``--overlap-sample``)
    shared: int
    units: int

    def loads(self) -> dict[str, int]:
        return {name: len(q) for name, q in self.queues.items()}


def check_annotator_names(names: Sequence[str]) -> list[str]:
    """Strip, refuse empty, duplicate or unprintable names; keeps the given order."""
    out: list[str] = []
    for raw in names:
        if not raw.strip():
            raise AssignmentError("--annotators: empty annotator name")
        try:
            name = check_annotator_name(raw)
        except ValueError as exc:
            raise AssignmentError(f"--annotators: {raw.strip()!r}: {exc}") from None
        if name in out:
            raise AssignmentError(f"--annotators: {name!r} is listed twice")
        out.append(name)
    if not out:
        raise AssignmentError("--annotators: give at least one annotator")
    return out


def plan_assignment(
    seqs: Sequence[int],
    annotators: Sequence[str],
    overlap: int,
    *,
    seed: int = 0,
    overlap_sample: float | None = None,
    existing: Mapping[str, int] | None = None,
) -> AssignmentPlan:
    """Give every sentence of ``seqs`` (document order) to ``overlap`` distinct annotators.

    With ``overlap_sample`` p, a seeded ``round(p * N)`` of the sentences get ``overlap``
    annotators and the rest exactly one. Loads (sentences per annotator) differ by at most one.
    ``existing`` (annotator -> sentences already assigned, when extending an assignment) makes the
    larger shares go to the least loaded annotators.

    Shared sentences are laid out ``overlap`` times in a row, ``S S ... S``, and that sequence is
    cut into one contiguous chunk per annotator (chunk sizes differ by at most one). A chunk is
    never longer than ``|S|`` when ``overlap <= n``, so the ``overlap`` copies of a sentence, which
    are exactly ``|S|`` apart, land in distinct chunks: distinct annotators. The other sentences
    then top the annotators up (water filling, lowest load first), again in contiguous chunks.
    """
    names = check_annotator_names(annotators)
    n = len(names)
    if overlap < 1:
        raise AssignmentError("--overlap must be at least 1")
    if overlap > n:
        raise AssignmentError(
            f"--overlap {overlap} needs at least {overlap} annotators (got {n}: {', '.join(names)})"
        )
    if overlap_sample is not None:
        if not 0.0 < overlap_sample <= 1.0:
            raise AssignmentError("--overlap-sample must be a fraction in (0, 1], e.g. 0.2")
        if overlap == 1:
            raise AssignmentError("--overlap-sample needs --overlap 2 or more")
    total = len(seqs)
    if total == 0:
        raise AssignmentError("no sentences to assign")
    rng = random.Random(seed)
    existing = existing or {}
    # The order of annotators: random for the seed, least loaded first when extending.
    tiebreak = {name: rng.random() for name in names}
    order = sorted(names, key=lambda a: (existing.get(a, 0), tiebreak[a]))

    shared_idx: list[int] = []
    single_idx: list[int] = []
    if overlap == 1:  # nothing shared: every sentence tops the loads up
        single_idx = list(range(total))
    elif overlap_sample is None:
        shared_idx = list(range(total))
    else:
        k = round(overlap_sample * total)
        shared_idx = sorted(rng.sample(range(total), k))
        chosen = set(shared_idx)
        single_idx = [i for i in range(total) if i not in chosen]

    queues: dict[str, list[int]] = {name: [] for name in names}
    m = len(shared_idx)
    bounds = [j * overlap * m // n for j in range(n + 1)]
    # one chunk per annotator; the larger chunks (sizes differ by one) to the least loaded
    chunks = sorted(range(n), key=lambda j: (-(bounds[j + 1] - bounds[j]), j))
    for name, j in zip(order, chunks, strict=True):
        queues[name].extend(shared_idx[t % m] for t in range(bounds[j], bounds[j + 1]))

    loads = [existing.get(a, 0) + len(queues[a]) for a in order]
    extra = _water_fill(loads, len(single_idx))
    start = 0
    for name, size in zip(order, extra, strict=True):
        queues[name].extend(single_idx[start : start + size])
        start += size

    out = {name: sorted(seqs[i] for i in queues[name]) for name in names}
    return AssignmentPlan(out, overlap, m, total)


def _water_fill(loads: Sequence[int], amount: int) -> list[int]:
    """Non-negative shares summing to ``amount`` that make ``loads`` as level as possible
    (the lowest first; leftover units to the earliest of the lowest)."""
    if amount <= 0:
        return [0] * len(loads)
    lo, hi = min(loads), max(loads) + amount
    while lo < hi:  # the highest level reachable with `amount`
        mid = (lo + hi + 1) // 2
        if sum(max(0, mid - x) for x in loads) <= amount:
            lo = mid
        else:
            hi = mid - 1
    shares = [max(0, lo - x) for x in loads]
    left = amount - sum(shares)
    for j, x in enumerate(loads):
        if left == 0:
            break
        if x + shares[j] == lo:
            shares[j] += 1
            left -= 1
    return shares


@dataclass(frozen=True)
class Assigned:
    """What :func:`assign` wrote: the plan, the checked names and the queue entries written."""

    plan: AssignmentPlan
    annotators: list[str]
    written: int


def assign(
    store: Store,
    names: Sequence[str],
    overlap: int,
    *,
    seed: int = 0,
    overlap_sample: float | None = None,
    replace: bool = False,
    extend: bool = False,
) -> Assigned | None:
    """Plan (:func:`plan_assignment`) and write the assignment of the units: a dedup cluster is
    one unit, given out as its representative (:meth:`~stanceterm.store.team.Team.unit_seqs`);
    a copy's assignment made before dedup follows the representative (migration v14).

    A DB that already has assignments is refused unless ``replace`` (plan again from scratch;
    labels stay) or ``extend`` (give out only the sentences nobody has yet, favouring the least
    loaded). Returns None when extending finds nothing left to assign. Raises
    :class:`AssignmentError` (one line) for names or options that cannot work.
    """
    annotators = check_annotator_names(names)
    existing = store.team.assignment_count()
    if existing and not (replace or extend):
        raise AssignmentError(
            f"{store.path}: already has {count(existing, 'assignment')}; pass --replace to plan again "
            "from scratch (labels are kept) or --extend to assign only the sentences nobody has"
        )
    seqs = store.team.unit_seqs(unassigned_only=extend)
    if extend and not seqs:
        return None
    if not seqs:
        raise AssignmentError(
            f"{store.path}: no sentences to assign; run `stanceterm import FILES` first"
        )
    plan = plan_assignment(
        seqs,
        annotators,
        overlap,
        seed=seed,
        overlap_sample=overlap_sample,
        existing=store.team.assigned_loads() if extend else None,
    )
    written = store.team.write_assignments(plan.queues, replace=replace)
    return Assigned(plan, annotators, written)


# --------------------------------------------------------------------------- activity


@dataclass(frozen=True)
class Activity:
    """An annotator's labels and active time.

    ``labels``: changes that finished a sentence (its status became done, skipped or flagged
    from something that was not finished), less the undos that took a finish back. ``active_seconds``: the sum of the pauses between consecutive changes
    that are shorter than :data:`SESSION_GAP_SECONDS` (a longer pause ends a session).
    """

    labels: int
    active_seconds: float
    sessions: int

    @property
    def per_hour(self) -> float | None:
        """Labels per hour of active time; None below one active minute."""
        if self.active_seconds < 60:
            return None
        return self.labels * 3600.0 / self.active_seconds


def _parse_ts(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def activity(
    rows: Iterable[tuple[str, str, str, str | None, str | None]],
    gap: float = SESSION_GAP_SECONDS,
) -> dict[str, Activity]:
    """From (annotator, ts, action, status before, status after), sorted by annotator then ts
    (:meth:`Store.team.iter_activity`), the :class:`Activity` of each annotator."""
    out: dict[str, Activity] = {}
    current: str | None = None
    labels = sessions = 0
    active = 0.0
    last: float | None = None

    def flush() -> None:
        if current is not None:
            out[current] = Activity(labels, active, sessions)

    for annotator, ts, action, before, after in rows:
        if annotator != current:
            flush()
            current, labels, sessions, active, last = annotator, 0, 0, 0.0, None
        t = _parse_ts(ts)
        if last is None or t - last >= gap:
            sessions += 1
        else:
            active += max(0.0, t - last)
        last = t
        if action != "undo":
            if after in FINAL_STATUSES and before not in FINAL_STATUSES:
                labels += 1
        elif before in FINAL_STATUSES and after not in FINAL_STATUSES:
            labels = max(0, labels - 1)  # the finish it takes back is not a label
    flush()
    return out


# --------------------------------------------------------------------------- merge


def _same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _schema_difference(reference: Store, other: Store) -> str:
    mine, theirs = reference.label_schema(), other.label_schema()
    if mine is None or theirs is None:
        return "one of them has no label schema recorded"
    parts = []
    for what, a, b in (
        ("claims", set(mine.claim_ids), set(theirs.claim_ids)),
        ("stances", set(mine.stances), set(theirs.stances)),
    ):
        if b - a:
            parts.append(f"{what} only there: {', '.join(sorted(b - a))}")
        if a - b:
            parts.append(f"{what} only here: {', '.join(sorted(a - b))}")
    return "; ".join(parts) or "claims or stances differ"


def merge_databases(
    store: Store, paths: Sequence[str | os.PathLike[str]]
) -> list[tuple[Path, MergeCounts]]:
    """Merge other stanceterm DB files into ``store`` (short transactions, resumable).

    Every file is opened read-only (and left untouched) and checked first: a file that is not a
    stanceterm DB, this DB itself, or a DB whose label schema means something else (another
    ``label_schema_fingerprint``: other claim types or stances) is refused, and nothing is
    merged. See :meth:`Store.merge.from_db` for how rows are matched and conflicts resolved.
    """
    others: list[tuple[Path, Store]] = []
    try:
        effective = store.get_meta("label_schema_fingerprint")
        reference = store  # whose label schema the merged DB will have
        for raw in paths:
            p = Path(raw)
            if not p.exists():
                raise StoreError(f"{p}: no such database")
            if store.path != ":memory:" and _same_file(p, store.path):
                raise MergeConflict(f"{p}: is this database itself; nothing to merge")
            other = Store.open(p, read_only=True)
            others.append((p, other))
            theirs = other.get_meta("label_schema_fingerprint")
            if theirs is not None and effective is not None and theirs != effective:
                raise MergeConflict(
                    f"{p}: uses another label schema ({_schema_difference(reference, other)}); "
                    "its labels would not mean the same thing here; nothing merged"
                )
            if effective is None and theirs is not None:
                effective, reference = theirs, other
        merged = store.merge.from_dbs([other for _, other in others])
        return [(p, counts) for (p, _), counts in zip(others, merged, strict=True)]
    finally:
        for _, other in others:
            other.close()
