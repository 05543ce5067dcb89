"""The labels: current state per (sentence, annotator), the history, undo and propagation.

Reached as ``store.labels``. Every change is one short transaction that writes the new state,
records an event with the before and after states (the history behind undo, audit and merge) and
propagates the state to the members of the sentence's dedup cluster (:func:`propagate`).
The module-level functions taking a connection write in the caller's transaction (they are the
pieces that :mod:`~stanceterm.store.clusters` and :mod:`~stanceterm.store.merge` reuse).

Size: over 600 lines because every writer of a label (the screens' saves and undo, merge's
resolution by (ts, uid), the staged import runs and their undo) goes through the same few
pieces here (:func:`record_event`, :func:`latest_ts` and the stamp rule, :func:`propagate`), so
they follow one ordering rule (docs/ARCHITECTURE.md, "Merge ordering").
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any

import orjson

from stanceterm.actors import alias_key
from stanceterm.store.base import UNIT_ID, UNIT_JOIN, UNIT_SEQ, UNIT_TEXT, Handle, require_tx
from stanceterm.store.models import (
    ANN_COLS,
    ANN_UPSERT,
    Annotation,
    MergeCounts,
    Stance,
    StoreError,
    annotation_from_row,
    annotation_params,
    dumps,
    now,
    stamp_after,
    state_from_json,
)

_SELECT_ONE = f"SELECT {ANN_COLS} FROM annotations WHERE sentence_id = ? AND annotator = ?"

#: (sentence id, state before, state after) of one undo.
UndoStates = tuple[str, Annotation | None, Annotation | None]


def standing_actor_events(c: sqlite3.Connection) -> list[tuple[str, str, str, str, str | None]]:
    """(ts, uid, op, actor_id, arg) of the operations not undone, in (ts, uid) order."""
    return [
        (str(r[0]), str(r[1]), str(r[2]), str(r[3]), r[4])
        for r in c.execute(
            "SELECT ts, uid, op, actor_id, arg FROM actor_events e WHERE op != 'undo' AND "
            "NOT EXISTS (SELECT 1 FROM actor_events u WHERE u.op = 'undo' AND u.undoes = e.uid) "
            "ORDER BY ts, uid"
        )
    ]


def actor_map_in(c: sqlite3.Connection) -> dict[str, str]:
    """Actor id merged into another one -> the actor it now stands for (chains followed; a
    merge that would close a cycle is ignored, the same way on every replica)."""
    out: dict[str, str] = {}

    def follow(a: str) -> str:
        seen = set()
        while a in out and a not in seen:
            seen.add(a)
            a = out[a]
        return a

    for _ts, _uid, op, kept, arg in standing_actor_events(c):
        if op != "merge" or arg is None:
            continue
        gone = str(orjson.loads(arg)["from"])
        if follow(kept) == gone or gone == kept:
            continue
        out[gone] = kept
    return {a: follow(a) for a in out}


def ensure_annotator(c: sqlite3.Connection, name: str) -> None:
    c.execute("INSERT OR IGNORE INTO annotators(name, created_at) VALUES (?, ?)", (name, now()))


def current(c: sqlite3.Connection, sentence_id: str, annotator: str) -> Annotation | None:
    row = c.execute(_SELECT_ONE, (sentence_id, annotator)).fetchone()
    return None if row is None else annotation_from_row(row)


def write_state(c: sqlite3.Connection, a: Annotation) -> None:
    c.execute(ANN_UPSERT, annotation_params(a))


def record_event(
    c: sqlite3.Connection,
    sentence_id: str,
    annotator: str,
    action: str,
    before: Annotation | None,
    after: Annotation | None,
    undoes: str | None = None,
    origin: str | None = None,
    ts: str | None = None,
) -> str:
    """Append one history event at ``ts`` (default: now); returns its uid.

    Events are the replicated record of a label: the current state of (sentence, annotator) is
    the ``after`` of its latest event by (ts, uid) (docs/ARCHITECTURE.md, "Merge ordering")."""
    uid = uuid.uuid4().hex
    c.execute(
        "INSERT INTO annotation_events(uid, sentence_id, annotator, ts, action, before, after, "
        "undoes, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            uid,
            sentence_id,
            annotator,
            ts or now(),
            action,
            None if before is None else dumps(before.labels()),
            None if after is None else dumps(after.labels()),
            undoes,
            origin,
        ),
    )
    return uid


def propagate(
    c: sqlite3.Connection, sentence_id: str, annotator: str, state: Annotation | None
) -> int:
    """Copy ``state`` to the members of the cluster represented by ``sentence_id``.

    Members keep their own direct labels; only their propagated rows are written or removed.
    """
    row = c.execute(
        "SELECT id FROM clusters WHERE representative_id = ?", (sentence_id,)
    ).fetchone()
    if row is None:
        return 0
    members = [
        str(r[0])
        for r in c.execute(
            "SELECT id FROM sentences WHERE cluster_id = ? AND id != ? AND id NOT IN "
            "(SELECT sentence_id FROM cluster_splits)",
            (row[0], sentence_id),
        )
    ]
    n = 0
    for member in members:
        own = c.execute(
            "SELECT propagated_from FROM annotations WHERE sentence_id = ? AND annotator = ?",
            (member, annotator),
        ).fetchone()
        if own is not None and own[0] is None:
            continue  # the member has its own direct labels
        if state is None:
            c.execute(
                "DELETE FROM annotations WHERE sentence_id = ? AND annotator = ?",
                (member, annotator),
            )
        else:
            write_state(c, replace(state, sentence_id=member, propagated_from=sentence_id))
        n += 1
    return n


def latest_ts(c: sqlite3.Connection, sentence_id: str, annotator: str) -> str | None:
    """The latest event time (or label time) known for (sentence, annotator): a new event is
    stamped after it (:func:`~stanceterm.store.models.stamp_after`)."""
    row = c.execute(
        "SELECT max(ts) FROM annotation_events WHERE sentence_id = ? AND annotator = ?",
        (sentence_id, annotator),
    ).fetchone()
    own = c.execute(
        "SELECT updated_at FROM annotations WHERE sentence_id = ? AND annotator = ?",
        (sentence_id, annotator),
    ).fetchone()
    return max((str(v) for v in (row[0], own[0] if own else None) if v), default=None)


def save_in(c: sqlite3.Connection, ann: Annotation, action: str = "set") -> Annotation:
    """:meth:`Labels.save` in the caller's transaction (many saves in one transaction)."""
    require_tx(c, "labels.save_in")
    ensure_annotator(c, ann.annotator)
    before = current(c, ann.sentence_id, ann.annotator)
    stamp = stamp_after(latest_ts(c, ann.sentence_id, ann.annotator))
    after = replace(
        map_actors(ann, actor_map_in(c)),
        propagated_from=None,
        created_at=before.created_at if before else stamp,
        updated_at=stamp,
    )
    write_state(c, after)
    record_event(c, after.sentence_id, after.annotator, action, before, after, ts=stamp)
    propagate(c, after.sentence_id, after.annotator, after)
    return after


