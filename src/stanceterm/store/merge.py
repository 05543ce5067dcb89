"""Merging another annotator's DB into this one (event-based replication).

Reached as ``store.merge``. The history events are the replicated data: events are copied by
``uid`` (set union: commutative, associative, idempotent) and the visible state of each record
is the ``after`` of its latest event by (ts, uid), undo and delete being tombstone events that
win or lose like any write (docs/ARCHITECTURE.md, "Merge ordering"). Merge records no event of
its own, so it never makes a state "newer" than it was (``tests/test_merge_converges.py``).

The other DB is the staging area: it is read under one snapshot, and its rows are applied here
in short transactions of :data:`BATCH` records each. An interrupted merge leaves this DB with a
consistent part of the other one applied (each record either at its old or its merged state),
and running the merge again completes it: merge is *resumable*, not all-or-nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import orjson

from stanceterm.actors import alias_key
from stanceterm.schema import load_schema_text
from stanceterm.store.actors import (
    add_actor_row,
    record_label_schema,
    rederive_actor_labels,
    replay_actors,
)
from stanceterm.store.base import Handle
from stanceterm.store.clusters import split_in
from stanceterm.store.gold import resolve_gold
from stanceterm.store.imports import drop_deleted_actors
from stanceterm.store.labels import actor_map_in, resolve_label
from stanceterm.store.models import (
    ANN_COLS,
    ANN_COLS_NO_PROVENANCE,
    GOLD_COLS,
    SKEW_TOLERANCE_S,
    Annotation,
    MergeConflict,
    MergeCounts,
    Stance,
    annotation_from_row,
    dumps,
    gold_from_row,
    gold_json,
)

#: Records (label keys, gold sentences) applied per write transaction.
BATCH = 200


class Merge:
    """``store.merge``: fold other stanceterm DBs into this one."""

    def __init__(self, db: Handle) -> None:
        self._db = db

    def from_db(self, other: Handle) -> MergeCounts:
        """:meth:`from_dbs` of one DB."""
        return self.from_dbs([other])[0]

    def from_dbs(self, others: list[Handle]) -> list[MergeCounts]:
        """Fold other stanceterm DBs (opened read-only) into this one.

        * every other DB is checked first, before anything is written: a labelled sentence whose
          text differs here, or that is missing here and in its article, refuses the merge with
          :class:`MergeConflict` (the two DBs segmented the article differently);
        * articles and sentences missing here are copied; annotators are added; actors are
          matched by alias key (name, then aliases), new ones created, and actor ids inside
          copied labels remapped; actor operations (``actor_events``) are copied and replayed;
        * label and gold history events are copied by ``uid`` (``origin = 'merge:<db_uid>'``,
          so ``undo`` here never reverts them), and each record touched takes the ``after`` of
          its latest event by (ts, uid) (a current row with no event counts as an event at its
          ``updated_at`` that loses ties); changes are propagated to this DB's dedup clusters;
        * cluster splits there are applied here.

        Each step runs in short transactions (:data:`BATCH` records): see the module docstring.
        """
        for other in others:
            with other.snapshot():
                _merge_check_sentences(self._db.conn, other.conn, other.path)
        return [_merge_one(self._db, other) for other in others]


def _tables(o: sqlite3.Connection) -> set[str]:
    """The other DB's tables (a DB of an older schema version is read as it is, never migrated:
    no gold or actor history before v11)."""
    return {str(r[0]) for r in o.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _merge_one(db: Handle, other: Handle) -> MergeCounts:
    counts = MergeCounts()
    origin = f"merge:{other.db_uid or 'unknown'}"
    o = other.conn
    with other.snapshot():  # one consistent snapshot of the other DB: the staging area
        tables = _tables(o)
        counts.future_skew_s = _future_skew(o, tables)
        with db.tx() as c:
            if db.get_meta("label_schema") is None:
                raw = other.get_meta("label_schema")
                if raw is not None:
                    record_label_schema(c, load_schema_text(raw, f"{other.path} (label schema)"))
        for article_batch in _chunks(_article_rows(o), 50):
            with db.tx() as c:
                _merge_articles(c, o, article_batch, counts)
        with db.tx() as c:
            for name, created in o.execute("SELECT name, created_at FROM annotators").fetchall():
                counts.annotators_added += c.execute(
                    "INSERT OR IGNORE INTO annotators(name, created_at) VALUES (?, ?)",
                    (name, created),
                ).rowcount
            amap = _merge_actors(c, o, counts)
            changed_actors: set[str] = set()
            if "actor_events" in tables:
                changed_actors = _merge_actor_events(c, o, origin, amap, counts)
            else:
                replay_actors(c)
        if changed_actors:
            rederive_actor_labels(db, changed_actors)
        keys = o.execute(
            "SELECT sentence_id, annotator FROM annotation_events UNION "
            "SELECT sentence_id, annotator FROM annotations WHERE propagated_from IS NULL "
            "ORDER BY 1, 2"
        )
        while batch := keys.fetchmany(BATCH):
            _merge_label_batch(db, o, [(str(a), str(b)) for a, b in batch], origin, amap, counts)
        golds = o.execute(
            "SELECT sentence_id FROM gold_events UNION SELECT sentence_id FROM gold ORDER BY 1"
            if "gold_events" in tables
            else "SELECT sentence_id FROM gold ORDER BY 1"
        )
        while gbatch := golds.fetchmany(BATCH):
            sids = [str(r[0]) for r in gbatch]
            _merge_gold_batch(db, o, sids, origin, amap, counts, "gold_events" in tables)
        with db.tx() as c:
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
    drop_deleted_actors(db)  # labelsio: removals by undo-import, after the labels came
    return counts


def _chunks(it: Iterator[Any], n: int) -> Iterator[list[Any]]:
    buf: list[Any] = []
    for x in it:
        buf.append(x)
        if len(buf) >= n:
            yield buf
            buf = []
    if buf:
        yield buf


def _future_skew(o: sqlite3.Connection, tables: set[str]) -> float:
    """Seconds by which the other DB's latest event is ahead of this machine's clock (0: not)."""
    latest = ""
    for table in ("annotation_events", "gold_events", "actor_events"):
        if table not in tables:
            continue
        row = o.execute(f"SELECT max(ts) FROM {table}").fetchone()
        if row and row[0] and str(row[0]) > latest:
            latest = str(row[0])
    if not latest:
        return 0.0
    try:
        t = datetime.strptime(latest, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        return 0.0
    ahead = (t - datetime.now(UTC)).total_seconds()
    return ahead if ahead > SKEW_TOLERANCE_S else 0.0


def _article_rows(o: sqlite3.Connection) -> Iterator[tuple[Any, ...]]:
    yield from o.execute(
        "SELECT id, title, source, url, published, lang, content_hash, n_sentences, origin, "
        "imported_at FROM articles ORDER BY rowid"
    ).fetchall()


def _merge_articles(
    c: sqlite3.Connection, o: sqlite3.Connection, rows: list[tuple[Any, ...]], counts: MergeCounts
) -> None:
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
            if sid not in here and not _article_here(c, o, sid):
                continue  # its article is copied with it
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


def _article_here(c: sqlite3.Connection, o: sqlite3.Connection, sid: str) -> bool:
    row = o.execute(
        "SELECT a.id, a.content_hash FROM sentences s JOIN articles a ON a.id = s.article_id "
        "WHERE s.id = ?",
        (sid,),
    ).fetchone()
    if row is None:
        return True  # a label on a sentence the other DB does not even have: refuse
    return (
        c.execute(
            "SELECT 1 FROM articles WHERE id = ? OR content_hash = ?", (row[0], row[1])
        ).fetchone()
        is not None
    )


def _merge_actors(
    c: sqlite3.Connection, o: sqlite3.Connection, counts: MergeCounts
) -> dict[str, str]:
    """Their actor id -> ours."""
    aliases: dict[str, list[str]] = {}
    trusted: dict[str, int] = {}
    cols = {str(r[1]) for r in o.execute("PRAGMA table_info(actor_aliases)")}
    trust_col = "trusted" if "trusted" in cols else "0"
    for alias, actor_id, trust in o.execute(
        f"SELECT alias, actor_id, {trust_col} FROM actor_aliases ORDER BY key"
    ):
        aliases.setdefault(str(actor_id), []).append(str(alias))
        trusted[str(alias)] = int(trust)
    amap: dict[str, str] = {}
    for oid, name, created_by in o.execute(
        "SELECT id, name, created_by FROM actors ORDER BY created_at, id"
    ).fetchall():
        own = aliases.get(str(oid), [])
        local: str | None = None
        if c.execute("SELECT 1 FROM actors WHERE id = ?", (oid,)).fetchone():
            local = str(oid)  # the same actor (replicas of one DB share actor ids)
        keys = [] if local else [alias_key(name), *(alias_key(a) for a in own)]
        for key in keys:
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
                        "INSERT OR IGNORE INTO actor_aliases(key, alias, actor_id, trusted) "
                        "VALUES (?, ?, ?, ?)",
                        (alias_key(alias), alias.strip(), local, trusted.get(alias, 0)),
                    ).rowcount
        amap[str(oid)] = local
        if local != oid:
            counts.actors_remapped += 1
    return {k: v for k, v in amap.items() if k != v}


def _merge_actor_events(
    c: sqlite3.Connection,
    o: sqlite3.Connection,
    origin: str,
    amap: dict[str, str],
    counts: MergeCounts,
) -> set[str]:
    """Copy the actor operations by uid and replay them; returns the actor ids whose meaning
    (merged into another one or not) changed here."""
    rows = [
        (
            r[0],
            r[1],
            r[2],
            amap.get(str(r[3]), r[3]),
            _remap_arg(str(r[2]), r[4], amap),
            *r[5:7],
            r[7] or origin,
        )
        for r in o.execute(
            "SELECT uid, ts, op, actor_id, arg, made_by, undoes, origin FROM actor_events"
        ).fetchall()
    ]
    before = actor_map_in(c)
    added = 0
    for row in rows:
        added += c.execute(
            "INSERT OR IGNORE INTO actor_events(uid, ts, op, actor_id, arg, made_by, undoes, "
            "origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            row,
        ).rowcount
    counts.actor_events_added += added
    # replayed even when nothing new came: alias rows copied above by _merge_actors (e.g. an
    # alias undone here but still there) must follow the events, the same on every replica
    replay_actors(c)
    after = actor_map_in(c)
    return {a for a in set(before) | set(after) if before.get(a) != after.get(a)}


def _remap_arg(op: str, arg: str | None, amap: dict[str, str]) -> str | None:
    return amap.get(arg, arg) if op == "merge" and arg is not None else arg


def _merge_label_batch(
    db: Handle,
    o: sqlite3.Connection,
    keys: list[tuple[str, str]],
    origin: str,
    amap: dict[str, str],
    counts: MergeCounts,
) -> None:
    wanted = set(keys)
    sids = sorted({k[0] for k in keys})
    marks = ",".join("?" * len(sids))
    events = [
        r
        for r in o.execute(
            "SELECT uid, sentence_id, annotator, ts, action, before, after, undoes, origin "
            f"FROM annotation_events WHERE sentence_id IN ({marks}) ORDER BY id",
            sids,
        ).fetchall()
        if (r[1], r[2]) in wanted
    ]
    # a source from before the provenance column (schema v6) gives NULL provenance
    has_provenance = any(r[1] == "suggested" for r in o.execute("PRAGMA table_info(annotations)"))
    cols = ANN_COLS if has_provenance else ANN_COLS_NO_PROVENANCE
    theirs: dict[tuple[str, str], Annotation] = {}
    for row in o.execute(
        f"SELECT {cols} FROM annotations WHERE propagated_from IS NULL "
        f"AND sentence_id IN ({marks})",
        sids,
    ).fetchall():
        a = _remap_annotation(annotation_from_row(row), amap)
        if (a.sentence_id, a.annotator) in wanted:
            theirs[(a.sentence_id, a.annotator)] = a
    with db.tx() as c:
        for r in events:
            counts.events_added += c.execute(
                "INSERT OR IGNORE INTO annotation_events(uid, sentence_id, annotator, ts, action, "
                "before, after, undoes, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    *r[:5],
                    _remap_labels_json(r[5], amap),
                    _remap_labels_json(r[6], amap),
                    r[7],
                    r[8] or origin,
                ),
            ).rowcount
        actor_map = actor_map_in(c)
        for sid, annotator in keys:
            resolve_label(c, sid, annotator, theirs.get((sid, annotator)), actor_map, counts)


def _merge_gold_batch(
    db: Handle,
    o: sqlite3.Connection,
    sids: list[str],
    origin: str,
    amap: dict[str, str],
    counts: MergeCounts,
    has_history: bool = True,
) -> None:
    marks = ",".join("?" * len(sids))
    events = (
        o.execute(
            "SELECT uid, sentence_id, adjudicator, ts, action, before, after, undoes, origin "
            f"FROM gold_events WHERE sentence_id IN ({marks}) ORDER BY id",
            sids,
        ).fetchall()
        if has_history
        else []
    )
    theirs = {
        str(r[0]): _remap_gold_json(gold_json(gold_from_row(r)), amap)
        for r in o.execute(f"SELECT {GOLD_COLS} FROM gold WHERE sentence_id IN ({marks})", sids)
    }
    with db.tx() as c:
        for r in events:
            counts.events_added += c.execute(
                "INSERT OR IGNORE INTO gold_events(uid, sentence_id, adjudicator, ts, action, "
                "before, after, undoes, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    *r[:5],
                    _remap_gold_json(r[5], amap),
                    _remap_gold_json(r[6], amap),
                    r[7],
                    r[8] or origin,
                ),
            ).rowcount
        actor_map = actor_map_in(c)
        for sid in sids:
            resolve_gold(c, sid, theirs.get(sid), actor_map, counts)


def _remap_gold_json(raw: str | None, amap: dict[str, str]) -> str | None:
    if raw is None or not amap:
        return raw
    d = orjson.loads(raw)
    d["stances"] = _remap_stances(d.get("stances", []), amap)
    for src in d.get("sources") or []:
        if isinstance(src, dict) and isinstance(src.get("stances"), list):
            src["stances"] = _remap_stances(src["stances"], amap)
    return dumps(d)


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
