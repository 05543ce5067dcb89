"""``export --kind final``: the dataset a lead ships, one record per sentence.

No Textual and no SQL here (the store reads; :mod:`stanceterm.adjudicate` gives each unit's
versions; this module decides and writes).

**The unit.** A dedup cluster is one unit (its representative's id); any other sentence is its
own unit. Every annotator's own (not propagated) labels on any sentence of the unit are its
versions, so one annotator who labelled two copies differently disagrees with themself.

**The decision for a unit**, in this order:

1. its **gold** record (``stanceterm review``): status ``gold`` gives ``source: adjudicated``;
   ``unresolvable`` (the adjudicator could not decide) gives nothing, counted apart;
2. else, when an annotator **flagged** it: nothing ("needs review: flagged"), since a flag asks
   for a discussion;
3. else the ``done`` versions (``skipped`` is missing data, ``draft`` unfinished work): when they
   all have the same claims and stances (actors through aliases) and come from at least
   ``min_annotators`` annotators (and at least two), ``source: agreed``; from exactly one
   annotator with ``allow_single`` (or ``min_annotators`` 1), ``source: single``;
4. else nothing: "needs review" (``disagree``, or ``fewer than K annotators``), or "not annotated"
   when no annotator has a done label on it.

Each copy of a cluster carries its unit's decision, with ``propagated_from`` naming the
representative, unless the copy has a gold record of its own.

**Formats.** JSON lines (:class:`~stanceterm.records.FinalRecord`, loads as-is with
``pandas.read_json(..., lines=True)`` and ``datasets.load_dataset("json", ...)``); CSV and Parquet
are flat: one row per stance, a claim without stance and a sentence without claim still give one
row (empty ``actor``/``stance``, or empty ``claim``). Parquet needs pyarrow
(``pip install 'stanceterm[parquet]'``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

import orjson

from stanceterm.adjudicate import Version, iter_review_items
from stanceterm.export import atomic_output
from stanceterm.schema import SCHEMA_VERSION
from stanceterm.store import Stance, Store
from stanceterm.wording import count, noun, verb

FORMATS: Final[tuple[str, ...]] = ("jsonl", "csv", "parquet")
#: The columns of the flat formats (CSV, Parquet): one row per stance.
FLAT_COLUMNS: Final[tuple[str, ...]] = (
    "sentence_id",
    "article_id",
    "text",
    "source",
    "annotators",
    "adjudicator",
    "propagated_from",
    "claim",
    "actor",
    "actor_id",
    "stance",
)
#: A spreadsheet runs a cell starting with one of these as a formula: such cells get a leading '.
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")

REASON_DISAGREE = "disagree"
REASON_FLAGGED = "flagged"
REASON_TOO_FEW = "too few"
REASON_UNRESOLVABLE = "unresolvable"
REASON_NONE = "not annotated"


class FinalError(Exception):
    """A user error of ``export --kind final`` (one line)."""


@dataclass(frozen=True, slots=True)
class Decision:
    """The labels a unit ships with, and where they come from."""

    source: str  # adjudicated | agreed | single
    claims: tuple[str, ...]
    stances: tuple[Stance, ...]
    annotators: tuple[str, ...]
    adjudicator: str | None = None
    decided_at: str | None = None


@dataclass
class FinalCounts:
    """What an export wrote and what it left out (units, except ``lines`` and ``propagated``)."""

    min_annotators: int = 2
    lines: int = 0
    propagated: int = 0
    by_source: dict[str, int] = field(default_factory=dict)
    left_out: dict[str, int] = field(default_factory=dict)

    @property
    def needs_review(self) -> int:
        return sum(
            self.left_out.get(r, 0) for r in (REASON_DISAGREE, REASON_FLAGGED, REASON_TOO_FEW)
        )

    def summary(self) -> str:
        """The lines printed after the export."""
        src = ", ".join(
            f"{s} {self.by_source.get(s, 0)}" for s in ("adjudicated", "agreed", "single")
        )
        out = [f"from: {src} (copies of dedup clusters: {self.propagated})"]
        why = [
            f"disagree {self.left_out.get(REASON_DISAGREE, 0)}",
            f"flagged {self.left_out.get(REASON_FLAGGED, 0)}",
            f"fewer than {self.min_annotators} annotators {self.left_out.get(REASON_TOO_FEW, 0)}",
        ]
        out.append(f"needs review: {self.needs_review} ({', '.join(why)})")
        if self.left_out.get(REASON_UNRESOLVABLE):
            out.append(f"unresolvable in review: {self.left_out[REASON_UNRESOLVABLE]}")
        out.append(f"not annotated: {self.left_out.get(REASON_NONE, 0)}")
        return "\n".join(out)

    def hints(self) -> list[str]:
        """What to do about what was left out (the review queue holds only part of it)."""
        out = []
        decide = self.left_out.get(REASON_DISAGREE, 0) + self.left_out.get(REASON_FLAGGED, 0)
        if decide:
            out.append(
                f"Run `stanceterm review` to decide the {decide} disagreeing or flagged "
                f"{noun(decide, 'sentence')}, then export again."
            )
        few = self.left_out.get(REASON_TOO_FEW, 0)
        if few:
            out.append(
                f"{count(few, 'sentence')} {verb(few, 'has', 'have')} fewer than "
                f"{count(self.min_annotators, 'annotator')}: have another annotator label "
                f"{verb(few, 'it', 'them')}, decide them in `stanceterm review --all`, or "
                "ship one annotator's label with --allow-single."
            )
        return out


def decide(
    versions: Sequence[Version], min_annotators: int = 2, allow_single: bool = False
) -> Decision | str:
    """The decision from the annotators' versions of one unit (no gold), or why there is none."""
    if any(v.status == "flagged" for v in versions):
        return REASON_FLAGGED
    done = [v for v in versions if v.status == "done"]
    if not done:
        return REASON_NONE
    if len({v.key() for v in done}) > 1:
        return REASON_DISAGREE
    who = tuple(sorted({v.annotator for v in done}))
    stamp = max(v.updated_at for v in done) or None
    first = done[0]
    if len(who) >= max(min_annotators, 2):
        return Decision("agreed", first.claims, first.stances, who, decided_at=stamp)
    if len(who) == 1 and (allow_single or min_annotators <= 1):
        return Decision("single", first.claims, first.stances, who, decided_at=stamp)
    return REASON_TOO_FEW