def delete_in(c: sqlite3.Connection, sentence_id: str, annotator: str) -> Annotation | None:
    """Remove the label of (sentence, annotator), recording a tombstone event (``after`` NULL)
    that wins or loses under merge like any write; returns the removed state."""
    require_tx(c, "labels.delete_in")
    before = current(c, sentence_id, annotator)
    if before is None or before.propagated_from is not None:
        return None
    stamp = stamp_after(latest_ts(c, sentence_id, annotator))
    c.execute(
        "DELETE FROM annotations WHERE sentence_id = ? AND annotator = ?", (sentence_id, annotator)
    )
    record_event(c, sentence_id, annotator, "delete", before, None, ts=stamp)
    propagate(c, sentence_id, annotator, None)
    return before


def _undo(c: sqlite3.Connection, annotator: str) -> UndoStates | None:
    row = c.execute(
        "SELECT uid, sentence_id, before FROM annotation_events e WHERE annotator = ? "
        "AND action NOT IN ('undo', 'import', 'merge', 'actor-merge') "
        "AND (origin IS NULL OR origin NOT LIKE 'merge:%') AND NOT EXISTS "
        "(SELECT 1 FROM annotation_events u WHERE u.annotator = e.annotator "
        "AND u.undoes = e.uid) ORDER BY id DESC LIMIT 1",
        (annotator,),
    ).fetchone()
    if row is None:
        return None
    uid, sentence_id = str(row[0]), str(row[1])
    was = current(c, sentence_id, annotator)
    restored = state_from_json(sentence_id, annotator, row[2])
    stamp = stamp_after(latest_ts(c, sentence_id, annotator))
    if restored is None:
        c.execute(
            "DELETE FROM annotations WHERE sentence_id = ? AND annotator = ?",
            (sentence_id, annotator),
        )
    else:
        restored = replace(map_actors(restored, actor_map_in(c)), updated_at=stamp)
        write_state(c, restored)
    record_event(c, sentence_id, annotator, "undo", was, restored, undoes=uid, ts=stamp)
    propagate(c, sentence_id, annotator, restored)
    return sentence_id, was, restored


