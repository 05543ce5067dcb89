"""The versioned migrations of a stanceterm DB.

Schema versions live in ``PRAGMA user_version``. :data:`MIGRATIONS` is append only: a released
migration is never edited; :data:`MIGRATION_STEPS` holds the Python steps that run after a
migration's SQL, in the same transaction. They are applied by :meth:`Store._migrate
<stanceterm.store.db.Store>`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

_V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE articles (
    id TEXT PRIMARY KEY,
    title TEXT,
    source TEXT,
    url TEXT,
    published TEXT,
    lang TEXT NOT NULL,
    content_hash TEXT NOT NULL UNIQUE,
    n_sentences INTEGER NOT NULL,
    origin TEXT,
    imported_at TEXT NOT NULL
);
CREATE TABLE sentences (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    article_id TEXT NOT NULL REFERENCES articles(id),
    idx INTEGER NOT NULL,
    text TEXT NOT NULL,
    norm TEXT NOT NULL,
    cluster_id TEXT,
    hidden INTEGER NOT NULL DEFAULT 0,
    UNIQUE (article_id, idx)
);
CREATE INDEX sentences_visible ON sentences(seq) WHERE hidden = 0;
CREATE INDEX sentences_cluster ON sentences(cluster_id) WHERE cluster_id IS NOT NULL;
CREATE TABLE clusters (
    id TEXT PRIMARY KEY,
    representative_id TEXT NOT NULL UNIQUE REFERENCES sentences(id),
    size INTEGER NOT NULL,
    threshold REAL NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE cluster_splits (
    sentence_id TEXT PRIMARY KEY REFERENCES sentences(id),
    annotator TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE annotators (name TEXT PRIMARY KEY, created_at TEXT NOT NULL);
CREATE TABLE actors (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_by TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE actor_aliases (
    key TEXT PRIMARY KEY,
    alias TEXT NOT NULL,
    actor_id TEXT NOT NULL REFERENCES actors(id)
);
CREATE INDEX actor_aliases_actor ON actor_aliases(actor_id);
CREATE TABLE annotations (
    sentence_id TEXT NOT NULL REFERENCES sentences(id),
    annotator TEXT NOT NULL REFERENCES annotators(name),
    status TEXT NOT NULL CHECK (status IN ('draft', 'done', 'skipped', 'flagged')),
    claims TEXT NOT NULL DEFAULT '[]',
    stances TEXT NOT NULL DEFAULT '[]',
    note TEXT,
    propagated_from TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (sentence_id, annotator)
) WITHOUT ROWID;
CREATE INDEX annotations_annotator ON annotations(annotator, status);
CREATE INDEX annotations_propagated ON annotations(propagated_from)
    WHERE propagated_from IS NOT NULL;
CREATE TABLE annotation_events (
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,
    sentence_id TEXT NOT NULL,
    annotator TEXT NOT NULL,
    ts TEXT NOT NULL,
    action TEXT NOT NULL,
    before TEXT,
    after TEXT,
    undoes TEXT,
    origin TEXT
);
CREATE INDEX annotation_events_annotator ON annotation_events(annotator, id);
CREATE INDEX annotation_events_sentence ON annotation_events(sentence_id);
CREATE TABLE assignments (
    annotator TEXT NOT NULL,
    seq INTEGER NOT NULL,
    sentence_id TEXT NOT NULL REFERENCES sentences(id),
    created_at TEXT NOT NULL,
    PRIMARY KEY (annotator, seq)
) WITHOUT ROWID;
CREATE TABLE gold (
    sentence_id TEXT PRIMARY KEY REFERENCES sentences(id),
    status TEXT NOT NULL CHECK (status IN ('gold', 'unresolvable')),
    claims TEXT NOT NULL DEFAULT '[]',
    stances TEXT NOT NULL DEFAULT '[]',
    adjudicator TEXT NOT NULL,
    chosen_from TEXT,
    sources TEXT NOT NULL DEFAULT '[]',
    note TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
"""

