"""The ``import-labels`` runs: staged, applied in short batches, undoable as a whole.

Reached as ``store.imports`` (:class:`ImportRuns`). import-labels validates the whole file
outside any write transaction and stages the records in a TEMP table of this connection (no lock
on the DB file), then applies them in short write transactions, each planned from a read outside
the write lock. Each applied change is an ``import`` event tagged ``origin = 'import:<run id>'``;
the run has a row in ``import_runs`` (issue 12 §3 and §5). ``undo-import`` reverts a run and
removes the actors it created that nothing uses any more, as replicated ``delete`` actor events
(:func:`drop_unused_actors`; merge applies them with :func:`drop_deleted_actors`).
"""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import orjson

from stanceterm.actors import alias_key
from stanceterm.store.base import Handle
from stanceterm.store.labels import (
    add_actor_with_id,
    current,
    latest_ts,
    record_event,
    sentence_text_key,
    write_state,
)
from stanceterm.store.models import (
    ANN_UPSERT,
    StoreError,
    dumps,
    now,
    stamp_after,
    state_from_json,
)

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


#: new actors created per write transaction (each a few rows: short even on a loaded machine)
ACTOR_BATCH = 100


def _ordered_uids(n: int) -> list[str]:
    """``n`` event uids as unique as uuid4's hex (32 hex digits, 64 random bits), but in
    increasing order: the clock in nanoseconds plus a counter, then random bits. A bulk import
    then appends to the ``uid`` index instead of touching one random index page per event
    (uuid4: about one page written per label)."""
    base = time.time_ns()
    tail = os.urandom(8 * n).hex()
    return [f"{base + i:016x}{tail[16 * i : 16 * i + 16]}" for i in range(n)]


def _later(a: str, b: str) -> bool:
    return a > b  # canonical UTC timestamps (models.now's format) compare as strings


