"""After the demo, the next command works (issue 15 §5): the demo prints the next commands with the
right --db, and "no such database" names the stanceterm databases in the folder. Real CLI
subprocesses."""

from __future__ import annotations

import os
import shlex
import sqlite3
import subprocess
import sys
from pathlib import Path


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STANCETERM_")}
    env["HOME"] = str(cwd)  # no user config file
    return subprocess.run(
        [sys.executable, "-m", "stanceterm", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_demo_prints_next_commands_that_work(tmp_path: Path) -> None:
    proc = run("demo", "--no-ui", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    commands = [
        ln.strip() for ln in proc.stderr.splitlines() if ln.strip().startswith("stanceterm ")
    ]
    assert "stanceterm --db stanceterm-demo.db annotate --annotator demo" in commands
    assert any(" export " in c for c in commands) and any(c.endswith(" stats") for c in commands)
    for command in commands:
        argv = shlex.split(command)[1:]
        if "annotate" in argv:
            continue  # opens the screen
        if "export" in argv:
            argv += ["--out", "-"]
        done = run(*argv, cwd=tmp_path)
        assert done.returncode == 0, (command, done.stderr)
    assert not (tmp_path / "stanceterm.db").exists()


def test_demo_with_a_path_with_spaces_quotes_it(tmp_path: Path) -> None:
    (tmp_path / "my dir").mkdir()
    proc = run("--db", "my dir/demo.db", "demo", "--no-ui", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "stanceterm --db 'my dir/demo.db' stats" in proc.stderr


def test_no_such_database_names_the_ones_present(tmp_path: Path) -> None:
    assert run("demo", "--no-ui", cwd=tmp_path).returncode == 0
    other = sqlite3.connect(tmp_path / "other.db")  # an SQLite file that is not stanceterm's
    other.execute("CREATE TABLE t (x)")
    other.commit()
    other.close()
    (tmp_path / "notes.db").write_text("not sqlite at all", encoding="utf-8")
    proc = run("export", "--out", "-", cwd=tmp_path)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (
        "error: no such database ./stanceterm.db; found stanceterm-demo.db: "
        "pass --db stanceterm-demo.db"
    )
    assert not (tmp_path / "stanceterm.db").exists()
    # looking leaves nothing behind: no -wal/-shm beside a cleanly closed DB
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "notes.db",
        "other.db",
        "stanceterm-demo.db",
    ]
    # two of them: both named
    assert run("--db", "second.db", "demo", "--no-ui", cwd=tmp_path).returncode == 0
    proc = run("stats", cwd=tmp_path)
    assert "found second.db, stanceterm-demo.db: pass --db with one of them" in proc.stderr


def test_no_such_database_in_an_empty_folder(tmp_path: Path) -> None:
    proc = run("--db", "nowhere.db", "stats", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: no such database ./nowhere.db; ")
    assert "stanceterm import" in proc.stderr