def winner(
    candidates: list[tuple[str, str, str | None]],
) -> tuple[str, str, str | None] | None:
    """The latest (ts, uid) candidate; rows without an event carry uid '' and lose ties."""
    return max(candidates, key=lambda x: (x[0], x[1])) if candidates else None


def resolve_label(
    c: sqlite3.Connection,
    sid: str,
    annotator: str,
    theirs: Annotation | None,
    actor_map: dict[str, str],
    counts: MergeCounts | None = None,
) -> tuple[Annotation | None, Annotation | None] | None:
    """Make the label of (sid, annotator) the ``after`` of its latest event by (ts, uid), actor
    ids mapped through the actor merges, in the caller's transaction. Returns (the direct label
    before, the one after) when it changed, else None."""
    found = c.execute(
        f"SELECT {ANN_COLS} FROM annotations WHERE sentence_id = ? AND annotator = ?",
        (sid, annotator),
    ).fetchone()
    ours = None if found is None else annotation_from_row(found)
    direct = ours if ours is not None and ours.propagated_from is None else None
    cands: list[tuple[str, str, str | None]] = []
    row = c.execute(
        "SELECT ts, uid, after FROM annotation_events WHERE sentence_id = ? AND annotator = ? "
        "AND action NOT LIKE 'actor-%' ORDER BY ts DESC, uid DESC LIMIT 1",
        (sid, annotator),
    ).fetchone()
    if row is not None:
        cands.append((str(row[0]), str(row[1]), row[2]))
    for a in (direct, theirs):
        if a is not None:
            cands.append((a.updated_at, "", dumps(a.labels())))
    win = winner(cands)
    if win is None:
        return None
    state = state_from_json(sid, annotator, win[2])
    if state is not None:
        state = map_actors(replace(state, propagated_from=None), actor_map)
    if direct is None and state is None:
        return None
    if direct is not None and state is not None and direct.labels() == state.labels():
        if counts is not None:
            counts.labels_kept += 1
        return None
    if state is None:
        c.execute(
            "DELETE FROM annotations WHERE sentence_id = ? AND annotator = ?", (sid, annotator)
        )
        if counts is not None:
            counts.labels_deleted += 1
    else:
        write_state(c, state)
        if counts is not None:
            counts.labels_taken += 1
    propagate(c, sid, annotator, state)
    return direct, state


def map_actors(a: Annotation, actor_map: dict[str, str]) -> Annotation:
    """``a`` with actor ids merged into another actor replaced by that one (no other change)."""
    if not actor_map or not any(s.actor in actor_map for s in a.stances):
        return a
    out: list[Stance] = []
    for s in a.stances:
        st = Stance(s.claim, actor_map.get(s.actor, s.actor), s.stance)
        if st not in out:
            out.append(st)
    return replace(a, stances=tuple(out))


