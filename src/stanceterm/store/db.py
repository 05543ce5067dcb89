"""The store's handle: one :class:`Store` per connection to a stanceterm DB.

The only module under ``stanceterm.store`` with ``BEGIN``/``COMMIT``. One SQLite file holds the
whole team loop (articles, sentences, annotators, the actor gazetteer, the current labels and
their history, dedup clusters, assignments and gold). Opened with WAL, ``synchronous=NORMAL``,
foreign keys on and a busy timeout; every write is a short ``BEGIN IMMEDIATE`` transaction retried
while another process holds the write lock, so several annotator processes share one file.

The handle owns opening and configuring, the migrations run, :meth:`Store.tx` and
:meth:`Store.read`, ``meta``, second connections and pinned snapshots for background readers, and
the foreign-file check. Domain SQL lives in one module per concern, reached through the handle:
``store.corpus``, ``store.labels``, ``store.actors``, ``store.clusters``, ``store.gold``,
``store.team`` and ``store.merge``.

**The transaction contract.** A write helper either runs inside the caller's :meth:`Store.tx`
or opens its own, never both:

* a public repository method that writes (``store.labels.save``, ``store.gold.set``, ...) opens
  its own short transaction with :meth:`Store.tx`;
* a helper documented "in the caller's transaction" (``store.corpus.insert_articles``,
  ``store.corpus.commit_staged``, ``store.labels.import_records``) and every module-level
  function taking a ``sqlite3.Connection`` first argument writes on that connection and never
  begins or commits: it raises :class:`StoreError` when no transaction is open;
* :meth:`Store.tx` does not nest: opening it while this connection is already in a transaction
  (a caller's ``tx()`` or a pinned snapshot) raises :class:`StoreError` instead of silently
  joining it (a write joined to a pinned read snapshot would be rolled back with it).

**Getters never write:** reading methods go through :meth:`Store.read` only, so commands that
only read (``agreement``, ``stats``, ``export``) never take the write lock.

Size: over 600 lines because everything about one connection's life is here and nowhere else:
opening (and refusing foreign or newer files), the upgrade gate, the migrations run and the
resumable search-index build that follows them, transactions with their lock retries, readers,
snapshots and the background checkpoints of long jobs. Moving any of it out would put ``BEGIN``/``COMMIT`` in a second module.
"""

from __future__ import annotations

import os
import shlex
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from stanceterm import fileguard
from stanceterm.schema import LabelSchema, load_schema_text
from stanceterm.store import migrations
from stanceterm.store.actors import ActorOps, Actors, record_label_schema
from stanceterm.store.clusters import Clusters
from stanceterm.store.corpus import Corpus
from stanceterm.store.gold import GoldRecords
from stanceterm.store.imports import ImportRuns
from stanceterm.store.invites import Invites
from stanceterm.store.labels import Labels
from stanceterm.store.merge import Merge
from stanceterm.store.models import StoreError, now, stamp_after, text_key
from stanceterm.store.suggest import Suggestions
from stanceterm.store.team import Team

if TYPE_CHECKING:
    import sqlite_utils

APP_ID = "stanceterm"
SQLITE_MAGIC = b"SQLite format 3\x00"
BUSY_TIMEOUT_MS = 5000
LOCK_RETRY_SECONDS = 60.0


def _is_locked(exc: sqlite3.OperationalError) -> bool:
    msg = str(exc).lower()
    return "locked" in msg or "busy" in msg


#: The -wal file shrinks back to this after a checkpoint (bytes; the automatic checkpoint runs at
#: 1000 pages, about 4 MB, so normal work stays below it).
WAL_SIZE_LIMIT = 8 * 1024 * 1024