def _gold_decisions(store: Store) -> dict[str, Decision | str]:
    """Sentence id -> the decision of its own gold record (``unresolvable`` as a reason)."""
    out: dict[str, Decision | str] = {}
    for row in store.gold.iter_rows():
        if len(row) > 11 and row[11] is not None:  # a copy carrying its representative's gold
            continue
        sid, _aid, _text, status, claims, stances, adj, _chosen, sources, _note, updated = row[:11]
        if status != "gold":
            out[str(sid)] = REASON_UNRESOLVABLE
            continue
        names = sorted({str(s.get("annotator")) for s in orjson.loads(sources or "[]")})
        out[str(sid)] = Decision(
            "adjudicated",
            tuple(orjson.loads(claims)),
            tuple(Stance(d["claim"], d["actor"], d["stance"]) for d in orjson.loads(stances)),
            tuple(names),
            adjudicator=str(adj),
            decided_at=str(updated),
        )
    return out


def _units(store: Store) -> dict[str, str]:
    """Copy id -> representative id, for every sentence of a dedup cluster but its representative."""
    clusters, members = store.clusters.snapshot()
    rep = {cid: r for cid, r, _size in clusters}
    return {sid: rep[cid] for sid, cid, _hidden in members if cid in rep and rep[cid] != sid}


@dataclass(frozen=True, slots=True)
class FinalRow:
    """One sentence of the final dataset."""

    sentence_id: str
    article_id: str
    text: str
    decision: Decision
    propagated_from: str | None


