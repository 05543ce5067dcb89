"""The ``import-labels`` runs: staged, applied in short batches, undoable as a whole.

Reached as ``store.imports`` (:class:`ImportRuns`). import-labels validates the whole file
outside any write transaction and stages the records in a TEMP table of this connection (no lock
on the DB file), then applies them in short write transactions, each planned from a read outside
the write lock. Each applied change is an ``import`` event tagged ``origin = 'import:<run id>'``;
the run has a row in ``import_runs`` (issue 12 §3 and §5). ``undo-import`` reverts a run and
removes the actors it created that nothing uses any more, as replicated ``delete`` actor events
(:func:`drop_unused_actors`; merge applies them with :func:`drop_deleted_actors`).

Size: one run's life in one place. Staging, the SQL plan of a batch (:data:`_PLAN_SQL`), its
write with the cluster propagation (:data:`_PROPAGATE_SQL`) and the undo share the TEMP tables
and the plan's columns; split apart, each half would have to know the other's SQL.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
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
    propagate,
    record_event,
    sentence_text_key,
    write_state,
)
from stanceterm.store.models import (
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
    "created_at, updated_at, suggested, text_key"
)


#: the page cache of this connection's TEMP tables (the staged records) while importing, in MB
TEMP_CACHE_MB = 64

#: new actors created per write transaction (each a few rows: short even on a loaded machine)
ACTOR_BATCH = 100


class ImportRuns:
    """``store.imports``: the staged, batched and undoable ``import-labels`` runs."""

    def __init__(self, db: Handle) -> None:
        self._db = db
        #: how many actors the last :meth:`undo` removed (created by the run, used by nothing)
        self.removed_actors = 0

    # ---------------------------------------------------------------- staging (no DB lock)

    def stage_begin(self) -> None:
        # the staged records are read back in key order batch after batch: a cache for them
        self._db.conn.execute(f"PRAGMA temp.cache_size = {-TEMP_CACHE_MB * 1024}")
        with self._db.temp_tx() as c:
            c.execute(
                "CREATE TEMP TABLE IF NOT EXISTS stage_labels (lineno INTEGER NOT NULL, "
                "sentence_id TEXT NOT NULL, annotator TEXT NOT NULL, status TEXT NOT NULL, "
                "claims TEXT NOT NULL, stances TEXT NOT NULL, note TEXT, propagated_from TEXT, "
                "created_at TEXT, updated_at TEXT, suggested TEXT, text_key TEXT)"
            )
            c.execute("DELETE FROM temp.stage_labels")

    def stage(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Add validated records (in :data:`_STAGE_COLS` order; timestamps may be None). The
        last column, the sentence's ``text_key`` (computed once per sentence by the caller,
        outside any write lock), may be left out: the plan then computes it per record."""
        with self._db.temp_tx() as c:
            for width in {len(r) for r in rows}:
                cols = ", ".join(_STAGE_COLS.split(", ")[:width])
                c.executemany(
                    f"INSERT INTO temp.stage_labels({cols}) VALUES ({', '.join('?' * width)})",
                    [r for r in rows if len(r) == width],
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
            c.execute("DROP TABLE IF EXISTS temp.import_plan")

    # ---------------------------------------------------------------- runs

    def start(
        self,
        file: str,
        digest: str,
        records: int,
        new_actors: Sequence[tuple[str, str, str]],
        checkpoint: Callable[[], None] | None = None,
    ) -> tuple[str, bool]:
        """Create the staged run's new actors (id, name, created_by), :data:`ACTOR_BATCH` per
        short transaction, each followed by ``checkpoint()`` (default: a passive checkpoint
        here), then its run row. An ``applying`` run of the same file content is resumed:
        returns (run id, resumed)."""
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
            (checkpoint or self._db.checkpoint_passive)()
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
        computed from a read (no write lock) into this connection's TEMP table
        ``import_plan``, so that annotators can write meanwhile; :meth:`write_batch` writes it
        if no other connection committed since, else plans again inside its transaction. None
        when nothing is left. One plan at a time per connection (the next one replaces it).

        A record replaces the DB's label only if it is later (``updated_at``; a tie keeps the
        DB's label) or ``force``; records without timestamps count as ``stamp`` (the run's
        "now"), unless their labels equal the stored ones. Records are applied in key order,
        not file order (a file holds one record per key, so the order changes nothing): the
        labels, their events and the indices then grow in order, and a batch writes a few pages
        instead of one random page per record.

        The plan is built in SQL (:data:`_PLAN_SQL`: verdicts, history JSON, event times; the
        event uids are made when it is written), so a batch never passes through Python
        objects: planning and writing are a few statements each, whatever the batch size."""
        with self._db.temp_tx() as c:
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
            if plan.written:
                c.execute(
                    "INSERT OR IGNORE INTO annotators(name, created_at) "
                    "SELECT DISTINCT annotator, ? FROM temp.import_plan WHERE verdict = 0",
                    (plan.stamp,),
                )
                c.execute(
                    "INSERT OR REPLACE INTO annotations(sentence_id, annotator, status, claims, "
                    "stances, note, propagated_from, created_at, updated_at, suggested) "
                    "SELECT sentence_id, annotator, status, claims, stances, note, "
                    "propagated_from, created_at, updated_at, suggested FROM temp.import_plan "
                    "WHERE verdict = 0 ORDER BY k"
                )
                # a cluster is one unit: a direct label on a representative reaches its copies,
                # as from the screen or merge (labels.propagate), set-based for the batch
                c.execute(_PROPAGATE_SQL)
                # event uids as unique as uuid4's hex (32 hex digits, 64 random bits) but
                # increasing: the clock in ns plus k, then random bits. A bulk import then
                # appends to the ``uid`` index instead of writing one random page per event.
                c.execute(
                    "INSERT INTO annotation_events(uid, sentence_id, annotator, ts, action, "
                    "before, after, text_key, origin) SELECT printf('%016x', ? + k) || "
                    "lower(hex(randomblob(8))), sentence_id, annotator, ts, 'import', before, "
                    "after, text_key, ? FROM temp.import_plan WHERE verdict = 0 ORDER BY k",
                    (time.time_ns(), f"import:{run_id}"),
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
                    if imported.propagated_from is None:  # the copies follow, as with `u`
                        propagate(c, sentence_id, annotator, back)
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
    """One planned batch of an import run (:meth:`ImportRuns.plan_batch`); the rows it writes
    are in the TEMP table ``import_plan`` of the connection that planned it."""

    after: tuple[str, str] | None
    limit: int
    force: bool
    stamp: str
    #: ``PRAGMA data_version`` when read: another connection committed since if it differs
    version: int
    last: tuple[str, str]
    written: int
    unchanged: int
    kept: int


def _state_json_sql(p: str, created: str, updated: str) -> str:
    """SQL for the history form of a state (as :meth:`Annotation.labels` dumped by
    :func:`~stanceterm.store.models.dumps`, byte for byte) from the columns named with prefix
    ``p`` (``{p}status``, ...) and the timestamps ``created`` and ``updated``: the stored
    claims and stances JSON (compact, as ``dumps`` wrote it) spliced in as they are, strings
    quoted by ``json_quote`` (which escapes as orjson does), ``suggested`` only when there is
    one."""
    return (
        f"""'{{"status":' || json_quote({p}status) || ',"claims":' || {p}claims """
        f"""|| ',"stances":' || {p}stances || ',"note":' || json_quote({p}note) """
        f"""|| ',"propagated_from":' || json_quote({p}propagated_from) """
        f"""|| ',"created_at":' || json_quote({created}) """
        f"""|| ',"updated_at":' || json_quote({updated}) """
        f"""|| CASE WHEN {p}suggested IS NULL THEN '' """
        f"""ELSE ',"suggested":' || json_quote({p}suggested) END || '}}'"""
    )


#: The copies of the batch's representatives get the imported direct labels, marked as
#: propagated from the representative (what :func:`~stanceterm.store.labels.propagate` writes one
#: by one); a copy split out of its cluster, or with its own direct label by that annotator,
#: is left alone.
_PROPAGATE_SQL = """
INSERT OR REPLACE INTO annotations(sentence_id, annotator, status, claims, stances, note,
    propagated_from, created_at, updated_at, suggested)
