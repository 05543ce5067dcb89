"""Articles and sentences: import staging, reads, navigation and search.

Reached as ``store.corpus``. The queue an annotator walks (assigned sentences if they have any,
else every visible one) is defined here once (:func:`queue_filter`) and shared with
:mod:`stanceterm.store.team` for the progress counts.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import orjson

from stanceterm.store.base import Handle, require_tx
from stanceterm.store.labels import current, record_event
from stanceterm.store.migrations import SEARCH_KEY
from stanceterm.store.models import (
    SENTENCE_COLS,
    Article,
    ChangedArticle,
    ImportCounts,
    NewArticle,
    ReplaceRefused,
    Sentence,
    now,
    sentence_from_row,
)
from stanceterm.textkey import match_key

_STAGE_SQL = (
    "CREATE TEMP TABLE IF NOT EXISTS stage_articles(seq INTEGER PRIMARY KEY, id TEXT NOT NULL, "
    "title TEXT, source TEXT, url TEXT, published TEXT, lang TEXT NOT NULL, "
    "content_hash TEXT NOT NULL, n_sentences INTEGER NOT NULL, origin TEXT)",
    "CREATE TEMP TABLE IF NOT EXISTS stage_sentences(aseq INTEGER NOT NULL, "
    "idx INTEGER NOT NULL, text TEXT NOT NULL, norm TEXT NOT NULL)",
    "CREATE TEMP TABLE IF NOT EXISTS stage_keep(aseq INTEGER PRIMARY KEY)",
)


def _clear_stage(c: sqlite3.Connection) -> None:
    for table in ("stage_articles", "stage_sentences", "stage_keep"):
        c.execute(f"DELETE FROM temp.{table}")


def _stage_origin(c: sqlite3.Connection, aseq: int) -> str | None:
    """``file:line`` of staged article ``aseq`` (what a refusal names)."""
    row = c.execute("SELECT origin FROM temp.stage_articles WHERE seq = ?", (aseq,)).fetchone()
    return None if row is None else row[0]


def _stage_rows(c: sqlite3.Connection, articles: Iterable[NewArticle]) -> int:
    """Write articles and their sentences to the TEMP staging tables, in the caller's
    transaction. Returns the number staged."""
    _clear_stage(c)
    n = 0
    for art in articles:
        cur = c.execute(
            "INSERT INTO temp.stage_articles(id, title, source, url, published, lang, "
            "content_hash, n_sentences, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                art.id,
                art.title,
                art.source,
                art.url,
                art.published,
                art.lang,
                art.content_hash,
                len(art.sentences),
                art.origin,
            ),
        )
        aseq = cur.lastrowid
        c.executemany(
            "INSERT INTO temp.stage_sentences(aseq, idx, text, norm) VALUES (?, ?, ?, ?)",
            [
                (aseq, i, text, norm)
                for i, (text, norm) in enumerate(zip(art.sentences, art.norms, strict=True))
            ],
        )
        n += 1
    return n


#: Above every sequence number (SQLite's largest integer).
_MAX_SEQ = 2**63 - 1
#: the characters GLOB reads as wildcards or a class: a search query writes each as a class
_GLOB_SPECIAL = re.compile(r"[*?\[]")
#: the search key of sentence ``s`` (what the index holds: :data:`migrations.SEARCH_KEY`)
_SEARCH_KEY = SEARCH_KEY.format(row="s")


def _has_assignments(c: sqlite3.Connection, annotator: str) -> bool:
    row = c.execute(
        "SELECT 1 FROM assignments WHERE annotator = ? LIMIT 1", (annotator,)
    ).fetchone()
    return row is not None


def queue_filter(c: sqlite3.Connection, annotator: str | None) -> tuple[str, str, list[Any]]:
    """FROM/WHERE for the sentences an annotator walks: assigned ones, else all visible."""
    if annotator is not None and _has_assignments(c, annotator):
        return (
            "assignments q JOIN sentences s ON s.seq = q.seq",
            "q.annotator = ? AND s.hidden = 0",
            [annotator],
        )
    return "sentences s", "s.hidden = 0", []


class Corpus:
    """``store.corpus``: articles, sentences, staging, navigation and search."""

    def __init__(self, db: Handle) -> None:
        self._db = db

    def _queue_filter(self, annotator: str | None) -> tuple[str, str, list[Any]]:
        with self._db.read() as c:
            return queue_filter(c, annotator)

    # ---------------------------------------------------------------- import

    def insert_articles(self, articles: Iterable[NewArticle], counts: ImportCounts) -> None:
        """Insert articles and their sentences in the caller's transaction (see
        :meth:`Store.tx <stanceterm.store.db.Store.tx>`): staged, then :meth:`commit_staged`,
        whose rule skips an article whose id or content hash is already stored (re-import adds
        nothing)."""
        c = self._db.conn
        require_tx(c, "corpus.insert_articles")
        for sql in _STAGE_SQL:
            c.execute(sql)
        _stage_rows(c, articles)
        self.commit_staged(counts)

    def stage_articles(self, articles: Iterable[NewArticle]) -> int:
        """Write articles and their sentences to this connection's TEMP staging tables, in a
        transaction of its own.

        Writing TEMP tables takes no lock on the DB file, so a long import (reading, segmenting)
        never makes annotators wait; :meth:`commit_staged` then copies the staged rows in one
        short transaction. Staged rows live in SQLite's temp store (on disk), so memory stays
        flat; a crash loses them and leaves the DB as it was. Returns the number staged.
        """
        with self._db.read() as c:
            for sql in _STAGE_SQL:
                c.execute(sql)
        with self._db.temp_tx() as c:
            return _stage_rows(c, articles)

    def commit_staged(self, counts: ImportCounts, *, replace: bool = False) -> None:
        """Copy the staged articles and sentences in, in the caller's transaction (see :meth:`Store.tx <stanceterm.store.db.Store.tx>`).

        Same rule as :meth:`insert_articles`: an article whose id or content hash is already
        stored, or was taken earlier from the same stage, is skipped (re-import adds nothing).

        An article whose id is stored with another text raises :class:`ChangedArticle`, unless
        ``replace``: then its sentences are replaced (:func:`replace_article_in`).
        """
        c = self._db.conn
        require_tx(c, "corpus.commit_staged")
        stamp = now()
        ids: set[str] = set()
        hashes: set[str] = set()
        for aseq, aid, chash, n in c.execute(
            "SELECT seq, id, content_hash, n_sentences FROM temp.stage_articles ORDER BY seq"
        ).fetchall():
            # --- safeimport (issue 12 §6): same id, another text
            if aid not in ids and chash not in hashes:
                row = c.execute("SELECT content_hash FROM articles WHERE id = ?", (aid,)).fetchone()
                if row is not None and row[0] != chash:
                    if not replace:
                        origin = _stage_origin(c, aseq)
                        _clear_stage(c)
                        raise ChangedArticle(aid, origin)
                    replace_article_in(c, aid, aseq, stamp, counts)
                    ids.add(aid)
                    hashes.add(chash)
                    counts.articles_replaced += 1
                    continue
            # --- end safeimport
            if (
                aid in ids
                or chash in hashes
                or c.execute(
                    "SELECT 1 FROM articles WHERE id = ? OR content_hash = ?", (aid, chash)
                ).fetchone()
            ):
                counts.articles_skipped += 1
                counts.sentences_skipped += n
                continue
            ids.add(aid)
            hashes.add(chash)
            c.execute("INSERT INTO temp.stage_keep(aseq) VALUES (?)", (aseq,))
            counts.articles_added += 1
            counts.sentences_added += n
        c.execute(
            "INSERT INTO articles(id, title, source, url, published, lang, content_hash, "
            "n_sentences, origin, imported_at) SELECT id, title, source, url, published, lang, "
            "content_hash, n_sentences, origin, ? FROM temp.stage_articles "
            "WHERE seq IN (SELECT aseq FROM temp.stage_keep) ORDER BY seq",
            (stamp,),
        )
        c.execute(
            "INSERT INTO sentences(id, article_id, idx, text, norm) "
            "SELECT a.id || ':' || s.idx, a.id, s.idx, s.text, s.norm "
            "FROM temp.stage_sentences s JOIN temp.stage_articles a ON a.seq = s.aseq "
            "WHERE s.aseq IN (SELECT aseq FROM temp.stage_keep) ORDER BY s.rowid"
        )
        _clear_stage(c)

    # ---------------------------------------------------------------- reads

    def article(self, article_id: str) -> Article | None:
        with self._db.read() as c:
            row = c.execute(
                "SELECT id, title, source, url, published, lang, n_sentences FROM articles "
                "WHERE id = ?",
                (article_id,),
            ).fetchone()
        return None if row is None else Article(*row)

    def article_ids(self) -> list[str]:
        with self._db.read() as c:
            return [str(r[0]) for r in c.execute("SELECT id FROM articles ORDER BY rowid")]

    def sentence(self, sentence_id: str) -> Sentence | None:
        with self._db.read() as c:
            row = c.execute(
                f"SELECT {SENTENCE_COLS} FROM sentences WHERE id = ?",
                (sentence_id,),
            ).fetchone()
        return None if row is None else sentence_from_row(row)

    def sentences_by_id(self, ids: Iterable[str]) -> dict[str, tuple[str, str]]:
        """Sentence id -> (article id, text) for those of ``ids`` that exist, in one query
        (import-labels checks a chunk of records at a time)."""
        with self._db.read() as c:
            return {
                str(r[0]): (str(r[1]), str(r[2]))
                for r in c.execute(
                    "SELECT id, article_id, text FROM sentences "
                    "WHERE id IN (SELECT value FROM json_each(?))",
                    (orjson.dumps(list(ids)).decode(),),
                )
            }

    def sentence_at(self, seq: int) -> Sentence | None:
        with self._db.read() as c:
            row = c.execute(
                f"SELECT {SENTENCE_COLS} FROM sentences WHERE seq = ?",
                (seq,),
            ).fetchone()
        return None if row is None else sentence_from_row(row)

    def context(
        self, sentence: Sentence, before: int = 1, after: int = 1
    ) -> tuple[list[str], list[str]]:
        """Texts of the neighbouring sentences in the same article."""
        with self._db.read() as c:
            rows = c.execute(
                "SELECT idx, text FROM sentences WHERE article_id = ? AND idx BETWEEN ? AND ? "
                "ORDER BY idx",
                (sentence.article_id, sentence.idx - before, sentence.idx + after),
            ).fetchall()
        prev = [str(t) for i, t in rows if i < sentence.idx]
        nxt = [str(t) for i, t in rows if i > sentence.idx]
        return prev, nxt

    def iter_sentence_rows(
        self, *, articles: Sequence[str] = (), batch: int = 5000
    ) -> Iterator[tuple[Any, ...]]:
        """Stream (seq, sentence_id, article_id, idx, text, cluster_id) in order."""
        where, params = "1 = 1", list[Any](articles)
        if articles:
            where = f"article_id IN ({','.join('?' * len(articles))})"
        sql = f"SELECT seq, id, article_id, idx, text, cluster_id FROM sentences WHERE {where} ORDER BY seq"
        yield from self._db.stream(sql, params, batch)

    # ---------------------------------------------------------------- navigation

    def step(
        self,
        seq: int,
        direction: int = 1,
        *,
        annotator: str | None = None,
        undone_only: bool = False,
        in_queue: bool = True,
        within: int | None = None,
    ) -> Sentence | None:
        """The next (direction=1) or previous (-1) visible sentence after ``seq``.

        With ``annotator`` and ``in_queue``, only that annotator's assigned sentences (if any were
        assigned); with ``undone_only``, only those the annotator has not done, skipped or flagged.
        With ``within``, only sentences less than ``within`` sequence numbers away from ``seq``
        (a bounded walk: the first screen never scans a million done sentences).
        """
        source, where, params = self._queue_filter(annotator if in_queue else None)
        op, order = (">", "ASC") if direction > 0 else ("<", "DESC")
        sql = f"SELECT s.seq FROM {source} WHERE {where} AND s.seq {op} ?"
        params = [*params, seq]
        if within is not None:
            sql += f" AND s.seq {'<' if direction > 0 else '>'} ?"
            params.append(seq + within if direction > 0 else seq - within)
        if undone_only and annotator is not None:
            sql += (
                " AND NOT EXISTS (SELECT 1 FROM annotations a WHERE a.sentence_id = s.id "
                "AND a.annotator = ? AND a.status != 'draft')"
            )
            params.append(annotator)
        sql += f" ORDER BY s.seq {order} LIMIT 1"
        with self._db.read() as c:
            row = c.execute(sql, params).fetchone()
        return None if row is None else self.sentence_at(int(row[0]))

    def first(self, annotator: str | None = None, *, undone_only: bool = False) -> Sentence | None:
        return self.step(-1, 1, annotator=annotator, undone_only=undone_only)

    def search(
        self, norm_query: str, after_seq: int, annotator: str | None = None
    ) -> Sentence | None:
        """First visible sentence after ``after_seq`` whose normalised text contains the query,
        wrapping around to the start. The query goes through ``textkey.match_key`` too (it is
        idempotent), so "etats" and "États" both find "États".

        Quote marks do not count: match_key glues a quote to the words beside it (« sa
        « réfutation » de » is stored as ``sa"refutation"de``), so the search compares the norm
        with its quote marks as spaces (the index holds that key, migration v16) against the
        query's words: "sa réfutation de" and "sa « réfutation » de" find it, and find the same
        words written without quotes."""
        source, where, params = self._queue_filter(annotator)
        seq = self._first_match(norm_query, after_seq, source, where, params)
        return None if seq is None else self.sentence_at(seq)

    def search_copies(self, norm_query: str, after_seq: int) -> tuple[str, Sentence] | None:
        """When :meth:`search` finds nothing: the first hidden dedup copy after ``after_seq``
        (wrapping) whose text matches, as (its id, its cluster's representative), so the screen
        can say where the text is instead of "no sentence contains it" (new-user review)."""
        seq = self._first_match(norm_query, after_seq, "sentences s", "s.hidden = 1", [])
        if seq is None:
            return None
        with self._db.read() as c:
            row = c.execute(
                "SELECT s.id, k.representative_id FROM sentences s "
                "JOIN clusters k ON k.id = s.cluster_id WHERE s.seq = ?",
                (seq,),
            ).fetchone()
        rep = None if row is None else self.sentence(str(row[1]))
        return None if rep is None else (str(row[0]), rep)

    def _first_match(
        self, norm_query: str, after_seq: int, source: str, where: str, params: list[Any]
    ) -> int | None:
        """The seq of the first sentence of ``source`` (``where``) after ``after_seq``,
        wrapping, whose search key holds the query's (see :meth:`search`)."""
        key = " ".join(match_key(norm_query).replace('"', " ").split())
        if not key:
            return None
        # GLOB (norm is case-folded already): the query's own *, ? and [ are written as
        # one-character classes, [*] [?] [[], so they match themselves
        pattern = "*" + _GLOB_SPECIAL.sub(r"[\g<0>]", key) + "*"
        longest = max(map(len, _GLOB_SPECIAL.split(key)))
        if longest >= 3 and self._db.search_index_ready():
            # perf: the FTS5 trigram index (migrations v9, v16) finds the candidates; they come
            # in seq order from the index, and the first one in the annotator's queue wins.
            # The index holds no positions (v16, detail=none): it gives the sentences holding
            # every trigram of the pattern's literal runs (FTS5 skips the classes), and SQLite
            # checks the GLOB on each one's key.
            # Early termination: the index yields rowids in order from the bound, LIMIT 1 stops at
            # the first one in the queue (nothing counts the matches); the wrap-around reads only
            # the part before the start, so a miss reads each doclist once, not one and a half.
            sql = (
                f"SELECT s.seq FROM sentences_fts f CROSS JOIN {source} "
                "WHERE f.norm GLOB ? AND f.rowid > ? AND f.rowid <= ? AND s.seq = f.rowid "
                f"AND {where} ORDER BY f.rowid LIMIT 1"
            )
            args = [[pattern, after_seq, _MAX_SEQ, *params], [pattern, -1, after_seq, *params]]
        else:
            # no run of 3 plain characters (no trigram to ask for) or while the index is being
            # built: a scan of the same key, same pattern
            sql = (
                f"SELECT s.seq FROM {source} WHERE {where} AND {_SEARCH_KEY} GLOB ? "
                "AND s.seq > ? AND s.seq <= ? ORDER BY s.seq LIMIT 1"
            )
            args = [[*params, pattern, after_seq, _MAX_SEQ], [*params, pattern, -1, after_seq]]
        with self._db.read() as c:
            row = c.execute(sql, args[0]).fetchone()
            if row is None and after_seq >= 0:
                row = c.execute(sql, args[1]).fetchone()
        return None if row is None else int(row[0])


# --- safeimport: replacing a changed article (issue 12 §6) -----------------------------------

_MOVING = "\x01"  # prefix of ids being moved (no article id starts with a control character)
_REFS = (  # (table, column) holding a sentence id, remapped when an article is replaced
    ("annotations", "sentence_id"),
    ("gold", "sentence_id"),
    ("assignments", "sentence_id"),
    ("cluster_splits", "sentence_id"),
    ("clusters", "representative_id"),
)


def replace_article_in(
    c: sqlite3.Connection, aid: str, aseq: int, stamp: str, counts: ImportCounts
) -> None:
    """Replace article ``aid``'s row and sentences by the staged article ``aseq``, in the
    caller's transaction.

    Sentences are matched by text, not by index (ids are ``article:index``, so an inserted
    sentence shifts the rest): everything on a sentence whose text is unchanged (labels, gold,
    assignments, splits, cluster membership) moves to its new id. Labels on the other sentences
    are removed from the current state with a ``replace`` history event (the old state is kept
    there) and listed in ``counts.dropped_labels``; assignments and splits on them go. Refused
    (:class:`StoreError`) when a sentence that goes is a cluster's representative or has a gold
    decision, which need a person's decision first.
    """
    require_tx(c, "corpus.replace_article_in")
    old = c.execute(
        "SELECT id, text, cluster_id, hidden FROM sentences WHERE article_id = ? ORDER BY idx",
        (aid,),
    ).fetchall()
    new = c.execute(
        "SELECT idx, text, norm FROM temp.stage_sentences WHERE aseq = ? ORDER BY idx", (aseq,)
    ).fetchall()
    free: dict[str, list[tuple[str, Any, int]]] = {}
    for sid, text, cluster, hidden in old:
        free.setdefault(str(text), []).append((str(sid), cluster, int(hidden)))
    mapping: dict[str, str] = {}
    carried: dict[str, tuple[Any, int]] = {}
    for idx, text, _norm in new:
        got = free.get(str(text))
        if got:
            sid, cluster, hidden = got.pop(0)
            mapping[sid] = f"{aid}:{idx}"
            carried[f"{aid}:{idx}"] = (cluster, hidden)
    gone = [str(r[0]) for r in old if str(r[0]) not in mapping]
    for sid in gone:
        for table, col, what, way_out in (
            (
                "gold",
                "sentence_id",
                "a gold decision",
                "if it may go, its adjudicator undoes it in `stanceterm review` (u undoes their "
                "decisions, latest first)",
            ),
            (
                "clusters",
                "representative_id",
                "the representative of a dedup cluster",
                f"`stanceterm dedup split {sid}` takes it out of the cluster (the labels it "
                "passed to its copies go with it: the copies are then annotated on their own)",
            ),
        ):
            if c.execute(f"SELECT 1 FROM {table} WHERE {col} = ?", (sid,)).fetchone():
                raise ReplaceRefused(
                    f"article {aid!r}: sentence {sid!r}, which the new text drops or changes, "
                    f"is {what}; {way_out}, then import again",
                    _stage_origin(c, aseq),
                )
    # labels on sentences that go: out of the current state, kept in the history
    text_of = {str(r[0]): str(r[1]) for r in old}
    for sid in gone:
        for (annotator,) in c.execute(
            "SELECT annotator FROM annotations WHERE sentence_id = ?", (sid,)
        ).fetchall():
            before = current(c, sid, str(annotator))
            record_event(
                c, sid, str(annotator), "replace", before, None, origin=f"replace-article:{aid}"
            )
            if before is not None and before.propagated_from is None:
                counts.dropped_labels.append((aid, str(annotator), text_of[sid]))
        c.execute("DELETE FROM annotations WHERE sentence_id = ?", (sid,))
        c.execute("DELETE FROM annotations WHERE propagated_from = ?", (sid,))
        c.execute("DELETE FROM assignments WHERE sentence_id = ?", (sid,))
        c.execute("DELETE FROM cluster_splits WHERE sentence_id = ?", (sid,))
    # the article's sentences are replaced; references move through a prefix no id can have
    c.execute("PRAGMA defer_foreign_keys = ON")
    for table, col in _REFS:
        for sid, nid in mapping.items():
            if sid != nid:
                c.execute(f"UPDATE {table} SET {col} = ? WHERE {col} = ?", (_MOVING + nid, sid))
    for sid, nid in mapping.items():
        if sid != nid:
            c.execute(
                "UPDATE annotations SET propagated_from = ? WHERE propagated_from = ?", (nid, sid)
            )
            c.execute(
                "UPDATE annotation_events SET sentence_id = ? WHERE sentence_id = ?",
                (_MOVING + nid, sid),
            )
    c.execute("DELETE FROM sentences WHERE article_id = ?", (aid,))
    for table, col in (*_REFS, ("annotation_events", "sentence_id")):
        c.execute(
            f"UPDATE {table} SET {col} = substr({col}, 2) WHERE substr({col}, 1, 1) = ?",
            (_MOVING,),
        )
    c.execute(
        "UPDATE articles SET (title, source, url, published, lang, content_hash, n_sentences, "
        "origin, imported_at) = (SELECT title, source, url, published, lang, content_hash, "
        "n_sentences, origin, ? FROM temp.stage_articles WHERE seq = ?) WHERE id = ?",
        (stamp, aseq, aid),
    )
    c.executemany(
        "INSERT INTO sentences(id, article_id, idx, text, norm, cluster_id, hidden) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (
                f"{aid}:{idx}",
                aid,
                idx,
                text,
                norm,
                *carried.get(f"{aid}:{idx}", (None, 0)),
            )
            for idx, text, norm in new
        ],
    )
    counts.sentences_added += len(new)


# --- end safeimport