def final_rows(
    store: Store,
    *,
    min_annotators: int = 2,
    allow_single: bool = False,
    articles: Sequence[str] = (),
    counts: FinalCounts | None = None,
) -> Iterator[FinalRow]:
    """The final dataset in sentence order; ``counts`` (if given) is filled as rows go.

    Streamed: the units' versions come in unit order (:func:`~stanceterm.adjudicate.
    iter_review_items`) and are walked together with the sentences, so memory does not grow
    with the corpus. Only what a later sentence needs is kept: the versions of the dedup
    clusters' representatives (for their copies), and the units read ahead when a copy comes
    before its representative.
    """
    counts = counts if counts is not None else FinalCounts()
    counts.min_annotators = min_annotators
    unit_of = _units(store)
    reps = set(unit_of.values())
    gold = _gold_decisions(store)
    items = iter_review_items(store, include_all=True)
    pending = next(items, None)
    kept: dict[str, tuple[Version, ...]] = {}  # representatives' versions, read-ahead units'

    def own_versions(sid: str, seq: int) -> tuple[Version, ...]:
        """The versions of the unit ``sid`` (a sentence that is its own unit, at ``seq``)."""
        nonlocal pending
        if sid in kept:
            return kept[sid] if sid in reps else kept.pop(sid)
        while pending is not None and pending.seq < seq:  # units of sentences not exported
            if pending.sentence_id in reps:
                kept[pending.sentence_id] = pending.versions
            pending = next(items, None)
        if pending is not None and pending.seq == seq and pending.sentence_id == sid:
            found = pending.versions
            pending = next(items, None)
            if sid in reps:
                kept[sid] = found
            return found
        return ()

    def rep_versions(rep: str) -> tuple[Version, ...]:
        """The versions of a representative, for one of its copies (read ahead if need be)."""
        nonlocal pending
        if rep in kept:
            return kept[rep]
        while pending is not None:
            item, pending = pending, next(items, None)
            kept[item.sentence_id] = item.versions
            if item.sentence_id == rep:
                return item.versions
        kept[rep] = ()
        return ()

    decided: dict[str, Decision | str] = {}  # the representatives' decisions

    def decision_of(unit: str, versions: tuple[Version, ...]) -> Decision | str:
        return gold.get(unit) or decide(versions, min_annotators, allow_single)

    for seq, sid, aid, _idx, text, _cluster in store.corpus.iter_sentence_rows(articles=articles):
        unit = unit_of.get(sid, sid)
        if unit == sid:
            own = None
            versions = own_versions(sid, seq)
            result = decided.get(sid) or decision_of(sid, versions)
            if sid in reps:
                decided[sid] = result
        else:
            own = gold.get(sid)
            if isinstance(own, Decision):
                result = own
            else:
                found = decided.get(unit)
                if found is None:
                    found = decided[unit] = decision_of(unit, rep_versions(unit))
                result = found
        if unit == sid or isinstance(own, Decision):  # count each unit once, where it is decided
            if isinstance(result, Decision):
                counts.by_source[result.source] = counts.by_source.get(result.source, 0) + 1
            else:
                counts.left_out[result] = counts.left_out.get(result, 0) + 1
        if not isinstance(result, Decision):
            continue
        prop = None if (unit == sid or own is not None) else unit
        counts.lines += 1
        counts.propagated += prop is not None
        yield FinalRow(str(sid), str(aid), str(text), result, prop)


# --------------------------------------------------------------------------- writers


def _stance_dicts(stances: Sequence[Stance], names: Mapping[str, str]) -> list[dict[str, str]]:
    return [
        {
            "claim": s.claim,
            "actor": names.get(s.actor, s.actor),
            "stance": s.stance,
            "actor_id": s.actor,
        }
        for s in stances
    ]


def record(row: FinalRow, names: Mapping[str, str]) -> dict[str, Any]:
    """The JSON record (:class:`~stanceterm.records.FinalRecord`) of one row."""
    d = row.decision
    return {
        "schema_version": SCHEMA_VERSION,
        "sentence_id": row.sentence_id,
        "article_id": row.article_id,
        "text": row.text,
        "claims": list(d.claims),
        "stances": _stance_dicts(d.stances, names),
        "source": d.source,
        "annotators": list(d.annotators),
        "adjudicator": d.adjudicator,
        "propagated_from": row.propagated_from,
        "decided_at": d.decided_at,
    }