SELECT m.id, p.annotator, p.status, p.claims, p.stances, p.note, p.sentence_id, p.created_at,
    p.updated_at, p.suggested
FROM temp.import_plan p
JOIN clusters k ON k.representative_id = p.sentence_id
JOIN sentences m ON m.cluster_id = k.id AND m.id != p.sentence_id
WHERE p.verdict = 0 AND p.propagated_from IS NULL
    AND m.id NOT IN (SELECT sentence_id FROM cluster_splits)
    AND NOT EXISTS (SELECT 1 FROM annotations o WHERE o.sentence_id = m.id
                    AND o.annotator = p.annotator AND o.propagated_from IS NULL)
ORDER BY p.k
"""

_PLAN_COLS = (
    "verdict, sentence_id, annotator, status, claims, stances, note, propagated_from, "
    "created_at, updated_at, suggested, text_key, before, after, ts"
)

#: The plan of one batch, into ``temp.import_plan`` in key order (``k``, its rowid, counts from
#: 1; named parameters: stamp, force, limit, and the key after which to start). Verdict 0:
#: write, 1: unchanged, 2: kept as newer in the DB. The rules are those of
#: :meth:`ImportRuns.plan_batch`:
#:
#: - a record without timestamps equal to the stored labels is unchanged; else its created_at is
#:   the stored one (or ``stamp``), its updated_at ``stamp``;
#: - a record equal to the stored label, timestamps and provenance included, is unchanged;
#: - a record not later than the stored label (``updated_at``; a tie keeps the DB's) is kept,
#:   unless ``force``;
#: - the import event is dated ``stamp``, or just after the latest time known for the key (its
#:   events' and the label's) when that is not earlier (the merge-ordering rule, as ``save_in``),
#:   so an imported label does not flip under merge;
#: - the events' ``text_key`` (migration v12) was staged once per sentence (computed here only
#:   for rows staged without it; the trigger's UPDATE would double the writes).
_PLAN_SQL = f"""
WITH b AS (
    SELECT s.sentence_id, s.annotator, s.status, s.claims, s.stances, s.note,
        s.propagated_from, s.created_at AS s_created, s.updated_at AS s_updated, s.suggested,
        coalesce(s.text_key, (SELECT stanceterm_text_key(t.text) FROM sentences t
                              WHERE t.id = s.sentence_id)) AS text_key,
        a.status AS a_status, a.claims AS a_claims, a.stances AS a_stances, a.note AS a_note,
        a.propagated_from AS a_propagated_from, a.created_at AS a_created,
        a.updated_at AS a_updated, a.suggested AS a_suggested,
        (SELECT max(e.ts) FROM annotation_events e
         WHERE e.sentence_id = s.sentence_id AND e.annotator = s.annotator) AS ev_ts
    FROM temp.stage_labels s LEFT JOIN annotations a
        ON a.sentence_id = s.sentence_id AND a.annotator = s.annotator
    {{where}}
    ORDER BY s.sentence_id, s.annotator LIMIT :limit
), c AS (
    SELECT b.*,
        coalesce(s_created, CASE WHEN a_status IS NOT NULL THEN a_created ELSE :stamp END) AS cr,
        coalesce(s_updated, :stamp) AS up,
        coalesce(a_status = status AND a_claims = claims AND a_stances = stances
                 AND a_note IS note AND a_propagated_from IS propagated_from, 0) AS same,
        CASE WHEN nullif(ev_ts, '') IS NULL THEN nullif(a_updated, '')
             WHEN nullif(a_updated, '') IS NULL OR ev_ts > a_updated THEN ev_ts
             ELSE a_updated END AS latest
    FROM b
), d AS (
    SELECT c.*, CASE
        WHEN (s_created IS NULL OR s_updated IS NULL) AND same THEN 1
        WHEN a_status IS NOT NULL AND same AND a_created = cr AND a_updated = up
             AND a_suggested IS suggested THEN 1
        WHEN a_status IS NOT NULL AND NOT :force AND NOT up > a_updated THEN 2
        ELSE 0 END AS verdict
    FROM c
)
INSERT INTO temp.import_plan({_PLAN_COLS})
SELECT verdict, sentence_id, annotator, status, claims, stances, note, propagated_from,
    cr, up, suggested, text_key,
    CASE WHEN verdict = 0 AND a_status IS NOT NULL
         THEN {_state_json_sql("a_", "a_created", "a_updated")} END,
    CASE WHEN verdict = 0 THEN {_state_json_sql("", "cr", "up")} END,
    CASE WHEN verdict != 0 THEN NULL WHEN latest IS NULL OR :stamp > latest THEN :stamp
         ELSE stanceterm_stamp_after(latest) END
