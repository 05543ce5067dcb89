"""Merging another annotator's DB into this one (state-based replication).

Reached as ``store.merge``. For each (sentence, annotator) the later ``updated_at`` wins, ties
broken by a fixed order of the labels, with tombstones (an undo back to nothing) for deletions,
so merging is commutative, associative and idempotent (``tests/test_merge.py``).
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from typing import Any

import orjson

from stanceterm.actors import alias_key
from stanceterm.schema import load_schema_text
from stanceterm.store.actors import add_actor_row, record_label_schema
from stanceterm.store.base import Handle
from stanceterm.store.clusters import split_in
from stanceterm.store.labels import propagate, record_event, write_state
from stanceterm.store.models import (
    ANN_COLS,
    GOLD_COLS,
    Annotation,
    MergeConflict,
    MergeCounts,
    Stance,
    annotation_from_row,
    dumps,
)


class Merge:
    """``store.merge``: fold other stanceterm DBs into this one."""

    def __init__(self, db: Handle) -> None:
        self._db = db

    def from_db(self, other: Handle) -> MergeCounts:
        """:meth:`from_dbs` of one DB."""
        return self.from_dbs([other])[0]

    def from_dbs(self, others: list[Handle]) -> list[MergeCounts]:
        """Fold other stanceterm DBs (opened read-only) into this one, in one transaction.

        * articles and sentences missing here are copied (sentences match by their stable id; a
          labelled sentence whose text differs here, or that is missing, refuses the merge with
          :class:`MergeConflict`: the two DBs segmented the article differently);
        * annotators are added; actors are matched by alias key (their name, then their
          aliases), new ones are created, and actor ids inside copied labels are remapped;
        * history events are copied by ``uid`` (``INSERT OR IGNORE``: idempotent), marked with
          ``origin = 'merge:<their db_uid>'`` (so ``undo`` here never reverts them);
        * annotations: for each (sentence, annotator), the later ``updated_at`` wins (ties: a fixed
          order of the labels, so A into B and B into A agree); a label deleted (undone) there
          later than it was last changed here is deleted; every change here is recorded as a
          ``merge`` event and propagated to this DB's dedup clusters. Propagated rows there are
          not copied (this DB propagates by its own clusters);
        * gold records: the later ``updated_at`` wins; cluster splits there are applied here.

        Merging the same DB twice changes nothing the second time. All of ``others`` are merged
        in one transaction: either every one is merged or none is.
        """
        with self._db.tx() as c:
            return [_merge_one(self._db, c, other) for other in others]


def _merge_one(db: Handle, c: sqlite3.Connection, other: Handle) -> MergeCounts:
    counts = MergeCounts()
    origin = f"merge:{other.db_uid or 'unknown'}"
    o = other.conn
    with other.snapshot():  # one consistent snapshot of the other DB
        if db.get_meta("label_schema") is None:
            raw = other.get_meta("label_schema")
            if raw is not None:
                record_label_schema(c, load_schema_text(raw, f"{other.path} (label schema)"))
        _merge_articles(c, o, counts)
        _merge_check_sentences(c, o, other.path)
        for name, created in o.execute("SELECT name, created_at FROM annotators").fetchall():
            counts.annotators_added += c.execute(
                "INSERT OR IGNORE INTO annotators(name, created_at) VALUES (?, ?)",
                (name, created),
            ).rowcount
        amap = _merge_actors(c, o, counts)
        _merge_events(c, o, origin, amap, counts)
        _merge_annotations(c, o, origin, amap, counts)
        _merge_gold(c, o, amap, counts)
        for sid, annotator in o.execute(
            "SELECT sentence_id, annotator FROM cluster_splits ORDER BY created_at"
        ).fetchall():
            known = c.execute(
                "SELECT 1 FROM sentences WHERE id = ? AND id NOT IN "
                "(SELECT sentence_id FROM cluster_splits)",
                (sid,),
            ).fetchone()
            if known:
                split_in(c, str(sid), annotator)
                counts.splits_applied += 1
    return counts


def _merge_articles(c: sqlite3.Connection, o: sqlite3.Connection, counts: MergeCounts) -> None:
    rows = o.execute(
        "SELECT id, title, source, url, published, lang, content_hash, n_sentences, origin, "
        "imported_at FROM articles ORDER BY rowid"
    ).fetchall()
    for row in rows:
        here = c.execute(
            "SELECT 1 FROM articles WHERE id = ? OR content_hash = ?", (row[0], row[6])
        ).fetchone()
        if here is not None:
            continue
        c.execute(
            "INSERT INTO articles(id, title, source, url, published, lang, content_hash, "
            "n_sentences, origin, imported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            row,
        )
        sentences = o.execute(
            "SELECT id, article_id, idx, text, norm FROM sentences WHERE article_id = ? "
            "ORDER BY idx",
            (row[0],),
        ).fetchall()
        cur = c.executemany(
            "INSERT OR IGNORE INTO sentences(id, article_id, idx, text, norm) "
            "VALUES (?, ?, ?, ?, ?)",
            sentences,
        )
        counts.articles_added += 1
        counts.sentences_added += max(cur.rowcount, 0)


def _merge_check_sentences(c: sqlite3.Connection, o: sqlite3.Connection, where: str) -> None:
    cur = o.execute(
        "SELECT id, text FROM sentences WHERE id IN (SELECT sentence_id FROM annotations "
        "WHERE propagated_from IS NULL UNION SELECT sentence_id FROM gold "
        "UNION SELECT sentence_id FROM annotation_events)"
    )
    bad = 0
    example = ""
    while chunk := cur.fetchmany(500):
        marks = ",".join("?" * len(chunk))
        here = dict(
            c.execute(
                f"SELECT id, text FROM sentences WHERE id IN ({marks})", [r[0] for r in chunk]
            ).fetchall()
        )
        for sid, text in chunk:
            if here.get(sid) != text:
                bad += 1
                if not example:
                    state = "missing here" if sid not in here else "has another text here"
                    example = f"{sid} {state}"
    if bad:
        raise MergeConflict(
            f"{where}: {bad} labelled sentence(s) do not match this database (e.g. {example}): "
            "the articles were imported under other ids or split into sentences differently; "
            "nothing merged"
        )


def _merge_actors(
    c: sqlite3.Connection, o: sqlite3.Connection, counts: MergeCounts
) -> dict[str, str]:
    """Their actor id -> ours."""
    aliases: dict[str, list[str]] = {}
    for alias, actor_id in o.execute("SELECT alias, actor_id FROM actor_aliases ORDER BY key"):
        aliases.setdefault(str(actor_id), []).append(str(alias))
    amap: dict[str, str] = {}
    for oid, name, created_by in o.execute(
        "SELECT id, name, created_by FROM actors ORDER BY created_at, id"
    ).fetchall():
        own = aliases.get(str(oid), [])
        local: str | None = None
        for key in [alias_key(name), *(alias_key(a) for a in own)]:
            row = c.execute("SELECT actor_id FROM actor_aliases WHERE key = ?", (key,)).fetchone()
            if row is not None:
                local = str(row[0])
                break
        if local is None:
            row = c.execute("SELECT id FROM actors WHERE name = ?", (name,)).fetchone()
            local = None if row is None else str(row[0])
        if local is None:
            local = add_actor_row(c, str(name), own, created_by)
            counts.actors_added += 1
        else:
            for alias in own:
                if alias.strip():
                    counts.aliases_added += c.execute(
                        "INSERT OR IGNORE INTO actor_aliases(key, alias, actor_id) "
                        "VALUES (?, ?, ?)",
                        (alias_key(alias), alias.strip(), local),
                    ).rowcount
        amap[str(oid)] = local
        if local != oid:
            counts.actors_remapped += 1
    return {k: v for k, v in amap.items() if k != v}


def _merge_events(
    c: sqlite3.Connection,
    o: sqlite3.Connection,
    origin: str,
    amap: dict[str, str],
    counts: MergeCounts,
) -> None:
    cur = o.execute(
        "SELECT uid, sentence_id, annotator, ts, action, before, after, undoes, origin "
        "FROM annotation_events ORDER BY id"
    )
    while chunk := cur.fetchmany(5000):
        rows = [
            (
                *r[:5],
                _remap_labels_json(r[5], amap),
                _remap_labels_json(r[6], amap),
                r[7],
                r[8] or origin,
            )
            for r in chunk
        ]
        done = c.executemany(
            "INSERT OR IGNORE INTO annotation_events(uid, sentence_id, annotator, ts, action, "
            "before, after, undoes, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        counts.events_added += max(done.rowcount, 0)


def _merge_annotations(
    c: sqlite3.Connection,
    o: sqlite3.Connection,
    origin: str,
    amap: dict[str, str],
    counts: MergeCounts,
) -> None:
    select_ours = f"SELECT {ANN_COLS} FROM annotations WHERE sentence_id = ? AND annotator = ?"
    cur = o.execute(f"SELECT {ANN_COLS} FROM annotations WHERE propagated_from IS NULL")
    while chunk := cur.fetchmany(5000):
        for row in chunk:
            theirs = _remap_annotation(annotation_from_row(row), amap)
            found = c.execute(select_ours, (theirs.sentence_id, theirs.annotator)).fetchone()
            ours = None if found is None else annotation_from_row(found)
            created = theirs.created_at
            if ours is not None and ours.propagated_from is None:
                if ours.same_labels(theirs) or (theirs.updated_at, _label_key(theirs)) <= (
                    ours.updated_at,
                    _label_key(ours),
                ):
                    counts.labels_kept += 1
                    if theirs.created_at < ours.created_at:  # first labelled there: both
                        c.execute(  # DBs then agree on when the label was first made
                            "UPDATE annotations SET created_at = ? WHERE sentence_id = ? "
                            "AND annotator = ?",
                            (theirs.created_at, ours.sentence_id, ours.annotator),
                        )
                    continue
                created = min(ours.created_at, theirs.created_at)
            state = replace(theirs, created_at=created)
            write_state(c, state)
            record_event(c, state.sentence_id, state.annotator, "merge", ours, state, None, origin)
            propagate(c, state.sentence_id, state.annotator, state)
            counts.labels_taken += 1
    # Deletions: (sentence, annotator) with history there but no label any more, whose last
    # event (an undo back to nothing) is later than our own last change.
    gone = o.execute(
        "SELECT e.sentence_id, e.annotator, max(e.ts), e.after IS NULL FROM annotation_events e "
        "WHERE NOT EXISTS (SELECT 1 FROM annotations a WHERE a.sentence_id = e.sentence_id "
        "AND a.annotator = e.annotator) GROUP BY e.sentence_id, e.annotator"
    ).fetchall()
    for sid, annotator, ts, deleted in gone:
        if not deleted:
            continue
        found = c.execute(select_ours, (sid, annotator)).fetchone()
        ours = None if found is None else annotation_from_row(found)
        if ours is None or ours.propagated_from is not None or ours.updated_at >= ts:
            continue
        c.execute(
            "DELETE FROM annotations WHERE sentence_id = ? AND annotator = ?", (sid, annotator)
        )
        record_event(c, sid, annotator, "merge", ours, None, None, origin)
        propagate(c, sid, annotator, None)
        counts.labels_deleted += 1


def _merge_gold(
    c: sqlite3.Connection, o: sqlite3.Connection, amap: dict[str, str], counts: MergeCounts
) -> None:
    cols = GOLD_COLS
    for row in o.execute(f"SELECT {cols} FROM gold").fetchall():
        theirs = list(row)
        if amap:
            theirs[3] = dumps(_remap_stances(orjson.loads(theirs[3]), amap))
            sources = orjson.loads(theirs[6])
            for src in sources:
                if isinstance(src, dict) and isinstance(src.get("stances"), list):
                    src["stances"] = _remap_stances(src["stances"], amap)
            theirs[6] = dumps(sources)
        here = c.execute(f"SELECT {cols} FROM gold WHERE sentence_id = ?", (row[0],)).fetchone()
        if here is not None:
            same = list(here[1:8]) == theirs[1:8]
            if same or (theirs[9], [str(v) for v in theirs[1:8]]) <= (
                here[9],
                [str(v) for v in here[1:8]],
            ):
                counts.gold_kept += 1
                continue
            theirs[8] = min(here[8], theirs[8])
        c.execute(f"INSERT OR REPLACE INTO gold({cols}) VALUES (?,?,?,?,?,?,?,?,?,?)", theirs)
        counts.gold_taken += 1


def _remap_stances(stances: list[dict[str, Any]], amap: dict[str, str]) -> list[dict[str, Any]]:
    return [{**st, "actor": amap.get(st["actor"], st["actor"])} for st in stances]


def _remap_labels_json(raw: str | None, amap: dict[str, str]) -> str | None:
    """A history state (``Annotation.labels()`` JSON) with actor ids mapped to ours."""
    if raw is None or not amap:
        return raw
    state = orjson.loads(raw)
    state["stances"] = _remap_stances(state.get("stances", []), amap)
    return dumps(state)


def _remap_annotation(a: Annotation, amap: dict[str, str]) -> Annotation:
    if not amap:
        return a
    return replace(
        a, stances=tuple(Stance(s.claim, amap.get(s.actor, s.actor), s.stance) for s in a.stances)
    )


def _label_key(a: Annotation) -> tuple[Any, ...]:
    """A fixed order on labels (the merge tie-break when two edits carry the same time)."""
    return (
        a.status,
        a.claims,
        tuple((s.claim, s.actor, s.stance) for s in a.stances),
        a.note or "",
    )