#: v2: undo looks up "is this event undone?" by index instead of scanning the history.
_V2 = """
CREATE INDEX annotation_events_undoes ON annotation_events(undoes) WHERE undoes IS NOT NULL;
"""

#: v3 (teams): per-annotator counters kept by triggers, so the live team progress is a few-row
#: read even on a million-sentence DB (counting annotations scans them). ``kind`` is a status
#: (draft/done/skipped/flagged; direct labels only, propagated copies are not work done) or
#: ``assigned``. The triggers rely on ``PRAGMA recursive_triggers = ON`` (set on every
#: connection) so that ``INSERT OR REPLACE`` runs the delete trigger of the row it replaces.
#: Also: assignments by sentence (who else holds this sentence: the overlap of an assignment).
_V3 = """
CREATE TABLE annotator_counts (
    annotator TEXT NOT NULL,
    kind TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (annotator, kind)
) WITHOUT ROWID;
INSERT INTO annotator_counts(annotator, kind, n)
    SELECT annotator, status, count(*) FROM annotations WHERE propagated_from IS NULL
    GROUP BY annotator, status;
INSERT INTO annotator_counts(annotator, kind, n)
    SELECT annotator, 'assigned', count(*) FROM assignments GROUP BY annotator;
CREATE TRIGGER annotations_count_insert AFTER INSERT ON annotations
WHEN NEW.propagated_from IS NULL BEGIN
    INSERT INTO annotator_counts(annotator, kind, n) VALUES (NEW.annotator, NEW.status, 1)
    ON CONFLICT(annotator, kind) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER annotations_count_delete AFTER DELETE ON annotations
WHEN OLD.propagated_from IS NULL BEGIN
    UPDATE annotator_counts SET n = n - 1 WHERE annotator = OLD.annotator AND kind = OLD.status;
END;
CREATE TRIGGER annotations_count_update AFTER UPDATE OF annotator, status, propagated_from
ON annotations BEGIN
    UPDATE annotator_counts SET n = n - 1
    WHERE OLD.propagated_from IS NULL AND annotator = OLD.annotator AND kind = OLD.status;
    INSERT INTO annotator_counts(annotator, kind, n)
    SELECT NEW.annotator, NEW.status, 1 WHERE NEW.propagated_from IS NULL
    ON CONFLICT(annotator, kind) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER assignments_count_insert AFTER INSERT ON assignments BEGIN
    INSERT INTO annotator_counts(annotator, kind, n) VALUES (NEW.annotator, 'assigned', 1)
    ON CONFLICT(annotator, kind) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER assignments_count_delete AFTER DELETE ON assignments BEGIN
    UPDATE annotator_counts SET n = n - 1 WHERE annotator = OLD.annotator AND kind = 'assigned';
END;
CREATE INDEX assignments_seq ON assignments(seq);
"""

#: v4: ``sentences.norm`` folds accents (``segment.match_key``: NFKD, combining marks dropped,
#: casefold), so search for "etats" finds "États". The SQL records the key's version; the rows
#: are recomputed in Python by :func:`_v4_refold_norms` (see :data:`MIGRATION_STEPS`).
_V4 = """
INSERT OR REPLACE INTO meta(key, value) VALUES ('norm_key', 'nfkd-nomarks-casefold');
"""

