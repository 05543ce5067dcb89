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
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import sqlite_utils

from stanceterm.actors import alias_key, slugify
from stanceterm.schema import LabelSchema, load_schema_text

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

#: (version, SQL script). Append only: a released migration is never edited.
MIGRATIONS: list[tuple[int, str]] = [(1, _V1), (2, _V2)]
LATEST_VERSION = MIGRATIONS[-1][0]


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
        self.db = sqlite_utils.Database(conn)
        self._lock = threading.RLock()

    # ---------------------------------------------------------------- opening

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, create: bool = True) -> Store:
        """Open (and if needed create or upgrade) a stanceterm DB.

        A file that is not a stanceterm DB (random bytes, text, another program's SQLite) or one
        from a newer stanceterm is refused with :class:`StoreError`, and left untouched.
        """
        p = Path(path)
        if p.exists():
            if p.is_dir():
                raise StoreError(f"{p}: is a directory, not a database file")
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
        try:
            store._configure(wal=True)
            store._migrate()
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"{p}: not a usable stanceterm database: {exc}") from None
        except StoreError:
            conn.close()
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
            tables = self.db.table_names()
            if tables:
                raise StoreError(
                    f"{self.path}: is an SQLite database of another program (tables: "
                    f"{', '.join(tables[:5])}); refusing to touch it"
                )
        elif self.get_meta("app") != APP_ID:
            raise StoreError(f"{self.path}: is not a stanceterm database")
        for target, script in MIGRATIONS:
            if target <= version:
                continue
            self._run_migration(target, script)
            version = target

    def _run_migration(self, target: int, script: str) -> None:
        with self.tx() as c:
            for statement in _split_sql(script):
                c.execute(statement)
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

    # ---------------------------------------------------------------- articles and sentences

    def insert_articles(self, articles: Iterable[NewArticle], counts: ImportCounts) -> None:
        """Insert articles and their sentences in the caller's transaction (see :meth:`tx`).

        An article whose id or content hash is already stored is skipped (re-import adds nothing).
        """
        c = self.conn
        stamp = now()
        for art in articles:
            exists = c.execute(
                "SELECT 1 FROM articles WHERE id = ? OR content_hash = ?",
                (art.id, art.content_hash),
            ).fetchone()
            if exists:
                counts.articles_skipped += 1
                counts.sentences_skipped += len(art.sentences)
                continue
            c.execute(
                "INSERT INTO articles(id, title, source, url, published, lang, content_hash, "
                "n_sentences, origin, imported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                    stamp,
                ),
            )
            c.executemany(
                "INSERT INTO sentences(id, article_id, idx, text, norm) VALUES (?, ?, ?, ?, ?)",
                [
                    (f"{art.id}:{i}", art.id, i, text, norm)
                    for i, (text, norm) in enumerate(zip(art.sentences, art.norms, strict=True))
                ],
            )
            counts.articles_added += 1
            counts.sentences_added += len(art.sentences)

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
        found: set[str] = set()
        with self.read() as c:
            for start in range(0, len(ids), 500):
                chunk = list(ids[start : start + 500])
                marks = ",".join("?" * len(chunk))
                found.update(
                    str(r[0])
                    for r in c.execute(f"SELECT id FROM sentences WHERE id IN ({marks})", chunk)
                )
        return found

    def sentence_article_map(self, ids: Sequence[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        with self.read() as c:
            for start in range(0, len(ids), 500):
                chunk = list(ids[start : start + 500])
                marks = ",".join("?" * len(chunk))
                out.update(
                    (str(r[0]), str(r[1]))
                    for r in c.execute(
                        f"SELECT id, article_id FROM sentences WHERE id IN ({marks})", chunk
                    )
                )
        return out

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
        wrapping around to the start."""
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
    ) -> str:
        uid = uuid.uuid4().hex
        c.execute(
            "INSERT INTO annotation_events(uid, sentence_id, annotator, ts, action, before, after, "
            "undoes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                uid,
                sentence_id,
                annotator,
                now(),
                action,
                None if before is None else _dumps(before.labels()),
                None if after is None else _dumps(after.labels()),
                undoes,
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

        Repeatable: each call walks one step further back. The undo itself is recorded.
        """
        with self.tx() as c:
            row = c.execute(
                "SELECT uid, sentence_id, before FROM annotation_events e WHERE annotator = ? "
                "AND action NOT IN ('undo', 'import', 'merge') AND NOT EXISTS "
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

    # ---------------------------------------------------------------- gold

    def set_gold(self, gold: Gold) -> Gold:
        stamp = now()
        with self.tx() as c:
            row = c.execute(
                "SELECT created_at FROM gold WHERE sentence_id = ?", (gold.sentence_id,)
            ).fetchone()
            stored = replace(gold, created_at=row[0] if row else stamp, updated_at=stamp)
            c.execute(
                "INSERT OR REPLACE INTO gold(sentence_id, status, claims, stances, adjudicator, "
                "chosen_from, sources, note, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    stored.sentence_id,
                    stored.status,
                    _dumps(list(stored.claims)),
                    _dumps([s.as_dict() for s in stored.stances]),
                    stored.adjudicator,
                    stored.chosen_from,
                    _dumps(stored.sources),
                    stored.note,
                    stored.created_at,
                    stored.updated_at,
                ),
            )
        return stored

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


# --------------------------------------------------------------------------- helpers


def _sentence(row: Sequence[Any]) -> Sentence:
    return Sentence(
        int(row[0]), str(row[1]), str(row[2]), int(row[3]), str(row[4]), row[5], bool(row[6])
    )


def _check_foreign_file(p: Path) -> None:
    """Refuse (without touching it) a non-empty file that is not an SQLite database."""
    try:
        with p.open("rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise StoreError(f"{p}: cannot read: {exc.strerror}") from None
    if head and head != SQLITE_MAGIC:
        raise StoreError(f"{p}: not a stanceterm database (not an SQLite file); left untouched")
    if head:
        try:
            ro = sqlite3.connect(f"file:{p.as_posix()}?mode=ro", uri=True)
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
    """Split a migration script into statements (no semicolons inside our literals)."""
    return [s.strip() for s in script.split(";") if s.strip()]
