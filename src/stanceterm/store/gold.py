"""Gold labels and the rows the review (adjudication) reads.

Reached as ``store.gold``. Which sentences need review is decided in
:mod:`stanceterm.adjudicate` (no SQL there); this module reads the labels to compare and writes
the gold decisions, including their exact restoration by undo.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from stanceterm.store.base import UNIT_ID, UNIT_JOIN, UNIT_SEQ, Handle, rows_in
from stanceterm.store.models import (
    ANN_COLS,
    GOLD_COLS,
    Annotation,
    Gold,
    annotation_from_row,
    gold_from_row,
    gold_params,
    now,
)


def write_gold(c: sqlite3.Connection, gold: Gold) -> None:
    c.execute(
        f"INSERT OR REPLACE INTO gold({GOLD_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?)", gold_params(gold)
    )


def _get(c: sqlite3.Connection, sentence_id: str) -> Gold | None:
    row = c.execute(
        f"SELECT {GOLD_COLS} FROM gold WHERE sentence_id = ?", (sentence_id,)
    ).fetchone()
    return None if row is None else gold_from_row(row)


def _set(c: sqlite3.Connection, gold: Gold) -> Gold:
    stamp = now()
    row = c.execute(
        "SELECT created_at FROM gold WHERE sentence_id = ?", (gold.sentence_id,)
    ).fetchone()
    stored = replace(gold, created_at=row[0] if row else stamp, updated_at=stamp)
    write_gold(c, stored)
    return stored


class GoldRecords:
    """``store.gold``: gold decisions and the review rows."""

    def __init__(self, db: Handle) -> None:
        self._db = db

    def get(self, sentence_id: str) -> Gold | None:
        with self._db.read() as c:
            return _get(c, sentence_id)

    def set(self, gold: Gold) -> Gold:
        """Store a gold decision (``created_at`` kept from an earlier one); returns it stored."""
        with self._db.tx() as c:
            return _set(c, gold)

    def replace(self, gold: Gold) -> tuple[Gold | None, Gold]:
        """:meth:`set`, returning (the record it replaced, the stored one) read and written in one
        transaction (what the review's undo restores)."""
        with self._db.tx() as c:
            before = _get(c, gold.sentence_id)
            return before, _set(c, gold)

    def restore(self, sentence_id: str, gold: Gold | None) -> None:
        """Put back an earlier gold decision exactly as it was (timestamps included), or remove
        the record when there was none (the undo of a review decision)."""
        with self._db.tx() as c:
            if gold is None:
                c.execute("DELETE FROM gold WHERE sentence_id = ?", (sentence_id,))
                return
            write_gold(c, gold)

    def statuses(self, sentence_ids: Sequence[str]) -> dict[str, str]:
        """Sentence id -> gold status, for those of ``sentence_ids`` that have a gold record."""
        with self._db.read() as c:
            sql = "SELECT sentence_id, status FROM gold WHERE sentence_id IN ({})"
            return {str(r[0]): str(r[1]) for r in rows_in(c, sql, sentence_ids)}

    def iter_rows(
        self, *, articles: Sequence[str] = (), batch: int = 5000
    ) -> Iterator[tuple[Any, ...]]:
        """Stream (sentence_id, article_id, text, status, claims, stances, adjudicator,
        chosen_from, sources, note, updated_at, propagated_from) in sentence order.

        A decision made on a cluster's representative carries to every copy of the cluster
        (a cluster is one unit) that has no decision of its own: those rows name the
        representative in ``propagated_from`` (NULL on the decision's own row)."""
        where, params = "1 = 1", list[Any](articles)
        if articles:
            where = f"s.article_id IN ({','.join('?' * len(articles))})"
        gcols = "g.status, g.claims, g.stances, g.adjudicator, g.chosen_from, g.sources, g.note"
        sql = (
            f"SELECT g.sentence_id, s.article_id, s.text, {gcols}, g.updated_at, NULL, s.seq "
            f"FROM gold g JOIN sentences s ON s.id = g.sentence_id WHERE {where} "
            "UNION ALL "
            f"SELECT s.id, s.article_id, s.text, {gcols}, g.updated_at, g.sentence_id, s.seq "
            "FROM gold g JOIN clusters k ON k.representative_id = g.sentence_id "
            "JOIN sentences s ON s.cluster_id = k.id AND s.id != g.sentence_id "
            f"WHERE {where} AND s.id NOT IN (SELECT sentence_id FROM gold) ORDER BY 13"
        )
        for row in self._db.stream(sql, params + params, batch):
            yield row[:12]

    def iter_review_rows(
        self, *, candidates_only: bool = False, batch: int = 5000
    ) -> Iterator[tuple[Any, ...]]:
        """Stream (unit_seq, unit_id, annotator, status, claims_json, stances_json, note,
        updated_at, sentence_id) of the direct (not propagated), non-draft labels, in unit order,
        then annotator, then the sentence the label is on.

        A dedup cluster is one unit (:data:`~stanceterm.store.base.UNIT_JOIN`): labels written on
        its copies are rows of the representative's unit, each with the copy it is on.

        ``candidates_only``: only of the units that may need review, found in one pass over the
        labels: an annotator flagged it, or at least two done/flagged labels whose stored JSON
        differs (equal JSON is equal labels; the caller compares the rest exactly).
        """
        lab = (
            f"SELECT {UNIT_SEQ} AS useq, {UNIT_ID} AS uid, a.annotator, a.status, a.claims, "
            f"a.stances, a.note, a.updated_at, a.sentence_id FROM annotations a {UNIT_JOIN} "
            "WHERE a.propagated_from IS NULL AND a.status != 'draft'"
        )
        order = "ORDER BY useq, annotator, sentence_id"
        if not candidates_only:
            sql = f"SELECT * FROM ({lab}) {order}"
        else:
            sql = (
                f"WITH lab AS ({lab}), cand AS (SELECT uid FROM lab "
                "WHERE status IN ('done', 'flagged') GROUP BY uid "
                "HAVING sum(status = 'flagged') > 0 "
                "OR (count(*) >= 2 AND count(DISTINCT claims || char(31) || stances) > 1)) "
                f"SELECT * FROM lab WHERE uid IN (SELECT uid FROM cand) {order}"
            )
        yield from self._db.stream(sql, (), batch)

    def review_versions(self, unit_id: str) -> list[Annotation]:
        """The direct (not propagated), non-draft labels of one unit (a sentence, or every copy of
        the cluster it represents), by annotator, then sentence."""
        with self._db.read() as c:
            rows = c.execute(
                f"SELECT {ANN_COLS} FROM annotations WHERE sentence_id IN (SELECT ? UNION ALL "
                "SELECT s.id FROM clusters k JOIN sentences s ON s.cluster_id = k.id "
                "WHERE k.representative_id = ?) "
                "AND propagated_from IS NULL AND status != 'draft' ORDER BY annotator, sentence_id",
                (unit_id, unit_id),
            ).fetchall()
        return [annotation_from_row(r) for r in rows]
