"""Files: odd paths work, a --db that is not ours is refused untouched, and export never leaves a
half-written file or a temporary file, even when killed."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from stanceterm.cli import main
from stanceterm.export import export
from stanceterm.schema import load_schema
from stanceterm.store import Annotation, Store, StoreError
from tests.conftest import DEMO, ROOT, add_article, run

ODD = ["dossier été", "base de données ñ", "x#1", "what?", "100%41 sûr", "emoji 🗞", "l'été"]


def cli(*args: str) -> tuple[int, str]:
    """Run the CLI in this process; returns (exit code, stderr+stdout)."""
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, err.getvalue() + out.getvalue()


# --------------------------------------------------------------------------- odd paths


@pytest.mark.parametrize("name", ODD)
def test_store_reopens_names_with_uri_characters(tmp_path: Path, name: str) -> None:
    """'#', '?', '%' and spaces are file-name characters, not URI syntax (reopen keeps data)."""
    p = tmp_path / f"{name}.db"
    s = Store.open(p)
    s.set_label_schema(load_schema())
    add_article(s, "a1", ["Une phrase.", "Une autre."])
    s.close()
    s = Store.open(p, create=False)
    assert s.counts()["sentences"] == 2
    s.close()
    ro = Store.open(p, read_only=True)
    assert ro.counts()["sentences"] == 2
    ro.close()
    assert {x.name for x in tmp_path.iterdir()} <= {p.name, f"{p.name}-wal", f"{p.name}-shm"}


def test_cli_with_spaces_and_non_ascii_everywhere(tmp_path: Path) -> None:
    base = tmp_path / "projet été 2026" / "l'équipe #1"
    base.mkdir(parents=True)
    db = base / "base de données ñ?.db"
    corpus = base / "articles à lire" / "sous dossier 🗞"
    corpus.mkdir(parents=True)
    (corpus / "première dépêche.txt").write_text(DEMO.read_text(encoding="utf-8"), "utf-8")
    (corpus / "flux 100% ok.jsonl").write_bytes(
        orjson.dumps({"title": "Titre", "text": "Moscou a démenti. Washington a insisté."}) + b"\n"
    )
    # one real process (the names go through argv and the file system encoding), then in-process
    p = run("--db", str(db), "import", str(base / "articles à lire"), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "Imported 2 articles," in p.stderr and str(db) in p.stderr
    s = Store.open(db)
    first = s.corpus.first()
    assert first is not None
    s.labels.save(Annotation(first.id, "zoé", "done", ("denial",)))
    s.close()
    out = base / "sorties d'été" / "résultat final #2.jsonl"
    code, output = cli("--db", str(db), "export", "--out", str(out))
    assert code == 0 and str(out) in output, output
    assert orjson.loads(out.read_bytes())["annotator"] == "zoé"
    code, output = cli("--db", str(db), "stats")
    assert code == 0 and "zoé" in output
    other = base / "copie d'alice ?#.db"
    assert cli("--db", str(other), "import", str(base / "articles à lire"))[0] == 0
    assert cli("--db", str(other), "import-labels", str(out))[0] == 0
    code, output = cli("--db", str(db), "merge", str(other))
    assert code == 0, output
    again = base / "sorties d'été" / "deux.jsonl"
    assert cli("--db", str(other), "export", "--out", str(again))[0] == 0
    assert again.read_bytes() == out.read_bytes()
    leftovers = [x.name for x in out.parent.iterdir()]
    assert sorted(leftovers) == sorted([out.name, again.name])


# --------------------------------------------------------------------------- foreign --db files


def _other_sqlite(p: Path, wal: bool) -> None:
    conn = sqlite3.connect(p)
    if wal:
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
    conn.execute("INSERT INTO customers VALUES (1, 'Ada')")
    conn.commit()
    conn.close()


FOREIGN = {
    "random": lambda p: p.write_bytes(os.urandom(8192)),
    "text": lambda p: p.write_text("name,email\nada,ada@example.org\n"),
    "sqlite header only": lambda p: p.write_bytes(b"SQLite format 3\x00" + b"\xff" * 200),
    "other program": lambda p: _other_sqlite(p, wal=False),
    "other program wal": lambda p: _other_sqlite(p, wal=True),
    "empty": lambda p: p.write_bytes(b""),
}
COMMANDS = [
    ["stats"],
    ["annotators"],
    ["export", "--out", "{out}"],
    ["import-labels", "{labels}"],
    ["annotate", "--annotator", "alice"],
    ["assign", "--annotators", "a,b"],
    ["import", "{demo}"],
    ["merge", "{good}"],
]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {x.name: x.read_bytes() for x in sorted(folder.iterdir()) if x.is_file()}


@pytest.mark.parametrize("kind", list(FOREIGN))
def test_foreign_db_is_refused_and_left_byte_identical(tmp_path: Path, kind: str) -> None:
    work = tmp_path / "work"
    work.mkdir()
    good = tmp_path / "good.db"
    s = Store.open(good)
    s.set_label_schema(load_schema())
    add_article(s, "a1", ["Une phrase."])
    s.close()
    labels = tmp_path / "labels.jsonl"
    labels.write_bytes(b"")
    target = work / "notes.db"
    FOREIGN[kind](target)
    before = _snapshot(work)
    for command in COMMANDS:
        if kind == "empty" and command[0] in ("import", "merge"):
            continue  # an empty file is a new, empty database to the commands that create one
        args = [
            a.format(out=tmp_path / "out.jsonl", labels=labels, demo=DEMO, good=good)
            for a in command
        ]
        code, output = cli("--db", str(target), *args)
        assert code == 1, (command, output)
        assert "Traceback" not in output
        lines = output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (command, output)
        assert "database" in lines[0], lines[0]
        assert _snapshot(work) == before, command  # no byte changed, no -wal/-shm/-journal left
    assert not (tmp_path / "out.jsonl").exists()


def test_empty_file_becomes_a_database_only_when_importing(tmp_path: Path) -> None:
    target = tmp_path / "new.db"
    target.write_bytes(b"")
    code, output = cli("--db", str(target), "stats")
    assert code == 1 and "empty file" in output and target.read_bytes() == b""
    code, output = cli("--db", str(target), "import", str(DEMO))
    assert code == 0, output
    s = Store.open(target)
    assert s.counts()["articles"] == 1
    s.close()


def test_directory_as_db_is_refused(tmp_path: Path) -> None:
    d = tmp_path / "a folder.db"
    d.mkdir()
    for args in (["stats"], ["import", str(DEMO)], ["export", "--out", "-"]):
        code, output = cli("--db", str(d), *args)
        assert code == 1 and "is a directory" in output, output
    assert list(d.iterdir()) == []


def test_foreign_merge_source_is_refused_untouched(tmp_path: Path) -> None:
    db = tmp_path / "team.db"
    assert cli("--db", str(db), "import", str(DEMO))[0] == 0
    for kind, make in FOREIGN.items():
        src = tmp_path / f"src {kind}.db"
        make(src)
        before = src.read_bytes()
        code, output = cli("--db", str(db), "merge", str(src))
        assert code == 1 and output.startswith("error: "), (kind, output)
        assert src.read_bytes() == before
        assert not Path(f"{src}-wal").exists() and not Path(f"{src}-shm").exists()


# --------------------------------------------------------------------------- export, killed


def _open_size(pid: int, folder: Path) -> int:
    """Size of the biggest file ``pid`` has open in ``folder`` (named or not)."""
    best = 0
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return 0
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith(str(folder) + "/"):
                best = max(best, os.stat(f"/proc/{pid}/fd/{fd}").st_size)
        except OSError:
            continue
    return best


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="watches /proc (Linux)")
def test_kill_during_export_leaves_old_file_or_nothing(tmp_path: Path) -> None:
    db = tmp_path / "big.db"
    s = Store.open(db)
    s.set_label_schema(load_schema())
    n = 12_000
    add_article(s, "big", [f"Phrase numéro {i}, assez longue pour peser. " * 3 for i in range(n)])
    s.labels.bulk_load(
        Annotation(f"big:{i}", who, "done", ("denial",), note="n" * 400)
        for i in range(n)
        for who in ("alice", "bob")
    )
    ref = tmp_path / "ref.jsonl"
    export(s, "annotations", ref)
    s.close()
    size = ref.stat().st_size
    assert size > 12 * 1024 * 1024  # many 1 MiB buffers: the kill lands while writing

    out_dir = tmp_path / "sorties"
    out_dir.mkdir()
    fresh, old = out_dir / "new export.jsonl", out_dir / "existing.jsonl"
    old.write_bytes(b'{"old": true}\n')
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    for target, at in ((fresh, 2 * 1024 * 1024), (old, size // 2)):
        before = {x.name: x.read_bytes() for x in out_dir.iterdir()}
        proc = subprocess.Popen(
            [sys.executable, "-m", "stanceterm", "--db", str(db), "export", "--out", str(target)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while _open_size(proc.pid, out_dir) < at:
            assert proc.poll() is None, "the export ended before the kill point"
            assert time.monotonic() < deadline
            time.sleep(0.002)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        # the target is as it was (absent, or the old file) and nothing else was left beside it
        assert {x.name: x.read_bytes() for x in out_dir.iterdir()} == before
    for target in (fresh, old):
        code, output = cli("--db", str(db), "export", "--out", str(target))
        assert code == 0, output
        assert target.read_bytes() == ref.read_bytes()
    assert sorted(x.name for x in out_dir.iterdir()) == sorted([fresh.name, old.name])


def test_failed_open_of_missing_db_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no such database"):
        Store.open(tmp_path / "nope.db", create=False)
    assert list(tmp_path.iterdir()) == []


def test_export_to_a_folder_or_a_full_disk_is_a_clean_error(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    s = Store.open(db)
    s.set_label_schema(load_schema())
    add_article(s, "a1", ["Une phrase."])
    s.labels.save(Annotation("a1:0", "alice", "done", ()))
    s.close()
    folder = tmp_path / "exports"
    folder.mkdir()
    code, output = cli("--db", str(db), "export", "--out", str(folder))
    assert code == 1 and output == f"error: {folder}: Is a directory\n", output
    assert list(folder.iterdir()) == []
    blocker = tmp_path / "a file"
    blocker.write_text("x")
    code, output = cli("--db", str(db), "export", "--out", str(blocker / "x.jsonl"))
    assert code == 1 and output.startswith("error: ") and "internal error" not in output
    assert blocker.read_text() == "x"
    if Path("/dev/full").exists():  # every write fails with ENOSPC
        code, output = cli("--db", str(db), "export", "--out", "/dev/full")
        assert code == 1 and "No space left on device" in output, output
        assert len(output.splitlines()) == 1
