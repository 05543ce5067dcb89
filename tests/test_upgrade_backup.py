"""Upgrading and backing up a live DB (ROUND-NOTES, data safety): migrations never run
implicitly, `upgrade` backs up first and refuses while other processes hold the DB, `backup`
copies a live DB consistently."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stanceterm.store import LATEST_VERSION, MIGRATIONS, Store
from stanceterm.store.db import APP_ID
from stanceterm.store.maintenance import network_fs
from stanceterm.store.migrations import split_sql
from tests.conftest import DEMO, assert_clean_error, run


def old_db(path: Path, version: int = 4) -> None:
    """A DB as an older stanceterm left it: migrations up to ``version``, WAL mode, one article."""
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("PRAGMA journal_mode = WAL")
    c.execute("BEGIN")
    for target, script in MIGRATIONS:
        if target > version:
            break
        for st in split_sql(script):
            c.execute(st)
        if target == 1:
            c.execute("INSERT INTO meta(key, value) VALUES ('app', ?)", (APP_ID,))
            c.execute("INSERT INTO meta(key, value) VALUES ('db_uid', 'old')")
    c.execute("INSERT INTO articles VALUES ('a1', 'T', NULL, NULL, NULL, 'fr', 'h', 1, NULL, 'x')")
    c.execute(
        "INSERT INTO sentences(id, article_id, idx, text, norm) VALUES ('a1:0','a1',0,'Oui.','oui.')"
    )
    c.execute(f"PRAGMA user_version = {version}")
    c.execute("COMMIT")
    c.close()


def version_of(path: Path) -> int:
    c = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(c.execute("PRAGMA user_version").fetchone()[0])
    finally:
        c.close()


def test_old_db_is_never_migrated_implicitly(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    old_db(db)
    p = run("--db", str(db), "stats", cwd=tmp_path)
    assert_clean_error(p, "stanceterm upgrade")
    assert len([ln for ln in p.stderr.splitlines() if ln.strip()]) == 1, p.stderr
    assert version_of(db) == 4
    # a brand-new DB is still created at the current version
    new = tmp_path / "new.db"
    p = run("--db", str(new), "import", str(DEMO), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert version_of(new) == LATEST_VERSION


def test_upgrade_backs_up_then_migrates(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    old_db(db)
    p = run("--db", str(db), "upgrade", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert version_of(db) == LATEST_VERSION
    backups = list(tmp_path.glob("old.db.v4-*.bak"))
    assert len(backups) == 1, p.stderr
    assert version_of(backups[0]) == 4
    c = sqlite3.connect(backups[0])
    assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert c.execute("SELECT text FROM sentences").fetchall() == [("Oui.",)]
    c.close()
    assert str(backups[0].name) in p.stderr
    p = run("--db", str(db), "stats", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    again = run("--db", str(db), "upgrade", cwd=tmp_path)
    assert again.returncode == 0 and "already" in again.stderr, again.stderr


def _holder(db: Path) -> subprocess.Popen[str]:
    code = (
        "import sqlite3, sys, time\n"
        f"c = sqlite3.connect({str(db)!r}, isolation_level=None)\n"
        "c.execute('SELECT count(*) FROM meta').fetchone()\n"
        "print('ready', flush=True)\n"
        "sys.stdin.readline()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def test_upgrade_refused_while_another_process_holds_the_db(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    old_db(db)
    holder = _holder(db)
    try:
        p = run("--db", str(db), "upgrade", cwd=tmp_path)
        assert_clean_error(p, "in use by another process")
        assert version_of(db) == 4
        assert not list(tmp_path.glob("*.bak"))
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(10)
    p = run("--db", str(db), "upgrade", cwd=tmp_path)
    assert p.returncode == 0, p.stderr


WRITER = """
import sys, time
from stanceterm.store import Annotation, Store
s = Store.open(sys.argv[1], create=False)
ids = [r[1] for r in s.corpus.iter_sentence_rows()]
print("ready", flush=True)
i = 0
end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    s.labels.save(Annotation(ids[i % len(ids)], f"w{i // len(ids)}", "done", ("arms_deal",)))
    i += 1
s.close()
print(i, flush=True)
"""


def test_backup_of_a_live_db_under_writes_is_consistent(tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    assert run("--db", str(db), "import", str(DEMO), cwd=tmp_path).returncode == 0
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db), "4"], stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
    outs = []
    for k in range(3):
        time.sleep(0.4)
        out = tmp_path / f"copy{k}.db"
        p = run("--db", str(db), "backup", str(out), cwd=tmp_path)
        assert p.returncode == 0, p.stderr
        outs.append(out)
    saved = int(writer.stdout.readline())
    writer.wait(30)
    assert saved > 10
    counts = []
    for out in outs:
        c = sqlite3.connect(out)
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        labels = c.execute("SELECT count(*) FROM annotations").fetchone()[0]
        events = c.execute("SELECT count(*) FROM annotation_events").fetchone()[0]
        # every save writes its label and its event in one transaction: a torn copy differs
        assert labels == events
        counts.append(labels)
        c.close()
    assert counts == sorted(counts) and counts[-1] > 0
    s = Store.open(outs[-1], create=False)  # the copy is a usable stanceterm DB
    s.close()


def test_backup_refuses_the_db_itself_and_existing_files(tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    assert run("--db", str(db), "import", str(DEMO), cwd=tmp_path).returncode == 0
    link = tmp_path / "link.db"
    link.hardlink_to(db)
    p = run("--db", str(db), "backup", str(link), cwd=tmp_path)
    assert_clean_error(p, "open database")
    other = tmp_path / "other.db"
    other.write_text("keep me")
    p = run("--db", str(db), "backup", str(other), cwd=tmp_path)
    assert_clean_error(p, "exists")
    assert other.read_text() == "keep me"


@pytest.mark.parametrize(
    ("fstype", "warn"), [("nfs4", True), ("cifs", True), ("smb3", True), ("ext4", False)]
)
def test_network_filesystem_is_detected(tmp_path: Path, fstype: str, warn: bool) -> None:
    mounts = f"/dev/x / ext4 rw 0 0\nserver:/share {tmp_path} {fstype} rw 0 0\n"
    got = network_fs(tmp_path / "t.db", mounts)
    assert (got is not None) == warn
    assert network_fs(Path("/etc/hostname"), mounts) is None


def test_both_lock_probes_name_the_holding_process(tmp_path: Path) -> None:
    """The /proc/locks reading (Linux, any architecture) and the F_GETLK question with the
    platform's struct flock layout agree on who holds the DB, and on nobody once it lets go."""
    from stanceterm.store import maintenance

    db = tmp_path / "old.db"
    old_db(db)
    names = [str(db), f"{db}-shm"]
    holder = _holder(db)
    try:
        if Path("/proc/locks").exists():
            assert maintenance._lockers_from_proc_locks(names) == holder.pid
        assert maintenance._lockers_from_getlk(names) == holder.pid
        assert maintenance.held_by_others(db) == holder.pid
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(10)
    assert maintenance._lockers_from_getlk(names) is None
    assert maintenance.held_by_others(db) is None