#: v5: documented read-only views for ``sqlite-utils`` and datasette users (README, "Query the DB").
#:
#: ``labels_flat``: one row per stance of every label (current state per sentence and
#: annotator, propagated copies included, ``propagated_from`` says so), with the sentence text,
#: the claim, the actor id and display name and the stance. A claim with no stance gives one row
#: with that claim and NULL actor/stance; a label with no claim at all (a sentence done as "no
#: claim", skipped, flagged or a draft) gives one row with NULL claim. So every label appears at
#: least once and ``count(DISTINCT sentence_id || annotator)`` counts labels.
#:
#: ``gold_flat``: the same for the gold records (one row per stance; a claim with no stance or a
#: record with no claim, e.g. ``unresolvable``, gives a row with NULLs), with the adjudicator.
#:
#: Views hold no data: nothing to back-fill, and they follow every later write.
_FLAT = """
CREATE VIEW {name} AS
SELECT {cols}, json_extract(st.value, '$.claim') AS claim,
    json_extract(st.value, '$.actor') AS actor_id, ac.name AS actor,
    json_extract(st.value, '$.stance') AS stance, {tail}
FROM {table} x JOIN sentences s ON s.id = x.sentence_id
JOIN json_each(x.stances) st
LEFT JOIN actors ac ON ac.id = json_extract(st.value, '$.actor')
UNION ALL
SELECT {cols}, cl.value AS claim, NULL AS actor_id, NULL AS actor, NULL AS stance, {tail}
FROM {table} x JOIN sentences s ON s.id = x.sentence_id
JOIN json_each(x.claims) cl
WHERE NOT EXISTS (SELECT 1 FROM json_each(x.stances) st2
    WHERE json_extract(st2.value, '$.claim') = cl.value)
UNION ALL
SELECT {cols}, NULL AS claim, NULL AS actor_id, NULL AS actor, NULL AS stance, {tail}
FROM {table} x JOIN sentences s ON s.id = x.sentence_id
WHERE json_array_length(x.claims) = 0 AND json_array_length(x.stances) = 0;
"""
_V5 = _FLAT.format(
    name="labels_flat",
    table="annotations",
    cols="x.sentence_id, s.article_id, s.seq, s.text, x.annotator, x.status",
    tail="x.note, x.propagated_from, x.created_at, x.updated_at",
) + _FLAT.format(
    name="gold_flat",
    table="gold",
    cols="x.sentence_id, s.article_id, s.seq, s.text, x.status",
    tail="x.adjudicator, x.chosen_from, x.note, x.created_at, x.updated_at",
)

#: v6 (suggestions, issue 18): the blind units (no suggestions for anyone: with the overlap
#: units, the unassisted set) and the provenance of each label (the suggestion shown when it was
#: made: sorted-key JSON ``{"accepted", "applied", "claims", "model"}``; NULL when none was).
_V6 = """
CREATE TABLE suggest_blind (
    sentence_id TEXT PRIMARY KEY REFERENCES sentences(id),
    seed INTEGER NOT NULL,
    created_at TEXT NOT NULL
) WITHOUT ROWID;
ALTER TABLE annotations ADD COLUMN suggested TEXT;
"""

# import runs (issue 12 §3, §5)
#: v7: one row per ``import-labels`` run. Its label changes are history events with
#: ``origin = 'import:<run id>'`` (indexed), so ``stanceterm undo-import RUN`` reverts the run as a
#: whole. ``status``: ``applying`` (staged and being written in batches; a run interrupted here is
#: resumed by importing the same file again, or reverted by ``undo-import``), ``done``, ``undone``.
_V7 = """
CREATE TABLE import_runs (
    id TEXT PRIMARY KEY,
    file TEXT NOT NULL,
    digest TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('applying', 'done', 'undone')),
    records INTEGER NOT NULL,
    written INTEGER NOT NULL DEFAULT 0,
    unchanged INTEGER NOT NULL DEFAULT 0,
    kept_newer INTEGER NOT NULL DEFAULT 0,
    started_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX import_runs_digest ON import_runs(digest, status);
CREATE INDEX annotation_events_origin ON annotation_events(origin) WHERE origin IS NOT NULL;
"""

# serve (issue 16)
#: v8: personal links of the team server (``stanceterm invite``). Only the SHA-256 of a token is
#: stored; a revoked link keeps its row (``revoked_at``) so ``invite --list`` shows it.
_V8 = """
CREATE TABLE invites (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('annotator', 'adjudicator', 'lead')),
    token_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
"""

