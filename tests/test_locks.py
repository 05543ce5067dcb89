"""The lost-writes pitfall: closing any descriptor on a live SQLite file drops every POSIX lock
this process holds on it (SQLite's "How to corrupt an SQLite database file", 2.2). Then another
process's checkpoint deletes the -wal under our open connection, and our writes vanish.

These tests count, through /proc/locks, the locks this process holds on the DB inode, and check
that every user-supplied path that is the open DB is refused without being read as a file.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from stanceterm.store import Store
from tests.conftest import run

pytestmark = pytest.mark.skipif(
    not Path("/proc/locks").exists() or sys.platform != "linux", reason="needs Linux /proc/locks"
)


def held_locks(path: Path) -> list[str]:
    """The POSIX (and OFD) locks this process holds on ``path``'s inode."""
    st = os.stat(path)
    dev = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    out = []
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        # "1: POSIX  ADVISORY  READ 1234 fe:00:2146864 1073741826 1073742335"
        if (
            len(fields) >= 6
            and fields[1] in ("POSIX", "OFDLCK")
            and fields[4] == str(os.getpid())
            and fields[5] == dev
        ):
            out.append(line)
    return out


@pytest.fixture
def live(tmp_path: Path) -> Path:
    db = tmp_path / "live.db"
    Store.open(db).close()
    return db


def test_a_connection_holds_a_lock_on_the_db(live: Path) -> None:
    """The premise: an open WAL connection holds a shared lock on the DB file."""
    s = Store.open(live)
    try:
        s.counts()
        assert held_locks(live), "an open connection should hold a POSIX lock on the DB"
    finally:
        s.close()
    assert not held_locks(live)


def test_opening_readers_keeps_the_locks(live: Path) -> None:
    s = Store.open(live)
    try:
        s.counts()
        before = held_locks(live)
        assert before
        readers = [s.open_reader() for _ in range(3)]
        for r in readers:
            assert r is not None
            r.counts()
        assert held_locks(live), "opening a reader dropped the writer's locks"
        for r in readers:
            assert r is not None
            r.close()
        assert held_locks(live), "closing a reader dropped the writer's locks"
        # reopening the same DB by another name (a symlink) is the same inode
        link = live.parent / "link.db"
        link.symlink_to(live)
        again = Store.open(link, create=False)
        again.close()
        assert held_locks(live), "reopening through a symlink dropped the locks"
    finally:
        s.close()


def test_a_read_only_open_of_the_live_db_keeps_the_locks(live: Path) -> None:
    """A merge source that this process also has open (tests do it) is read through SQLite only."""
    s = Store.open(live)
    try:
        s.counts()
        ro = Store.open(live, read_only=True)
        ro.counts()
        ro.close()
        assert held_locks(live), "a read-only open dropped the writer's locks"
    finally:
        s.close()


@pytest.mark.parametrize(
    "args",
    [
        ["import-labels", "{db}"],
        ["import", "{db}"],
        ["agreement", "--from", "{db}"],
        ["merge", "{db}"],
        ["export", "--kind", "annotations", "--out", "{db}"],
    ],
    ids=["import-labels", "import", "agreement-from", "merge", "export-out"],
)
def test_cli_refuses_the_open_db_as_a_file(live: Path, args: list[str]) -> None:
    """The DB given where a file is expected is refused in one line, never read or written."""
    with Store.open(live) as s:
        s.actors.add("la Russie")
    p = run("--db", str(live), *[a.format(db=live) for a in args], cwd=live.parent)
    assert p.returncode != 0, p.stdout + p.stderr
    assert "Traceback" not in p.stderr
    errors = [ln for ln in p.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, p.stderr
    assert "open database" in errors[0] or "database itself" in errors[0], p.stderr
    with Store.open(live, create=False) as s:  # still the DB, whole
        assert s.integrity_ok()
        assert s.actors.resolve("la Russie") is not None