class Labels:
    """``store.labels``: annotators, labels, their history and undo."""

    def __init__(self, db: Handle) -> None:
        self._db = db

    # ---------------------------------------------------------------- annotators

    def ensure_annotator(self, name: str) -> None:
        with self._db.tx() as c:
            ensure_annotator(c, name)

    def annotators(self) -> list[str]:
        with self._db.read() as c:
            return [str(r[0]) for r in c.execute("SELECT name FROM annotators ORDER BY name")]

    # ---------------------------------------------------------------- reads

    def get(self, sentence_id: str, annotator: str) -> Annotation | None:
        with self._db.read() as c:
            return current(c, sentence_id, annotator)

    def for_sentence(self, sentence_id: str) -> list[Annotation]:
        with self._db.read() as c:
            rows = c.execute(
                f"SELECT {ANN_COLS} FROM annotations WHERE sentence_id = ? ORDER BY annotator",
                (sentence_id,),
            ).fetchall()
        return [annotation_from_row(r) for r in rows]

    # ---------------------------------------------------------------- writes

    def save(self, ann: Annotation, action: str = "set") -> Annotation:
        """Make ``ann`` the current state of (sentence, annotator), in one short transaction.

        Records an event with the before and after states (the history behind undo, audit and
        merge) and propagates the labels to the other members of the sentence's dedup cluster.
        Returns the stored state (with timestamps).
        """
        with self._db.tx() as c:
            return save_in(c, ann, action)

    def delete(self, sentence_id: str, annotator: str) -> Annotation | None:
        """Remove a label (a tombstone in the history, undoable); returns the removed state."""
        with self._db.tx() as c:
            return delete_in(c, sentence_id, annotator)

    def undo(self, annotator: str) -> str | None:
        """Revert the annotator's latest change not yet undone; returns its sentence id.

        Repeatable: each call walks one step further back. The undo itself is recorded. Changes
        merged from another DB (``origin`` ``merge:...``) are history here, never undone here.
        """
        done = self.undo_states(annotator)
        return None if done is None else done[0]

    def undo_states(self, annotator: str) -> UndoStates | None:
        """:meth:`undo`, returning (sentence id, state before the undo, state after it), so the
        caller can update its counts without recounting."""
        with self._db.tx() as c:
            return _undo(c, annotator)

    def import_records(self, records: Iterable[Annotation]) -> tuple[int, int]:
        """Write imported annotation states as given (timestamps kept), in the caller's transaction.

        Records equal to the stored state are skipped, so importing the same file twice changes
        nothing. A direct record on a cluster's representative propagates to its copies.
        Returns (written, unchanged).
        """
        c = self._db.conn
        require_tx(c, "labels.import_records")
        written = unchanged = 0
        for rec in records:
            ensure_annotator(c, rec.annotator)
            before = current(c, rec.sentence_id, rec.annotator)
            rec = map_actors(rec, actor_map_in(c))
            if before == rec:
                unchanged += 1
                continue
            # ordered after everything known for the record, so the imported state stands
            seen = latest_ts(c, rec.sentence_id, rec.annotator)
            write_state(c, rec)
            ts = rec.updated_at if rec.updated_at and (not seen or rec.updated_at > seen) else None
            ts = ts or stamp_after(seen)
            record_event(c, rec.sentence_id, rec.annotator, "import", before, rec, ts=ts)
            if rec.propagated_from is None:  # as the screen and merge do: a cluster is one unit
                propagate(c, rec.sentence_id, rec.annotator, rec)
            written += 1
        return written, unchanged

    def bulk_load(self, records: Iterable[Annotation], batch: int = 50_000) -> int:
        """Write annotation states without history, in batched transactions (benchmarks, merge
        of fresh DBs). Rows are replaced as given. Returns the number written."""
        n = 0
        rows: list[tuple[Any, ...]] = []

        def flush() -> None:
            with self._db.tx() as c:
                c.executemany(
                    "INSERT OR IGNORE INTO annotators(name, created_at) VALUES (?, ?)",
                    [(a, now()) for a in {r[1] for r in rows}],
                )
                c.executemany(ANN_UPSERT, rows)
            rows.clear()

        for a in records:
            rows.append(annotation_params(a))
            n += 1
            if len(rows) >= batch:
                flush()
        if rows:
            flush()
        return n

    # ---------------------------------------------------------------- streams and counts

    def iter_rows(
        self,
        *,
        annotators: Sequence[str] = (),
        statuses: Sequence[str] = (),
        articles: Sequence[str] = (),
        batch: int = 5000,
    ) -> Iterator[tuple[Any, ...]]:
        """Stream (sentence_id, article_id, text, annotator, status, claims_json, stances_json,
        propagated_from, note, created_at, updated_at, suggested_json) in sentence order, then
        annotator."""
        for rows in self.iter_row_batches(
            annotators=annotators, statuses=statuses, articles=articles, batch=batch
        ):
            yield from rows

    def iter_row_batches(
        self,
        *,
        annotators: Sequence[str] = (),
        statuses: Sequence[str] = (),
        articles: Sequence[str] = (),
        batch: int = 10_000,
    ) -> Iterator[list[tuple[Any, ...]]]:
        """The rows of :meth:`iter_rows` in lists of up to ``batch`` (one statement, so one
        snapshot of the DB; the export's single pass: labels with their sentence pre-joined)."""
        where: list[str] = ["1 = 1"]
        params: list[Any] = []
        for col, values in (
            ("a.annotator", annotators),
            ("a.status", statuses),
            ("s.article_id", articles),
        ):
            if values:
                where.append(f"{col} IN ({','.join('?' * len(values))})")
                params.extend(values)
        sql = (
            "SELECT a.sentence_id, s.article_id, s.text, a.annotator, a.status, a.claims, a.stances, "
            "a.propagated_from, a.note, a.created_at, a.updated_at, a.suggested FROM annotations a "
            f"JOIN sentences s ON s.id = a.sentence_id WHERE {' AND '.join(where)} "
            "ORDER BY s.seq, a.annotator"
        )
        with self._db.read() as c:
            cur = c.execute(sql, params)
            while rows := cur.fetchmany(batch):
                yield rows

    def iter_reliability_rows(
        self, *, statuses: Sequence[str], annotators: Sequence[str] = (), batch: int = 5000
    ) -> Iterator[tuple[Any, ...]]:
        """Stream (unit_id, text, annotator, status, claims_json, stances_json) of the direct
        (not propagated) labels whose status is in ``statuses`` (and whose annotator is in
        ``annotators``, if given), in unit order, then annotator.

        A dedup cluster is one unit (:data:`~stanceterm.store.base.UNIT_JOIN`): a label written on
        a copy counts for its representative, whose id and text the row carries. When one
        annotator labelled several copies of a cluster, their rows come in this order: the other
        copies by ``updated_at``, the representative's own label last (the last row is the one a
        reader keeping one value per annotator keeps)."""
        if not statuses:
            return
        where = [
            "a.propagated_from IS NULL",
            f"a.status IN ({','.join('?' * len(statuses))})",
        ]
        params: list[Any] = list(statuses)
        if annotators:
            where.append(f"a.annotator IN ({','.join('?' * len(annotators))})")
            params.extend(annotators)
        sql = (
            f"SELECT {UNIT_ID}, {UNIT_TEXT}, a.annotator, a.status, a.claims, a.stances "
            f"FROM annotations a {UNIT_JOIN} "
            f"WHERE {' AND '.join(where)} "
            f"ORDER BY {UNIT_SEQ}, a.annotator, a.sentence_id = {UNIT_ID}, a.updated_at"
        )
        yield from self._db.stream(sql, params, batch)

    def iter_shared_claims(self, batch: int = 5000) -> Iterator[tuple[Any, ...]]:
        """Stream (sentence_id, annotator, claims_json) of the direct (not propagated) done labels
        of every sentence that has at least two such labels (flagged is missing data, as in
        ``stanceterm agreement``)."""
        labelled = "propagated_from IS NULL AND status = 'done'"
        sql = (
            f"SELECT sentence_id, annotator, claims FROM annotations WHERE {labelled} AND "
            f"sentence_id IN (SELECT sentence_id FROM annotations WHERE {labelled} "
            "GROUP BY sentence_id HAVING count(*) >= 2) ORDER BY sentence_id, annotator"
        )
        yield from self._db.stream(sql, (), batch)

    def status_counts(self) -> dict[str, dict[str, int]]:
        """annotator -> status -> count (direct labels; propagated ones under '<status>+prop')."""
        out: dict[str, dict[str, int]] = {}
        with self._db.read() as c:
            for annotator, status, prop, n in c.execute(
                "SELECT annotator, status, propagated_from IS NOT NULL, count(*) FROM annotations "
                "GROUP BY annotator, status, propagated_from IS NOT NULL ORDER BY annotator"
            ):
                key = f"{status}+prop" if prop else str(status)
                out.setdefault(str(annotator), {})[key] = int(n)
        return out

    def claim_counts(self, annotator: str) -> dict[str, int]:
        """Claim id -> how many of the annotator's own (not propagated) rows carry it."""
        with self._db.read() as c:
            rows = c.execute(
                "SELECT j.value, count(*) FROM annotations a, json_each(a.claims) j "
                "WHERE a.annotator = ? AND a.propagated_from IS NULL GROUP BY j.value",
                (annotator,),
            ).fetchall()
        return {str(k): int(n) for k, n in rows}


