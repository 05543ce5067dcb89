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

from stanceterm.store.base import Handle, rows_in
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
        chosen_from, sources, note, updated_at) in sentence order."""
        where, params = "1 = 1", list[Any](articles)
        if articles:
            where = f"s.article_id IN ({','.join('?' * len(articles))})"
        sql = (
            "SELECT g.sentence_id, s.article_id, s.text, g.status, g.claims, g.stances, "
            "g.adjudicator, g.chosen_from, g.sources, g.note, g.updated_at FROM gold g "
            f"JOIN sentences s ON s.id = g.sentence_id WHERE {where} ORDER BY s.seq"
        )
        yield from self._db.stream(sql, params, batch)

    def iter_review_rows(
        self, *, candidates_only: bool = False, batch: int = 5000
    ) -> Iterator[tuple[Any, ...]]:
        """Stream (seq, sentence_id, annotator, status, claims_json, stances_json, note,
        updated_at) of the direct (not propagated), non-draft labels, in sentence order, then
        annotator.

        ``candidates_only``: only of the sentences that may need review, found in one pass over
        the labels: an annotator flagged it, or at least two done/flagged labels whose stored
        JSON differs (equal JSON is equal labels; the caller compares the rest exactly).
        """
        cols = (
            "s.seq, a.sentence_id, a.annotator, a.status, a.claims, a.stances, a.note, a.updated_at"
        )
        final = "a.propagated_from IS NULL AND a.status != 'draft'"
        if not candidates_only:
            sql = (
                f"SELECT {cols} FROM sentences s JOIN annotations a ON a.sentence_id = s.id "
                f"WHERE {final} ORDER BY s.seq, a.annotator"
            )
        else:
            candidates = (
                "SELECT sentence_id FROM annotations WHERE propagated_from IS NULL "
                "AND status IN ('done', 'flagged') GROUP BY sentence_id "
                "HAVING sum(status = 'flagged') > 0 "
                "OR (count(*) >= 2 AND count(DISTINCT claims || char(31) || stances) > 1)"
            )
            sql = (
                f"SELECT {cols} FROM ({candidates}) c JOIN sentences s ON s.id = c.sentence_id "
                f"JOIN annotations a ON a.sentence_id = c.sentence_id WHERE {final} "
                "ORDER BY s.seq, a.annotator"
            )
        yield from self._db.stream(sql, (), batch)

    def review_versions(self, sentence_id: str) -> list[Annotation]:
        """The direct (not propagated), non-draft labels of one sentence, by annotator."""
        with self._db.read() as c:
            rows = c.execute(
                f"SELECT {ANN_COLS} FROM annotations WHERE sentence_id = ? "
                "AND propagated_from IS NULL AND status != 'draft' ORDER BY annotator",
                (sentence_id,),
            ).fetchall()
        return [annotation_from_row(r) for r in rows]
