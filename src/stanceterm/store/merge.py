"""Merging another annotator's DB into this one (event-based replication).

Reached as ``store.merge``. The history events are the replicated data: events are copied by
``uid`` (set union: commutative, associative, idempotent) and the visible state of each record
is the ``after`` of its latest event by (ts, uid), undo and delete being tombstone events that
win or lose like any write (docs/ARCHITECTURE.md, "Merge ordering"). Merge records no event of
its own, so it never makes a state "newer" than it was (``tests/test_merge_converges.py``).

The other DB is the staging area: it is read under one snapshot, and its rows are applied here
in short transactions of :data:`BATCH` records each (articles: at most :data:`SENTENCE_BATCH`
sentence rows, adapted to take about :data:`TX_SECONDS`, whatever the size of an article; actor
and alias rows: :data:`ACTOR_BATCH`). Actor ids are never remapped (docs/ARCHITECTURE.md,
"Actors converge"), and events about another text of their sentence are left out (``text_key``). An interrupted merge leaves this DB with a
consistent part of the other one applied (each record either at its old or its merged state),
and running the merge again completes it: merge is *resumable*, not all-or-nothing.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import orjson

from stanceterm.schema import load_schema_text
from stanceterm.store.actors import (
    fill_base_names,
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
    text_key,
)
from stanceterm.wording import count, verb

#: Records (label keys, gold sentences) applied per write transaction.
BATCH = 200
#: Most sentence rows (and the rows of their articles) copied per write transaction; fewer
#: when a transaction takes over :data:`TX_SECONDS` (the batch adapts to the text and the load).
SENTENCE_BATCH = 500
TX_SECONDS = 0.04
#: Actor and alias rows copied per write transaction.
ACTOR_BATCH = 1000


@contextmanager
def _short_tx(db: Handle, took_s: list[float] | None = None) -> Iterator[sqlite3.Connection]:
    """One of merge's write transactions; then its pages are checkpointed without the write lock
    and a short pause lets waiting annotators commit, so that an annotator's commit never pays
    for checkpointing the merge's pages (as import-labels does between its batches).
    ``took_s``: receives the transaction's duration (commit included)."""
    t0 = time.monotonic()
    with db.tx() as c:
        yield c
    took = time.monotonic() - t0
    if took_s is not None:
        took_s[:] = [took]
    db.checkpoint_passive()
    time.sleep(min(0.02, took / 2))


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
        with _short_tx(db) as c:
            if db.get_meta("label_schema") is None:
                raw = other.get_meta("label_schema")
                if raw is not None:
                    record_label_schema(c, load_schema_text(raw, f"{other.path} (label schema)"))
        _copy_articles(db, o, counts)
        with _short_tx(db) as c:
            for name, created in o.execute("SELECT name, created_at FROM annotators").fetchall():
                counts.annotators_added += c.execute(
                    "INSERT OR IGNORE INTO annotators(name, created_at) VALUES (?, ?)",
                    (name, created),
                ).rowcount
            before = actor_map_in(c)
        amap = _merge_actors(db, o, counts)
        with _short_tx(db) as c:
            if "actor_events" in tables:
                _merge_actor_events(c, o, origin, amap, counts)
            replay_actors(c)
            after = actor_map_in(c)
            changed_actors = {a for a in set(before) | set(after) if before.get(a) != after.get(a)}
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
        with _short_tx(db) as c:
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


