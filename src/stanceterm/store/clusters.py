"""Dedup clusters: members, splits, and the reads and writes of the dedup engine.

Reached as ``store.clusters`` (the ``dedup_*`` methods of the old single-module store, without
the prefix). The dedup engine (:mod:`stanceterm.dedup`) reads sentences through these methods
and writes its clusters here, one short transaction per batch. Its progress mark lives in
``meta`` (no migration): ``dedup_last_seq`` (every sentence up to it has been clustered),
``dedup_threshold``, ``dedup_version``, ``dedup_splits`` (cluster_splits rows then) and
``dedup_gazetteer`` (a fingerprint of the trusted aliases it used).

Visibility rule: a representative is visible; a member is hidden unless it carries direct
labels of its own (work done before dedup stays in the annotator's queue, never hidden).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence

from stanceterm.store.base import Handle, require_tx, rows_in
from stanceterm.store.labels import propagate
from stanceterm.store.models import (
    ANN_COLS,
    DedupState,
    Sentence,
    annotation_from_row,
    now,
    sentence_from_row,
)

_KEYS = ("dedup_last_seq", "dedup_threshold", "dedup_version", "dedup_splits", "dedup_gazetteer")

#: every sentence up to a run's mark, with whether it is in the index new sentences are compared
#: against (a representative or a singleton, never split out); the others (hidden copies, split
#: sentences) only count for the corpus's known names
_KNOWN = (
    "FROM sentences s LEFT JOIN clusters k ON k.id = s.cluster_id WHERE s.seq > ? AND s.seq <= ?"
)
_IS_KNOWN = (
    "((s.cluster_id IS NULL OR k.representative_id = s.id) "
    "AND s.id NOT IN (SELECT sentence_id FROM cluster_splits))"
)
_IS_SPLIT = "(s.id IN (SELECT sentence_id FROM cluster_splits))"


def split_in(c: sqlite3.Connection, sentence_id: str, annotator: str | None = None) -> int:
    """:meth:`Clusters.split` in the caller's transaction."""
    require_tx(c, "clusters.split_in")
    row = c.execute("SELECT cluster_id FROM sentences WHERE id = ?", (sentence_id,)).fetchone()
    if row is None:
        raise KeyError(sentence_id)
    c.execute(
        "INSERT OR IGNORE INTO cluster_splits(sentence_id, annotator, created_at) VALUES (?, ?, ?)",
        (sentence_id, annotator, now()),
    )
    cluster_id = row[0]
    if cluster_id is None:
        return 0
    rep = c.execute("SELECT representative_id FROM clusters WHERE id = ?", (cluster_id,)).fetchone()
    if rep is not None and rep[0] == sentence_id:
        withdrawn = c.execute(
            "DELETE FROM annotations WHERE propagated_from = ?", (sentence_id,)
        ).rowcount
        c.execute(
            "UPDATE sentences SET cluster_id = NULL, hidden = 0 WHERE cluster_id = ?",
            (cluster_id,),
        )
        c.execute("DELETE FROM clusters WHERE id = ?", (cluster_id,))
        return int(withdrawn)
    withdrawn = c.execute(
        "DELETE FROM annotations WHERE sentence_id = ? AND propagated_from IS NOT NULL",
        (sentence_id,),
    ).rowcount
    c.execute("UPDATE sentences SET cluster_id = NULL, hidden = 0 WHERE id = ?", (sentence_id,))
    c.execute("UPDATE clusters SET size = size - 1 WHERE id = ?", (cluster_id,))
    left = c.execute(
        "SELECT count(*) FROM sentences WHERE cluster_id = ?", (cluster_id,)
    ).fetchone()[0]
    if left <= 1:
        c.execute(
            "UPDATE sentences SET cluster_id = NULL, hidden = 0 WHERE cluster_id = ?",
            (cluster_id,),
        )
        c.execute("DELETE FROM clusters WHERE id = ?", (cluster_id,))
    return int(withdrawn)