# --- safeimport: staged, batched, undoable import-labels (issue 12 §3, §5) -------------------
#
# import-labels validates the whole file OUTSIDE any write transaction and stages the records in
# a TEMP table of this connection (no lock on the DB file), then applies them in short write
# transactions of ``batch`` records. Each applied change is an ``import`` event tagged
# ``origin = 'import:<run id>'``; the run has a row in ``import_runs``. A run interrupted while
# applying stays ``applying``: importing the same file again resumes it under the same run id
# (applied records compare unchanged), and ``undo-import`` reverts it as a whole.

_STAGE_COLS = (
    "lineno, sentence_id, annotator, status, claims, stances, note, propagated_from, "
    "created_at, updated_at, suggested"
)


def _later(a: str, b: str) -> bool:
    return a > b  # canonical UTC timestamps (models.now's format) compare as strings


class ImportRuns:
    """``store.imports``: the staged, batched and undoable ``import-labels`` runs."""

    def __init__(self, db: Handle) -> None:
        self._db = db

    # ---------------------------------------------------------------- staging (no DB lock)

    def stage_begin(self) -> None:
        with self._db.temp_tx() as c:
            c.execute(
                "CREATE TEMP TABLE IF NOT EXISTS stage_labels (lineno INTEGER NOT NULL, "
                "sentence_id TEXT NOT NULL, annotator TEXT NOT NULL, status TEXT NOT NULL, "
                "claims TEXT NOT NULL, stances TEXT NOT NULL, note TEXT, propagated_from TEXT, "
                "created_at TEXT, updated_at TEXT, suggested TEXT)"
            )
            c.execute("DELETE FROM temp.stage_labels")

    def stage(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Add validated records (in :data:`_STAGE_COLS` order; timestamps may be None)."""
        with self._db.temp_tx() as c:
            c.executemany(
                f"INSERT INTO temp.stage_labels({_STAGE_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows
            )

    def stage_end(self) -> None:
        with self._db.temp_tx() as c:
            c.execute("DROP TABLE IF EXISTS temp.stage_labels")

    # ---------------------------------------------------------------- runs

    def start(
        self,
        file: str,
        digest: str,
        records: int,
        new_actors: Sequence[tuple[str, str, str]],
    ) -> tuple[str, bool]:
        """Create the staged run's new actors (id, name, created_by) and its run row, in one
        short transaction. An ``applying`` run of the same file content is resumed: returns
        (run id, resumed)."""
        for k in range(0, len(new_actors), 500):  # short transactions here too
            with self._db.tx() as c:
                for actor_id, name, by in new_actors[k : k + 500]:
                    row = c.execute("SELECT name FROM actors WHERE id = ?", (actor_id,)).fetchone()
                    if row is not None and str(row[0]) != name.strip():
                        raise StoreError(
                            f"actor id {actor_id!r} was taken by another actor during the "
                            "import; run import-labels again"
                        )
                    if row is None:
                        add_actor_with_id(c, actor_id, name, by)
        with self._db.tx() as c:
            row = c.execute(
                "SELECT id FROM import_runs WHERE digest = ? AND status = 'applying' "
                "ORDER BY started_at DESC LIMIT 1",
                (digest,),
            ).fetchone()
            if row is not None:
                c.execute("UPDATE import_runs SET file = ? WHERE id = ?", (file, row[0]))
                return str(row[0]), True
            run_id = now()[:10].replace("-", "") + "-" + uuid.uuid4().hex[:8]
            c.execute(
                "INSERT INTO import_runs(id, file, digest, status, records, started_at) "
                "VALUES (?, ?, ?, 'applying', ?, ?)",
                (run_id, file, digest, records, now()),
            )
            return run_id, False

    def apply_batch(
        self, run_id: str, after: int, limit: int, *, force: bool, stamp: str
    ) -> tuple[int, int, int, int]:
        """Apply up to ``limit`` staged records after stage rowid ``after`` in ONE short
        transaction. A record replaces the DB's label only if it is later (``updated_at``; a tie
        keeps the DB's label) or ``force``; records without timestamps count as ``stamp`` (the
        run's "now"), unless their labels equal the stored ones. Returns (last rowid, written,
        unchanged, kept as newer); last rowid is -1 when nothing was left."""
        written = unchanged = kept = 0
        with self._db.tx() as c:
            rows = c.execute(
                "SELECT s.rowid, s.sentence_id, s.annotator, s.status, s.claims, s.stances, "
                "s.note, s.propagated_from, s.created_at, s.updated_at, a.status, a.claims, "
                "a.stances, a.note, a.propagated_from, a.created_at, a.updated_at, "
                "s.suggested, a.suggested, (SELECT max(e.ts) FROM annotation_events e "
                "WHERE e.sentence_id = s.sentence_id AND e.annotator = s.annotator) "
                "FROM temp.stage_labels s LEFT JOIN annotations a "
                "ON a.sentence_id = s.sentence_id AND a.annotator = s.annotator "
                "WHERE s.rowid > ? ORDER BY s.rowid LIMIT ?",
                (after, limit),
            ).fetchall()
            if not rows:
                return -1, 0, 0, 0
            states: list[tuple[Any, ...]] = []
            events: list[tuple[Any, ...]] = []
            origin = f"import:{run_id}"
            # the latest time known per record: an import event is ordered after it
            # (the merge-ordering rule, as save_in), so an imported label does not flip under merge
            seen: dict[tuple[str, str], str] = {}
            for r in rows:
                rec = r[3:8]  # status, claims, stances, note, propagated_from
                cur = None if r[10] is None else r[10:15]
                created, updated = r[8], r[9]
                suggested, cur_suggested = r[17], r[18]  # provenance (issue 18), JSON or None
                if updated is None or created is None:
                    if cur is not None and cur[:4] == rec[:4] and cur[4] == rec[4]:
                        unchanged += 1
                        continue
                    created = created or (r[15] if cur is not None else stamp)
                    updated = updated or stamp
                if cur is not None:
                    if (
                        cur == rec
                        and r[15] == created
                        and r[16] == updated
                        and cur_suggested == suggested
                    ):
                        unchanged += 1
                        continue
                    if not force and not _later(updated, r[16]):
                        kept += 1
                        continue
                params = (r[1], r[2], *rec, created, updated, suggested)
                states.append(params)
                before = None if cur is None else _state_json((*cur, r[15], r[16]), cur_suggested)
                after_json = _state_json((*rec, created, updated), suggested)
                key = (str(r[1]), str(r[2]))
                latest = max((str(v) for v in (seen.get(key), r[19], r[16]) if v), default=None)
                ts = stamp if latest is None or stamp > latest else stamp_after(latest)
                seen[key] = max(ts, str(updated))
                events.append((uuid.uuid4().hex, r[1], r[2], ts, before, after_json, origin))
            if states:
                c.executemany(
                    "INSERT OR IGNORE INTO annotators(name, created_at) VALUES (?, ?)",
                    [(a, stamp) for a in {p[1] for p in states}],
                )
                c.executemany(ANN_UPSERT, states)
                c.executemany(
                    "INSERT INTO annotation_events(uid, sentence_id, annotator, ts, action, "
                    "before, after, origin) VALUES (?, ?, ?, ?, 'import', ?, ?, ?)",
                    events,
                )
                written = len(states)
            c.execute(
                "UPDATE import_runs SET written = written + ?, unchanged = unchanged + ?, "
                "kept_newer = kept_newer + ? WHERE id = ?",
                (written, unchanged, kept, run_id),
            )
            return int(rows[-1][0]), written, unchanged, kept

    def finish(self, run_id: str) -> None:
        with self._db.tx() as c:
            c.execute(
                "UPDATE import_runs SET status = 'done', finished_at = ? WHERE id = ?",
                (now(), run_id),
            )

    def runs(self) -> list[dict[str, Any]]:
        """Every import run, latest first."""
        cols = "id, file, status, records, written, unchanged, kept_newer, started_at, finished_at"
        with self._db.read() as c:
            if not c.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'import_runs'"
            ).fetchone():
                return []
            rows = c.execute(
                f"SELECT {cols} FROM import_runs ORDER BY started_at DESC, id DESC"
            ).fetchall()
        names = [x.strip() for x in cols.split(",")]
        return [dict(zip(names, r, strict=True)) for r in rows]

    def undo(self, run_id: str | None, batch: int = 2000) -> tuple[str, int, int]:
        """Revert an import run as a whole (``None``: the latest run not undone), in short
        transactions. A label changed since the run (by a screen, a merge, a later import) is
        left as it is. Returns (run id, restored, changed since)."""
        with self._db.read() as c:
            if run_id is None:
                row = c.execute(
                    "SELECT id, status FROM import_runs WHERE status != 'undone' "
                    "ORDER BY started_at DESC, id DESC LIMIT 1"
                ).fetchone()
                if row is None:
                    raise StoreError("no import run to undo (see `stanceterm history --imports`)")
            else:
                row = c.execute(
                    "SELECT id, status FROM import_runs WHERE id = ?", (run_id,)
                ).fetchone()
                if row is None:
                    raise StoreError(
                        f"no import run {run_id!r} (see `stanceterm history --imports`)"
                    )
                if row[1] == "undone":
                    raise StoreError(f"import run {run_id!r} is already undone")
        run_id = str(row[0])
        origin = f"import:{run_id}"
        restored = changed = 0
        last = None
        while True:
            with self._db.tx() as c:
                params: tuple[Any, ...] = (origin,) if last is None else (origin, last)
                events = c.execute(
                    "SELECT id, uid, sentence_id, annotator, before, after FROM annotation_events "
                    "WHERE origin = ? AND action = 'import'"
                    + ("" if last is None else " AND id < ?")
                    + f" ORDER BY id DESC LIMIT {int(batch)}",
                    params,
                ).fetchall()
                if not events:
                    c.execute(
                        "UPDATE import_runs SET status = 'undone', finished_at = ? WHERE id = ?",
                        (now(), run_id),
                    )
                    return run_id, restored, changed
                for _eid, uid, sentence_id, annotator, before_json, after_json in events:
                    if c.execute(
                        "SELECT 1 FROM annotation_events WHERE undoes = ?", (uid,)
                    ).fetchone():
                        continue  # undone already (an earlier, interrupted undo-import)
                    cur = current(c, sentence_id, annotator)
                    imported = state_from_json(sentence_id, annotator, after_json)
                    # changed since = other labels (a later run's undo re-stamps, same labels)
                    if imported is None or not imported.same_labels(cur):
                        changed += 1
                        continue
                    back = state_from_json(sentence_id, annotator, before_json)
                    stamp = stamp_after(latest_ts(c, sentence_id, annotator))
                    if back is not None:
                        back = replace(back, updated_at=stamp)  # as `u`: the revert is a change
                    if back is None:
                        c.execute(
                            "DELETE FROM annotations WHERE sentence_id = ? AND annotator = ?",
                            (sentence_id, annotator),
                        )
                    else:
                        write_state(c, back)
                    record_event(
                        c,
                        sentence_id,
                        annotator,
                        "undo",
                        cur,
                        back,
                        undoes=uid,
                        origin=f"undo-import:{run_id}",
                        ts=stamp,
                    )
                    restored += 1
                last = int(events[-1][0])


def _state_json(cols: Sequence[Any], suggested: str | None = None) -> str:
    """The history form of a state (as :meth:`Annotation.labels`) from its stored columns
    (status, claims, stances, note, propagated_from, created_at, updated_at) and its
    suggestion provenance (JSON text or None)."""
    status, claims, stances, note, propagated_from, created_at, updated_at = cols
    out: dict[str, Any] = {
        "status": status,
        "claims": orjson.loads(claims),
        "stances": orjson.loads(stances),
        "note": note,
        "propagated_from": propagated_from,
        "created_at": created_at,
        "updated_at": updated_at,
    }
    if suggested is not None:  # provenance rides in the history, as Annotation.labels()
        out["suggested"] = suggested
    return dumps(out)


def add_actor_with_id(c: sqlite3.Connection, actor_id: str, name: str, created_by: str) -> None:
    """Create the actor ``actor_id`` planned by :func:`~stanceterm.store.actors.free_actor_id`,
    in the caller's transaction (its name is its alias, not trusted for dedup). Here, not in
    :mod:`~stanceterm.store.actors`, which imports this module."""
    require_tx(c, "add_actor_with_id")
    name = name.strip()
    c.execute(
        "INSERT INTO actors(id, name, created_by, created_at) VALUES (?, ?, ?, ?)",
        (actor_id, name, created_by, now()),
    )
    c.execute(
        "INSERT OR IGNORE INTO actor_aliases(key, alias, actor_id) VALUES (?, ?, ?)",
        (alias_key(name), name, actor_id),
    )


# --- end safeimport
