"""Suggestions (issue 18): what the claim model learns from, the blind units, which units may
show suggestions, the provenance of labels, and the counts behind the actor picker's boost.

Reached as ``store.suggest``. The model itself (training, files, evaluation) lives in
:mod:`stanceterm.suggest` (no SQL there).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import orjson

from stanceterm.store.base import UNIT_ID, UNIT_JOIN, Handle, rows_in
from stanceterm.store.corpus import queue_filter
from stanceterm.store.models import now


class Suggestions:
    """``store.suggest``: what the claim model learns from, the blind units, which units may
    show suggestions, and the counts behind the actor picker's claim boost."""

    def __init__(self, db: Handle) -> None:
        self._db = db

    def training_rows(self, batch: int = 5000) -> Iterator[tuple[str, str, str, str, list[str]]]:
        """(sentence_id, text, annotator, status, claims) of the direct (not propagated)
        non-draft labels, by sentence in document order, then annotator; a sentence with a gold
        record and no such label comes as one row with annotator and status ``""``."""
        sql = (
            "SELECT s.seq, s.id, s.text, a.annotator, a.status, a.claims FROM sentences s "
            "JOIN annotations a ON a.sentence_id = s.id "
            "WHERE a.propagated_from IS NULL AND a.status != 'draft' "
            "UNION ALL SELECT s.seq, s.id, s.text, '', '', '[]' FROM gold g "
            "JOIN sentences s ON s.id = g.sentence_id WHERE NOT EXISTS (SELECT 1 FROM "
            "annotations a WHERE a.sentence_id = g.sentence_id AND a.propagated_from IS NULL "
            "AND a.status != 'draft') ORDER BY 1, 4"
        )
        for _seq, sid, text, annotator, status, claims in self._db.stream(sql, (), batch):
            yield str(sid), str(text), str(annotator), str(status), list(orjson.loads(claims))

    def gold_claims(self) -> dict[str, tuple[str, list[str]]]:
        """Sentence id -> (gold status, claims) of every gold record."""
        with self._db.read() as c:
            return {
                str(sid): (str(status), list(orjson.loads(claims)))
                for sid, status, claims in c.execute("SELECT sentence_id, status, claims FROM gold")
            }

    def label_count(self) -> int:
        """Direct done labels plus gold records, from the counters: cheap enough to poll."""
        with self._db.read() as c:
            done = c.execute(
                "SELECT coalesce(sum(n), 0) FROM annotator_counts WHERE kind = 'done'"
            ).fetchone()[0]
            gold = c.execute("SELECT count(*) FROM gold").fetchone()[0]
        return int(done) + int(gold)

    # ---------------------------------------------------------------- units without suggestions

    def unit_ids(self) -> list[str]:
        """The visible sentences (unclustered ones and cluster representatives): the units."""
        with self._db.read() as c:
            return [str(r[0]) for r in c.execute("SELECT id FROM sentences WHERE hidden = 0")]

    def set_blind(self, sentence_ids: Sequence[str], seed: int) -> int:
        """Make ``sentence_ids`` the blind units (no suggestions for anyone), replacing the
        earlier set, in one transaction. Returns how many."""
        stamp = now()
        with self._db.tx() as c:
            c.execute("DELETE FROM suggest_blind")
            c.executemany(
                "INSERT INTO suggest_blind(sentence_id, seed, created_at) VALUES (?, ?, ?)",
                ((sid, seed, stamp) for sid in sentence_ids),
            )
        return len(sentence_ids)

    def blind_count(self) -> int:
        with self._db.read() as c:
            return int(c.execute("SELECT count(*) FROM suggest_blind").fetchone()[0])

    def unassisted(self, sentence_ids: Sequence[str]) -> set[str]:
        """Those of ``sentence_ids`` that never show suggestions: blind units and overlap units
        (assigned to two annotators or more)."""
        out: set[str] = set()
        with self._db.read() as c:
            for r in rows_in(
                c, "SELECT sentence_id FROM suggest_blind WHERE sentence_id IN ({})", sentence_ids
            ):
                out.add(str(r[0]))
            for r in rows_in(
                c,
                "SELECT sentence_id FROM assignments WHERE sentence_id IN ({}) "
                "GROUP BY sentence_id HAVING count(*) >= 2",
                sentence_ids,
            ):
                out.add(str(r[0]))
        return out

    def blind(self, sentence_ids: Sequence[str]) -> set[str]:
        """Those of ``sentence_ids`` that are blind units."""
        with self._db.read() as c:
            return {
                str(r[0])
                for r in rows_in(
                    c,
                    "SELECT sentence_id FROM suggest_blind WHERE sentence_id IN ({})",
                    sentence_ids,
                )
            }

    # ---------------------------------------------------------------- anchoring, picker

    def provenance_rows(self, batch: int = 5000) -> Iterator[tuple[str, str, list[str], Any]]:
        """(sentence_id, text, claims, suggested or None) of the direct done labels."""
        sql = (
            "SELECT a.sentence_id, s.text, a.claims, a.suggested FROM annotations a "
            "JOIN sentences s ON s.id = a.sentence_id "
            "WHERE a.propagated_from IS NULL AND a.status = 'done' ORDER BY s.seq, a.annotator"
        )
        for sid, text, claims, sug in self._db.stream(sql, (), batch):
            yield (
                str(sid),
                str(text),
                list(orjson.loads(claims)),
                None if sug is None else orjson.loads(sug),
            )

    def assisted_units(self) -> set[str]:
        """Units with a direct label made while a suggestion was shown (provenance). A label on
        a dedup copy counts for its cluster's unit, the representative (as in
        ``labels.iter_reliability_rows``)."""
        with self._db.read() as c:
            return {
                str(r[0])
                for r in c.execute(
                    f"SELECT DISTINCT {UNIT_ID} FROM annotations a {UNIT_JOIN} "
                    "WHERE a.propagated_from IS NULL AND a.suggested IS NOT NULL"
                )
            }

    def queue_not_done(self, annotator: str, batch: int = 5000) -> Iterator[tuple[int, str, str]]:
        """(seq, sentence_id, text) of the annotator's queue (assigned sentences, else every
        visible one) that the annotator has not done, skipped or flagged, in document order."""
        with self._db.read() as c:
            source, where, params = queue_filter(c, annotator)
        sql = (
            f"SELECT s.seq, s.id, s.text FROM {source} WHERE {where} AND NOT EXISTS (SELECT 1 "
            "FROM annotations a WHERE a.sentence_id = s.id AND a.annotator = ? "
            "AND a.status != 'draft') ORDER BY s.seq"
        )
        for seq, sid, text in self._db.stream(sql, [*params, annotator], batch):
            yield int(seq), str(sid), str(text)

    def labelled_by_others(self, sentence_ids: Sequence[str], annotator: str) -> set[str]:
        """Those of ``sentence_ids`` with a gold record or another annotator's direct non-draft
        label: the model may have learnt that label, so showing its suggestion there would show
        another annotator's work."""
        out: set[str] = set()
        with self._db.read() as c:
            for r in rows_in(
                c,
                "SELECT sentence_id, annotator FROM annotations WHERE sentence_id IN ({}) "
                "AND propagated_from IS NULL AND status != 'draft'",
                sentence_ids,
            ):
                if r[1] != annotator:
                    out.add(str(r[0]))
            for r in rows_in(
                c, "SELECT sentence_id FROM gold WHERE sentence_id IN ({})", sentence_ids
            ):
                out.add(str(r[0]))
        return out

    def actor_counts_by_claim(self) -> dict[str, dict[str, int]]:
        """Claim -> actor id -> how many direct non-draft labels gave that actor a stance on
        that claim (one scan; the screen refreshes it in the background and takes away the
        sentence on screen's own labels: :func:`stanceterm.suggest.boost_counts`)."""
        sql = (
            "SELECT json_extract(j.value, '$.claim'), json_extract(j.value, '$.actor'), count(*) "
            "FROM annotations a, json_each(a.stances) j "
            "WHERE a.propagated_from IS NULL AND a.status != 'draft' GROUP BY 1, 2"
        )
        out: dict[str, dict[str, int]] = {}
        with self._db.read() as c:
            for claim, actor, n in c.execute(sql):
                if claim and actor:
                    out.setdefault(str(claim), {})[str(actor)] = int(n)
        return out