class ImportRuns:
    """``store.imports``: the staged, batched and undoable ``import-labels`` runs."""

    def __init__(self, db: Handle) -> None:
        self._db = db
        #: how many actors the last :meth:`undo` removed (created by the run, used by nothing)
        self.removed_actors = 0

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

    def stage_done(self) -> None:
        """Index the staged records by key, for :meth:`apply_batch` (one sort, after staging)."""
        with self._db.temp_tx() as c:
            c.execute(
                "CREATE INDEX IF NOT EXISTS temp.stage_labels_key "
                "ON stage_labels(sentence_id, annotator)"
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
        created: list[str] = []
        for k in range(0, len(new_actors), ACTOR_BATCH):  # short transactions here too
            with self._db.tx() as c:
                for actor_id, name, by in new_actors[k : k + ACTOR_BATCH]:
                    row = c.execute("SELECT name FROM actors WHERE id = ?", (actor_id,)).fetchone()
                    if row is not None and str(row[0]) != name.strip():
                        raise StoreError(
                            f"actor id {actor_id!r} was taken by another actor during the "
                            "import; run import-labels again"
                        )
                    if row is None:
                        add_actor_with_id(c, actor_id, name, by)
                        created.append(actor_id)
            # keep the WAL short, so that an annotator's commit never runs the checkpoint
            self._db.checkpoint_passive()
        with self._db.tx() as c:
            row = c.execute(
                "SELECT id FROM import_runs WHERE digest = ? AND status = 'applying' "
                "ORDER BY started_at DESC LIMIT 1",
                (digest,),
            ).fetchone()
            if row is not None:
                c.execute(
                    "UPDATE import_runs SET file = ?, actors = (SELECT json_group_array(value) "
                    "FROM (SELECT value FROM json_each(coalesce(actors, '[]')) UNION "
                    "SELECT value FROM json_each(?))) WHERE id = ?",
                    (file, dumps(created), row[0]),
                )
                return str(row[0]), True
            run_id = now()[:10].replace("-", "") + "-" + uuid.uuid4().hex[:8]
            c.execute(
                "INSERT INTO import_runs(id, file, digest, status, records, started_at, actors) "
                "VALUES (?, ?, ?, 'applying', ?, ?, ?)",
                (run_id, file, digest, records, now(), dumps(created)),
            )
            return run_id, False

    @contextmanager
    def bulk_cache(self, mb: int = 64) -> Iterator[None]:
        """A larger page cache for this connection while a long import applies (its batches
        touch the same index pages again and again), restored afterwards."""
        c = self._db.conn
        with self._db.read():
            was = int(c.execute("PRAGMA cache_size").fetchone()[0])
            c.execute(f"PRAGMA cache_size = {-int(mb) * 1024}")
        try:
            yield
        finally:
            with self._db.read():
                c.execute(f"PRAGMA cache_size = {was}")

    def apply_batch(
        self, run_id: str, after: tuple[str, str] | None, limit: int, *, force: bool, stamp: str
    ) -> tuple[tuple[str, str] | None, int, int, int]:
        """Apply up to ``limit`` staged records after the key (sentence id, annotator) ``after``
        (None: from the start) in ONE short transaction: :meth:`plan_batch` then
        :meth:`write_batch`. Returns (last key, written, unchanged, kept as newer); the last key
        is None when nothing was left."""
        plan = self.plan_batch(after, limit, force=force, stamp=stamp)
        if plan is None:
            return None, 0, 0, 0
        plan = self.write_batch(run_id, plan)
        return plan.last, plan.written, plan.unchanged, plan.kept

    def plan_batch(
        self, after: tuple[str, str] | None, limit: int, *, force: bool, stamp: str
    ) -> ImportPlan | None:
        """What applying the next ``limit`` staged records after key ``after`` would write,
        computed from a read (no write lock), so that annotators can write meanwhile;
        :meth:`write_batch` writes it if no other connection committed since, else plans
        again inside its transaction. None when nothing is left.

        A record replaces the DB's label only if it is later (``updated_at``; a tie keeps the
        DB's label) or ``force``; records without timestamps count as ``stamp`` (the run's
        "now"), unless their labels equal the stored ones. Records are applied in key order,
        not file order (a file holds one record per key, so the order changes nothing): the
        labels, their events and the indices then grow in order, and a batch writes a few pages
        instead of one random page per record."""
        with self._db.read() as c:
            version = c.execute("PRAGMA data_version").fetchone()[0]
            return _plan(c, after, limit, force, stamp, version)

    def write_batch(self, run_id: str, plan: ImportPlan) -> ImportPlan:
        """Write a planned batch in ONE short transaction (planned again inside it when another
        connection committed since the plan was read); returns the plan written."""
        with self._db.tx() as c:
            if c.execute("PRAGMA data_version").fetchone()[0] != plan.version:
                again = _plan(c, plan.after, plan.limit, plan.force, plan.stamp, plan.version)
                assert again is not None  # the staged records do not change
                plan = again
            if plan.states:
                c.executemany(
                    "INSERT OR IGNORE INTO annotators(name, created_at) VALUES (?, ?)",
                    [(a, plan.stamp) for a in {p[1] for p in plan.states}],
                )
                c.executemany(ANN_UPSERT, plan.states)
                origin = f"import:{run_id}"
                c.executemany(
                    "INSERT INTO annotation_events(uid, sentence_id, annotator, ts, action, "
                    "before, after, text_key, origin) VALUES (?, ?, ?, ?, 'import', ?, ?, ?, ?)",
                    [(*e, origin) for e in plan.events],
                )
            c.execute(
                "UPDATE import_runs SET written = written + ?, unchanged = unchanged + ?, "
                "kept_newer = kept_newer + ? WHERE id = ?",
                (plan.written, plan.unchanged, plan.kept, run_id),
            )
        return plan

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
                # the latest run that changed something: re-importing a file records a run
                # that wrote nothing, and undoing that one would do nothing
                row = c.execute(
                    "SELECT id, status FROM import_runs WHERE status != 'undone' "
                    "AND (written > 0 OR status != 'done') "
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
                    "SELECT id, uid, sentence_id, annotator, before, after, text_key "
                    "FROM annotation_events "
                    "WHERE origin = ? AND action = 'import'"
                    + ("" if last is None else " AND id < ?")
                    + f" ORDER BY id DESC LIMIT {int(batch)}",
                    params,
                ).fetchall()
                if not events:
                    break
                for _eid, uid, sentence_id, annotator, before_json, after_json, key in events:
                    if c.execute(
                        "SELECT 1 FROM annotation_events WHERE undoes = ?", (uid,)
                    ).fetchone():
                        continue  # undone already (an earlier, interrupted undo-import)
                    if key is not None and key != sentence_text_key(c, sentence_id):
                        # about a text that `import --replace` dropped: the id names another
                        changed += 1
                        continue
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
            self._db.checkpoint_passive()
        self.removed_actors = drop_unused_actors(self._db, self._created_actors(run_id), run_id)
        with self._db.tx() as c:
            c.execute(
                "UPDATE import_runs SET status = 'undone', finished_at = ? WHERE id = ?",
                (now(), run_id),
            )
        return run_id, restored, changed

    def _created_actors(self, run_id: str) -> list[str]:
        with self._db.read() as c:
            row = c.execute("SELECT actors FROM import_runs WHERE id = ?", (run_id,)).fetchone()
        return [] if row is None or row[0] is None else [str(a) for a in orjson.loads(row[0])]


@dataclass
class ImportPlan:
    """One planned batch of an import run (:meth:`ImportRuns.plan_batch`)."""

    after: tuple[str, str] | None
    limit: int
    force: bool
    stamp: str
    #: ``PRAGMA data_version`` when read: another connection committed since if it differs
    version: int
    last: tuple[str, str]
    states: list[tuple[Any, ...]]
    #: (uid, sentence id, annotator, ts, before, after) of each import event
    events: list[tuple[Any, ...]]
    written: int
    unchanged: int
    kept: int


def _plan(
    c: sqlite3.Connection,
    after: tuple[str, str] | None,
    limit: int,
    force: bool,
    stamp: str,
    version: int,
) -> ImportPlan | None:
    rows = c.execute(
        "SELECT s.rowid, s.sentence_id, s.annotator, s.status, s.claims, s.stances, "
        "s.note, s.propagated_from, s.created_at, s.updated_at, a.status, a.claims, "
        "a.stances, a.note, a.propagated_from, a.created_at, a.updated_at, "
        "s.suggested, a.suggested, (SELECT max(e.ts) FROM annotation_events e "
        "WHERE e.sentence_id = s.sentence_id AND e.annotator = s.annotator), "
        # the events' text_key (migration v12) set here: the trigger's UPDATE doubles the writes
        "(SELECT stanceterm_text_key(t.text) FROM sentences t WHERE t.id = s.sentence_id) "
        "FROM temp.stage_labels s LEFT JOIN annotations a "
        "ON a.sentence_id = s.sentence_id AND a.annotator = s.annotator "
        + ("" if after is None else "WHERE (s.sentence_id, s.annotator) > (?, ?) ")
        + "ORDER BY s.sentence_id, s.annotator LIMIT ?",
        (limit,) if after is None else (*after, limit),
    ).fetchall()
    if not rows:
        return None
    unchanged = kept = 0
    states: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []
    uids = _ordered_uids(len(rows))
    # the latest time known per record: an import event is ordered after it
    # (the merge-ordering rule, as save_in), so an imported label does not flip under merge
    for r in rows:
        rec = r[3:8]  # status, claims, stances, note, propagated_from
        cur = None if r[10] is None else r[10:15]
        created, updated = r[8], r[9]
        suggested, cur_suggested = r[17], r[18]  # provenance (issue 18), JSON or None
        if updated is None or created is None:
            if cur is not None and cur == rec:
                unchanged += 1
                continue
            created = created or (r[15] if cur is not None else stamp)
            updated = updated or stamp
        if cur is not None:
            if cur == rec and r[15] == created and r[16] == updated and cur_suggested == suggested:
                unchanged += 1
                continue
            if not force and not _later(updated, r[16]):
                kept += 1
                continue
        states.append((r[1], r[2], *rec, created, updated, suggested))
        before = None if cur is None else _state_json((*cur, r[15], r[16]), cur_suggested)
        after_json = _state_json((*rec, created, updated), suggested)
        latest = max((v for v in (r[19], r[16]) if v), default=None)
        ts = stamp if latest is None or stamp > latest else stamp_after(latest)
        events.append((uids[len(events)], r[1], r[2], ts, before, after_json, r[20]))
    return ImportPlan(
        after,
        limit,
        force,
        stamp,
        version,
        (str(rows[-1][1]), str(rows[-1][2])),
        states,
        events,
        len(states),
        unchanged,
        kept,
    )


def _state_json(cols: Sequence[Any], suggested: str | None = None) -> str:
    """The history form of a state (as :meth:`Annotation.labels`) from its stored columns
    (status, claims, stances, note, propagated_from, created_at, updated_at) and its
    suggestion provenance (JSON text or None). The stored claims and stances JSON (compact,
    as :func:`~stanceterm.store.models.dumps` writes it) is spliced in without re-parsing."""
    status, claims, stances, note, propagated_from, created_at, updated_at = cols
    out: dict[str, Any] = {
        "status": status,
        "claims": orjson.Fragment(claims),
        "stances": orjson.Fragment(stances),
        "note": note,
        "propagated_from": propagated_from,
        "created_at": created_at,
        "updated_at": updated_at,
    }
    if suggested is not None:  # provenance rides in the history, as Annotation.labels()
        out["suggested"] = suggested
    return orjson.dumps(out).decode()


# --- labelsio: undo-import removes the actors the run created, once nothing uses them -------
#
# The removal is a replicated actor event (``actor_events.op = 'delete'``, arg: the actor's name
# and the import run), ordered like the other actor operations. It removes the actor only while
# nothing refers to it: no label or gold decision, no alias but its own name, no other actor
# operation and no history event outside the run and its undo. Merge applies the standing
# removals at its end (:func:`drop_deleted_actors`), after the labels it brought, so an actor
# that another replica still uses is kept everywhere, and one that nobody uses goes everywhere.


def _referenced(
    c: sqlite3.Connection, cands: dict[str, set[str]], since: dict[str, int]
) -> set[str]:
    """The candidate actors (id -> the event origins to ignore) that something refers to;
    ``since``: only events with a larger id (table -> id) are read (0: all)."""
    ids = orjson.dumps(sorted(cands)).decode()
    used: set[str] = set()
    if not since:
        for table in ("annotations", "gold"):
            used.update(
                str(r[0])
                for r in c.execute(
                    f"SELECT DISTINCT json_extract(j.value, '$.actor') FROM {table} x, "
                    "json_each(x.stances) j WHERE x.stances != '[]' AND "
                    "json_extract(j.value, '$.actor') IN (SELECT value FROM json_each(?))",
                    (ids,),
                )
            )
    for table in ("annotation_events", "gold_events"):
        for col in ("before", "after"):
            for actor, origin in c.execute(
                f"SELECT DISTINCT json_extract(j.value, '$.actor'), e.origin FROM {table} e, "
                f"json_each(e.{col}, '$.stances') j WHERE e.id > ? AND e.{col} IS NOT NULL AND "
                "json_extract(j.value, '$.actor') IN (SELECT value FROM json_each(?))",
                (since.get(table, 0), ids),
            ):
                if origin is None or str(origin) not in cands[str(actor)]:
                    used.add(str(actor))
    for actor, arg in c.execute(
        "SELECT actor_id, arg FROM actor_events WHERE id > ? AND op != 'delete'",
        (since.get("actor_events", 0),),
    ):
        if str(actor) in cands:
            used.add(str(actor))
        elif arg:
            text = str(arg)
            used.update(a for a in cands if dumps(a) in text)
    names = {
        str(i): alias_key(str(n))
        for i, n in c.execute(
            "SELECT id, name FROM actors WHERE id IN (SELECT value FROM json_each(?))", (ids,)
        )
    }
    for key, actor in c.execute(
        "SELECT key, actor_id FROM actor_aliases WHERE actor_id IN (SELECT value FROM json_each(?))",
        (ids,),
    ):
        if str(key) != names.get(str(actor)):
            used.add(str(actor))
    return used


def _last_ids(c: sqlite3.Connection) -> dict[str, int]:
    return {
        t: int(c.execute(f"SELECT coalesce(max(id), 0) FROM {t}").fetchone()[0])
        for t in ("annotation_events", "gold_events", "actor_events")
    }


def _drop(db: Handle, cands: dict[str, set[str]], record: str | None, batch: int = 500) -> int:
    """Remove the candidates nothing refers to: the scan is a read (no write lock), then each
    short transaction checks only what was written since. ``record``: the import run whose undo
    records a ``delete`` event per removed actor (None: merge applying standing removals)."""
    with db.read() as c:
        existing = {
            str(r[0])
            for r in c.execute(
                "SELECT id FROM actors WHERE id IN (SELECT value FROM json_each(?))",
                (orjson.dumps(sorted(cands)).decode(),),
            )
        }
    cands = {a: o for a, o in cands.items() if a in existing}
    if not cands:
        return 0
    with db.snapshot() as c:  # one consistent read
        seen = _last_ids(c)
        unused = sorted(set(cands) - _referenced(c, cands, {}))
    removed = 0
    for k in range(0, len(unused), batch):
        with db.tx() as c:
            part = {a: cands[a] for a in unused[k : k + batch]}
            gone = sorted(set(part) - _referenced(c, part, seen))
            for actor in gone:
                if record is not None:
                    name = c.execute("SELECT name FROM actors WHERE id = ?", (actor,)).fetchone()
                    row = c.execute("SELECT max(ts) FROM actor_events").fetchone()
                    c.execute(
                        "INSERT INTO actor_events(uid, ts, op, actor_id, arg, origin) "
                        "VALUES (?, ?, 'delete', ?, ?, ?)",
                        (
                            uuid.uuid4().hex,
                            stamp_after(row[0] if row else None),
                            actor,
                            dumps({"name": None if name is None else name[0], "run": record}),
                            f"undo-import:{record}",
                        ),
                    )
                c.execute("DELETE FROM actor_aliases WHERE actor_id = ?", (actor,))
                c.execute("DELETE FROM actors WHERE id = ?", (actor,))
            removed += len(gone)
    return removed


def drop_unused_actors(db: Handle, actor_ids: Sequence[str], run_id: str) -> int:
    """After ``undo-import RUN``: remove the actors the run created that nothing uses any more,
    each recorded as a replicated ``delete`` actor event. Returns how many were removed."""
    ignore = {f"import:{run_id}", f"undo-import:{run_id}"}
    return _drop(db, {a: ignore for a in actor_ids}, run_id)


def drop_deleted_actors(db: Handle) -> int:
    """Apply the standing ``delete`` actor events (not undone) again: their actors, if present
    (brought back by a merge) and used by nothing, are removed. Merge calls it at its end."""
    with db.read() as c:
        rows = c.execute(
            "SELECT e.actor_id, e.arg FROM actor_events e WHERE e.op = 'delete' AND NOT EXISTS "
            "(SELECT 1 FROM actor_events u WHERE u.op = 'undo' AND u.undoes = e.uid) "
            "AND e.actor_id IN (SELECT id FROM actors)"
        ).fetchall()
    cands: dict[str, set[str]] = {}
    for actor, arg in rows:
        run = str(orjson.loads(arg).get("run")) if arg else ""
        cands.setdefault(str(actor), set()).update({f"import:{run}", f"undo-import:{run}"})
    return _drop(db, cands, None)
