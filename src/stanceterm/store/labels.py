"""The labels: current state per (sentence, annotator), the history, undo and propagation.

Reached as ``store.labels``. Every change is one short transaction that writes the new state,
records an event with the before and after states (the history behind undo, audit and merge) and
propagates the state to the members of the sentence's dedup cluster (:func:`propagate`).
The module-level functions taking a connection write in the caller's transaction (they are the
pieces that :mod:`~stanceterm.store.clusters` and :mod:`~stanceterm.store.merge` reuse).

Every writer of a label (the screens' saves and undo, merge's resolution by (ts, uid), the
staged import runs of :mod:`~stanceterm.store.imports` and their undo) goes through the same few
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
    annotation_from_row,
    annotation_params,
    dumps,
    now,
    stamp_after,
    state_from_json,
    text_key,
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


def _follow(links: dict[str, str], a: str) -> str:
    """Where ``a`` ends up along ``links`` (stops at a cycle)."""
    seen = set()
    while a in links and a not in seen:
        seen.add(a)
        a = links[a]
    return a


def event_merges(c: sqlite3.Connection) -> dict[str, str]:
    """Actor id -> the actor it was merged into by a standing ``actors merge`` (direct; a merge
    that would close a cycle is ignored, the same way everywhere)."""
    out: dict[str, str] = {}

    def follow(a: str) -> str:
        return _follow(out, a)

    for _ts, _uid, op, kept, arg in standing_actor_events(c):
        if op != "merge" or arg is None:
            continue
        gone = str(orjson.loads(arg)["from"])
        if follow(kept) == gone or gone == kept:
            continue
        out[gone] = kept
    return out


def actor_map_in(c: sqlite3.Connection) -> dict[str, str]:
    """Actor id merged into another one -> the actor it now stands for (chains followed; a
    merge that would close a cycle is ignored, the same way on every replica)."""
    out = event_merges(c)

    def follow(a: str) -> str:
        return _follow(out, a)

    # one name, one actor (store.actors.replay_actors): an actor named like another stands for it
    for a, target in c.execute(
        "SELECT id, same_as FROM actors WHERE same_as IS NOT NULL ORDER BY id"
    ):
        if str(a) not in out and follow(str(target)) != str(a):
            out[str(a)] = str(target)
    return {a: follow(a) for a in out}


def _reliability_sql(
    columns: str, statuses: Sequence[str], annotators: Sequence[str]
) -> tuple[str, list[Any]]:
    """The query of the labels agreement reads (direct labels with a status in ``statuses``, by
    ``annotators`` if given), one unit per dedup cluster, in unit order then annotator, the
    representative's own label last: :meth:`Labels.iter_reliability_rows` and
    :meth:`Labels.reliability_batches` select different ``columns`` of it."""
    where = [
        "a.propagated_from IS NULL",
        f"a.status IN ({','.join('?' * len(statuses))})",
    ]
    params: list[Any] = list(statuses)
    if annotators:
        where.append(f"a.annotator IN ({','.join('?' * len(annotators))})")
        params.extend(annotators)
    sql = (
        f"SELECT {columns} FROM annotations a {UNIT_JOIN} "
        f"WHERE {' AND '.join(where)} "
        f"ORDER BY {UNIT_SEQ}, a.annotator, a.sentence_id = {UNIT_ID}, a.updated_at"
    )
    return sql, params


def _unclustered_reliability_sql(
    statuses: Sequence[str], annotators: Sequence[str]
) -> tuple[str, list[Any]]:
    """:func:`_reliability_sql`'s rows (unit id, annotator, claims, stances) when no sentence is
    in a dedup cluster: every unit is its sentence, so walking the sentences in ``seq`` order
    and each one's labels through the primary key (annotator order) gives the same rows in the
    same order with no sort (the CROSS JOIN fixes that loop order): 1M sentences x 3 labels,
    2.8 s of CPU instead of 4.3 s."""
    where = ["a.propagated_from IS NULL", f"a.status IN ({','.join('?' * len(statuses))})"]
    params: list[Any] = list(statuses)
    if annotators:
        where.append(f"a.annotator IN ({','.join('?' * len(annotators))})")
        params.extend(annotators)
    sql = (
        "SELECT s.id, a.annotator, a.claims, a.stances FROM sentences s "
        "CROSS JOIN annotations a ON a.sentence_id = s.id "
        f"WHERE {' AND '.join(where)} ORDER BY s.seq, a.annotator"
    )
    return sql, params


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
        "AND (origin IS NULL OR origin NOT LIKE 'merge:%') AND (e.text_key IS NULL OR "
        "e.text_key = (SELECT stanceterm_text_key(text) FROM sentences WHERE id = e.sentence_id)) "
        "AND NOT EXISTS "
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


def sentence_text_key(c: sqlite3.Connection, sid: str) -> str | None:
    """The :func:`~stanceterm.store.models.text_key` of sentence ``sid``'s text here (None: no
    such sentence). History events about another text (``text_key``) do not apply to it."""
    row = c.execute("SELECT text FROM sentences WHERE id = ?", (sid,)).fetchone()
    return None if row is None else text_key(str(row[0]))


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
        "AND action NOT LIKE 'actor-%' AND (text_key IS NULL OR text_key = ?) "
        "ORDER BY ts DESC, uid DESC LIMIT 1",
        (sid, annotator, sentence_text_key(c, sid)),
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
        sql, params = _reliability_sql(
            f"{UNIT_ID}, {UNIT_TEXT}, a.annotator, a.status, a.claims, a.stances",
            statuses,
            annotators,
        )
        yield from self._db.stream(sql, params, batch)

    def reliability_batches(
        self, *, statuses: Sequence[str], annotators: Sequence[str] = (), batch: int = 5_000
    ) -> Iterator[list[tuple[Any, ...]]]:
        """The rows of :meth:`iter_reliability_rows` without the text, as lists of
        (unit_id, annotator, claims_json, stances_json), in the same order (the columnar path
        of ``stanceterm agreement``, which numbers each column of a batch at once)."""
        if not statuses:
            return
        with self._db.snapshot() as c:  # the cluster check and the rows: one state of the DB
            clustered = c.execute(
                "SELECT 1 FROM sentences WHERE cluster_id IS NOT NULL LIMIT 1"
            ).fetchone()
            if clustered:
                sql, params = _reliability_sql(
                    f"{UNIT_ID}, a.annotator, a.claims, a.stances", statuses, annotators
                )
            else:
                sql, params = _unclustered_reliability_sql(statuses, annotators)
            cur = c.execute(sql, params)
            while rows := cur.fetchmany(batch):
                yield rows

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
