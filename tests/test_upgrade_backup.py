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
    assert_clean_error(p, f"`stanceterm --db {db} upgrade`")
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


def test_backup_copies_a_db_that_needs_an_upgrade(tmp_path: Path) -> None:
    """The README says: back up with `stanceterm backup`, never cp. The moment a user most wants
    a copy is before an upgrade, and backup refused an older DB (new-user review)."""
    db = tmp_path / "old.db"
    old_db(db, version=LATEST_VERSION - 1)
    p = run("--db", str(db), "backup", str(tmp_path / "copy.db"), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert version_of(db) == version_of(tmp_path / "copy.db") == LATEST_VERSION - 1
    c = sqlite3.connect(tmp_path / "copy.db")
    assert c.execute("SELECT text FROM sentences").fetchall() == [("Oui.",)]
    c.close()


def test_the_upgrade_hint_names_the_db_it_was_given(tmp_path: Path) -> None:
    """`--db team.db stats` on an old DB said "run `stanceterm upgrade`", which in that folder
    opens ./stanceterm.db (new-user review): the hint carries the --db."""
    (tmp_path / "data").mkdir()
    db = tmp_path / "data" / "team one.db"
    old_db(db)
    p = run("--db", str(db), "stats", cwd=tmp_path)
    assert_clean_error(p, "stanceterm --db")
    assert f"`stanceterm --db '{db}' upgrade`" in p.stderr, p.stderr
    # and upgrade without a DB names the ones it finds, as every other command does
    p = run("upgrade", cwd=tmp_path / "data")
    assert_clean_error(p, "found team one.db")


def test_upgrade_completes_a_search_index_an_interruption_left_half_built(tmp_path: Path) -> None:
    """Ctrl-C or kill -9 during `upgrade` can leave the schema current and the search index
    part-built; `upgrade` again said "nothing to do" and left it so (new-user review)."""
    db = tmp_path / "s.db"
    s = Store.open(db)
    with s.tx() as c:
        c.execute(
            "INSERT INTO articles VALUES ('a', 'T', NULL, NULL, NULL, 'fr', 'h', 2, NULL, 'x')"
        )
        for i, t in enumerate(["Une phrase ici.", "Une autre là."]):
            c.execute(
                "INSERT INTO sentences(id, article_id, idx, text, norm) VALUES (?, 'a', ?, ?, ?)",
                (f"a:{i}", i, t, t.lower()),
            )
        # as an interrupted upgrade leaves it: the rows are still to index
        c.execute("INSERT INTO sentences_fts(sentences_fts) VALUES ('delete-all')")
        c.execute("UPDATE meta SET value = '0' WHERE key = 'fts_done'")
        c.execute("UPDATE meta SET value = (SELECT MAX(seq) FROM sentences) WHERE key = 'fts_end'")
    assert not s.search_index_ready()
    s.close()
    p = run("--db", str(db), "upgrade", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "search index" in p.stderr and "2 sentences" in p.stderr, p.stderr
    s = Store.open(db, read_only=True)
    assert s.search_index_ready()
    s.close()


def test_ctrl_c_during_upgrade_says_where_the_db_is_and_upgrade_finishes_it(
    tmp_path: Path,
) -> None:
    """A real `stanceterm upgrade` process gets SIGINT while it works (backup, migration or the
    search index): it said only "aborted" (new-user review). It now says the schema version it
    left and what to run; running that finishes the job."""
    import os
    import signal

    db = tmp_path / "big.db"
    old_db(db, version=LATEST_VERSION - 1)
    c = sqlite3.connect(db)
    with c:
        c.executemany(
            "INSERT INTO sentences(id, article_id, idx, text, norm) VALUES (?, 'a1', ?, ?, ?)",
            (
                (f"a1:{i}", i, f"Phrase numéro {i} du « test »", f'phrase numero {i} du"test"')
                for i in range(1, 120_000)
            ),
        )
    c.close()
    env = {k: v for k, v in os.environ.items() if k != "STANCETERM_DB"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "stanceterm", "--db", str(db), "upgrade"],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    # inside upgrade: its backup (a temporary file, then DB.vN-TIME.bak) has begun
    while not [
        p for p in tmp_path.iterdir() if p.name not in {"big.db", "big.db-wal", "big.db-shm"}
    ]:
        assert proc.poll() is None and time.monotonic() < deadline, "upgrade ended before SIGINT"
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert proc.returncode == 130, err
    assert len(lines) == 1 and lines[0].startswith("interrupted"), err
    assert "schema v" in lines[0] and f"`stanceterm --db {db} upgrade`" in lines[0], err
    again = run("--db", str(db), "upgrade", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    s = Store.open(db, read_only=True)
    assert s.schema_version() == LATEST_VERSION and s.search_index_ready()
    hit = s.corpus.search("numero 119998 du test", -1)
    assert hit is not None and hit.id == "a1:119998"
    s.close()