# v9 (perf, issue 17): an FTS5 trigram index on the normalised text, for the `/` search (substring search
# on ``norm``, which is already accent-folded and case-folded by ``segment.match_key``). The
# index is external-content (it stores no second copy of the text) and kept in sync by triggers.
# The migration itself only creates the table and triggers; the rows already in the DB are indexed
# afterwards by :func:`build_search_index`, in short batches (never one long write transaction),
# resumably: ``meta.fts_end`` is the last seq to backfill, ``meta.fts_done`` how far it got.
# The triggers touch the index only for rows outside (fts_done, fts_end], so a row is never
# indexed twice nor deleted from the index before it was added; a search falls back to a scan
# until the build is complete.
_FTS_LIVE = (
    "({seq} <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'fts_done') "
    "OR {seq} > (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'fts_end'))"
)


def _fts_triggers(key: str) -> str:
    """The triggers that keep ``sentences_fts`` in sync with ``sentences``; ``key`` is what the
    index holds for a row, written with ``{row}`` for ``new`` or ``old`` (v9: the norm; v16: the
    norm with its quote marks as spaces)."""
    new, old = key.format(row="new"), key.format(row="old")
    return f"""\
CREATE TRIGGER sentences_fts_ins AFTER INSERT ON sentences WHEN {_FTS_LIVE.format(seq="new.seq")}
BEGIN
    INSERT INTO sentences_fts(rowid, norm) VALUES (new.seq, {new});
END;
CREATE TRIGGER sentences_fts_del AFTER DELETE ON sentences WHEN {_FTS_LIVE.format(seq="old.seq")}
BEGIN
    INSERT INTO sentences_fts(sentences_fts, rowid, norm) VALUES ('delete', old.seq, {old});
END;
CREATE TRIGGER sentences_fts_upd AFTER UPDATE OF norm ON sentences
WHEN {_FTS_LIVE.format(seq="old.seq")}
BEGIN
    INSERT INTO sentences_fts(sentences_fts, rowid, norm) VALUES ('delete', old.seq, {old});
    INSERT INTO sentences_fts(rowid, norm) VALUES (new.seq, {new});
END;
"""


_V9 = """
CREATE VIRTUAL TABLE sentences_fts USING fts5(
    norm, content='sentences', content_rowid='seq', tokenize='trigram'
);
INSERT INTO meta(key, value) SELECT 'fts_end', COALESCE(MAX(seq), 0) FROM sentences;
INSERT INTO meta(key, value) VALUES ('fts_done', '0');
""" + _fts_triggers("{row}.norm")

#: v10 (dedup, issue 14): ``actor_aliases.trusted``: 1 for an alias dedup may treat as the same
#: actor (the label schema's gazetteer, or added by a lead with ``stanceterm actors alias``), 0
#: for one made in the picker by one annotator. Existing aliases of actors created by nobody
#: (the schema's) are trusted, as the previous rule had it.
#:
#: The visibility rule of :mod:`~stanceterm.store.clusters` (a cluster member is hidden unless
#: it carries direct labels) is kept by triggers, whatever writes the labels (the screen,
#: import-labels, merge, undo): a direct label shows a hidden copy; removing a copy's last direct
#: label hides it again. So an incremental dedup run stays equal to a full one.
_V10 = """
ALTER TABLE actor_aliases ADD COLUMN trusted INTEGER NOT NULL DEFAULT 0;
UPDATE actor_aliases SET trusted = 1
WHERE actor_id IN (SELECT id FROM actors WHERE created_by IS NULL);
CREATE TRIGGER annotations_show_copy_insert AFTER INSERT ON annotations
WHEN NEW.propagated_from IS NULL BEGIN
    UPDATE sentences SET hidden = 0 WHERE id = NEW.sentence_id AND hidden = 1;
END;
CREATE TRIGGER annotations_show_copy_update AFTER UPDATE ON annotations
WHEN NEW.propagated_from IS NULL BEGIN
    UPDATE sentences SET hidden = 0 WHERE id = NEW.sentence_id AND hidden = 1;
END;
CREATE TRIGGER annotations_hide_copy_delete AFTER DELETE ON annotations
WHEN OLD.propagated_from IS NULL BEGIN
    UPDATE sentences SET hidden = 1 WHERE id = OLD.sentence_id AND hidden = 0
    AND cluster_id IS NOT NULL
    AND id NOT IN (SELECT representative_id FROM clusters WHERE id = sentences.cluster_id)
    AND NOT EXISTS (SELECT 1 FROM annotations WHERE sentence_id = OLD.sentence_id
                    AND propagated_from IS NULL);
END;
"""