def _copy_articles(db: Handle, o: sqlite3.Connection, counts: MergeCounts) -> None:
    """Copy the articles missing here, and their sentences, :data:`SENTENCE_BATCH` sentence rows
    per write transaction whatever the size of an article (an article row goes in the
    transaction of its first sentences). Resumable: an article a killed merge left partly
    copied (:func:`_partly_here`) is completed by the next merge."""
    articles: list[tuple[Any, ...]] = []
    sentences: list[tuple[Any, ...]] = []
    size = [SENTENCE_BATCH // 4]  # adapted to the time a transaction takes (long real sentences
    # cost more: the search index's trigram rows), between 20 and SENTENCE_BATCH rows

    def flush() -> None:
        timing: list[float] = []
        with _short_tx(db, timing) as c:
            for row in articles:
                counts.articles_added += c.execute(
                    "INSERT OR IGNORE INTO articles(id, title, source, url, published, lang, "
                    "content_hash, n_sentences, origin, imported_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                ).rowcount
            if sentences:
                cur = c.executemany(
                    "INSERT OR IGNORE INTO sentences(id, article_id, idx, text, norm) "
                    "VALUES (?, ?, ?, ?, ?)",
                    sentences,
                )
                counts.sentences_added += max(cur.rowcount, 0)
        articles.clear()
        sentences.clear()
        took = timing[0]
        if took > TX_SECONDS:
            size[0] = max(20, size[0] // 2)
        elif took < TX_SECONDS / 2:
            size[0] = min(SENTENCE_BATCH, size[0] * 2)

    for row in o.execute(
        "SELECT id, title, source, url, published, lang, content_hash, n_sentences, origin, "
        "imported_at FROM articles ORDER BY rowid"
    ).fetchall():
        with db.read() as c:
            here = c.execute(
                "SELECT 1 FROM articles WHERE id = ? OR content_hash = ?", (row[0], row[6])
            ).fetchone()
            if here is not None and not _partly_here(c, o, str(row[0])):
                continue
        if here is None:
            articles.append(row)
        for srow in o.execute(
            "SELECT id, article_id, idx, text, norm FROM sentences WHERE article_id = ? "
            "ORDER BY idx",
            (row[0],),
        ):
            sentences.append(srow)
            if len(sentences) >= size[0]:
                flush()
        if len(articles) >= size[0]:
            flush()
    if articles or sentences:
        flush()


def _partly_here(c: sqlite3.Connection, o: sqlite3.Connection, aid: str) -> bool:
    """Article ``aid`` is here, the same text and segmentation as there (content hash and
    sentence count), but with fewer sentences: a merge was killed while copying it."""
    theirs = o.execute(
        "SELECT content_hash, n_sentences FROM articles WHERE id = ?", (aid,)
    ).fetchone()
    ours = c.execute(
        "SELECT content_hash, n_sentences FROM articles WHERE id = ?", (aid,)
    ).fetchone()
    if theirs is None or ours is None or tuple(theirs) != tuple(ours):
        return False
    n = c.execute("SELECT count(*) FROM sentences WHERE article_id = ?", (aid,)).fetchone()[0]
    return int(n) < int(ours[1])


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
            f"{where}: {count(bad, 'labelled sentence')} {verb(bad, 'does', 'do')} not match "
            f"this database (e.g. {example}): "
            "the articles were imported under other ids or split into sentences differently; "
            "nothing merged"
        )


def _article_here(c: sqlite3.Connection, o: sqlite3.Connection, sid: str) -> bool:
    """The article of ``sid`` there is here, complete: a sentence of it missing here is not
    copied (another segmentation: refuse). An article partly copied by a killed merge is
    completed, so it counts as not here."""
    row = o.execute(
        "SELECT a.id, a.content_hash FROM sentences s JOIN articles a ON a.id = s.article_id "
        "WHERE s.id = ?",
        (sid,),
    ).fetchone()
    if row is None:
        return True  # a label on a sentence the other DB does not even have: refuse
    return c.execute(
        "SELECT 1 FROM articles WHERE id = ? OR content_hash = ?", (row[0], row[1])
    ).fetchone() is not None and not _partly_here(c, o, str(row[0]))


def _merge_actors(db: Handle, o: sqlite3.Connection, counts: MergeCounts) -> dict[str, str]:
    """Union of the actor rows by id and of the alias rows by key, each by a rule that gives one
    answer in any merge order (docs/ARCHITECTURE.md, "Merge ordering"): one id is one actor
    (its ``base_name`` the smallest of both, ``created_at`` the earliest, ``created_by`` none if
    either is the schema's gazetteer); an alias key held by two actors goes to the trusted one,
    then the smaller actor id, then the smaller alias text. No actor id is remapped: two actors
    with one name become one by :func:`~stanceterm.store.actors.replay_actors`' rule, which
    the caller runs next. Returns the id map for copied labels: always empty (kept for older
    callers' shape). Written in transactions of :data:`ACTOR_BATCH` rows."""
    with _short_tx(db) as c:
        fill_base_names(c)
    cols = {str(r[1]) for r in o.execute("PRAGMA table_info(actors)")}
    has_events = "actor_events" in _tables(o)
    base = (
        "base_name"
        if "base_name" in cols
        else "(SELECT json_extract(e.arg, '$.was') FROM actor_events e WHERE e.op = 'rename' "
        "AND e.actor_id = actors.id ORDER BY e.ts, e.uid LIMIT 1)"
        if has_events
        else "NULL"
    )
    rows = o.execute(f"SELECT id, name, created_by, created_at, {base} FROM actors ORDER BY id")
    while chunk := rows.fetchmany(ACTOR_BATCH):
        with _short_tx(db) as c:
            _merge_actor_rows(c, chunk, counts)
    acols = {str(r[1]) for r in o.execute("PRAGMA table_info(actor_aliases)")}
    trust_col = "trusted" if "trusted" in acols else "0"
    aliases = o.execute(f"SELECT key, alias, actor_id, {trust_col} FROM actor_aliases ORDER BY key")
    while achunk := aliases.fetchmany(ACTOR_BATCH):
        with _short_tx(db) as c:
            for key, alias, actor_id, trust in achunk:
                counts.aliases_added += c.execute(
                    "INSERT INTO actor_aliases(key, alias, actor_id, trusted) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET alias = excluded.alias, "
                    "actor_id = excluded.actor_id, trusted = excluded.trusted "
                    "WHERE (-excluded.trusted, excluded.actor_id, excluded.alias) < "
                    "(-actor_aliases.trusted, actor_aliases.actor_id, actor_aliases.alias)",
                    (key, alias, actor_id, int(trust)),
                ).rowcount
    return {}


def _merge_actor_rows(
    c: sqlite3.Connection, rows: list[tuple[Any, ...]], counts: MergeCounts
) -> None:
    for oid, name, created_by, created_at, base_name in rows:
        new = c.execute("SELECT 1 FROM actors WHERE id = ?", (oid,)).fetchone() is None
        taken = c.execute("SELECT 1 FROM actors WHERE name = ?", (name,)).fetchone()
        c.execute(
            "INSERT INTO actors(id, name, created_by, created_at, base_name) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
            "base_name = min(base_name, excluded.base_name), "
            "created_at = min(created_at, excluded.created_at), "
            "created_by = CASE WHEN created_by IS NULL OR excluded.created_by IS NULL THEN NULL "
            "ELSE min(created_by, excluded.created_by) END",
            # their name, or while it is taken here a unique placeholder: replay_actors gives
            # every actor its name once the rows and the events are in
            (oid, "\x00" + str(oid) if taken else name, created_by, created_at, base_name or name),
        )
        counts.actors_added += int(new)


def _merge_actor_events(
    c: sqlite3.Connection,
    o: sqlite3.Connection,
    origin: str,
    amap: dict[str, str],
    counts: MergeCounts,
) -> None:
    """Copy the actor operations by uid (the caller replays them, even when nothing new came:
    alias rows copied by _merge_actors must follow the events, the same on every replica)."""
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
    added = 0
    for row in rows:
        added += c.execute(
            "INSERT OR IGNORE INTO actor_events(uid, ts, op, actor_id, arg, made_by, undoes, "
            "origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            row,
        ).rowcount
    counts.actor_events_added += added


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
    key_col = "text_key" if _has_column(o, "annotation_events", "text_key") else "NULL"
    events = [
        r
        for r in o.execute(
            "SELECT uid, sentence_id, annotator, ts, action, before, after, undoes, origin, "
            f"{key_col} FROM annotation_events WHERE sentence_id IN ({marks}) ORDER BY id",
            sids,
        ).fetchall()
        if (r[1], r[2]) in wanted
    ]
    their_keys = _text_keys(o, sids)
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
    with _short_tx(db) as c:
        our_keys = _text_keys(c, sids)
        events = _same_text_only(c, "annotation_events", events, their_keys, our_keys, counts)
        _copy_events(
            c, "annotation_events", "annotator", events, _remap_labels_json, amap, origin, counts
        )
        for k in [k for k in theirs if their_keys.get(k[0]) != our_keys.get(k[0])]:
            del theirs[k]  # their label is about another text (refused earlier; never taken)
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
    key_col = "text_key" if _has_column(o, "gold_events", "text_key") else "NULL"
    events = (
        o.execute(
            "SELECT uid, sentence_id, adjudicator, ts, action, before, after, undoes, origin, "
            f"{key_col} FROM gold_events WHERE sentence_id IN ({marks}) ORDER BY id",
            sids,
        ).fetchall()
        if has_history
        else []
    )
    their_keys = _text_keys(o, sids)
    theirs = {
        str(r[0]): _remap_gold_json(gold_json(gold_from_row(r)), amap)
        for r in o.execute(f"SELECT {GOLD_COLS} FROM gold WHERE sentence_id IN ({marks})", sids)
    }
    with _short_tx(db) as c:
        our_keys = _text_keys(c, sids)
        events = _same_text_only(c, "gold_events", events, their_keys, our_keys, counts)
        _copy_events(
            c, "gold_events", "adjudicator", events, _remap_gold_json, amap, origin, counts
        )
        for sid in [sid for sid in theirs if their_keys.get(sid) != our_keys.get(sid)]:
            del theirs[sid]
        actor_map = actor_map_in(c)
        for sid in sids:
            resolve_gold(c, sid, theirs.get(sid), actor_map, counts)


def _has_column(o: sqlite3.Connection, table: str, column: str) -> bool:
    return any(r[1] == column for r in o.execute(f"PRAGMA table_info({table})"))


def _copy_events(
    c: sqlite3.Connection,
    table: str,
    who: str,
    events: list[tuple[Any, ...]],
    remap: Callable[[str | None, dict[str, str]], str | None],
    amap: dict[str, str],
    origin: str,
    counts: MergeCounts,
) -> None:
    """Insert the other DB's history events (uid, sentence_id, WHO, ts, action, before, after,
    undoes, origin, text_key) that are not here yet, their states' actor ids remapped; an event
    without an origin gets ``origin`` (the merge that brought it)."""
    sql = (
        f"INSERT OR IGNORE INTO {table}(uid, sentence_id, {who}, ts, action, before, after, "
        "undoes, origin, text_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    for r in events:
        row = (*r[:5], remap(r[5], amap), remap(r[6], amap), r[7], r[8] or origin, r[9])
        counts.events_added += c.execute(sql, row).rowcount


def _text_keys(c: sqlite3.Connection, sids: list[str]) -> dict[str, str]:
    """Sentence id -> :func:`~stanceterm.store.models.text_key` of its text in that DB."""
    marks = ",".join("?" * len(sids))
    return {
        str(sid): text_key(str(text))
        for sid, text in c.execute(f"SELECT id, text FROM sentences WHERE id IN ({marks})", sids)
    }


def _same_text_only(
    c: sqlite3.Connection,
    table: str,
    events: list[tuple[Any, ...]],
    their_keys: dict[str, str],
    our_keys: dict[str, str],
    counts: MergeCounts,
) -> list[tuple[Any, ...]]:
    """The other DB's events (``text_key`` last) that are about the text their sentence has
    here; an event without a key (older than v12) is about its sentence's text there. The others
    name a sentence id that an ``import --replace`` gave to another text: they are left out and
    counted (those not here already), so no label lands on another statement."""
    keep: list[tuple[Any, ...]] = []
    stale: list[str] = []
    for r in events:
        key = r[-1] or their_keys.get(str(r[1]))
        ours = our_keys.get(str(r[1]))
        if key is not None and ours is not None and key != ours:
            stale.append(str(r[0]))
        else:
            keep.append((*r[:-1], key))
    if stale:
        marks = ",".join("?" * len(stale))
        here = c.execute(f"SELECT count(*) FROM {table} WHERE uid IN ({marks})", stale)
        n = len(stale) - int(here.fetchone()[0])
        if table == "gold_events":
            counts.gold_events_other_text += n
        else:
            counts.events_other_text += n
    return keep


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
