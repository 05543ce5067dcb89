"""Looking after a DB file: ``stanceterm upgrade``, ``stanceterm backup`` and the network
filesystem warning (ROUND-NOTES, data safety: upgrading a live DB, backup).

Migrations never run implicitly on an existing DB (:meth:`Store.open <stanceterm.store.db.Store.open>`
refuses one that needs a migration); :func:`upgrade` runs them after checking that no other process
holds the DB and taking a backup. :func:`backup` copies a live DB through SQLite's backup API.
"""

from __future__ import annotations

import os
import shlex
import sqlite3
import uuid
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote

from stanceterm import fileguard
from stanceterm.store import migrations
from stanceterm.store.db import Store, check_foreign_file, search_index_lag
from stanceterm.store.models import StoreError, now

#: Filesystem types on which SQLite's WAL does not work (no shared memory across hosts).
NETWORK_FS = ("nfs", "nfs4", "cifs", "smb", "smb2", "smb3", "smbfs", "9p", "fuse.sshfs", "afs")


def network_fs(path: str | os.PathLike[str], mounts: str | None = None) -> str | None:
    """The network filesystem type (NFS, SMB...) that ``path`` sits on, else None.

    Reads ``/proc/mounts`` (``mounts``: its text, for tests); the longest mount point that
    contains the path's folder wins. None where there is no ``/proc/mounts``."""
    if mounts is None:
        try:
            with open("/proc/mounts", encoding="utf-8", errors="replace") as f:
                mounts = f.read()
        except OSError:
            return None
    target = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    best, best_type = "", None
    for line in mounts.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        point = parts[1].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, best_type = point, parts[2]
    if best_type is not None and (best_type in NETWORK_FS or best_type.startswith("nfs")):
        return best_type
    return None


def held_by_others(path: str | os.PathLike[str]) -> int | None:
    """The pid of another process holding a lock on the DB or its ``-shm`` (every open SQLite
    connection in WAL mode keeps a shared lock on both, even idle), else None.

    On Linux it reads ``/proc/locks`` (any architecture, no descriptor opened). Elsewhere it asks
    with ``F_GETLK`` on a descriptor opened for the question, with the platform's ``struct
    flock`` layout. Closing that descriptor would drop this process's own locks on the file, so it
    refuses to run while this process is connected to it (see :mod:`stanceterm.fileguard`)."""
    if fileguard.is_connected(path):
        raise StoreError(f"{path}: this process is connected to it; cannot probe its locks")
    names = [str(path), f"{path}-shm"]
    try:
        return _lockers_from_proc_locks(names)
    except OSError:  # no /proc/locks: not Linux
        return _lockers_from_getlk(names)


def _lockers_from_proc_locks(names: list[str]) -> int | None:
    """Another pid with a POSIX lock on one of ``names`` per ``/proc/locks``; OSError where the
    kernel gives no such file."""
    table = Path("/proc/locks").read_text()
    inodes = set()
    for name in names:
        try:
            st = os.stat(name)
        except OSError:
            continue
        inodes.add((os.major(st.st_dev), os.minor(st.st_dev), st.st_ino))
    me = os.getpid()
    for line in table.splitlines():
        # "1: POSIX  ADVISORY  READ 1234 08:01:123456 128 128" ("->" marks a blocked waiter)
        parts = line.replace("->", "").split()
        if len(parts) < 6 or parts[1] != "POSIX":
            continue
        try:
            pid = int(parts[4])
            major, minor, ino = parts[5].split(":")
            key = (int(major, 16), int(minor, 16), int(ino))
        except ValueError:
            continue
        if key in inodes and pid != me:
            return pid
    return None


