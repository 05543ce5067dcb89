"""Teams: assignments, progress (live counters, queue counts), activity and resume hints.

Reached as ``store.team``. Planning and statistics live in :mod:`stanceterm.team` (no SQL
there); this module reads and writes. The TUI keeps its first screen and its keys cheap on a
million-sentence DB: slow counts run on a second connection (``Store.open_reader``) in a
background thread, against a pinned snapshot, and the resume search starts from a remembered
lower bound (:meth:`Team.resume_hint`) instead of the first sentence.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from stanceterm.store.base import Handle
from stanceterm.store.corpus import Corpus, queue_filter
from stanceterm.store.labels import Labels, ensure_annotator
from stanceterm.store.models import PROGRESS_KINDS, Sentence, now


class Team:
    """``store.team``: assignments, progress and resume hints."""

    def __init__(self, db: Handle) -> None:
        self._db = db

    # ---------------------------------------------------------------- progress of one annotator

    def queue_size(self, annotator: str | None = None) -> int:
        with self._db.read() as c:
            source, where, params = queue_filter(c, annotator)
            return int(
                c.execute(f"SELECT count(*) FROM {source} WHERE {where}", params).fetchone()[0]
            )

    def done_count(self, annotator: str) -> int:
        """Sentences of the annotator's queue that are done, skipped or flagged."""
        with self._db.read() as c:
            source, where, params = queue_filter(c, annotator)
            sql = (
                f"SELECT count(*) FROM {source} JOIN annotations a ON a.sentence_id = s.id "
                f"WHERE {where} AND a.annotator = ? AND a.status != 'draft'"
            )
            return int(c.execute(sql, [*params, annotator]).fetchone()[0])

    # --- hour2 (issue 15 §4): finished vs done
    def status_count(self, annotator: str, status: str) -> int:
        """Sentences of the annotator's queue whose label has ``status``."""
        with self._db.read() as c:
            source, where, params = queue_filter(c, annotator)
            sql = (
                f"SELECT count(*) FROM {source} JOIN annotations a ON a.sentence_id = s.id "
                f"WHERE {where} AND a.annotator = ? AND a.status = ?"
            )
            return int(c.execute(sql, [*params, annotator, status]).fetchone()[0])

    # --- end hour2

    def progress_counts(self, annotator: str) -> tuple[int, int, dict[str, int]]:
        """(queue size, done in the queue, claim counts) of an annotator: the TUI's progress line.
        Scans the annotator's labels: call it on a reader, off the UI thread."""
        with self._db.read():
            return (
                self.queue_size(annotator),
                self.done_count(annotator),
                Labels(self._db).claim_counts(annotator),
            )

    def resume_hint(self, annotator: str) -> int:
        """A sequence number below which every sentence of the annotator's queue was done when it
        was recorded (-1 if none): where the search for the first sentence not done can start.
        The TUI checks it in the background (a full search) and records a fresh one."""
        raw = self._db.get_meta(f"ui.resume.{annotator}")
        try:
            return int(raw) if raw is not None else -1
        except ValueError:
            return -1

    def set_resume_hint(self, annotator: str, seq: int) -> None:
        self._db.set_meta(f"ui.resume.{annotator}", str(int(seq)))

    def first_undone_from(
        self, annotator: str, hint: int, within: int | None = None
    ) -> Sentence | None:
        """The first sentence of the annotator's queue not done, searching after ``hint - 1``
        (see :meth:`resume_hint`); with ``within``, only among the next ``within`` sequence
        numbers (a bounded walk, for the first screen)."""
        return Corpus(self._db).step(
            hint - 1, 1, annotator=annotator, undone_only=True, within=within
        )

    # ---------------------------------------------------------------- the team

    def progress_by_annotator(self) -> dict[str, dict[str, Any]]:
        """Per annotator: ``done``, ``skipped``, ``flagged``, ``draft`` (their own labels, not
        propagated copies), ``assigned`` (sentences in their queue) and ``last_activity`` (UTC
        timestamp of their latest own change among their last 200 history events, or None).

        Reads the trigger-kept ``annotator_counts`` and one short index range per annotator, so it
        costs the same on a million-sentence DB as on a small one: safe to poll every few seconds.
        """

        def blank() -> dict[str, Any]:
            return {k: 0 for k in PROGRESS_KINDS} | {"last_activity": None}

        with self._db.read() as c:
            out = {
                str(r[0]): blank() for r in c.execute("SELECT name FROM annotators ORDER BY name")
            }
            for name, kind, n in c.execute("SELECT annotator, kind, n FROM annotator_counts"):
                out.setdefault(str(name), blank())[str(kind)] = int(n)
            for name, entry in out.items():
                row = c.execute(
                    "SELECT max(CASE WHEN action NOT IN ('import', 'merge', 'actor-merge') THEN ts END) "
                    "FROM "
                    "(SELECT ts, action FROM annotation_events WHERE annotator = ? "
                    "ORDER BY id DESC LIMIT 200)",
                    (name,),
                ).fetchone()
                entry["last_activity"] = None if row is None else row[0]
        return dict(sorted(out.items()))

    def visible_seqs(self, *, unassigned_only: bool = False) -> list[int]:
        """Sequence numbers of the visible sentences (unclustered ones and cluster
        representatives), in document order; ``unassigned_only``: those in nobody's queue."""
        sql = "SELECT seq FROM sentences s WHERE hidden = 0"
        if unassigned_only:
            sql += " AND NOT EXISTS (SELECT 1 FROM assignments q WHERE q.seq = s.seq)"
        with self._db.read() as c:
            return [int(r[0]) for r in c.execute(sql + " ORDER BY seq")]

    def assignment_count(self) -> int:
        with self._db.read() as c:
            return int(c.execute("SELECT count(*) FROM assignments").fetchone()[0])

    def assigned_loads(self) -> dict[str, int]:
        """Annotator -> number of assigned sentences (from the counters)."""
        with self._db.read() as c:
            return {
                str(a): int(n)
                for a, n in c.execute(
                    "SELECT annotator, n FROM annotator_counts WHERE kind = 'assigned' AND n > 0"
                )
            }

    def write_assignments(self, plan: Mapping[str, Sequence[int]], *, replace: bool = False) -> int:
        """Store an assignment plan (annotator -> sentence seqs) in one transaction.

        ``replace`` first drops every earlier assignment. Labels are never touched. Returns the
        number of (annotator, sentence) rows written.
        """
        stamp = now()
        n = 0
        with self._db.tx() as c:
            if replace:
                c.execute("DELETE FROM assignments")
            for name, seqs in plan.items():
                ensure_annotator(c, name)
                cur = c.executemany(
                    "INSERT INTO assignments(annotator, seq, sentence_id, created_at) "
                    "SELECT ?, seq, id, ? FROM sentences WHERE seq = ?",
                    ((name, stamp, q) for q in seqs),
                )
                n += max(cur.rowcount, 0)
        return n

    def assignment_summary(self) -> dict[str, tuple[int, int]]:
        """Annotator -> (assigned sentences, of which also assigned to someone else)."""
        with self._db.read() as c:
            rows = c.execute(
                "SELECT q.annotator, count(*), sum(EXISTS (SELECT 1 FROM assignments o "
                "WHERE o.seq = q.seq AND o.annotator != q.annotator)) "
                "FROM assignments q GROUP BY q.annotator ORDER BY q.annotator"
            ).fetchall()
        return {str(a): (int(n), int(k or 0)) for a, n, k in rows}

    def iter_activity(self, batch: int = 5000) -> Iterator[tuple[Any, ...]]:
        """Stream (annotator, ts, action, status before, status after) of every change an
        annotator made (imports and merge bookkeeping left out), by annotator, then time."""
        sql = (
            "SELECT annotator, ts, action, json_extract(before, '$.status'), "
            "json_extract(after, '$.status') FROM annotation_events "
            "WHERE action NOT IN ('import', 'merge', 'actor-merge') ORDER BY annotator, ts"
        )
        yield from self._db.stream(sql, (), batch)