FROM d ORDER BY sentence_id, annotator
"""


def _plan(
    c: sqlite3.Connection,
    after: tuple[str, str] | None,
    limit: int,
    force: bool,
    stamp: str,
    version: int,
) -> ImportPlan | None:
    """Fill ``temp.import_plan`` with the next batch (:data:`_PLAN_SQL`), in the caller's
    transaction (a TEMP one outside the write lock, or the write transaction)."""
    c.execute(
        "CREATE TEMP TABLE IF NOT EXISTS import_plan (k INTEGER PRIMARY KEY, verdict INTEGER, "
        "sentence_id TEXT, annotator TEXT, status TEXT, claims TEXT, stances TEXT, note TEXT, "
        "propagated_from TEXT, created_at TEXT, updated_at TEXT, suggested TEXT, text_key TEXT, "
        "before TEXT, after TEXT, ts TEXT)"
    )
    c.execute("DELETE FROM temp.import_plan")
    params: dict[str, Any] = {
        "stamp": stamp,
        "force": int(force),
        "limit": int(limit),
    }
    where = ""
    if after is not None:
        where = "WHERE (s.sentence_id, s.annotator) > (:after_sid, :after_ann)"
        params["after_sid"], params["after_ann"] = after
    c.execute(_PLAN_SQL.replace("{where}", where), params)
    row = c.execute(
        "SELECT count(*), coalesce(sum(verdict = 0), 0), coalesce(sum(verdict = 1), 0), "
        "coalesce(sum(verdict = 2), 0), "
        "(SELECT sentence_id FROM temp.import_plan ORDER BY k DESC LIMIT 1), "
        "(SELECT annotator FROM temp.import_plan ORDER BY k DESC LIMIT 1) FROM temp.import_plan"
    ).fetchone()
    if not row[0]:
        return None
    return ImportPlan(
        after, limit, force, stamp, version, (str(row[4]), str(row[5])), row[1], row[2], row[3]
    )


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