def flat_rows(row: FinalRow, names: Mapping[str, str]) -> Iterator[tuple[str | None, ...]]:
    """The flat rows of one sentence (:data:`FLAT_COLUMNS`): one per stance, one per claim
    without stance, one for a sentence without claim."""
    d = row.decision
    head = (
        row.sentence_id,
        row.article_id,
        row.text,
        d.source,
        ";".join(d.annotators),
        d.adjudicator,
        row.propagated_from,
    )
    if not d.claims and not d.stances:
        yield (*head, None, None, None, None)
        return
    claims = list(d.claims) + [s.claim for s in d.stances if s.claim not in d.claims]
    for claim in dict.fromkeys(claims):
        mine = [s for s in d.stances if s.claim == claim]
        if not mine:
            yield (*head, claim, None, None, None)
        for s in mine:
            yield (*head, claim, names.get(s.actor, s.actor), s.actor, s.stance)


def _cell(value: str | None) -> str:
    if value is None:
        return ""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _write_jsonl(f: IO[bytes], rows: Iterator[FinalRow], names: Mapping[str, str]) -> None:
    write, dumps, nl = f.write, orjson.dumps, orjson.OPT_APPEND_NEWLINE
    for row in rows:
        write(dumps(record(row, names), option=nl))


def _write_csv(f: IO[bytes], rows: Iterator[FinalRow], names: Mapping[str, str]) -> None:
    text = io.TextIOWrapper(f, encoding="utf-8", newline="", write_through=True)
    try:
        w = csv.writer(text)
        w.writerow(FLAT_COLUMNS)
        for row in rows:
            w.writerows([_cell(v) for v in flat] for flat in flat_rows(row, names))
        text.flush()
    finally:
        text.detach()


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise FinalError(
            "--format parquet needs pyarrow: pip install 'stanceterm[parquet]'"
        ) from None
    return pyarrow


def _write_parquet(
    f: IO[bytes], rows: Iterator[FinalRow], names: Mapping[str, str], pa: Any, batch: int = 50_000
) -> None:
    schema = pa.schema([(c, pa.string()) for c in FLAT_COLUMNS])
    writer = pa.parquet.ParquetWriter(f, schema)
    try:
        cols: list[list[str | None]] = [[] for _ in FLAT_COLUMNS]

        def flush() -> None:
            writer.write_table(pa.table(dict(zip(FLAT_COLUMNS, cols, strict=True)), schema=schema))
            for c in cols:
                c.clear()

        for row in rows:
            for flat in flat_rows(row, names):
                for c, v in zip(cols, flat, strict=True):
                    c.append(v)
            if len(cols[0]) >= batch:
                flush()
        if cols[0]:
            flush()
    finally:
        writer.close()


def export_final(
    store: Store,
    out: str | Path,
    *,
    fmt: str = "jsonl",
    min_annotators: int = 2,
    allow_single: bool = False,
    articles: Sequence[str] = (),
) -> FinalCounts:
    """Write the final dataset to ``out`` ('-': stdout) in ``fmt``; never a half-written file."""
    if fmt not in FORMATS:
        raise FinalError(f"unknown format {fmt!r} (choose {', '.join(FORMATS)})")
    if min_annotators < 1:
        raise FinalError("--min-annotators must be at least 1")
    pa = _pyarrow() if fmt == "parquet" else None  # before any file is opened
    counts = FinalCounts(min_annotators=min_annotators)
    names = store.actors.names()
    rows = final_rows(
        store,
        min_annotators=min_annotators,
        allow_single=allow_single,
        articles=articles,
        counts=counts,
    )
    with atomic_output(out) as f:
        if fmt == "jsonl":
            _write_jsonl(f, rows, names)
        elif fmt == "csv":
            _write_csv(f, rows, names)
        else:
            _write_parquet(f, rows, names, pa)
    return counts