def _lockers_from_getlk(names: list[str]) -> int | None:
    import fcntl
    import struct
    import sys

    # struct flock: Linux {short type, short whence, off_t start, off_t len, pid_t pid};
    # the BSDs and macOS {off_t start, off_t len, pid_t pid, short type, short whence}
    linux = sys.platform.startswith("linux")
    layout = "hhqqi" if linux else "qqihh"
    for name in names:
        try:
            fd = os.open(name, os.O_RDWR)
        except OSError:
            continue
        try:
            if linux:
                query = struct.pack(layout, fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
            else:
                query = struct.pack(layout, 0, 0, 0, fcntl.F_WRLCK, os.SEEK_SET)
            answer = struct.unpack(layout, fcntl.fcntl(fd, fcntl.F_GETLK, query))
        finally:
            os.close(fd)
        kind, pid = (answer[0], answer[4]) if linux else (answer[3], answer[2])
        if kind != fcntl.F_UNLCK:
            return int(pid)
    return None


def backup(store: Store, out: str | os.PathLike[str]) -> int:
    """A consistent copy of the (possibly live) DB at ``out`` through SQLite's backup API, in
    one read snapshot (writers are not blocked in WAL mode). Written to a temporary file beside
    ``out`` and renamed, so ``out`` is whole or absent. Refuses the DB itself (any link to it)
    and an existing ``out``. Returns the copy's size in bytes."""
    target = Path(out)
    fileguard.refuse_if_connected(target, "backup target")
    if target.exists() or target.is_symlink():
        raise StoreError(f"{target}: exists; choose a new file name for the backup")
    if not target.parent.is_dir():
        raise StoreError(f"{target}: folder {target.parent} does not exist")
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        dst = sqlite3.connect(str(tmp))
        try:
            with store.read() as c:
                c.backup(dst)
            dst.execute("PRAGMA journal_mode = DELETE")  # a single self-contained file
            ok = str(dst.execute("PRAGMA integrity_check").fetchone()[0]) == "ok"
        finally:
            dst.close()
        if not ok:
            raise StoreError(f"{target}: the copy failed its integrity check; not kept")
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return target.stat().st_size


class Upgraded(NamedTuple):
    """What :func:`upgrade` did."""

    old: int  #: schema version before
    new: int  #: schema version after
    backup: Path | None  #: the backup taken first; None when no migration ran
    #: on a DB already current, the sentences its search index lacked and got (an interrupted
    #: upgrade leaves some); 0 after a migration, which fills the index itself
    indexed: int


def upgrade_state(path: str | os.PathLike[str]) -> tuple[int, int]:
    """(schema version, sentences the search index lacks) of the DB at ``path``, read-only."""
    p = Path(path)
    try:
        ro = sqlite3.connect(f"file:{quote(str(p.resolve()))}?mode=ro", uri=True)
        try:
            version = int(ro.execute("PRAGMA user_version").fetchone()[0])
            lag = search_index_lag(ro) if version >= 9 else None
            return version, max(0, lag or 0)
        finally:
            ro.close()
    except sqlite3.Error as exc:
        raise StoreError(f"{p}: cannot read: {exc}") from None


def upgrade(path: str | os.PathLike[str]) -> Upgraded:
    """Migrate an existing DB to the current version, safely: refuses while another process
    holds it (screens, a server, another command), takes a backup first (``DB.vN-TIME.bak``,
    through the backup API) and then runs the migrations, then fills the search index in short
    batches. A DB already current whose search index an interrupted upgrade left part-built gets
    it completed (no backup: nothing else changes)."""
    p = Path(path)
    if not p.is_file():
        raise StoreError(f"{p}: no such database")
    check_foreign_file(p)
    pid = held_by_others(p)
    if pid is not None:
        raise StoreError(
            f"{p}: in use by another process (pid {pid}); close every screen, server and "
            f"command on it, then run `stanceterm --db {shlex.quote(str(p))} upgrade` again"
        )
    old, todo = upgrade_state(p)
    if old >= migrations.LATEST_VERSION:
        if todo:
            Store.open(p, create=False).close()  # opening fills the index (build_search_index)
        return Upgraded(old, old, None, todo)
    stamp = now().replace(":", "").replace("-", "")[:15]
    bak = p.with_name(f"{p.name}.v{old}-{stamp}.bak")
    src = Store.open(p, create=False, read_only=True)
    try:
        backup(src, bak)
    finally:
        src.close()
    store = Store.open(p, create=False, migrate=True)
    try:
        new = store.schema_version()
    finally:
        store.close()
    return Upgraded(old, new, bak, 0)
