"""The store: the only module with SQL.

One SQLite file holds the whole team loop: articles, sentences, annotators, the actor gazetteer,
the current annotations per (sentence, annotator), an append-only history of every change, dedup
clusters, assignments and gold labels. Opened with WAL, ``synchronous=NORMAL``, foreign keys on and
a busy timeout; every write is a short ``BEGIN IMMEDIATE`` transaction retried while another
process holds the write lock, so several annotator processes share one file.

Schema versions live in ``PRAGMA user_version``; :data:`MIGRATIONS` upgrades older files in place.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import orjson

from stanceterm import fileguard
from stanceterm.actors import alias_key, follow_aliases, slugify
from stanceterm.schema import LabelSchema, load_schema_text

if TYPE_CHECKING:
    import sqlite_utils

APP_ID = "stanceterm"
SQLITE_MAGIC = b"SQLite format 3\x00"
BUSY_TIMEOUT_MS = 5000
LOCK_RETRY_SECONDS = 60.0


class StoreError(Exception):
    """A problem with the DB file itself; the message is one line."""


def now() -> str:
    """UTC timestamp with microseconds, e.g. ``2026-11-24T20:00:00.123456Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


# --------------------------------------------------------------------------- migrations

_V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE articles (
    id TEXT PRIMARY KEY,
    title TEXT,
    source TEXT,
    url TEXT,
    published TEXT,
    lang TEXT NOT NULL,
    content_hash TEXT NOT NULL UNIQUE,
    n_sentences INTEGER NOT NULL,
    origin TEXT,
    imported_at TEXT NOT NULL
);
CREATE TABLE sentences (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    article_id TEXT NOT NULL REFERENCES articles(id),
    idx INTEGER NOT NULL,
    text TEXT NOT NULL,
    norm TEXT NOT NULL,
    cluster_id TEXT,
    hidden INTEGER NOT NULL DEFAULT 0,
    UNIQUE (article_id, idx)
);
CREATE INDEX sentences_visible ON sentences(seq) WHERE hidden = 0;
CREATE INDEX sentences_cluster ON sentences(cluster_id) WHERE cluster_id IS NOT NULL;
CREATE TABLE clusters (
    id TEXT PRIMARY KEY,
    representative_id TEXT NOT NULL UNIQUE REFERENCES sentences(id),
    size INTEGER NOT NULL,
    threshold REAL NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE cluster_splits (
    sentence_id TEXT PRIMARY KEY REFERENCES sentences(id),
    annotator TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE annotators (name TEXT PRIMARY KEY, created_at TEXT NOT NULL);
CREATE TABLE actors (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_by TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE actor_aliases (
    key TEXT PRIMARY KEY,
    alias TEXT NOT NULL,
    actor_id TEXT NOT NULL REFERENCES actors(id)
);
CREATE INDEX actor_aliases_actor ON actor_aliases(actor_id);
CREATE TABLE annotations (
    sentence_id TEXT NOT NULL REFERENCES sentences(id),
    annotator TEXT NOT NULL REFERENCES annotators(name),
    status TEXT NOT NULL CHECK (status IN ('draft', 'done', 'skipped', 'flagged')),
    claims TEXT NOT NULL DEFAULT '[]',
    stances TEXT NOT NULL DEFAULT '[]',
    note TEXT,
    propagated_from TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (sentence_id, annotator)
) WITHOUT ROWID;
CREATE INDEX annotations_annotator ON annotations(annotator, status);
CREATE INDEX annotations_propagated ON annotations(propagated_from)
    WHERE propagated_from IS NOT NULL;
CREATE TABLE annotation_events (
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,
    sentence_id TEXT NOT NULL,
    annotator TEXT NOT NULL,
    ts TEXT NOT NULL,
    action TEXT NOT NULL,
    before TEXT,
    after TEXT,
    undoes TEXT,
    origin TEXT
);
CREATE INDEX annotation_events_annotator ON annotation_events(annotator, id);
CREATE INDEX annotation_events_sentence ON annotation_events(sentence_id);
CREATE TABLE assignments (
    annotator TEXT NOT NULL,
    seq INTEGER NOT NULL,
    sentence_id TEXT NOT NULL REFERENCES sentences(id),
    created_at TEXT NOT NULL,
    PRIMARY KEY (annotator, seq)
) WITHOUT ROWID;
CREATE TABLE gold (
    sentence_id TEXT PRIMARY KEY REFERENCES sentences(id),
    status TEXT NOT NULL CHECK (status IN ('gold', 'unresolvable')),
    claims TEXT NOT NULL DEFAULT '[]',
    stances TEXT NOT NULL DEFAULT '[]',
    adjudicator TEXT NOT NULL,
    chosen_from TEXT,
    sources TEXT NOT NULL DEFAULT '[]',
    note TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
"""

#: v2: undo looks up "is this event undone?" by index instead of scanning the history.
_V2 = """
CREATE INDEX annotation_events_undoes ON annotation_events(undoes) WHERE undoes IS NOT NULL;
"""

#: v3 (teams): per-annotator counters kept by triggers, so the live team progress is a few-row
#: read even on a million-sentence DB (counting annotations scans them). ``kind`` is a status
#: (draft/done/skipped/flagged; direct labels only, propagated copies are not work done) or
#: ``assigned``. The triggers rely on ``PRAGMA recursive_triggers = ON`` (set on every
#: connection) so that ``INSERT OR REPLACE`` runs the delete trigger of the row it replaces.
#: Also: assignments by sentence (who else holds this sentence: the overlap of an assignment).
_V3 = """
CREATE TABLE annotator_counts (
    annotator TEXT NOT NULL,
    kind TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (annotator, kind)
) WITHOUT ROWID;
INSERT INTO annotator_counts(annotator, kind, n)
    SELECT annotator, status, count(*) FROM annotations WHERE propagated_from IS NULL
    GROUP BY annotator, status;
INSERT INTO annotator_counts(annotator, kind, n)
    SELECT annotator, 'assigned', count(*) FROM assignments GROUP BY annotator;
CREATE TRIGGER annotations_count_insert AFTER INSERT ON annotations
WHEN NEW.propagated_from IS NULL BEGIN
    INSERT INTO annotator_counts(annotator, kind, n) VALUES (NEW.annotator, NEW.status, 1)
    ON CONFLICT(annotator, kind) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER annotations_count_delete AFTER DELETE ON annotations
WHEN OLD.propagated_from IS NULL BEGIN
    UPDATE annotator_counts SET n = n - 1 WHERE annotator = OLD.annotator AND kind = OLD.status;
END;
CREATE TRIGGER annotations_count_update AFTER UPDATE OF annotator, status, propagated_from
ON annotations BEGIN
    UPDATE annotator_counts SET n = n - 1
    WHERE OLD.propagated_from IS NULL AND annotator = OLD.annotator AND kind = OLD.status;
    INSERT INTO annotator_counts(annotator, kind, n)
    SELECT NEW.annotator, NEW.status, 1 WHERE NEW.propagated_from IS NULL
    ON CONFLICT(annotator, kind) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER assignments_count_insert AFTER INSERT ON assignments BEGIN
    INSERT INTO annotator_counts(annotator, kind, n) VALUES (NEW.annotator, 'assigned', 1)
    ON CONFLICT(annotator, kind) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER assignments_count_delete AFTER DELETE ON assignments BEGIN
    UPDATE annotator_counts SET n = n - 1 WHERE annotator = OLD.annotator AND kind = 'assigned';
END;
CREATE INDEX assignments_seq ON assignments(seq);
"""

#: v4: ``sentences.norm`` folds accents (``segment.match_key``: NFKD, combining marks dropped,
#: casefold), so search for "etats" finds "États". The SQL records the key's version; the rows
#: are recomputed in Python by :func:`_v4_refold_norms` (see :data:`MIGRATION_STEPS`).
_V4 = """
INSERT OR REPLACE INTO meta(key, value) VALUES ('norm_key', 'nfkd-nomarks-casefold');
"""

#: (version, SQL script). Append only: a released migration is never edited.
MIGRATIONS: list[tuple[int, str]] = [(1, _V1), (2, _V2), (3, _V3), (4, _V4)]
LATEST_VERSION = MIGRATIONS[-1][0]

NORM_BATCH = 5000


def _v4_refold_norms(c: sqlite3.Connection) -> None:
    """Recompute ``sentences.norm`` with the accent-folding ``match_key``, in batches by seq."""
    from stanceterm.segment import match_key

    last = -1
    while True:
        rows = c.execute(
            "SELECT seq, text FROM sentences WHERE seq > ? ORDER BY seq LIMIT ?", (last, NORM_BATCH)
        ).fetchall()
        if not rows:
            return
        c.executemany(
            "UPDATE sentences SET norm = ? WHERE seq = ?",
            [(match_key(text), seq) for seq, text in rows],
        )
        last = rows[-1][0]


#: Python steps run after a migration's SQL, in the same transaction.
MIGRATION_STEPS: dict[int, Callable[[sqlite3.Connection], None]] = {4: _v4_refold_norms}


# --------------------------------------------------------------------------- value objects


@dataclass(frozen=True, slots=True)
class Stance:
    claim: str
    actor: str  # actor id
    stance: str

    def as_dict(self) -> dict[str, str]:
        return {"claim": self.claim, "actor": self.actor, "stance": self.stance}


@dataclass(frozen=True, slots=True)
class Annotation:
    """The current labels of one sentence by one annotator."""

    sentence_id: str
    annotator: str
    status: str = "draft"
    claims: tuple[str, ...] = ()
    stances: tuple[Stance, ...] = ()
    note: str | None = None
    propagated_from: str | None = None
    created_at: str = ""
    updated_at: str = ""

    def labels(self) -> dict[str, Any]:
        """The part compared for equality and kept in the history."""
        return {
            "status": self.status,
            "claims": list(self.claims),
            "stances": [s.as_dict() for s in self.stances],
            "note": self.note,
            "propagated_from": self.propagated_from,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }

    def same_labels(self, other: Annotation | None) -> bool:
        return (
            other is not None
            and self.status == other.status
            and self.claims == other.claims
            and self.stances == other.stances
            and self.note == other.note
        )


@dataclass(frozen=True, slots=True)
class Sentence:
    seq: int
    id: str
    article_id: str
    idx: int
    text: str
    cluster_id: str | None = None
    hidden: bool = False


@dataclass(frozen=True, slots=True)
class Article:
    id: str
    title: str | None
    source: str | None
    url: str | None
    published: str | None
    lang: str
    n_sentences: int


@dataclass(slots=True)
class ImportCounts:
    articles_added: int = 0
    articles_skipped: int = 0
    sentences_added: int = 0
    sentences_skipped: int = 0


@dataclass(frozen=True, slots=True)
class NewArticle:
    id: str
    title: str | None
    source: str | None
    url: str | None
    published: str | None
    lang: str
    content_hash: str
    sentences: Sequence[str]
    norms: Sequence[str]
    origin: str | None = None


@dataclass(frozen=True, slots=True)
class Gold:
    sentence_id: str
    status: str
    claims: tuple[str, ...]
    stances: tuple[Stance, ...]
    adjudicator: str
    chosen_from: str | None
    sources: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None
    created_at: str = ""
    updated_at: str = ""


class MergeConflict(StoreError):
    """The other DB cannot be merged into this one; the message is one line."""


@dataclass(frozen=True, slots=True)
class DedupState:
    """Where the last dedup run stopped (see the dedup section of :class:`Store`)."""

    last_seq: int = -1
    threshold: float = float("nan")
    version: str = ""
    splits: int = 0


@dataclass(slots=True)
class MergeCounts:
    """What :meth:`Store.merge_from` changed."""

    articles_added: int = 0
    sentences_added: int = 0
    annotators_added: int = 0
    actors_added: int = 0
    actors_remapped: int = 0
    aliases_added: int = 0
    events_added: int = 0
    labels_taken: int = 0
    labels_kept: int = 0
    labels_deleted: int = 0
    gold_taken: int = 0
    gold_kept: int = 0
    splits_applied: int = 0


#: The counters of :meth:`Store.progress_by_annotator` besides ``last_activity``.
_PROGRESS_KINDS: tuple[str, ...] = ("done", "skipped", "flagged", "draft", "assigned")


def _stances_from_json(raw: str | None) -> tuple[Stance, ...]:
    if not raw:
        return ()
    return tuple(Stance(d["claim"], d["actor"], d["stance"]) for d in orjson.loads(raw))


def _annotation_from_row(row: sqlite3.Row | tuple[Any, ...]) -> Annotation:
    return Annotation(
        sentence_id=row[0],
        annotator=row[1],
        status=row[2],
        claims=tuple(orjson.loads(row[3])),
        stances=_stances_from_json(row[4]),
        note=row[5],
        propagated_from=row[6],
        created_at=row[7],
        updated_at=row[8],
    )


def _state_from_json(sentence_id: str, annotator: str, raw: str | None) -> Annotation | None:
    """An annotation state as kept in the history (``Annotation.labels()`` JSON)."""
    if raw is None:
        return None
    d = orjson.loads(raw)
    return Annotation(
        sentence_id=sentence_id,
        annotator=annotator,
        status=d["status"],
        claims=tuple(d["claims"]),
        stances=tuple(Stance(**s) for s in d["stances"]),
        note=d.get("note"),
        propagated_from=d.get("propagated_from"),
        created_at=d.get("created_at", ""),
        updated_at=d.get("updated_at", ""),
    )


_ANN_COLS = (
    "sentence_id, annotator, status, claims, stances, note, propagated_from, created_at, updated_at"
)


def _is_locked(exc: sqlite3.OperationalError) -> bool:
    msg = str(exc).lower()
    return "locked" in msg or "busy" in msg


# --------------------------------------------------------------------------- the store


class Store:
    """A stanceterm database. Use :meth:`open` (a file) or :meth:`memory` (tests)."""

    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        self.conn = conn
        self.path = path
        self._db: sqlite_utils.Database | None = None
        self._lock = threading.RLock()
        self.read_only = False
        self._guard_key: tuple[int, int] | None = None

    @property
    def db(self) -> sqlite_utils.Database:
        """The same connection as a ``sqlite_utils.Database``, for notebooks and ad-hoc queries
        (imported on first use: sqlite-utils pulls in pandas when it is installed, which would
        cost every command and the TUI half a second at start-up)."""
        if self._db is None:
            import sqlite_utils

            self._db = sqlite_utils.Database(self.conn)
        return self._db

    # ---------------------------------------------------------------- opening

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], *, create: bool = True, read_only: bool = False
    ) -> Store:
        """Open (and if needed create or upgrade) a stanceterm DB.

        A file that is not a stanceterm DB (random bytes, text, another program's SQLite) or one
        from a newer stanceterm is refused with :class:`StoreError`, and left untouched.
        ``read_only`` opens an existing DB without creating, upgrading or writing anything (the
        source of a merge); an older schema version is read as it is.
        """
        if read_only:
            return cls._open_read_only(Path(path))
        p = Path(path)
        if p.exists():
            if p.is_dir():
                raise StoreError(f"{p}: is a directory, not a database file")
            if not create and p.stat().st_size == 0:
                raise StoreError(f"{p}: not a stanceterm database (empty file); left untouched")
            _check_foreign_file(p)
        elif not create:
            raise StoreError(f"{p}: no such database")
        elif not p.parent.exists():
            raise StoreError(f"{p}: cannot create database: folder {p.parent} does not exist")
        try:
            conn = sqlite3.connect(
                str(p),
                isolation_level=None,
                check_same_thread=False,
                timeout=BUSY_TIMEOUT_MS / 1000,
            )
        except sqlite3.Error as exc:
            raise StoreError(f"{p}: cannot open database: {exc}") from None
        store = cls(conn, str(p))
        store._guard_key = fileguard.register(p)
        try:
            store._configure_and_migrate()
        except sqlite3.DatabaseError as exc:
            store.close()
            raise StoreError(f"{p}: not a usable stanceterm database: {exc}") from None
        except StoreError:
            store.close()
            raise
        return store

    def _configure_and_migrate(self) -> None:
        """Switch to WAL and upgrade, retried while other processes hold the file locked.

        Several annotators starting at once on a new (or older-version) file race to create or
        upgrade it; switching the journal mode and the first reads can then fail with "database
        is locked" before the busy timeout applies. Every step is idempotent, so retry.
        """
        deadline = time.monotonic() + LOCK_RETRY_SECONDS
        delay = 0.005
        while True:
            try:
                self._configure(wal=True)
                self._migrate()
                return
            except sqlite3.OperationalError as exc:
                if not _is_locked(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.2)

    @classmethod
    def _open_read_only(cls, p: Path) -> Store:
        if not p.is_file():
            raise StoreError(f"{p}: no such database")
        _check_foreign_file(p)  # no plain read when this process is connected to it already
        # A cleanly closed DB (no -wal beside it) is read as immutable, so reading it (merge)
        # leaves no -wal/-shm files behind; a DB in use has a -wal, which must be read.
        wal = p.with_name(p.name + "-wal")
        mode = "mode=ro" if wal.exists() else "mode=ro&immutable=1"
        try:
            conn = sqlite3.connect(
                f"file:{quote(str(p.resolve()))}?{mode}",
                uri=True,
                isolation_level=None,
                check_same_thread=False,
                timeout=BUSY_TIMEOUT_MS / 1000,
            )
        except sqlite3.Error as exc:
            raise StoreError(f"{p}: cannot open database: {exc}") from None
        store = cls(conn, str(p))
        store.read_only = True
        store._guard_key = fileguard.register(p)
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA query_only = ON")
            if store.schema_version() == 0 or store.get_meta("app") != APP_ID:
                raise StoreError(f"{p}: is not a stanceterm database (empty); left untouched")
        except sqlite3.DatabaseError as exc:
            store.close()
            raise StoreError(f"{p}: not a usable stanceterm database: {exc}") from None
        except StoreError:
            store.close()
            raise
        return store

    @classmethod
    def memory(cls) -> Store:
        conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        store = cls(conn, ":memory:")
        store._configure(wal=False)
        store._migrate()
        return store

    def close(self) -> None:
        with self._lock:
            self.conn.close()
            key, self._guard_key = self._guard_key, None
        fileguard.unregister(key)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _configure(self, *, wal: bool) -> None:
        c = self.conn
        c.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if wal:
            mode = c.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"{self.path}: cannot switch the database to WAL mode")
        c.execute("PRAGMA synchronous = NORMAL")
        c.execute("PRAGMA foreign_keys = ON")
        c.execute("PRAGMA recursive_triggers = ON")  # the annotator_counts triggers need it

    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        version = self.schema_version()
        if version > LATEST_VERSION:
            raise StoreError(
                f"{self.path}: made by a newer stanceterm (schema v{version}; this one knows up to "
                f"v{LATEST_VERSION}); upgrade stanceterm"
            )
        if version == 0:
            tables = [
                r[0]
                for r in self.conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                )
            ]
            if tables:
                # a stanceterm opening the same new file at the same moment may just have
                # committed its first migration between our two reads
                version = self.schema_version()
            if tables and version == 0:
                raise StoreError(
                    f"{self.path}: is an SQLite database of another program (tables: "
                    f"{', '.join(tables[:5])}); refusing to touch it"
                )
        if version > 0 and self.get_meta("app") != APP_ID:
            raise StoreError(f"{self.path}: is not a stanceterm database")
        for target, script in MIGRATIONS:
            if target <= version:
                continue
            self._run_migration(target, script)
            version = target

    def _run_migration(self, target: int, script: str) -> None:
        with self.tx() as c:
            # Another process opening the same file at the same moment may have run this
            # migration while we waited for the write lock: look again under the lock.
            if int(c.execute("PRAGMA user_version").fetchone()[0]) >= target:
                return
            for statement in _split_sql(script):
                c.execute(statement)
            step = MIGRATION_STEPS.get(target)
            if step is not None:
                step(c)
            if target == 1:
                c.execute("INSERT INTO meta(key, value) VALUES ('app', ?)", (APP_ID,))
                c.execute("INSERT INTO meta(key, value) VALUES ('created_at', ?)", (now(),))
                c.execute("INSERT INTO meta(key, value) VALUES ('db_uid', ?)", (uuid.uuid4().hex,))
            c.execute(f"PRAGMA user_version = {int(target)}")

    # ---------------------------------------------------------------- transactions

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A short write transaction (``BEGIN IMMEDIATE``), retried while the DB is locked."""
        with self._lock:
            if self.conn.in_transaction:  # nested: join the caller's transaction
                yield self.conn
                return
            deadline = time.monotonic() + LOCK_RETRY_SECONDS
            delay = 0.005
            while True:
                try:
                    self.conn.execute("BEGIN IMMEDIATE")
                    break
                except sqlite3.OperationalError as exc:
                    if not _is_locked(exc) or time.monotonic() > deadline:
                        raise
                    time.sleep(delay)
                    delay = min(delay * 2, 0.2)
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            else:
                self._commit(deadline)

    def _commit(self, deadline: float) -> None:
        delay = 0.005
        while True:
            try:
                self.conn.execute("COMMIT")
                return
            except sqlite3.OperationalError as exc:
                if not _is_locked(exc) or time.monotonic() > deadline:
                    self.conn.execute("ROLLBACK")
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.2)

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """Serialise reads with the writes of other threads on this connection."""
        with self._lock:
            yield self.conn

    # ---------------------------------------------------------------- meta and schema

    def get_meta(self, key: str) -> str | None:
        with self.read() as c:
            if not self._has_table("meta"):
                return None
            row = c.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self.tx() as c:
            c.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def _has_table(self, name: str) -> bool:
        row = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()
        return row is not None

    @property
    def db_uid(self) -> str:
        return self.get_meta("db_uid") or ""

    def label_schema(self) -> LabelSchema | None:
        raw = self.get_meta("label_schema")
        return None if raw is None else load_schema_text(raw, f"{self.path} (stored label schema)")

    def set_label_schema(self, schema: LabelSchema) -> bool:
        """Record the label schema and seed its actor gazetteer. Returns True if it changed."""
        text = schema.canonical_json()
        changed = self.get_meta("label_schema") != text
        with self.tx() as c:
            if changed:
                c.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES ('label_schema', ?)", (text,)
                )
                c.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES ('label_schema_fingerprint', ?)",
                    (schema.fingerprint,),
                )
            for entry in schema.actors:
                self._add_actor(c, entry.name, entry.aliases, created_by=None)
        return changed

    # ---------------------------------------------------------------- actors

    def _add_actor(
        self, c: sqlite3.Connection, name: str, aliases: Iterable[str], created_by: str | None
    ) -> str:
        name = name.strip()
        key = alias_key(name)
        row = c.execute("SELECT actor_id FROM actor_aliases WHERE key = ?", (key,)).fetchone()
        if row is not None:
            actor_id = str(row[0])
        else:
            row = c.execute("SELECT id FROM actors WHERE name = ?", (name,)).fetchone()
            if row is not None:
                actor_id = str(row[0])
            else:
                base = slugify(name)
                actor_id, n = base, 2
                while c.execute("SELECT 1 FROM actors WHERE id = ?", (actor_id,)).fetchone():
                    actor_id, n = f"{base}-{n}", n + 1
                c.execute(
                    "INSERT INTO actors(id, name, created_by, created_at) VALUES (?, ?, ?, ?)",
                    (actor_id, name, created_by, now()),
                )
        for alias in [name, *aliases]:
            alias = alias.strip()
            if alias:
                c.execute(
                    "INSERT OR IGNORE INTO actor_aliases(key, alias, actor_id) VALUES (?, ?, ?)",
                    (alias_key(alias), alias, actor_id),
                )
        return actor_id

    def add_actor(
        self, name: str, aliases: Iterable[str] = (), created_by: str | None = None
    ) -> str:
        """Create an actor (or return the existing one whose alias matches ``name``)."""
        if not name.strip():
            raise ValueError("actor name is empty")
        with self.tx() as c:
            return self._add_actor(c, name, aliases, created_by)

    def add_alias(self, actor_id: str, alias: str) -> None:
        with self.tx() as c:
            c.execute(
                "INSERT OR REPLACE INTO actor_aliases(key, alias, actor_id) VALUES (?, ?, ?)",
                (alias_key(alias), alias.strip(), actor_id),
            )

    def resolve_actor(self, name_or_id: str) -> str | None:
        """Actor id for an id, a display name or any alias (accent- and case-insensitive)."""
        with self.read() as c:
            row = c.execute("SELECT id FROM actors WHERE id = ?", (name_or_id,)).fetchone()
            if row is None:
                row = c.execute(
                    "SELECT actor_id FROM actor_aliases WHERE key = ?", (alias_key(name_or_id),)
                ).fetchone()
        return None if row is None else str(row[0])

    def actor_names(self) -> dict[str, str]:
        """Actor id -> display name."""
        with self.read() as c:
            return {str(r[0]): str(r[1]) for r in c.execute("SELECT id, name FROM actors")}

    def alias_map(self) -> dict[str, str]:
        """Every alias (and display name) -> actor id."""
        with self.read() as c:
            out = {
                str(r[0]): str(r[1]) for r in c.execute("SELECT alias, actor_id FROM actor_aliases")
            }
            out.update({str(r[1]): str(r[0]) for r in c.execute("SELECT id, name FROM actors")})
        return out

    # --- dedup (issue 14): trusted aliases --------------------------------------------------
    def trusted_alias_map(self) -> dict[str, str]:
        """Alias -> actor id for the actors of the label schema (created by nobody): the only
        aliases dedup may treat as one actor. Actors made in the picker (``created_by`` set) are
        left out, so one keystroke cannot merge sentences."""
        with self.read() as c:
            rows = c.execute(
                "SELECT a.alias, a.actor_id FROM actor_aliases a JOIN actors t ON t.id = a.actor_id "
                "WHERE t.created_by IS NULL"
            )
            out = {str(r[0]): str(r[1]) for r in rows}
            for r in c.execute("SELECT id, name FROM actors WHERE created_by IS NULL"):
                out[str(r[1])] = str(r[0])
        return out

    # --- end dedup ----------------------------------------------------------------------------

    # ---------------------------------------------------------------- articles and sentences

    def insert_articles(self, articles: Iterable[NewArticle], counts: ImportCounts) -> None:
        """Insert articles and their sentences in the caller's transaction (see :meth:`tx`):
        :meth:`stage_articles` then :meth:`commit_staged`, whose rule skips an article whose id or
        content hash is already stored (re-import adds nothing)."""
        self.stage_articles(articles)
        self.commit_staged(counts)

    # ---------------------------------------------------------------- staged import

    _STAGE_SQL = (
        "CREATE TEMP TABLE IF NOT EXISTS stage_articles(seq INTEGER PRIMARY KEY, id TEXT NOT NULL, "
        "title TEXT, source TEXT, url TEXT, published TEXT, lang TEXT NOT NULL, "
        "content_hash TEXT NOT NULL, n_sentences INTEGER NOT NULL, origin TEXT)",
        "CREATE TEMP TABLE IF NOT EXISTS stage_sentences(aseq INTEGER NOT NULL, "
        "idx INTEGER NOT NULL, text TEXT NOT NULL, norm TEXT NOT NULL)",
        "CREATE TEMP TABLE IF NOT EXISTS stage_keep(aseq INTEGER PRIMARY KEY)",
    )

    def _clear_stage(self, c: sqlite3.Connection) -> None:
        for table in ("stage_articles", "stage_sentences", "stage_keep"):
            c.execute(f"DELETE FROM temp.{table}")

    def stage_articles(self, articles: Iterable[NewArticle]) -> int:
        """Write articles and their sentences to this connection's TEMP staging tables.

        Writing TEMP tables takes no lock on the DB file, so a long import (reading, segmenting)
        never makes annotators wait; :meth:`commit_staged` then copies the staged rows in one
        short transaction. Staged rows live in SQLite's temp store (on disk), so memory stays
        flat; a crash loses them and leaves the DB as it was. Returns the number staged.
        """
        c = self.conn
        with self._lock:
            for sql in self._STAGE_SQL:
                c.execute(sql)
            own = not c.in_transaction  # inside a caller's tx: staging joins it
            if own:
                c.execute("BEGIN")  # deferred, and only TEMP tables are written: no DB lock
            try:
                self._clear_stage(c)
                n = 0
                for art in articles:
                    cur = c.execute(
                        "INSERT INTO temp.stage_articles(id, title, source, url, published, lang, "
                        "content_hash, n_sentences, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            art.id,
                            art.title,
                            art.source,
                            art.url,
                            art.published,
                            art.lang,
                            art.content_hash,
                            len(art.sentences),
                            art.origin,
                        ),
                    )
                    aseq = cur.lastrowid
                    c.executemany(
                        "INSERT INTO temp.stage_sentences(aseq, idx, text, norm) VALUES (?, ?, ?, ?)",
                        [
                            (aseq, i, text, norm)
                            for i, (text, norm) in enumerate(
                                zip(art.sentences, art.norms, strict=True)
                            )
                        ],
                    )
                    n += 1
            except BaseException:
                if own:
                    c.execute("ROLLBACK")
                raise
            if own:
                c.execute("COMMIT")
        return n

    def commit_staged(self, counts: ImportCounts) -> None:
        """Copy the staged articles and sentences in, in the caller's transaction (see :meth:`tx`).

        Same rule as :meth:`insert_articles`: an article whose id or content hash is already
        stored, or was taken earlier from the same stage, is skipped (re-import adds nothing).
        """
        c = self.conn
        stamp = now()
        ids: set[str] = set()
        hashes: set[str] = set()
        for aseq, aid, chash, n in c.execute(
            "SELECT seq, id, content_hash, n_sentences FROM temp.stage_articles ORDER BY seq"
        ).fetchall():
            if (
                aid in ids
                or chash in hashes
                or c.execute(
                    "SELECT 1 FROM articles WHERE id = ? OR content_hash = ?", (aid, chash)
                ).fetchone()
            ):
                counts.articles_skipped += 1
                counts.sentences_skipped += n
                continue
            ids.add(aid)
            hashes.add(chash)
            c.execute("INSERT INTO temp.stage_keep(aseq) VALUES (?)", (aseq,))
            counts.articles_added += 1
            counts.sentences_added += n
        c.execute(
            "INSERT INTO articles(id, title, source, url, published, lang, content_hash, "
            "n_sentences, origin, imported_at) SELECT id, title, source, url, published, lang, "
            "content_hash, n_sentences, origin, ? FROM temp.stage_articles "
            "WHERE seq IN (SELECT aseq FROM temp.stage_keep) ORDER BY seq",
            (stamp,),
        )
        c.execute(
            "INSERT INTO sentences(id, article_id, idx, text, norm) "
            "SELECT a.id || ':' || s.idx, a.id, s.idx, s.text, s.norm "
            "FROM temp.stage_sentences s JOIN temp.stage_articles a ON a.seq = s.aseq "
            "WHERE s.aseq IN (SELECT aseq FROM temp.stage_keep) ORDER BY s.rowid"
        )
        self._clear_stage(c)

    def article(self, article_id: str) -> Article | None:
        with self.read() as c:
            row = c.execute(
                "SELECT id, title, source, url, published, lang, n_sentences FROM articles "
                "WHERE id = ?",
                (article_id,),
            ).fetchone()
        return None if row is None else Article(*row)

    def article_ids(self) -> list[str]:
        with self.read() as c:
            return [str(r[0]) for r in c.execute("SELECT id FROM articles ORDER BY rowid")]

    def sentence(self, sentence_id: str) -> Sentence | None:
        with self.read() as c:
            row = c.execute(
                "SELECT seq, id, article_id, idx, text, cluster_id, hidden FROM sentences "
                "WHERE id = ?",
                (sentence_id,),
            ).fetchone()
        return None if row is None else _sentence(row)

    def sentence_at(self, seq: int) -> Sentence | None:
        with self.read() as c:
            row = c.execute(
                "SELECT seq, id, article_id, idx, text, cluster_id, hidden FROM sentences "
                "WHERE seq = ?",
                (seq,),
            ).fetchone()
        return None if row is None else _sentence(row)

    def context(
        self, sentence: Sentence, before: int = 1, after: int = 1
    ) -> tuple[list[str], list[str]]:
        """Texts of the neighbouring sentences in the same article."""
        with self.read() as c:
            rows = c.execute(
                "SELECT idx, text FROM sentences WHERE article_id = ? AND idx BETWEEN ? AND ? "
                "ORDER BY idx",
                (sentence.article_id, sentence.idx - before, sentence.idx + after),
            ).fetchall()
        prev = [str(t) for i, t in rows if i < sentence.idx]
        nxt = [str(t) for i, t in rows if i > sentence.idx]
        return prev, nxt

    def sentence_ids_exist(self, ids: Sequence[str]) -> set[str]:
        with self.read() as c:
            return {
                str(r[0]) for r in _rows_in(c, "SELECT id FROM sentences WHERE id IN ({})", ids)
            }

    def sentence_article_map(self, ids: Sequence[str]) -> dict[str, str]:
        with self.read() as c:
            sql = "SELECT id, article_id FROM sentences WHERE id IN ({})"
            return {str(r[0]): str(r[1]) for r in _rows_in(c, sql, ids)}

    # ---------------------------------------------------------------- navigation

    def _queue_filter(self, annotator: str | None) -> tuple[str, str, list[Any]]:
        """FROM/WHERE for the sentences an annotator walks: assigned ones, else all visible."""
        if annotator is not None and self.has_assignments(annotator):
            return (
                "assignments q JOIN sentences s ON s.seq = q.seq",
                "q.annotator = ? AND s.hidden = 0",
                [annotator],
            )
        return "sentences s", "s.hidden = 0", []

    def has_assignments(self, annotator: str) -> bool:
        with self.read() as c:
            row = c.execute(
                "SELECT 1 FROM assignments WHERE annotator = ? LIMIT 1", (annotator,)
            ).fetchone()
        return row is not None

    def step(
        self,
        seq: int,
        direction: int = 1,
        *,
        annotator: str | None = None,
        undone_only: bool = False,
        in_queue: bool = True,
    ) -> Sentence | None:
        """The next (direction=1) or previous (-1) visible sentence after ``seq``.

        With ``annotator`` and ``in_queue``, only that annotator's assigned sentences (if any were
        assigned); with ``undone_only``, only those the annotator has not done, skipped or flagged.
        """
        source, where, params = self._queue_filter(annotator if in_queue else None)
        op, order = (">", "ASC") if direction > 0 else ("<", "DESC")
        sql = f"SELECT s.seq FROM {source} WHERE {where} AND s.seq {op} ?"
        params = [*params, seq]
        if undone_only and annotator is not None:
            sql += (
                " AND NOT EXISTS (SELECT 1 FROM annotations a WHERE a.sentence_id = s.id "
                "AND a.annotator = ? AND a.status != 'draft')"
            )
            params.append(annotator)
        sql += f" ORDER BY s.seq {order} LIMIT 1"
        with self.read() as c:
            row = c.execute(sql, params).fetchone()
        return None if row is None else self.sentence_at(int(row[0]))

    def first(self, annotator: str | None = None, *, undone_only: bool = False) -> Sentence | None:
        return self.step(-1, 1, annotator=annotator, undone_only=undone_only)

    def search(
        self, norm_query: str, after_seq: int, annotator: str | None = None
    ) -> Sentence | None:
        """First visible sentence after ``after_seq`` whose normalised text contains the query,
        wrapping around to the start. The query goes through ``segment.match_key`` too (it is
        idempotent), so "etats" and "États" both find "États"."""
        from stanceterm.segment import match_key

        norm_query = match_key(norm_query)
        if not norm_query:
            return None
        pattern = (
            "%" + norm_query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        source, where, params = self._queue_filter(annotator)
        sql = (
            f"SELECT s.seq FROM {source} WHERE {where} AND s.norm LIKE ? ESCAPE '\\' "
            "AND s.seq > ? ORDER BY s.seq LIMIT 1"
        )
        with self.read() as c:
            row = c.execute(sql, [*params, pattern, after_seq]).fetchone()
            if row is None:
                row = c.execute(sql, [*params, pattern, -1]).fetchone()
        return None if row is None else self.sentence_at(int(row[0]))

    def queue_size(self, annotator: str | None = None) -> int:
        source, where, params = self._queue_filter(annotator)
        with self.read() as c:
            return int(
                c.execute(f"SELECT count(*) FROM {source} WHERE {where}", params).fetchone()[0]
            )

    def done_count(self, annotator: str) -> int:
        """Sentences of the annotator's queue that are done, skipped or flagged."""
        source, where, params = self._queue_filter(annotator)
        sql = (
            f"SELECT count(*) FROM {source} JOIN annotations a ON a.sentence_id = s.id "
            f"WHERE {where} AND a.annotator = ? AND a.status != 'draft'"
        )
        with self.read() as c:
            return int(c.execute(sql, [*params, annotator]).fetchone()[0])

    # ---------------------------------------------------------------- annotators

    def ensure_annotator(self, name: str) -> None:
        with self.tx() as c:
            self._ensure_annotator(c, name)

    @staticmethod
    def _ensure_annotator(c: sqlite3.Connection, name: str) -> None:
        c.execute("INSERT OR IGNORE INTO annotators(name, created_at) VALUES (?, ?)", (name, now()))

    def annotators(self) -> list[str]:
        with self.read() as c:
            return [str(r[0]) for r in c.execute("SELECT name FROM annotators ORDER BY name")]

    # ---------------------------------------------------------------- annotations

    def annotation(self, sentence_id: str, annotator: str) -> Annotation | None:
        with self.read() as c:
            row = c.execute(
                f"SELECT {_ANN_COLS} FROM annotations WHERE sentence_id = ? AND annotator = ?",
                (sentence_id, annotator),
            ).fetchone()
        return None if row is None else _annotation_from_row(row)

    def annotations_for(self, sentence_id: str) -> list[Annotation]:
        with self.read() as c:
            rows = c.execute(
                f"SELECT {_ANN_COLS} FROM annotations WHERE sentence_id = ? ORDER BY annotator",
                (sentence_id,),
            ).fetchall()
        return [_annotation_from_row(r) for r in rows]

    def save(self, ann: Annotation, action: str = "set") -> Annotation:
        """Make ``ann`` the current state of (sentence, annotator), in one short transaction.

        Records an event with the before and after states (the history behind undo, audit and
        merge) and propagates the labels to the other members of the sentence's dedup cluster.
        Returns the stored state (with timestamps).
        """
        with self.tx() as c:
            return self._save(c, ann, action)

    def _save(self, c: sqlite3.Connection, ann: Annotation, action: str) -> Annotation:
        self._ensure_annotator(c, ann.annotator)
        row = c.execute(
            f"SELECT {_ANN_COLS} FROM annotations WHERE sentence_id = ? AND annotator = ?",
            (ann.sentence_id, ann.annotator),
        ).fetchone()
        before = None if row is None else _annotation_from_row(row)
        stamp = now()
        after = replace(
            ann,
            propagated_from=None,
            created_at=before.created_at if before else stamp,
            updated_at=stamp,
        )
        self._write_state(c, after)
        self._event(c, after.sentence_id, after.annotator, action, before, after)
        self._propagate(c, after.sentence_id, after.annotator, after)
        return after

    @staticmethod
    def _write_state(c: sqlite3.Connection, a: Annotation) -> None:
        c.execute(
            f"INSERT OR REPLACE INTO annotations({_ANN_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                a.sentence_id,
                a.annotator,
                a.status,
                _dumps(list(a.claims)),
                _dumps([s.as_dict() for s in a.stances]),
                a.note,
                a.propagated_from,
                a.created_at,
                a.updated_at,
            ),
        )

    @staticmethod
    def _event(
        c: sqlite3.Connection,
        sentence_id: str,
        annotator: str,
        action: str,
        before: Annotation | None,
        after: Annotation | None,
        undoes: str | None = None,
        origin: str | None = None,
    ) -> str:
        uid = uuid.uuid4().hex
        c.execute(
            "INSERT INTO annotation_events(uid, sentence_id, annotator, ts, action, before, after, "
            "undoes, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                uid,
                sentence_id,
                annotator,
                now(),
                action,
                None if before is None else _dumps(before.labels()),
                None if after is None else _dumps(after.labels()),
                undoes,
                origin,
            ),
        )
        return uid

    def _propagate(
        self, c: sqlite3.Connection, sentence_id: str, annotator: str, state: Annotation | None
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
                self._write_state(
                    c, replace(state, sentence_id=member, propagated_from=sentence_id)
                )
            n += 1
        return n

    def undo(self, annotator: str) -> str | None:
        """Revert the annotator's latest change not yet undone; returns its sentence id.

        Repeatable: each call walks one step further back. The undo itself is recorded. Changes
        merged from another DB (``origin`` ``merge:...``) are history here, never undone here.
        """
        with self.tx() as c:
            row = c.execute(
                "SELECT uid, sentence_id, before FROM annotation_events e WHERE annotator = ? "
                "AND action NOT IN ('undo', 'import', 'merge') "
                "AND (origin IS NULL OR origin NOT LIKE 'merge:%') AND NOT EXISTS "
                "(SELECT 1 FROM annotation_events u WHERE u.annotator = e.annotator "
                "AND u.undoes = e.uid) ORDER BY id DESC LIMIT 1",
                (annotator,),
            ).fetchone()
            if row is None:
                return None
            uid, sentence_id, before_raw = str(row[0]), str(row[1]), row[2]
            cur = c.execute(
                f"SELECT {_ANN_COLS} FROM annotations WHERE sentence_id = ? AND annotator = ?",
                (sentence_id, annotator),
            ).fetchone()
            current = None if cur is None else _annotation_from_row(cur)
            restored: Annotation | None = None
            if before_raw is None:
                c.execute(
                    "DELETE FROM annotations WHERE sentence_id = ? AND annotator = ?",
                    (sentence_id, annotator),
                )
            else:
                d = orjson.loads(before_raw)
                restored = Annotation(
                    sentence_id=sentence_id,
                    annotator=annotator,
                    status=d["status"],
                    claims=tuple(d["claims"]),
                    stances=tuple(Stance(**s) for s in d["stances"]),
                    note=d["note"],
                    propagated_from=d.get("propagated_from"),
                    created_at=d["created_at"],
                    updated_at=now(),
                )
                self._write_state(c, restored)
            self._event(c, sentence_id, annotator, "undo", current, restored, undoes=uid)
            self._propagate(c, sentence_id, annotator, restored)
            return sentence_id

    def import_annotations(self, records: Iterable[Annotation]) -> tuple[int, int]:
        """Write imported annotation states as given (timestamps kept), in the caller's transaction.

        Records equal to the stored state are skipped, so importing the same file twice changes
        nothing. Returns (written, unchanged).
        """
        c = self.conn
        written = unchanged = 0
        for rec in records:
            self._ensure_annotator(c, rec.annotator)
            row = c.execute(
                f"SELECT {_ANN_COLS} FROM annotations WHERE sentence_id = ? AND annotator = ?",
                (rec.sentence_id, rec.annotator),
            ).fetchone()
            before = None if row is None else _annotation_from_row(row)
            if before == rec:
                unchanged += 1
                continue
            self._write_state(c, rec)
            self._event(c, rec.sentence_id, rec.annotator, "import", before, rec)
            written += 1
        return written, unchanged

    def bulk_load_annotations(self, records: Iterable[Annotation], batch: int = 50_000) -> int:
        """Write annotation states without history, in batched transactions (benchmarks, merge
        of fresh DBs). Rows are replaced as given. Returns the number written."""
        n = 0
        rows: list[tuple[Any, ...]] = []

        def flush() -> None:
            with self.tx() as c:
                c.executemany(
                    "INSERT OR IGNORE INTO annotators(name, created_at) VALUES (?, ?)",
                    [(a, now()) for a in {r[1] for r in rows}],
                )
                c.executemany(
                    f"INSERT OR REPLACE INTO annotations({_ANN_COLS}) VALUES (?,?,?,?,?,?,?,?,?)",
                    rows,
                )
            rows.clear()

        for a in records:
            rows.append(
                (
                    a.sentence_id,
                    a.annotator,
                    a.status,
                    _dumps(list(a.claims)),
                    _dumps([s.as_dict() for s in a.stances]),
                    a.note,
                    a.propagated_from,
                    a.created_at,
                    a.updated_at,
                )
            )
            n += 1
            if len(rows) >= batch:
                flush()
        if rows:
            flush()
        return n

    def iter_annotation_rows(
        self,
        *,
        annotators: Sequence[str] = (),
        statuses: Sequence[str] = (),
        articles: Sequence[str] = (),
        batch: int = 5000,
    ) -> Iterator[tuple[Any, ...]]:
        """Stream (sentence_id, article_id, text, annotator, status, claims_json, stances_json,
        propagated_from, note, created_at, updated_at) in sentence order, then annotator."""
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
            "a.propagated_from, a.note, a.created_at, a.updated_at FROM annotations a "
            f"JOIN sentences s ON s.id = a.sentence_id WHERE {' AND '.join(where)} "
            "ORDER BY s.seq, a.annotator"
        )
        yield from self._stream(sql, params, batch)

    def iter_sentence_rows(
        self, *, articles: Sequence[str] = (), batch: int = 5000
    ) -> Iterator[tuple[Any, ...]]:
        """Stream (seq, sentence_id, article_id, idx, text, cluster_id) in order."""
        where, params = "1 = 1", list[Any](articles)
        if articles:
            where = f"article_id IN ({','.join('?' * len(articles))})"
        sql = f"SELECT seq, id, article_id, idx, text, cluster_id FROM sentences WHERE {where} ORDER BY seq"
        yield from self._stream(sql, params, batch)

    def _stream(self, sql: str, params: Sequence[Any], batch: int) -> Iterator[tuple[Any, ...]]:
        """Rows of a query, fetched in batches on a private read cursor."""
        with self.read() as c:
            cur = c.execute(sql, params)
            while True:
                rows = cur.fetchmany(batch)
                if not rows:
                    return
                yield from rows

    # ---------------------------------------------------------------- clusters

    def cluster_members(self, cluster_id: str) -> list[tuple[Sentence, str | None]]:
        """(sentence, article title) of every member, representative first, then by sequence."""
        with self.read() as c:
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
        out = [(_sentence(r), r[7]) for r in rows]
        out.sort(key=lambda m: (m[0].id != rep_id, m[0].seq))
        return out

    def cluster_size(self, cluster_id: str) -> tuple[int, int]:
        """(members, distinct articles) of a cluster."""
        with self.read() as c:
            row = c.execute(
                "SELECT count(*), count(DISTINCT article_id) FROM sentences WHERE cluster_id = ?",
                (cluster_id,),
            ).fetchone()
        return int(row[0]), int(row[1])

    def split_sentence(self, sentence_id: str, annotator: str | None = None) -> int:
        """Take a sentence out of its cluster for good; its propagated labels are withdrawn.

        Splitting the representative dissolves the cluster (every member becomes its own
        sentence again, and all labels propagated from it are withdrawn). The split is remembered,
        so a later ``dedup`` never merges the sentence again. Returns the labels withdrawn.
        """
        with self.tx() as c:
            row = c.execute(
                "SELECT cluster_id FROM sentences WHERE id = ?", (sentence_id,)
            ).fetchone()
            if row is None:
                raise KeyError(sentence_id)
            c.execute(
                "INSERT OR IGNORE INTO cluster_splits(sentence_id, annotator, created_at) "
                "VALUES (?, ?, ?)",
                (sentence_id, annotator, now()),
            )
            cluster_id = row[0]
            if cluster_id is None:
                return 0
            rep = c.execute(
                "SELECT representative_id FROM clusters WHERE id = ?", (cluster_id,)
            ).fetchone()
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
            c.execute(
                "UPDATE sentences SET cluster_id = NULL, hidden = 0 WHERE id = ?", (sentence_id,)
            )
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

    # ---------------------------------------------------------------- dedup
    # The dedup engine (stanceterm.dedup) reads sentences through these methods and writes its
    # clusters here, one short transaction per batch. Its progress mark lives in ``meta``
    # (no migration): ``dedup_last_seq`` (every sentence up to it has been clustered),
    # ``dedup_threshold``, ``dedup_version`` and ``dedup_splits`` (cluster_splits rows then).
    # Visibility rule: a representative is visible; a member is hidden unless it carries direct
    # labels of its own (work done before dedup stays in the annotator's queue, never hidden).

    _DEDUP_KEYS = ("dedup_last_seq", "dedup_threshold", "dedup_version", "dedup_splits")

    def dedup_state(self) -> DedupState:
        with self.read() as c:
            rows = dict(
                c.execute(
                    f"SELECT key, value FROM meta WHERE key IN ({','.join('?' * 4)})",
                    self._DEDUP_KEYS,
                ).fetchall()
            )
        if "dedup_last_seq" not in rows:
            return DedupState()
        return DedupState(
            last_seq=int(rows["dedup_last_seq"]),
            threshold=float(rows.get("dedup_threshold", "nan")),
            version=str(rows.get("dedup_version", "")),
            splits=int(rows.get("dedup_splits", "0")),
        )

    def dedup_split_count(self) -> int:
        with self.read() as c:
            return int(c.execute("SELECT count(*) FROM cluster_splits").fetchone()[0])

    def dedup_max_seq(self) -> int:
        with self.read() as c:
            return int(c.execute("SELECT coalesce(max(seq), -1) FROM sentences").fetchone()[0])

    def dedup_reset(self) -> None:
        """Drop every cluster (before a full run): members visible again, propagated labels
        withdrawn, the progress mark cleared. Splits stay."""
        with self.tx() as c:
            c.execute("DELETE FROM annotations WHERE propagated_from IS NOT NULL")
            c.execute(
                "UPDATE sentences SET cluster_id = NULL, hidden = 0 "
                "WHERE cluster_id IS NOT NULL OR hidden != 0"
            )
            c.execute("DELETE FROM clusters")
            c.execute(f"DELETE FROM meta WHERE key IN ({','.join('?' * 4)})", self._DEDUP_KEYS)

    _DEDUP_KNOWN = (
        "FROM sentences s LEFT JOIN clusters k ON k.id = s.cluster_id "
        "WHERE s.seq > ? AND s.seq <= ? "
        "AND (s.cluster_id IS NULL OR k.representative_id = s.id) "
        "AND s.id NOT IN (SELECT sentence_id FROM cluster_splits)"
    )

    def dedup_count_known(self, last_seq: int) -> int:
        with self.read() as c:
            return int(
                c.execute(f"SELECT count(*) {self._DEDUP_KNOWN}", (-1, last_seq)).fetchone()[0]
            )

    def iter_dedup_known(self, last_seq: int, batch: int) -> Iterator[list[tuple[str, str]]]:
        """(id, text) batches, in seq order, of the sentences up to ``last_seq`` that are
        representatives or singletons (the index new sentences are compared against)."""
        after = -1
        while True:
            with self.read() as c:
                rows = c.execute(
                    f"SELECT s.seq, s.id, s.text {self._DEDUP_KNOWN} ORDER BY s.seq LIMIT ?",
                    (after, last_seq, batch),
                ).fetchall()
            if not rows:
                return
            after = int(rows[-1][0])
            yield [(str(r[1]), str(r[2])) for r in rows]

    def dedup_count_new(self, after_seq: int) -> int:
        with self.read() as c:
            return int(
                c.execute(
                    "SELECT count(*) FROM sentences WHERE seq > ? "
                    "AND id NOT IN (SELECT sentence_id FROM cluster_splits)",
                    (after_seq,),
                ).fetchone()[0]
            )

    def iter_dedup_new(
        self, after_seq: int, batch: int
    ) -> Iterator[tuple[list[int], list[tuple[str, str]]]]:
        """(seqs, [(id, text)]) batches of the sentences after ``after_seq`` never split out,
        in seq order (each batch is a fresh query: writes may happen between batches)."""
        after = after_seq
        while True:
            with self.read() as c:
                rows = c.execute(
                    "SELECT seq, id, text FROM sentences WHERE seq > ? "
                    "AND id NOT IN (SELECT sentence_id FROM cluster_splits) ORDER BY seq LIMIT ?",
                    (after, batch),
                ).fetchall()
            if not rows:
                return
            after = int(rows[-1][0])
            yield [int(r[0]) for r in rows], [(str(r[1]), str(r[2])) for r in rows]

    def write_dedup_joins(
        self, joins: Sequence[tuple[str, str, str]], threshold: float
    ) -> tuple[int, int]:
        """Write (member, representative, cluster id) joins in one short transaction.

        Creates the clusters (sized by their members), sets ``cluster_id`` and ``hidden`` (see
        the visibility rule above), withdraws labels a member had from another representative,
        and propagates the representative's labels to its members (:meth:`_propagate`).
        Idempotent: writing the same joins again changes nothing. Returns (clusters created,
        labels propagated to the joining members).
        """
        if not joins:
            return 0, 0
        stamp = now()
        reps: dict[str, str] = {}
        for _member, rep, cid in joins:
            reps[rep] = cid
        with self.tx() as c:
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
                    f"SELECT {_ANN_COLS} FROM annotations WHERE sentence_id = ? "
                    "AND propagated_from IS NULL ORDER BY annotator",
                    (rep,),
                ).fetchall():
                    ann = _annotation_from_row(row)
                    self._propagate(c, rep, ann.annotator, ann)
            members = [m for m, _, _ in joins]
            propagated = sum(
                int(r[0])
                for r in _rows_in(
                    c,
                    "SELECT count(*) FROM annotations WHERE propagated_from IS NOT NULL "
                    "AND sentence_id IN ({})",
                    members,
                )
            )
        return created, propagated

    def dedup_finish(self, last_seq: int, threshold: float, version: str, splits: int) -> None:
        """Record the progress mark (the last write of a run)."""
        with self.tx() as c:
            for key, value in zip(
                self._DEDUP_KEYS, (last_seq, repr(float(threshold)), version, splits), strict=True
            ):
                c.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, str(value))
                )

    def dedup_counts(self) -> tuple[int, int]:
        """(clusters, hidden sentences)."""
        with self.read() as c:
            clusters = int(c.execute("SELECT count(*) FROM clusters").fetchone()[0])
            hidden = int(c.execute("SELECT count(*) FROM sentences WHERE hidden = 1").fetchone()[0])
        return clusters, hidden

    def dedup_snapshot(self) -> tuple[list[tuple[str, str, int]], list[tuple[str, str, int]]]:
        """(clusters as (id, representative, size), clustered sentences as (id, cluster, hidden)),
        sorted: what two runs are compared by."""
        with self.read() as c:
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

    def dedup_article_overlaps(
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
        with self.read() as c:
            return [
                (str(r[0]), str(r[1]), int(r[2]), int(r[3]), int(r[4]), r[5], r[6])
                for r in c.execute(sql, (min_shared,))
            ]

    # ---------------------------------------------------------------- gold

    def set_gold(self, gold: Gold) -> Gold:
        stamp = now()
        with self.tx() as c:
            row = c.execute(
                "SELECT created_at FROM gold WHERE sentence_id = ?", (gold.sentence_id,)
            ).fetchone()
            stored = replace(gold, created_at=row[0] if row else stamp, updated_at=stamp)
            self._write_gold(c, stored)
        return stored

    @staticmethod
    def _write_gold(c: sqlite3.Connection, gold: Gold) -> None:
        c.execute(
            "INSERT OR REPLACE INTO gold(sentence_id, status, claims, stances, adjudicator, "
            "chosen_from, sources, note, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                gold.sentence_id,
                gold.status,
                _dumps(list(gold.claims)),
                _dumps([s.as_dict() for s in gold.stances]),
                gold.adjudicator,
                gold.chosen_from,
                _dumps(gold.sources),
                gold.note,
                gold.created_at,
                gold.updated_at,
            ),
        )

    def gold(self, sentence_id: str) -> Gold | None:
        with self.read() as c:
            row = c.execute(
                "SELECT sentence_id, status, claims, stances, adjudicator, chosen_from, sources, "
                "note, created_at, updated_at FROM gold WHERE sentence_id = ?",
                (sentence_id,),
            ).fetchone()
        if row is None:
            return None
        return Gold(
            row[0],
            row[1],
            tuple(orjson.loads(row[2])),
            _stances_from_json(row[3]),
            row[4],
            row[5],
            orjson.loads(row[6]),
            row[7],
            row[8],
            row[9],
        )

    def delete_gold(self, sentence_id: str) -> None:
        with self.tx() as c:
            c.execute("DELETE FROM gold WHERE sentence_id = ?", (sentence_id,))

    def iter_gold_rows(
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
        yield from self._stream(sql, params, batch)

    # ================================================================ review (issue 6)
    # Adjudication: the labels to compare, gold decisions restored by undo, canonical actors.
    # Which sentences need review is decided in stanceterm.adjudicate (no SQL there).

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
        yield from self._stream(sql, (), batch)

    def review_versions(self, sentence_id: str) -> list[Annotation]:
        """The direct (not propagated), non-draft labels of one sentence, by annotator."""
        with self.read() as c:
            rows = c.execute(
                f"SELECT {_ANN_COLS} FROM annotations WHERE sentence_id = ? "
                "AND propagated_from IS NULL AND status != 'draft' ORDER BY annotator",
                (sentence_id,),
            ).fetchall()
        return [_annotation_from_row(r) for r in rows]

    def gold_statuses(self, sentence_ids: Sequence[str]) -> dict[str, str]:
        """Sentence id -> gold status, for those of ``sentence_ids`` that have a gold record."""
        with self.read() as c:
            sql = "SELECT sentence_id, status FROM gold WHERE sentence_id IN ({})"
            return {str(r[0]): str(r[1]) for r in _rows_in(c, sql, sentence_ids)}

    def restore_gold(self, sentence_id: str, gold: Gold | None) -> None:
        """Put back an earlier gold decision exactly as it was (timestamps included), or remove
        the record when there was none (the undo of a review decision)."""
        with self.tx() as c:
            if gold is None:
                c.execute("DELETE FROM gold WHERE sentence_id = ?", (sentence_id,))
                return
            self._write_gold(c, gold)

    def actor_canonical(self) -> dict[str, str]:
        """Actor id -> the id it stands for once aliases are merged
        (:func:`~stanceterm.actors.follow_aliases`), for the actors that were later made an alias
        of another one; actors standing for themselves are left out."""
        names, keys = self.actor_names(), self.actor_alias_keys()
        merged = {a: follow_aliases(a, names, keys) for a in names}
        return {a: t for a, t in merged.items() if t != a}

    # ---------------------------------------------------------------- stats

    def counts(self) -> dict[str, int]:
        with self.read() as c:

            def one(sql: str) -> int:
                return int(c.execute(sql).fetchone()[0])

            return {
                "articles": one("SELECT count(*) FROM articles"),
                "sentences": one("SELECT count(*) FROM sentences"),
                "visible_sentences": one("SELECT count(*) FROM sentences WHERE hidden = 0"),
                "clusters": one("SELECT count(*) FROM clusters"),
                "annotators": one("SELECT count(*) FROM annotators"),
                "annotations": one("SELECT count(*) FROM annotations"),
                "gold": one("SELECT count(*) FROM gold"),
                "actors": one("SELECT count(*) FROM actors"),
            }

    def status_counts(self) -> dict[str, dict[str, int]]:
        """annotator -> status -> count (direct labels; propagated ones under '<status>+prop')."""
        out: dict[str, dict[str, int]] = {}
        with self.read() as c:
            for annotator, status, prop, n in c.execute(
                "SELECT annotator, status, propagated_from IS NOT NULL, count(*) FROM annotations "
                "GROUP BY annotator, status, propagated_from IS NOT NULL ORDER BY annotator"
            ):
                key = f"{status}+prop" if prop else str(status)
                out.setdefault(str(annotator), {})[key] = int(n)
        return out

    def integrity_ok(self) -> bool:
        with self.read() as c:
            return str(c.execute("PRAGMA integrity_check").fetchone()[0]) == "ok"

    # ---------------------------------------------------------------- annotation TUI helpers

    def claim_counts(self, annotator: str) -> dict[str, int]:
        """Claim id -> how many of the annotator's own (not propagated) rows carry it."""
        with self.read() as c:
            rows = c.execute(
                "SELECT j.value, count(*) FROM annotations a, json_each(a.claims) j "
                "WHERE a.annotator = ? AND a.propagated_from IS NULL GROUP BY j.value",
                (annotator,),
            ).fetchall()
        return {str(k): int(n) for k, n in rows}

    # ---------------------------------------------------------------- ui: reads off the UI thread
    # The TUI keeps its first screen and its keys cheap on a million-sentence DB: slow counts run
    # on a second connection (:meth:`open_reader`) in a background thread, against a snapshot
    # pinned in order with the writes (:meth:`pin_snapshot`), and the resume search starts from
    # a remembered lower bound (:meth:`resume_hint`) instead of the first sentence.

    def open_reader(self) -> Store | None:
        """Another connection on the same file, for reads in a background thread (WAL lets them
        run beside this connection's writes); None for an in-memory DB."""
        if self.path == ":memory:" or self.read_only:
            return None
        return Store.open(self.path, create=False)

    def pin_snapshot(self) -> None:
        """Start a read transaction and read once: until :meth:`release_snapshot`, this
        connection's reads see the DB as it is now, whatever other connections commit."""
        with self._lock:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            self.conn.execute("BEGIN")
            self.conn.execute("SELECT count(*) FROM meta").fetchone()

    def release_snapshot(self) -> None:
        with self._lock:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")

    def progress_counts(self, annotator: str) -> tuple[int, int, dict[str, int]]:
        """(queue size, done in the queue, claim counts) of an annotator: the TUI's progress line.
        Scans the annotator's labels: call it on a reader, off the UI thread."""
        with self.read():
            return (
                self.queue_size(annotator),
                self.done_count(annotator),
                self.claim_counts(annotator),
            )

    def resume_hint(self, annotator: str) -> int:
        """A sequence number below which every sentence of the annotator's queue was done when it
        was recorded (-1 if none): where the search for the first sentence not done can start.
        The TUI checks it in the background (a full search) and records a fresh one."""
        raw = self.get_meta(f"ui.resume.{annotator}")
        try:
            return int(raw) if raw is not None else -1
        except ValueError:
            return -1

    def set_resume_hint(self, annotator: str, seq: int) -> None:
        self.set_meta(f"ui.resume.{annotator}", str(int(seq)))

    def first_undone_from(self, annotator: str, hint: int) -> Sentence | None:
        """The first sentence of the annotator's queue not done, searching after ``hint - 1``
        (see :meth:`resume_hint`)."""
        return self.step(hint - 1, 1, annotator=annotator, undone_only=True)

    def undo_states(
        self, annotator: str
    ) -> tuple[str, Annotation | None, Annotation | None] | None:
        """:meth:`undo`, returning (sentence id, state before the undo, state after it), so the
        caller can update its counts without recounting."""
        with self.tx() as c:
            sid = self.undo(annotator)
            if sid is None:
                return None
            row = c.execute(
                "SELECT before, after FROM annotation_events WHERE annotator = ? "
                "AND action = 'undo' ORDER BY id DESC LIMIT 1",
                (annotator,),
            ).fetchone()
        return (
            sid,
            _state_from_json(sid, annotator, row[0]),
            _state_from_json(sid, annotator, row[1]),
        )

    # ================================================================ teams (issue 7)
    # Assignment, live progress, activity, overlapping labels and merging another annotator's DB.
    # Planning and statistics live in stanceterm.team (no SQL there); this block reads and writes.

    def progress_by_annotator(self) -> dict[str, dict[str, Any]]:
        """Per annotator: ``done``, ``skipped``, ``flagged``, ``draft`` (their own labels, not
        propagated copies), ``assigned`` (sentences in their queue) and ``last_activity`` (UTC
        timestamp of their latest own change among their last 200 history events, or None).

        Reads the trigger-kept ``annotator_counts`` and one short index range per annotator, so it
        costs the same on a million-sentence DB as on a small one: safe to poll every few seconds.
        """

        def blank() -> dict[str, Any]:
            return {k: 0 for k in _PROGRESS_KINDS} | {"last_activity": None}

        with self.read() as c:
            out = {
                str(r[0]): blank() for r in c.execute("SELECT name FROM annotators ORDER BY name")
            }
            for name, kind, n in c.execute("SELECT annotator, kind, n FROM annotator_counts"):
                out.setdefault(str(name), blank())[str(kind)] = int(n)
            for name, entry in out.items():
                row = c.execute(
                    "SELECT max(CASE WHEN action NOT IN ('import', 'merge') THEN ts END) FROM "
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
        with self.read() as c:
            return [int(r[0]) for r in c.execute(sql + " ORDER BY seq")]

    def assignment_count(self) -> int:
        with self.read() as c:
            return int(c.execute("SELECT count(*) FROM assignments").fetchone()[0])

    def assigned_loads(self) -> dict[str, int]:
        """Annotator -> number of assigned sentences (from the counters)."""
        with self.read() as c:
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
        with self.tx() as c:
            if replace:
                c.execute("DELETE FROM assignments")
            for name, seqs in plan.items():
                self._ensure_annotator(c, name)
                cur = c.executemany(
                    "INSERT INTO assignments(annotator, seq, sentence_id, created_at) "
                    "SELECT ?, seq, id, ? FROM sentences WHERE seq = ?",
                    ((name, stamp, q) for q in seqs),
                )
                n += max(cur.rowcount, 0)
        return n

    def assignment_summary(self) -> dict[str, tuple[int, int]]:
        """Annotator -> (assigned sentences, of which also assigned to someone else)."""
        with self.read() as c:
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
            "WHERE action NOT IN ('import', 'merge') ORDER BY annotator, ts"
        )
        yield from self._stream(sql, (), batch)

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
        yield from self._stream(sql, (), batch)

    # ---------------------------------------------------------------- reliability

    def iter_reliability_rows(
        self, *, statuses: Sequence[str], annotators: Sequence[str] = (), batch: int = 5000
    ) -> Iterator[tuple[Any, ...]]:
        """Stream (sentence_id, text, annotator, status, claims_json, stances_json) of the direct
        (not propagated) labels whose status is in ``statuses`` (and whose annotator is in
        ``annotators``, if given), in sentence order, then annotator."""
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
            "SELECT a.sentence_id, s.text, a.annotator, a.status, a.claims, a.stances "
            "FROM annotations a JOIN sentences s ON s.id = a.sentence_id "
            f"WHERE {' AND '.join(where)} ORDER BY s.seq, a.annotator"
        )
        yield from self._stream(sql, params, batch)

    def actor_alias_keys(self) -> dict[str, str]:
        """Alias key (:func:`~stanceterm.actors.alias_key`) -> actor id, for every alias."""
        with self.read() as c:
            return {str(k): str(a) for k, a in c.execute("SELECT key, actor_id FROM actor_aliases")}

    # ---------------------------------------------------------------- merge

    def merge_from(self, other: Store) -> MergeCounts:
        """Fold another stanceterm DB (opened read-only) into this one, in one transaction.

        * articles and sentences missing here are copied (sentences match by their stable id; a
          labelled sentence whose text differs here, or that is missing, refuses the merge with
          :class:`MergeConflict`: the two DBs segmented the article differently);
        * annotators are added; actors are matched by alias key (their name, then their
          aliases), new ones are created, and actor ids inside copied labels are remapped;
        * history events are copied by ``uid`` (``INSERT OR IGNORE``: idempotent), marked with
          ``origin = 'merge:<their db_uid>'`` (so ``undo`` here never reverts them);
        * annotations: for each (sentence, annotator), the later ``updated_at`` wins (ties: a fixed
          order of the labels, so A into B and B into A agree); a label deleted (undone) there
          later than it was last changed here is deleted; every change here is recorded as a
          ``merge`` event and propagated to this DB's dedup clusters. Propagated rows there are
          not copied (this DB propagates by its own clusters);
        * gold records: the later ``updated_at`` wins; cluster splits there are applied here.

        Merging the same DB twice changes nothing the second time.
        """
        counts = MergeCounts()
        origin = f"merge:{other.db_uid or 'unknown'}"
        o = other.conn
        with other.read(), self.tx() as c:
            o.execute("BEGIN")  # one consistent snapshot of the other DB
            try:
                if self.get_meta("label_schema") is None:
                    raw = other.get_meta("label_schema")
                    if raw is not None:
                        self.set_label_schema(load_schema_text(raw, f"{other.path} (label schema)"))
                self._merge_articles(c, o, counts)
                self._merge_check_sentences(c, o, other.path)
                for name, created in o.execute(
                    "SELECT name, created_at FROM annotators"
                ).fetchall():
                    counts.annotators_added += c.execute(
                        "INSERT OR IGNORE INTO annotators(name, created_at) VALUES (?, ?)",
                        (name, created),
                    ).rowcount
                amap = self._merge_actors(c, o, counts)
                self._merge_events(c, o, origin, amap, counts)
                self._merge_annotations(c, o, origin, amap, counts)
                self._merge_gold(c, o, amap, counts)
                for sid, annotator in o.execute(
                    "SELECT sentence_id, annotator FROM cluster_splits ORDER BY created_at"
                ).fetchall():
                    known = c.execute(
                        "SELECT 1 FROM sentences WHERE id = ? AND id NOT IN "
                        "(SELECT sentence_id FROM cluster_splits)",
                        (sid,),
                    ).fetchone()
                    if known:
                        self.split_sentence(str(sid), annotator)
                        counts.splits_applied += 1
            finally:
                o.execute("COMMIT")
        return counts

    @staticmethod
    def _merge_articles(c: sqlite3.Connection, o: sqlite3.Connection, counts: MergeCounts) -> None:
        rows = o.execute(
            "SELECT id, title, source, url, published, lang, content_hash, n_sentences, origin, "
            "imported_at FROM articles ORDER BY rowid"
        ).fetchall()
        for row in rows:
            here = c.execute(
                "SELECT 1 FROM articles WHERE id = ? OR content_hash = ?", (row[0], row[6])
            ).fetchone()
            if here is not None:
                continue
            c.execute(
                "INSERT INTO articles(id, title, source, url, published, lang, content_hash, "
                "n_sentences, origin, imported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            sentences = o.execute(
                "SELECT id, article_id, idx, text, norm FROM sentences WHERE article_id = ? "
                "ORDER BY idx",
                (row[0],),
            ).fetchall()
            cur = c.executemany(
                "INSERT OR IGNORE INTO sentences(id, article_id, idx, text, norm) "
                "VALUES (?, ?, ?, ?, ?)",
                sentences,
            )
            counts.articles_added += 1
            counts.sentences_added += max(cur.rowcount, 0)

    @staticmethod
    def _merge_check_sentences(c: sqlite3.Connection, o: sqlite3.Connection, where: str) -> None:
        cur = o.execute(
            "SELECT id, text FROM sentences WHERE id IN (SELECT sentence_id FROM annotations "
            "WHERE propagated_from IS NULL UNION SELECT sentence_id FROM gold "
            "UNION SELECT sentence_id FROM annotation_events)"
        )
        bad = 0
        example = ""
        while chunk := cur.fetchmany(500):
            marks = ",".join("?" * len(chunk))
            here = dict(
                c.execute(
                    f"SELECT id, text FROM sentences WHERE id IN ({marks})", [r[0] for r in chunk]
                ).fetchall()
            )
            for sid, text in chunk:
                if here.get(sid) != text:
                    bad += 1
                    if not example:
                        state = "missing here" if sid not in here else "has another text here"
                        example = f"{sid} {state}"
        if bad:
            raise MergeConflict(
                f"{where}: {bad} labelled sentence(s) do not match this database (e.g. {example}): "
                "the articles were imported under other ids or split into sentences differently; "
                "nothing merged"
            )

    def _merge_actors(
        self, c: sqlite3.Connection, o: sqlite3.Connection, counts: MergeCounts
    ) -> dict[str, str]:
        """Their actor id -> ours."""
        aliases: dict[str, list[str]] = {}
        for alias, actor_id in o.execute("SELECT alias, actor_id FROM actor_aliases ORDER BY key"):
            aliases.setdefault(str(actor_id), []).append(str(alias))
        amap: dict[str, str] = {}
        for oid, name, created_by in o.execute(
            "SELECT id, name, created_by FROM actors ORDER BY created_at, id"
        ).fetchall():
            own = aliases.get(str(oid), [])
            local: str | None = None
            for key in [alias_key(name), *(alias_key(a) for a in own)]:
                row = c.execute(
                    "SELECT actor_id FROM actor_aliases WHERE key = ?", (key,)
                ).fetchone()
                if row is not None:
                    local = str(row[0])
                    break
            if local is None:
                row = c.execute("SELECT id FROM actors WHERE name = ?", (name,)).fetchone()
                local = None if row is None else str(row[0])
            if local is None:
                local = self._add_actor(c, str(name), own, created_by)
                counts.actors_added += 1
            else:
                for alias in own:
                    if alias.strip():
                        counts.aliases_added += c.execute(
                            "INSERT OR IGNORE INTO actor_aliases(key, alias, actor_id) "
                            "VALUES (?, ?, ?)",
                            (alias_key(alias), alias.strip(), local),
                        ).rowcount
            amap[str(oid)] = local
            if local != oid:
                counts.actors_remapped += 1
        return {k: v for k, v in amap.items() if k != v}

    @staticmethod
    def _merge_events(
        c: sqlite3.Connection,
        o: sqlite3.Connection,
        origin: str,
        amap: dict[str, str],
        counts: MergeCounts,
    ) -> None:
        cur = o.execute(
            "SELECT uid, sentence_id, annotator, ts, action, before, after, undoes, origin "
            "FROM annotation_events ORDER BY id"
        )
        while chunk := cur.fetchmany(5000):
            rows = [
                (
                    *r[:5],
                    _remap_labels_json(r[5], amap),
                    _remap_labels_json(r[6], amap),
                    r[7],
                    r[8] or origin,
                )
                for r in chunk
            ]
            done = c.executemany(
                "INSERT OR IGNORE INTO annotation_events(uid, sentence_id, annotator, ts, action, "
                "before, after, undoes, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            counts.events_added += max(done.rowcount, 0)

    def _merge_annotations(
        self,
        c: sqlite3.Connection,
        o: sqlite3.Connection,
        origin: str,
        amap: dict[str, str],
        counts: MergeCounts,
    ) -> None:
        select_ours = f"SELECT {_ANN_COLS} FROM annotations WHERE sentence_id = ? AND annotator = ?"
        cur = o.execute(f"SELECT {_ANN_COLS} FROM annotations WHERE propagated_from IS NULL")
        while chunk := cur.fetchmany(5000):
            for row in chunk:
                theirs = _remap_annotation(_annotation_from_row(row), amap)
                found = c.execute(select_ours, (theirs.sentence_id, theirs.annotator)).fetchone()
                ours = None if found is None else _annotation_from_row(found)
                created = theirs.created_at
                if ours is not None and ours.propagated_from is None:
                    if ours.same_labels(theirs) or (theirs.updated_at, _label_key(theirs)) <= (
                        ours.updated_at,
                        _label_key(ours),
                    ):
                        counts.labels_kept += 1
                        if theirs.created_at < ours.created_at:  # first labelled there: both
                            c.execute(  # DBs then agree on when the label was first made
                                "UPDATE annotations SET created_at = ? WHERE sentence_id = ? "
                                "AND annotator = ?",
                                (theirs.created_at, ours.sentence_id, ours.annotator),
                            )
                        continue
                    created = min(ours.created_at, theirs.created_at)
                state = replace(theirs, created_at=created)
                self._write_state(c, state)
                self._event(
                    c, state.sentence_id, state.annotator, "merge", ours, state, None, origin
                )
                self._propagate(c, state.sentence_id, state.annotator, state)
                counts.labels_taken += 1
        # Deletions: (sentence, annotator) with history there but no label any more, whose last
        # event (an undo back to nothing) is later than our own last change.
        gone = o.execute(
            "SELECT e.sentence_id, e.annotator, max(e.ts), e.after IS NULL FROM annotation_events e "
            "WHERE NOT EXISTS (SELECT 1 FROM annotations a WHERE a.sentence_id = e.sentence_id "
            "AND a.annotator = e.annotator) GROUP BY e.sentence_id, e.annotator"
        ).fetchall()
        for sid, annotator, ts, deleted in gone:
            if not deleted:
                continue
            found = c.execute(select_ours, (sid, annotator)).fetchone()
            ours = None if found is None else _annotation_from_row(found)
            if ours is None or ours.propagated_from is not None or ours.updated_at >= ts:
                continue
            c.execute(
                "DELETE FROM annotations WHERE sentence_id = ? AND annotator = ?", (sid, annotator)
            )
            self._event(c, sid, annotator, "merge", ours, None, None, origin)
            self._propagate(c, sid, annotator, None)
            counts.labels_deleted += 1

    @staticmethod
    def _merge_gold(
        c: sqlite3.Connection, o: sqlite3.Connection, amap: dict[str, str], counts: MergeCounts
    ) -> None:
        cols = (
            "sentence_id, status, claims, stances, adjudicator, chosen_from, sources, note, "
            "created_at, updated_at"
        )
        for row in o.execute(f"SELECT {cols} FROM gold").fetchall():
            theirs = list(row)
            if amap:
                theirs[3] = _dumps(_remap_stances(orjson.loads(theirs[3]), amap))
                sources = orjson.loads(theirs[6])
                for src in sources:
                    if isinstance(src, dict) and isinstance(src.get("stances"), list):
                        src["stances"] = _remap_stances(src["stances"], amap)
                theirs[6] = _dumps(sources)
            here = c.execute(f"SELECT {cols} FROM gold WHERE sentence_id = ?", (row[0],)).fetchone()
            if here is not None:
                same = list(here[1:8]) == theirs[1:8]
                if same or (theirs[9], [str(v) for v in theirs[1:8]]) <= (
                    here[9],
                    [str(v) for v in here[1:8]],
                ):
                    counts.gold_kept += 1
                    continue
                theirs[8] = min(here[8], theirs[8])
            c.execute(f"INSERT OR REPLACE INTO gold({cols}) VALUES (?,?,?,?,?,?,?,?,?,?)", theirs)
            counts.gold_taken += 1


# --------------------------------------------------------------------------- helpers


def _rows_in(
    c: sqlite3.Connection, sql: str, ids: Sequence[str], chunk: int = 500
) -> Iterator[Any]:
    """Rows of ``sql``, whose ``{}`` is an ``IN`` list, over ``ids`` in chunks that stay under
    SQLite's bound-variable limit."""
    for start in range(0, len(ids), chunk):
        part = list(ids[start : start + chunk])
        yield from c.execute(sql.format(",".join("?" * len(part))), part)


def _sentence(row: Sequence[Any]) -> Sentence:
    return Sentence(
        int(row[0]), str(row[1]), str(row[2]), int(row[3]), str(row[4]), row[5], bool(row[6])
    )


def _remap_stances(stances: list[dict[str, Any]], amap: dict[str, str]) -> list[dict[str, Any]]:
    return [{**st, "actor": amap.get(st["actor"], st["actor"])} for st in stances]


def _remap_labels_json(raw: str | None, amap: dict[str, str]) -> str | None:
    """A history state (``Annotation.labels()`` JSON) with actor ids mapped to ours."""
    if raw is None or not amap:
        return raw
    state = orjson.loads(raw)
    state["stances"] = _remap_stances(state.get("stances", []), amap)
    return _dumps(state)


def _remap_annotation(a: Annotation, amap: dict[str, str]) -> Annotation:
    if not amap:
        return a
    return replace(
        a, stances=tuple(Stance(s.claim, amap.get(s.actor, s.actor), s.stance) for s in a.stances)
    )


def _label_key(a: Annotation) -> tuple[Any, ...]:
    """A fixed order on labels (the merge tie-break when two edits carry the same time)."""
    return (
        a.status,
        a.claims,
        tuple((s.claim, s.actor, s.stance) for s in a.stances),
        a.note or "",
    )


def _check_foreign_file(p: Path) -> None:
    """Refuse (without touching it) a non-empty file that is not an SQLite database.

    It reads the file's header with plain I/O, so it must never run on a file this process is
    connected to (closing that descriptor would drop the connection's locks; see fileguard): such
    a file was checked when it was first opened, and is skipped.
    """
    if fileguard.is_connected(p):
        return
    try:
        with p.open("rb") as f:
            header = f.read(20)
    except OSError as exc:
        raise StoreError(f"{p}: cannot read: {exc.strerror}") from None
    head = header[: len(SQLITE_MAGIC)]
    if head and head != SQLITE_MAGIC:
        raise StoreError(f"{p}: not a stanceterm database (not an SQLite file); left untouched")
    if head:
        # A WAL-mode file (header byte 18 = 2) with no -wal beside it is read as immutable: a
        # plain read-only open would create -wal and -shm files next to another program's DB.
        wal_mode = len(header) > 18 and header[18] == 2
        immutable = "&immutable=1" if wal_mode and not Path(f"{p}-wal").exists() else ""
        try:
            ro = sqlite3.connect(f"file:{quote(str(p.resolve()))}?mode=ro{immutable}", uri=True)
        except sqlite3.Error as exc:
            raise StoreError(f"{p}: cannot open database: {exc}") from None
        try:
            version = int(ro.execute("PRAGMA user_version").fetchone()[0])
            tables = [
                str(r[0]) for r in ro.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            app = None
            if "meta" in tables:
                row = ro.execute("SELECT value FROM meta WHERE key = 'app'").fetchone()
                app = None if row is None else row[0]
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{p}: not a usable database ({exc}); left untouched") from None
        finally:
            ro.close()
        if tables and app != APP_ID:
            raise StoreError(
                f"{p}: is an SQLite database of another program (tables: {', '.join(tables[:5])}); "
                "left untouched"
            )
        if version > LATEST_VERSION:
            raise StoreError(
                f"{p}: made by a newer stanceterm (schema v{version}; this one knows up to "
                f"v{LATEST_VERSION}); upgrade stanceterm"
            )


def _split_sql(script: str) -> list[str]:
    """Split a migration script into statements (no semicolons inside our literals; a trigger's
    body, whose statements end in semicolons, stays one statement)."""
    out: list[str] = []
    buf = ""
    for piece in script.split(";"):
        buf += piece + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip(" \n\t;"):
                out.append(buf.strip().rstrip(";").strip())
            buf = ""
    if buf.strip(" \n\t;"):
        out.append(buf.strip().rstrip(";").strip())
    return out