class Store:
    """A stanceterm database. Use :meth:`open` (a file) or :meth:`memory` (tests)."""

    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        # the history events' text_key trigger (migration v12) calls it on every insert
        conn.create_function("stanceterm_text_key", 1, text_key, deterministic=True)
        # import-labels' plan (store.imports) dates an event after a later one it finds
        conn.create_function("stanceterm_stamp_after", 1, stamp_after)
        self.conn = conn
        self.path = path
        self._db: sqlite_utils.Database | None = None
        self._lock = threading.RLock()
        self.read_only = False
        self._allow_migrate = True  # safeimport: Store.open sets it from its ``migrate`` flag
        self._guard_key: tuple[int, int] | None = None
        self.corpus = Corpus(self)
        self.labels = Labels(self)
        self.imports = ImportRuns(self)  # safeimport
        self.actors = Actors(self)
        self.actor_ops = ActorOps(self)
        self.clusters = Clusters(self)
        self.gold = GoldRecords(self)
        self.team = Team(self)
        self.merge = Merge(self)
        self.suggest = Suggestions(self)
        self.invites = Invites(self)  # serve (issue 16): the team server's personal links

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
        cls,
        path: str | os.PathLike[str],
        *,
        create: bool = True,
        read_only: bool = False,
        migrate: bool = False,
    ) -> Store:
        """Open (and if needed create or upgrade) a stanceterm DB.

        A file that is not a stanceterm DB (random bytes, text, another program's SQLite) or one
        from a newer stanceterm is refused with :class:`StoreError`, and left untouched.
        ``read_only`` opens an existing DB without creating, upgrading or writing anything (the
        source of a merge); an older schema version is read as it is.

        Migrations never run implicitly on an existing DB (other clients may be connected): a DB
        needing one is refused with one line naming ``stanceterm upgrade``, unless ``migrate``
        (:func:`upgrade`, which backs up first and checks that nobody else holds the DB). A
        brand-new DB is created at the current version, in one transaction.
        """
        if read_only:
            return cls._open_read_only(Path(path))
        p = Path(path)
        if p.exists():
            if p.is_dir():
                raise StoreError(f"{p}: is a directory, not a database file")
            if not p.is_file():  # a FIFO or device would hang or be read as empty
                raise StoreError(
                    f"{p}: not a regular file (a FIFO, device or socket); refusing to use it "
                    "as a database"
                )
            if not create and p.stat().st_size == 0:
                raise StoreError(f"{p}: not a stanceterm database (empty file); left untouched")
            check_foreign_file(p)
        elif not create:
            raise StoreError(f"{p}: no such database")
        elif not p.parent.exists():
            raise StoreError(f"{p}: cannot create database: folder {p.parent} does not exist")
        store = cls._connect(p, str(p))
        store._allow_migrate = migrate
        store._set_up_or_close(store._configure_and_migrate)
        return store

    @classmethod
    def _connect(cls, p: Path, target: str, *, uri: bool = False) -> Store:
        """A handle on a new connection to ``p`` (``target``: its path or URI), registered with
        :mod:`fileguard` so nothing in this process reads the file with plain I/O."""
        try:
            conn = sqlite3.connect(
                target,
                uri=uri,
                isolation_level=None,
                check_same_thread=False,
                timeout=BUSY_TIMEOUT_MS / 1000,
            )
        except sqlite3.Error as exc:
            raise StoreError(f"{p}: cannot open database: {exc}") from None
        store = cls(conn, str(p))
        store._guard_key = fileguard.register(p)
        return store

    def _set_up_or_close(self, set_up: Callable[[], None]) -> None:
        """Run the first steps on a new connection; on failure close it (one line for the user)."""
        try:
            set_up()
        except sqlite3.DatabaseError as exc:
            self.close()
            raise StoreError(f"{self.path}: not a usable stanceterm database: {exc}") from None
        except StoreError:
            self.close()
            raise

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
        check_foreign_file(p)  # no plain read when this process is connected to it already
        # A cleanly closed DB (no -wal beside it) is read as immutable, so reading it (merge)
        # leaves no -wal/-shm files behind; a DB in use has a -wal, which must be read.
        wal = p.with_name(p.name + "-wal")
        mode = "mode=ro" if wal.exists() else "mode=ro&immutable=1"
        store = cls._connect(p, f"file:{quote(str(p.resolve()))}?{mode}", uri=True)
        store.read_only = True

        def set_up() -> None:
            store.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            store.conn.execute("PRAGMA query_only = ON")
            if store.schema_version() == 0 or store.get_meta("app") != APP_ID:
                raise StoreError(f"{p}: is not a stanceterm database (empty); left untouched")

        store._set_up_or_close(set_up)
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
        # A checkpoint resets the -wal, but the file keeps its high-water size (one big import:
        # tens of MB, for as long as a screen is open); every connection truncates it back to
        # this size when it restarts it (issue 12 §2, WAL growth).
        c.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")

    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        version = self.schema_version()
        if version > migrations.LATEST_VERSION:
            raise StoreError(
                f"{self.path}: made by a newer stanceterm (schema v{version}; this one knows up to "
                f"v{migrations.LATEST_VERSION}); upgrade stanceterm"
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
        # --- safeimport: no implicit migration of an existing DB; a new one in one transaction
        if 0 < version < migrations.LATEST_VERSION and not self._allow_migrate:
            raise StoreError(
                f"{self.path}: database schema v{version} is older than this stanceterm's "
                f"v{migrations.LATEST_VERSION}; close every screen on it, then run "
                f"`stanceterm --db {shlex.quote(str(self.path))} upgrade` (it backs the DB up "
                "first)"
            )
        if version == 0:
            self._create_all()
            return
        # --- end safeimport
        for target, script in migrations.MIGRATIONS:
            if target <= version:
                continue
            self._run_migration(target, script)
            version = target
        self.build_search_index()

    # ---------------------------------------------------------------- perf: search index build
    def build_search_index(self, batch: int | None = None) -> int:
        """Index the sentences that migration v9 (v16) found in the DB into ``sentences_fts``
        (their search key, the view ``sentences_search``), in
        short write transactions of ``batch`` sentences (resumable: progress is ``meta.fts_done``,
        committed with each batch). Returns the number of sentences indexed; 0 once complete."""
        size = batch or migrations.FTS_BATCH
        indexed = 0
        if self.search_index_ready():  # the usual case: a read, no write lock taken
            return 0
        while True:
            with self.tx() as c:
                row = c.execute(
                    "SELECT (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'fts_done'), "
                    "(SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'fts_end')"
                ).fetchone()
                if row is None or row[0] is None or row[1] is None or row[0] >= row[1]:
                    return indexed
                done, end = int(row[0]), int(row[1])
                hi = c.execute(
                    "SELECT MAX(seq) FROM (SELECT seq FROM sentences WHERE seq > ? AND seq <= ? "
                    "ORDER BY seq LIMIT ?)",
                    (done, end, size),
                ).fetchone()[0]
                hi = end if hi is None else int(hi)
                cur = c.execute(
                    "INSERT INTO sentences_fts(rowid, norm) "
                    "SELECT seq, norm FROM sentences_search WHERE seq > ? AND seq <= ?",
                    (done, hi),
                )
                indexed += max(cur.rowcount, 0)
                c.execute("UPDATE meta SET value = ? WHERE key = 'fts_done'", (str(hi),))

    def search_index_ready(self) -> bool:
        """True when every sentence is in ``sentences_fts`` (False before migration v9)."""
        with self.read() as c:
            lag = search_index_lag(c)
        return lag is not None and lag <= 0

    # ---------------------------------------------------------------- end perf

    def _create_all(self) -> None:
        """A brand-new DB: every migration in ONE transaction, so another process opening the
        same new file at the same moment sees it empty or current, never half-way."""
        with self.tx() as c:
            if int(c.execute("PRAGMA user_version").fetchone()[0]) > 0:
                return  # another process created it while we waited for the write lock
            for target, script in migrations.MIGRATIONS:
                self._apply(c, target, script)

    def _apply(self, c: sqlite3.Connection, target: int, script: str) -> None:
        for statement in migrations.split_sql(script):
            c.execute(statement)
        step = migrations.MIGRATION_STEPS.get(target)
        if step is not None:
            step(c)
        if target == 1:
            c.execute("INSERT INTO meta(key, value) VALUES ('app', ?)", (APP_ID,))
            c.execute("INSERT INTO meta(key, value) VALUES ('created_at', ?)", (now(),))
            c.execute("INSERT INTO meta(key, value) VALUES ('db_uid', ?)", (uuid.uuid4().hex,))
        c.execute(f"PRAGMA user_version = {int(target)}")

    def _run_migration(self, target: int, script: str) -> None:
        with self.tx() as c:
            # Another process opening the same file at the same moment may have run this
            # migration while we waited for the write lock: look again under the lock.
            if int(c.execute("PRAGMA user_version").fetchone()[0]) >= target:
                return
            self._apply(c, target, script)

    # ---------------------------------------------------------------- transactions

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A short write transaction (``BEGIN IMMEDIATE``), retried while the DB is locked.

        Does not nest (see the transaction contract in the module doc)."""
        with self._lock:
            if self.conn.in_transaction:
                raise StoreError(
                    "store.tx() does not nest: this connection is already in a transaction "
                    "(write helpers run in the caller's transaction or open their own, never both)"
                )
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
    def temp_tx(self) -> Iterator[sqlite3.Connection]:
        """A deferred transaction for writes to this connection's TEMP tables only (import
        staging): it takes no lock on the DB file, so it never makes other writers wait."""
        with self._lock:
            if self.conn.in_transaction:
                raise StoreError("store.temp_tx() does not nest: already in a transaction")
            self.conn.execute("BEGIN")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def checkpoint_passive(self) -> None:
        """Copy committed WAL pages into the DB file without taking the write lock (``PASSIVE``:
        never waits for readers or writers). Long jobs call it between their batches."""
        if self.path == ":memory:" or self.read_only:
            return
        with self._lock:
            if not self.conn.in_transaction:
                self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()

    @contextmanager
    def background_checkpoints(self) -> Iterator[Callable[[], None]]:
        """For a long job writing batch after batch: yields ``request()``, which asks for a
        passive checkpoint (as :meth:`checkpoint_passive`) run by a background thread on a
        second connection, so that the job goes on planning its next batch meanwhile (the
        checkpoint copies pages and syncs the DB file: it waits on the disk, with the GIL
        released). Requests made while one runs are served by one more checkpoint. On exit the
        last request is served before the thread stops. An in-memory DB runs none."""
        other = self.open_reader()
        if other is None:
            yield lambda: None
            return
        wanted = threading.Event()
        stopping = threading.Event()

        def run() -> None:
            while True:
                wanted.wait()
                wanted.clear()
                with suppress(sqlite3.Error):  # harmless: the automatic checkpoint takes over
                    other.checkpoint_passive()
                if stopping.is_set() and not wanted.is_set():
                    return

        worker = threading.Thread(target=run, name="stanceterm-checkpoint", daemon=True)
        worker.start()
        try:
            yield wanted.set
        finally:
            stopping.set()
            wanted.set()
            worker.join()
            other.close()

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
        """Record the label schema and seed its actor gazetteer, in its own transaction (the
        explicit write path of ``--schema``). Returns True if the stored schema changed."""
        with self.tx() as c:
            return record_label_schema(c, schema)

    def stream(self, sql: str, params: Sequence[Any], batch: int) -> Iterator[tuple[Any, ...]]:
        """Rows of a query, fetched in batches under :meth:`read`."""
        with self.read() as c:
            cur = c.execute(sql, params)
            while True:
                rows = cur.fetchmany(batch)
                if not rows:
                    return
                yield from rows

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

    def integrity_ok(self) -> bool:
        with self.read() as c:
            return str(c.execute("PRAGMA integrity_check").fetchone()[0]) == "ok"

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

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """Reads in the block see one consistent state of the DB (:meth:`pin_snapshot` then
        :meth:`release_snapshot`)."""
        with self._lock:
            self.pin_snapshot()
            try:
                yield self.conn
            finally:
                self.release_snapshot()


# --- hour (issue 15 §5): which files in a folder are stanceterm databases (for "no such database")

#: Suffixes of files looked at by :func:`stanceterm_databases`.
DB_SUFFIXES = (".db", ".sqlite", ".sqlite3")


def stanceterm_databases(folder: Path, limit: int = 50) -> list[Path]:
    """The stanceterm databases directly in ``folder`` (sorted by name): SQLite files with
    ``articles`` and ``sentences`` tables. Files this process is connected to are left out
    unopened (closing a descriptor on them would drop this process's locks)."""
    out: list[Path] = []
    try:
        children = sorted(folder.iterdir())
    except OSError:
        return out
    for child in children:
        if len(out) >= limit or child.suffix.lower() not in DB_SUFFIXES:
            continue
        if not child.is_file() or fileguard.is_connected(child):
            continue
        # as in _open_read_only: a cleanly closed DB is read as immutable (leaves no -wal/-shm)
        wal = child.with_name(child.name + "-wal")
        mode = "mode=ro" if wal.exists() else "mode=ro&immutable=1"
        uri = "file:" + quote(str(child.resolve())) + "?" + mode
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=0.2)
            try:
                found = {
                    str(r[0])
                    for r in conn.execute(
                        "SELECT name FROM sqlite_master WHERE type = 'table' "
                        "AND name IN ('articles', 'sentences')"
                    )
                }
            finally:
                conn.close()
        except sqlite3.Error:
            continue
        if found == {"articles", "sentences"}:
            out.append(child)
    return out


# --- end hour


def search_index_lag(c: sqlite3.Connection) -> int | None:
    """``meta.fts_end - fts_done``: how many seqs the search index build has still to cover
    (0 or less once complete; None before migration v9, which has no index)."""
    row = c.execute(
        "SELECT (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'fts_end') - "
        "(SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'fts_done')"
    ).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def check_foreign_file(p: Path) -> None:
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
        if version > migrations.LATEST_VERSION:
            raise StoreError(
                f"{p}: made by a newer stanceterm (schema v{version}; this one knows up to "
                f"v{migrations.LATEST_VERSION}); upgrade stanceterm"
            )
