"""Gold labels and the rows the review (adjudication) reads.

Reached as ``store.gold``. Which sentences need review is decided in
:mod:`stanceterm.adjudicate` (no SQL there); this module reads the labels to compare and writes
the gold decisions, including their exact restoration by undo.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from stanceterm.store.base import UNIT_ID, UNIT_JOIN, UNIT_SEQ, Handle, rows_in
from stanceterm.store.labels import actor_map_in, map_actors, sentence_text_key, winner
from stanceterm.store.models import (
    ANN_COLS,
    GOLD_COLS,
    Annotation,
    Gold,
    MergeCounts,
    annotation_from_row,
    gold_from_json,
    gold_from_row,
    gold_json,
    gold_params,
    stamp_after,
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


def latest_gold_ts(c: sqlite3.Connection, sentence_id: str) -> str | None:
    row = c.execute(
        "SELECT max(ts) FROM gold_events WHERE sentence_id = ?", (sentence_id,)
    ).fetchone()
    own = c.execute("SELECT updated_at FROM gold WHERE sentence_id = ?", (sentence_id,)).fetchone()
    return max((str(v) for v in (row[0], own[0] if own else None) if v), default=None)


def record_gold_event(
    c: sqlite3.Connection,
    sentence_id: str,
    adjudicator: str,
    ts: str,
    action: str,
    before: Gold | None,
    after: Gold | None,
    undoes: str | None = None,
) -> str:
    """Append one gold history event (append-only; the standing decision is the ``after`` of the
    latest event by (ts, uid)); returns its uid."""
    uid = uuid.uuid4().hex
    c.execute(
        "INSERT INTO gold_events(uid, sentence_id, adjudicator, ts, action, before, after, undoes) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (uid, sentence_id, adjudicator, ts, action, gold_json(before), gold_json(after), undoes),
    )
    return uid


def _put(c: sqlite3.Connection, sentence_id: str, gold: Gold | None) -> None:
    if gold is None:
        c.execute("DELETE FROM gold WHERE sentence_id = ?", (sentence_id,))
    else:
        write_gold(c, gold)


def _mapped(c: sqlite3.Connection, gold: Gold | None) -> Gold | None:
    amap = actor_map_in(c)
    if gold is None or not amap:
        return gold
    mapped = map_actors(Annotation(gold.sentence_id, "", "done", (), gold.stances), amap)
    return replace(gold, stances=mapped.stances)


def _set(c: sqlite3.Connection, gold: Gold) -> Gold:
    before = _get(c, gold.sentence_id)
    gold = _mapped(c, gold) or gold
    stamp = stamp_after(latest_gold_ts(c, gold.sentence_id))
    stored = replace(gold, created_at=before.created_at if before else stamp, updated_at=stamp)
    write_gold(c, stored)
    record_gold_event(c, gold.sentence_id, gold.adjudicator, stamp, "decide", before, stored)
    return stored


def _undo(c: sqlite3.Connection, adjudicator: str) -> tuple[str, Gold | None] | None:
    row = c.execute(
        "SELECT uid, sentence_id, before FROM gold_events e WHERE adjudicator = ? "
        "AND action = 'decide' AND origin IS NULL AND (e.text_key IS NULL OR e.text_key = "
        "(SELECT stanceterm_text_key(text) FROM sentences WHERE id = e.sentence_id)) AND NOT EXISTS "
        "(SELECT 1 FROM gold_events u WHERE u.undoes = e.uid) ORDER BY id DESC LIMIT 1",
        (adjudicator,),
    ).fetchone()
    if row is None:
        return None
    uid, sid = str(row[0]), str(row[1])
    was = _get(c, sid)
    restored = _mapped(c, gold_from_json(row[2]))
    _put(c, sid, restored)
    stamp = stamp_after(latest_gold_ts(c, sid))
    record_gold_event(c, sid, adjudicator, stamp, "undo", was, restored, undoes=uid)
    return sid, restored


def resolve_gold(
    c: sqlite3.Connection,
    sid: str,
    theirs: str | None,
    actor_map: dict[str, str],
    counts: MergeCounts | None = None,
) -> bool:
    """Make the gold of ``sid`` the ``after`` of its latest gold event by (ts, uid)."""
    found = c.execute(f"SELECT {GOLD_COLS} FROM gold WHERE sentence_id = ?", (sid,)).fetchone()
    ours = None if found is None else gold_from_row(found)
    cands: list[tuple[str, str, str | None]] = []
    row = c.execute(
        "SELECT ts, uid, after FROM gold_events WHERE sentence_id = ? "
        "AND (text_key IS NULL OR text_key = ?) ORDER BY ts DESC, uid DESC LIMIT 1",
        (sid, sentence_text_key(c, sid)),
    ).fetchone()
    if row is not None:
        cands.append((str(row[0]), str(row[1]), row[2]))
    if ours is not None:
        cands.append((ours.updated_at, "", gold_json(ours)))
    if theirs is not None:
        g = gold_from_json(theirs)
        if g is not None:
            cands.append((g.updated_at, "", theirs))
    win = winner(cands)
    if win is None:
        return False
    state = gold_from_json(win[2])
    if state is not None and actor_map:
        state = replace(
            state,
            stances=map_actors(Annotation(sid, "", "done", (), state.stances), actor_map).stances,
        )
    if gold_json(state) == gold_json(ours):
        if counts is not None and ours is not None:
            counts.gold_kept += 1
        return False
    if state is None:
        c.execute("DELETE FROM gold WHERE sentence_id = ?", (sid,))
    else:
        write_gold(c, state)
    if counts is not None:
        counts.gold_taken += 1
    return True


_HISTORY = (
    "SELECT e.uid, e.sentence_id, e.adjudicator, e.ts, e.action, e.before, e.after, e.undoes, "
    "e.origin FROM gold_events e"
)


def _event_dict(row: Sequence[Any]) -> dict[str, Any]:
    keys = ("uid", "sentence_id", "adjudicator", "ts", "action", "before", "after", "undoes")
    return {**dict(zip(keys, row[:8], strict=True)), "origin": row[8]}


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

    def restore(self, sentence_id: str, gold: Gold | None, by: str = "") -> None:
        """Put back an earlier gold decision exactly as it was (timestamps included), or remove
        the record when there was none; recorded as a ``restore`` event."""
        with self._db.tx() as c:
            was = _get(c, sentence_id)
            gold = _mapped(c, gold)
            _put(c, sentence_id, gold)
            stamp = stamp_after(latest_gold_ts(c, sentence_id))
            who = by or (gold.adjudicator if gold else was.adjudicator if was else "")
            record_gold_event(c, sentence_id, who, stamp, "restore", was, gold)

    def undo(self, adjudicator: str) -> tuple[str, Gold | None] | None:
        """Undo the adjudicator's latest decision made here and not yet undone, in this session
        or an earlier one: the decision it replaced stands again exactly as it was (or no gold
        when there was none). The undo is itself an event; both stay in the history. Returns
        (sentence id, the decision standing now) or None when there is nothing to undo."""
        with self._db.tx() as c:
            return _undo(c, adjudicator)

    def history(self, sentence_id: str) -> list[dict[str, Any]]:
        """The gold events of one sentence, oldest first (by (ts, uid))."""
        with self._db.read() as c:
            return [
                _event_dict(r)
                for r in c.execute(
                    _HISTORY + " WHERE e.sentence_id = ? ORDER BY e.ts, e.uid", (sentence_id,)
                )
            ]

    def iter_history(self, *, articles: Sequence[str] = ()) -> Iterator[dict[str, Any]]:
        """Every gold event (the trail of ``export --kind gold --history``), in sentence order,
        then (ts, uid); a gold record older than the history (no event) is given as one
        ``decide`` event without uid."""
        where, params = "", list[Any](articles)
        if articles:
            where = f" WHERE s.article_id IN ({','.join('?' * len(articles))})"
        sql = (
            _HISTORY.replace(
                "FROM gold_events e", "FROM gold_events e JOIN sentences s ON s.id = e.sentence_id"
            )
            + where
            + " ORDER BY s.seq, e.ts, e.uid"
        )
        for row in self._db.stream(sql, params, 5000):
            yield _event_dict(row)
        legacy = (
            f"SELECT {GOLD_COLS} FROM gold WHERE sentence_id NOT IN "
            "(SELECT sentence_id FROM gold_events)"
        )
        if articles:
            legacy += (
                " AND sentence_id IN (SELECT id FROM sentences WHERE article_id IN "
                f"({','.join('?' * len(articles))}))"
            )
        for row in self._db.stream(legacy, params, 5000):
            g = gold_from_row(row)
            yield {
                "uid": None,
                "sentence_id": g.sentence_id,
                "adjudicator": g.adjudicator,
                "ts": g.updated_at,
                "action": "decide",
                "before": None,
                "after": gold_json(g),
                "undoes": None,
                "origin": None,
            }

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