#: v11 (merge converges, gold history, actor operations; docs/ARCHITECTURE.md "Merge ordering"):
#:
#: ``gold_events``: every gold decision, and every undo of one, is an append-only event (the
#: adjudicator, its time, the decision it replaced and the one it made), copied by ``uid`` on
#: merge; the standing decision is the ``after`` of the latest event by (ts, uid).
#:
#: ``actor_events``: rename, alias, merge (and the undo of one) of actors, replicated the same
#: way (``actor_aliases.trusted`` is v10's, with dedup's meaning).
#:
#: ``annotation_events_key``: the events of one (sentence, annotator), which merge reads per key.
_V11 = """
CREATE TABLE gold_events (
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,
    sentence_id TEXT NOT NULL,
    adjudicator TEXT NOT NULL,
    ts TEXT NOT NULL,
    action TEXT NOT NULL,
    before TEXT,
    after TEXT,
    undoes TEXT,
    origin TEXT
);
CREATE INDEX gold_events_sentence ON gold_events(sentence_id);
CREATE INDEX gold_events_undoes ON gold_events(undoes) WHERE undoes IS NOT NULL;
CREATE TABLE actor_events (
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,
    ts TEXT NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('rename', 'alias', 'merge', 'undo')),
    actor_id TEXT NOT NULL,
    arg TEXT,
    made_by TEXT,
    undoes TEXT,
    origin TEXT
);
CREATE INDEX annotation_events_key ON annotation_events(sentence_id, annotator, ts);
"""

#: v12 (merge, issue 12 §4 leftovers; docs/ARCHITECTURE.md "Merge ordering"): ``text_key`` of the
#: label and gold history events: the key (:func:`~stanceterm.store.models.text_key`) of the
#: sentence text the event was about, set on insert by a trigger (``stanceterm_text_key`` is a
#: function every stanceterm connection registers; a writer may also set it). After
#: ``import --replace`` an old event's sentence id may name another text: replays (merge, undo)
#: use only the events whose key is NULL (older than v12: unknown) or that text's. Not
#: backfilled: old events keep NULL (the upgrade stays one short transaction).
#:
#: ``actors.base_name``: the name an actor was made with (its name before any rename; NULL until
#: the next replay fills it), ``actors.same_as``: the actor it stands for by the "one name, one
#: actor" rule (store.actors.replay_actors), so actor operations converge under merge.
_V12 = """
ALTER TABLE actors ADD COLUMN base_name TEXT;
ALTER TABLE actors ADD COLUMN same_as TEXT;
CREATE INDEX actors_same_as ON actors(id, same_as) WHERE same_as IS NOT NULL;
ALTER TABLE annotation_events ADD COLUMN text_key TEXT;
ALTER TABLE gold_events ADD COLUMN text_key TEXT;
CREATE TRIGGER annotation_events_text_key AFTER INSERT ON annotation_events
WHEN NEW.text_key IS NULL BEGIN
    UPDATE annotation_events SET text_key = (SELECT stanceterm_text_key(text) FROM sentences
                                             WHERE id = NEW.sentence_id)
    WHERE id = NEW.id;
END;
CREATE TRIGGER gold_events_text_key AFTER INSERT ON gold_events
WHEN NEW.text_key IS NULL BEGIN
    UPDATE gold_events SET text_key = (SELECT stanceterm_text_key(text) FROM sentences
                                       WHERE id = NEW.sentence_id)
    WHERE id = NEW.id;
END;
"""