class Clusters:
    """``store.clusters``: dedup clusters and splits."""

    def __init__(self, db: Handle) -> None:
        self._db = db

    def members(self, cluster_id: str) -> list[tuple[Sentence, str | None]]:
        """(sentence, article title) of every member, representative first, then by sequence."""
        with self._db.read() as c:
            rep = c.execute(
                "SELECT representative_id FROM clusters WHERE id = ?", (cluster_id,)
            ).fetchone()
            rows = c.execute(
                "SELECT s.seq, s.id, s.article_id, s.idx, s.text, s.cluster_id, s.hidden, a.title "
                "FROM sentences s JOIN articles a ON a.id = s.article_id "
                "WHERE s.cluster_id = ? ORDER BY s.seq",
                (cluster_id,),
            ).fetchall()
        rep_id = None if rep is None else rep[0]
        out = [(sentence_from_row(r), r[7]) for r in rows]
        out.sort(key=lambda m: (m[0].id != rep_id, m[0].seq))
        return out

    def size(self, cluster_id: str) -> tuple[int, int]:
        """(members, distinct articles) of a cluster."""
        with self._db.read() as c:
            row = c.execute(
                "SELECT count(*), count(DISTINCT article_id) FROM sentences WHERE cluster_id = ?",
                (cluster_id,),
            ).fetchone()
        return int(row[0]), int(row[1])

    def split(self, sentence_id: str, annotator: str | None = None) -> int:
        """Take a sentence out of its cluster for good; its propagated labels are withdrawn.

        Splitting the representative dissolves the cluster (every member becomes its own
        sentence again, and all labels propagated from it are withdrawn). The split is remembered,
        so a later ``dedup`` never merges the sentence again. Returns the labels withdrawn.
        """
        with self._db.tx() as c:
            return split_in(c, sentence_id, annotator)

    def state(self) -> DedupState:
        with self._db.read() as c:
            rows = dict(
                c.execute(
                    f"SELECT key, value FROM meta WHERE key IN ({','.join('?' * len(_KEYS))})",
                    _KEYS,
                ).fetchall()
            )
        if "dedup_last_seq" not in rows:
            return DedupState()
        return DedupState(
            last_seq=int(rows["dedup_last_seq"]),
            threshold=float(rows.get("dedup_threshold", "nan")),
            version=str(rows.get("dedup_version", "")),
            splits=int(rows.get("dedup_splits", "0")),
            gazetteer=str(rows.get("dedup_gazetteer", "")),
        )

    def split_count(self) -> int:
        with self._db.read() as c:
            return int(c.execute("SELECT count(*) FROM cluster_splits").fetchone()[0])

    def max_seq(self) -> int:
        with self._db.read() as c:
            return int(c.execute("SELECT coalesce(max(seq), -1) FROM sentences").fetchone()[0])

    def reset(self) -> None:
        """Drop every cluster (before a full run): members visible again, propagated labels
        withdrawn, the progress mark cleared. Splits stay."""
        with self._db.tx() as c:
            c.execute("DELETE FROM annotations WHERE propagated_from IS NOT NULL")
            c.execute(
                "UPDATE sentences SET cluster_id = NULL, hidden = 0 "
                "WHERE cluster_id IS NOT NULL OR hidden != 0"
            )
            c.execute("DELETE FROM clusters")
            c.execute(f"DELETE FROM meta WHERE key IN ({','.join('?' * len(_KEYS))})", _KEYS)

    def count_known(self, last_seq: int) -> int:
        with self._db.read() as c:
            return int(c.execute(f"SELECT count(*) {_KNOWN}", (-1, last_seq)).fetchone()[0])

    def iter_known(
        self, last_seq: int, batch: int
    ) -> Iterator[list[tuple[str, str, bool, str | None]]]:
        """(id, text, indexed, representative) batches, in seq order, of every sentence up to
        ``last_seq``; ``indexed``: a representative or singleton never split out (the index new
        sentences are compared against); the others only count for the corpus's known names.
        ``representative``: for a sentence in a cluster (not split out), its representative's id
        (its own for the representative)."""
        after = -1
        while True:
            with self._db.read() as c:
                rows = c.execute(
                    f"SELECT s.seq, s.id, s.text, {_IS_KNOWN}, CASE WHEN s.id NOT IN "
                    "(SELECT sentence_id FROM cluster_splits) THEN k.representative_id END "
                    f"{_KNOWN} ORDER BY s.seq LIMIT ?",
                    (after, last_seq, batch),
                ).fetchall()
            if not rows:
                return
            after = int(rows[-1][0])
            yield [
                (str(r[1]), str(r[2]), bool(r[3]), None if r[4] is None else str(r[4]))
                for r in rows
            ]

    def count_new(self, after_seq: int) -> int:
        with self._db.read() as c:
            return int(
                c.execute("SELECT count(*) FROM sentences WHERE seq > ?", (after_seq,)).fetchone()[
                    0
                ]
            )

    def iter_new(
        self, after_seq: int, batch: int
    ) -> Iterator[tuple[list[int], list[tuple[str, str, bool]]]]:
        """(seqs, [(id, text, split)]) batches of the sentences after ``after_seq``, in seq order
        (``split``: split out for good, never clustered; each batch is a fresh query: writes may
        happen between batches)."""
        after = after_seq
        while True:
            with self._db.read() as c:
                rows = c.execute(
                    f"SELECT s.seq, s.id, s.text, {_IS_SPLIT} FROM sentences s WHERE s.seq > ? "
                    "ORDER BY s.seq LIMIT ?",
                    (after, batch),
                ).fetchall()
            if not rows:
                return
            after = int(rows[-1][0])
            yield [int(r[0]) for r in rows], [(str(r[1]), str(r[2]), bool(r[3])) for r in rows]

    def write_joins(
        self, joins: Sequence[tuple[str, str, str]], threshold: float
    ) -> tuple[int, int]:
        """Write (member, representative, cluster id) joins in one short transaction.

        Creates the clusters (sized by their members), sets ``cluster_id`` and ``hidden`` (see
        the visibility rule above), withdraws labels a member had from another representative,
        and propagates the representative's labels to its members (:func:`~stanceterm.store.labels.propagate`).
        Idempotent: writing the same joins again changes nothing. Returns (clusters created,
        labels propagated to the joining members).
        """
        if not joins:
            return 0, 0
        stamp = now()
        reps: dict[str, str] = {}
        for _member, rep, cid in joins:
            reps[rep] = cid
        with self._db.tx() as c:
            created = 0
            for rep, cid in reps.items():
                created += c.execute(
                    "INSERT OR IGNORE INTO clusters(id, representative_id, size, threshold, "
                    "created_at) VALUES (?, ?, 1, ?, ?)",
                    (cid, rep, threshold, stamp),
                ).rowcount
                c.execute(
                    "UPDATE sentences SET cluster_id = ?, hidden = 0 WHERE id = ?", (cid, rep)
                )
            for member, rep, cid in joins:
                c.execute(
                    "DELETE FROM annotations WHERE sentence_id = ? "
                    "AND propagated_from IS NOT NULL AND propagated_from != ?",
                    (member, rep),
                )
                c.execute(
                    "UPDATE sentences SET cluster_id = ?, hidden = CASE WHEN EXISTS "
                    "(SELECT 1 FROM annotations a WHERE a.sentence_id = ? "
                    "AND a.propagated_from IS NULL) THEN 0 ELSE 1 END WHERE id = ?",
                    (cid, member, member),
                )
            for rep, cid in reps.items():
                c.execute(
                    "UPDATE clusters SET size = (SELECT count(*) FROM sentences "
                    "WHERE cluster_id = ?) WHERE id = ?",
                    (cid, cid),
                )
                for row in c.execute(
                    f"SELECT {ANN_COLS} FROM annotations WHERE sentence_id = ? "
                    "AND propagated_from IS NULL ORDER BY annotator",
                    (rep,),
                ).fetchall():
                    ann = annotation_from_row(row)
                    propagate(c, rep, ann.annotator, ann)
            members = [m for m, _, _ in joins]
            propagated = sum(
                int(r[0])
                for r in rows_in(
                    c,
                    "SELECT count(*) FROM annotations WHERE propagated_from IS NOT NULL "
                    "AND sentence_id IN ({})",
                    members,
                )
            )
        return created, propagated

    def finish(
        self, last_seq: int, threshold: float, version: str, splits: int, gazetteer: str = ""
    ) -> None:
        """Record the progress mark (the last write of a run)."""
        with self._db.tx() as c:
            for key, value in zip(
                _KEYS, (last_seq, repr(float(threshold)), version, splits, gazetteer), strict=True
            ):
                c.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, str(value))
                )

    def counts(self) -> tuple[int, int]:
        """(clusters, hidden sentences)."""
        with self._db.read() as c:
            clusters = int(c.execute("SELECT count(*) FROM clusters").fetchone()[0])
            hidden = int(c.execute("SELECT count(*) FROM sentences WHERE hidden = 1").fetchone()[0])
        return clusters, hidden

    def snapshot(self) -> tuple[list[tuple[str, str, int]], list[tuple[str, str, int]]]:
        """(clusters as (id, representative, size), clustered sentences as (id, cluster, hidden)),
        sorted: what two runs are compared by."""
        with self._db.read() as c:
            clusters = [
                (str(r[0]), str(r[1]), int(r[2]))
                for r in c.execute("SELECT id, representative_id, size FROM clusters ORDER BY id")
            ]
            members = [
                (str(r[0]), str(r[1]), int(r[2]))
                for r in c.execute(
                    "SELECT id, cluster_id, hidden FROM sentences "
                    "WHERE cluster_id IS NOT NULL ORDER BY id"
                )
            ]
        return clusters, members

    def article_overlaps(
        self, min_shared: int = 2
    ) -> list[tuple[str, str, int, int, int, str | None, str | None]]:
        """Article pairs with at least ``min_shared`` clusters in common: (a, b, shared clusters,
        sentences of a, sentences of b, title a, title b)."""
        sql = (
            "WITH ca AS (SELECT DISTINCT cluster_id, article_id FROM sentences "
            "WHERE cluster_id IS NOT NULL), "
            "p AS (SELECT x.article_id AS a, y.article_id AS b, count(*) AS shared "
            "FROM ca x JOIN ca y ON x.cluster_id = y.cluster_id AND x.article_id < y.article_id "
            "GROUP BY x.article_id, y.article_id HAVING count(*) >= ?) "
            "SELECT p.a, p.b, p.shared, aa.n_sentences, ab.n_sentences, aa.title, ab.title "
            "FROM p JOIN articles aa ON aa.id = p.a JOIN articles ab ON ab.id = p.b "
            "ORDER BY p.a, p.b"
        )
        with self._db.read() as c:
            return [
                (str(r[0]), str(r[1]), int(r[2]), int(r[3]), int(r[4]), r[5], r[6])
                for r in c.execute(sql, (min_shared,))
            ]

    # ---------------------------------------------------------------- gold