#: v13 (labelsio: undo-import removes the actors it created, issue 12 §5): ``import_runs.actors``
#: lists the actors a run created (JSON ids); ``actor_events`` takes the ``delete`` operation
#: (rebuilt: SQLite cannot change a CHECK in place), a replicated removal of an actor that
#: nothing uses any more (store/labels.py, ``drop_unused_actors``).
_V13 = """
ALTER TABLE import_runs ADD COLUMN actors TEXT;
CREATE TABLE actor_events_v13 (
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,
    ts TEXT NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('rename', 'alias', 'merge', 'undo', 'delete')),
    actor_id TEXT NOT NULL,
    arg TEXT,
    made_by TEXT,
    undoes TEXT,
    origin TEXT
);
INSERT INTO actor_events_v13(id, uid, ts, op, actor_id, arg, made_by, undoes, origin)
SELECT id, uid, ts, op, actor_id, arg, made_by, undoes, origin FROM actor_events;
DROP TABLE actor_events;
ALTER TABLE actor_events_v13 RENAME TO actor_events;
"""


#: v14 (units: a dedup cluster is one unit for overlap assignment too; docs/ARCHITECTURE.md
#: "Units"). An assignment of a cluster copy follows its representative, whatever writes the
#: cluster (an incremental or full dedup run, a new representative): the holder gets the
#: representative instead (no second row when they already hold it), unless they labelled the
#: copy themselves (a direct label): that copy stays in their queue, as their version of the
#: unit. (When that label is later undone, the assignment stays on the copy until the next run
#: that rewrites the cluster, ``dedup --full``: a label save is a delete then an insert, so a
#: trigger on the delete cannot tell an undo from a re-save.) The first ``INSERT``/``DELETE``
#: pair re-points what a DB assigned before this migration.
_FOLLOW_SELECT = """
SELECT q.annotator, r.seq, r.id, q.created_at
FROM assignments q JOIN sentences s ON s.seq = q.seq
JOIN clusters k ON k.id = s.cluster_id JOIN sentences r ON r.id = k.representative_id
WHERE r.id != s.id AND NOT EXISTS (SELECT 1 FROM annotations a WHERE a.sentence_id = s.id
    AND a.annotator = q.annotator AND a.propagated_from IS NULL)
"""
_FOLLOW_DELETE_WHERE = """
EXISTS (SELECT 1 FROM sentences s JOIN clusters k ON k.id = s.cluster_id
    WHERE s.seq = assignments.seq AND k.representative_id != s.id)
AND NOT EXISTS (SELECT 1 FROM annotations a JOIN sentences s ON s.id = a.sentence_id
    WHERE s.seq = assignments.seq AND a.annotator = assignments.annotator
    AND a.propagated_from IS NULL)
"""
_V14 = f"""
INSERT OR IGNORE INTO assignments(annotator, seq, sentence_id, created_at) {_FOLLOW_SELECT};
DELETE FROM assignments WHERE {_FOLLOW_DELETE_WHERE};
CREATE TRIGGER sentences_assignments_follow AFTER UPDATE OF cluster_id ON sentences
WHEN NEW.cluster_id IS NOT NULL BEGIN
    INSERT OR IGNORE INTO assignments(annotator, seq, sentence_id, created_at)
    {_FOLLOW_SELECT.strip()} AND s.seq = NEW.seq;
    DELETE FROM assignments WHERE seq = NEW.seq AND {_FOLLOW_DELETE_WHERE.strip()};
END;
"""

#: v15 (import-labels speed, issue 17): ``annotation_events_sentence`` (v1, on ``sentence_id``)
#: is dropped: ``annotation_events_key`` (v11, on ``sentence_id, annotator, ts``) serves every
#: lookup by sentence through its first column, and each history event paid for writing both
#: (a random page per event: about a fifth of what SQLite spends writing an imported label).
_V15 = """
DROP INDEX IF EXISTS annotation_events_sentence;
"""

#: v16 (import speed and search, issue 17): ``sentences_fts`` is rebuilt.
#:
#: - ``detail=none``: the trigram index keeps which sentences hold a trigram, not where (and
#:   ``columnsize=0``: no per-sentence token count, which only ranking reads). Writing positions
#:   was a third of what the index cost an import (1.3 of 1.8 CPU-s of the commit at 72k real
#:   sentences went to the index; detail=none takes that to about 0.85), and the `/` search does
#:   not need them: it asks for the substring with GLOB, which FTS5 answers from the trigrams and
#:   SQLite checks on the text (:meth:`stanceterm.store.corpus.Corpus.search`).
#: - It indexes :data:`SEARCH_KEY`, the norm with its quote marks as spaces, through the view
#:   ``sentences_search``: match_key glues a quote to the words beside it (« sa « réfutation »
#:   de » is ``sa"refutation"de``), and a search typed without the quotes found nothing.
#:
#: The migration drops the old index and marks every sentence as still to index (``fts_done`` 0,
#: ``fts_end`` the last seq), so :func:`build_search_index` fills the new one in short batches
#: after it, as v9 did; meanwhile a search scans.
SEARCH_KEY = """replace({row}.norm, '"', ' ')"""
_V16 = f"""
DROP TRIGGER IF EXISTS sentences_fts_ins;
DROP TRIGGER IF EXISTS sentences_fts_del;
DROP TRIGGER IF EXISTS sentences_fts_upd;
DROP TABLE IF EXISTS sentences_fts;
CREATE VIEW sentences_search AS SELECT seq, {SEARCH_KEY.format(row="sentences")} AS norm
FROM sentences;
CREATE VIRTUAL TABLE sentences_fts USING fts5(
    norm, content='sentences_search', content_rowid='seq', tokenize='trigram', detail=none,
    columnsize=0
);
UPDATE meta SET value = (SELECT COALESCE(MAX(seq), 0) FROM sentences) WHERE key = 'fts_end';
UPDATE meta SET value = '0' WHERE key = 'fts_done';
""" + _fts_triggers(SEARCH_KEY)

#: (version, SQL script). Append only: a released migration is never edited.
MIGRATIONS: list[tuple[int, str]] = [
    (1, _V1),
    (2, _V2),
    (3, _V3),
    (4, _V4),
    (5, _V5),
    (6, _V6),
    (7, _V7),
    (8, _V8),
    (9, _V9),
    (10, _V10),
    (11, _V11),
    (12, _V12),
    (13, _V13),
    (14, _V14),
    (15, _V15),
    (16, _V16),
]
LATEST_VERSION = MIGRATIONS[-1][0]

NORM_BATCH = 5000
#: sentences indexed per write transaction by :func:`build_search_index`
FTS_BATCH = 20_000


def _v4_refold_norms(c: sqlite3.Connection) -> None:
    """Recompute ``sentences.norm`` with the accent-folding ``match_key``, in batches by seq."""
    from stanceterm.segment import match_key

    last = -1
    while True:
        rows = c.execute(
            "SELECT seq, text FROM sentences WHERE seq > ? ORDER BY seq LIMIT ?", (last, NORM_BATCH)
        ).fetchall()
        if not rows:
            return
        c.executemany(
            "UPDATE sentences SET norm = ? WHERE seq = ?",
            [(match_key(text), seq) for seq, text in rows],
        )
        last = rows[-1][0]


#: Python steps run after a migration's SQL, in the same transaction.
MIGRATION_STEPS: dict[int, Callable[[sqlite3.Connection], None]] = {4: _v4_refold_norms}


def split_sql(script: str) -> list[str]:
    """Split a migration script into statements (no semicolons inside our literals; a trigger's
    body, whose statements end in semicolons, stays one statement)."""
    out: list[str] = []
    buf = ""
    for piece in script.split(";"):
        buf += piece + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip(" \n\t;"):
                out.append(buf.strip().rstrip(";").strip())
            buf = ""
    if buf.strip(" \n\t;"):
        out.append(buf.strip().rstrip(";").strip())
    return out
