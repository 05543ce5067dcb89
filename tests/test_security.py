"""Security: every value is data. SQL stays parameterised through the whole loop, and terminal
escapes or Rich markup in file names, titles and names are shown, never interpreted."""

from __future__ import annotations

import contextlib
import io
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from rich.console import Console
from rich.text import Text

from stanceterm.cli import main
from stanceterm.export import export, import_labels
from stanceterm.schema import load_schema
from stanceterm.segment import match_key
from stanceterm.store import Annotation, Gold, Stance, Store
from stanceterm.team import merge_databases
from stanceterm.textsafe import clean, visible
from tests.conftest import ROOT

SQLI = [
    "'; DROP TABLE sentences; --",
    'Robert"); DROP TABLE annotations;--',
    "100% sûr_e \\ ' \" `x` ; -- /* */",
    "O'Brien' OR '1'='1",
    "%_%",
    "\\'; DELETE FROM actors; --",
]
TABLES = {"articles", "sentences", "annotations", "annotation_events", "actors", "gold", "meta"}

OSC = "\x1b]0;pwned\x07"
CSI = "\x1b[2J"
MARKUP = "[bold red]x[/]"
LINK = "[link=https://e.vil]y[/link]"
EVIL = f"{OSC}{CSI}{MARKUP}{LINK}\r\x9b31m\u202eevil"
#: an annotator name as evil as the one annotator-name rule lets in (no C0 control: issue 12 §8)
EVIL_NAME = f"{MARKUP}{LINK}\x9b31m\u202eevil"
#: the same without "/" and NUL, so it can be a file name
EVIL_FILE = f"{OSC}{CSI}[bold red]x[link=mailto:a]y\r\x9b31m\u202e"
FORBIDDEN = [b"\x1b", b"\x07", b"\x00", b"\r", "\x9b".encode(), "\u202e".encode()]


def run_raw(*args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "COLUMNS": "400"}
    env.pop("STANCETERM_DB", None)
    return subprocess.run(
        [sys.executable, "-m", "stanceterm", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        timeout=120,
    )


def run_in(*args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """The same command in this process (faster; output captured as bytes, not a terminal)."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.chdir(cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
    enc = "utf-8", "surrogateescape"
    return subprocess.CompletedProcess(
        args, code, out.getvalue().encode(*enc), err.getvalue().encode(*enc)
    )


def assert_inert(p: subprocess.CompletedProcess[bytes], *literal: str) -> None:
    """No escape, bell, NUL, CR, C1 or bidi byte reached the terminal; ``literal`` shows as is."""
    out = p.stdout + p.stderr
    assert b"Traceback" not in out, out.decode(errors="replace")
    for bad in FORBIDDEN:
        assert bad not in out, (bad, out.decode(errors="replace"))
    text = out.decode()
    assert "\\x1b]0;pwned\\x07" in text  # the escape is shown, so the user sees what is there
    for lit in literal:
        assert lit in text, text


# --------------------------------------------------------------------------- SQL


def _tables(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()


def test_sql_metacharacters_are_data_through_the_whole_loop(tmp_path: Path) -> None:
    """import → save → search → export → import-labels → merge with quotes, DROP TABLE, %, _, \\."""
    corpus = tmp_path / "corpus.jsonl"
    lines = []
    for i, evil in enumerate(SQLI):
        lines.append(
            {
                "id": f"art{i}{evil}",
                "title": evil,
                "source": evil,
                "text": f"Le ministre a dit « {evil} » hier. Puis il a nié {evil} encore.",
            }
        )
    corpus.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in lines))
    db = tmp_path / "a.db"
    p = run_in("--db", str(db), "import", str(corpus), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    before = _tables(db)
    assert before >= TABLES

    store = Store.open(db)
    by_article: dict[str, list[str]] = {}
    for _seq, sid, aid, _idx, _text, _cluster in store.corpus.iter_sentence_rows():
        by_article.setdefault(aid, []).append(sid)
    n_sentences = sum(len(v) for v in by_article.values())
    assert len(by_article) == len(SQLI)
    first = ""
    for i, evil in enumerate(SQLI):
        art = store.corpus.article(f"art{i}{evil}")
        assert art is not None and art.title == evil and art.source == evil
        sids = by_article[art.id]
        first = first or sids[0]
        actor = store.actors.add(f"{evil} actor", created_by=evil)
        assert store.actors.resolve(f"{evil} actor") == actor
        stance = (Stance("denial", actor, "oppose"),)
        store.labels.save(Annotation(sids[0], evil, "done", ("denial",), stance, note=evil))
        store.labels.save(Annotation(sids[-1], f"{evil}2", "flagged", (), note=evil))
        found = store.corpus.search(match_key(evil), -1)
        assert found is not None and match_key(evil) in match_key(found.text)
    store.gold.set(Gold(first, "gold", ("denial",), (), SQLI[0], SQLI[1], note=SQLI[2]))
    assert store.corpus.search(match_key("%_%"), -1) is not None  # the literal text, not a wildcard
    assert store.corpus.search("zz%", -1) is None and store.corpus.search("q_q", -1) is None
    store.close()

    exported = tmp_path / "labels.jsonl"
    p = run_in("--db", str(db), "export", "--out", str(exported), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    records = [orjson.loads(x) for x in exported.read_bytes().splitlines()]
    assert {r["annotator"] for r in records} >= set(SQLI)
    assert any(s["actor"] == f"{SQLI[0]} actor" for r in records for s in r["stances"])

    # a second DB with the same articles takes the labels back, then merges into the first
    db2 = tmp_path / "b.db"
    assert run_in("--db", str(db2), "import", str(corpus), cwd=tmp_path).returncode == 0
    p = run_in("--db", str(db2), "import-labels", str(exported), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    again = tmp_path / "again.jsonl"
    assert run_in("--db", str(db2), "export", "--out", str(again), cwd=tmp_path).returncode == 0
    assert again.read_bytes() == exported.read_bytes()
    p = run_in("--db", str(db), "merge", str(db2), cwd=tmp_path)
    assert p.returncode == 0, p.stderr

    for path in (db, db2):
        assert _tables(path) == before
        s = Store.open(path)
        assert s.integrity_ok()
        counts = s.counts()
        assert counts["articles"] == len(SQLI) and counts["sentences"] == n_sentences
        assert counts["annotations"] == 2 * len(SQLI)
        s.close()
    final = tmp_path / "final.jsonl"
    assert run_in("--db", str(db), "export", "--out", str(final), cwd=tmp_path).returncode == 0
    assert final.read_bytes() == exported.read_bytes()


# --------------------------------------------------------------------------- the sanitiser


def test_clean_escapes_every_control_and_keeps_the_rest() -> None:
    assert clean(EVIL + "\x00") == (
        "\\x1b]0;pwned\\x07\\x1b[2J[bold red]x[/][link=https://e.vil]y[/link]"
        "\\r\\x9b31m\\u202eevil\\x00"
    )
    assert clean("tab\there\nnew line") == "tab\\there\\nnew line"
    assert clean("Éric Zemmour · 東京 « ok »") == "Éric Zemmour · 東京 « ok »"
    assert clean(Path("/tmp/a\x1bb")) == "/tmp/a\\x1bb"
    assert visible(EVIL).startswith("␛]0;pwned␇␛[2J[bold red]x[/]")


def test_rich_text_of_clean_data_prints_markup_literally() -> None:
    console = Console(width=200, force_terminal=False, color_system=None, record=True)
    console.print(Text(clean(EVIL)))
    out = console.export_text()
    assert MARKUP in out and LINK in out and "\x1b" not in out


# --------------------------------------------------------------------------- CLI output paths


@pytest.fixture
def evil_setup(tmp_path: Path) -> tuple[Path, Path]:
    """A folder and a DB whose names carry escapes and markup, with evil titles and names."""
    folder = tmp_path / f"in {EVIL_FILE}"
    folder.mkdir()
    (folder / f"article {EVIL_FILE}.txt").write_text(
        f"{EVIL}\n\nLe ministre a parlé hier. Il a nié tout accord.\n", encoding="utf-8"
    )
    (folder / f"bad {EVIL_FILE}.jsonl").write_bytes(b'{"text": "ok."}\n{"text": \n')
    db = tmp_path / f"db {EVIL_FILE}.db"
    return folder, db


def test_import_summary_and_errors_are_inert(tmp_path: Path, evil_setup: tuple[Path, Path]) -> None:
    folder, db = evil_setup
    p = run_raw("--db", str(db), "import", str(folder), cwd=tmp_path)
    assert p.returncode == 1  # the bad file is refused, the good one imported
    assert_inert(p, "Imported 1 article,", "[bold red]x[link=mailto:a]y")
    err = p.stderr.decode()
    assert any(ln.startswith("error: ") and ":2: broken JSON" in ln for ln in err.splitlines())
    empty = folder / f"empty {EVIL_FILE}.jsonl"
    empty.write_bytes(b"")
    p = run_in("--db", str(db), "import", str(empty), cwd=tmp_path)
    assert_inert(p, "warning: ")


def _labelled(db: Path, folder: Path, tmp: Path, name: str = EVIL_NAME) -> None:
    assert run_in("--db", str(db), "import", str(folder), cwd=tmp).returncode == 1
    s = Store.open(db)
    first = s.corpus.first()
    assert first is not None
    actor = s.actors.add(EVIL, created_by=name)
    s.labels.save(
        Annotation(first.id, name, "done", ("denial",), (Stance("denial", actor, "oppose"),))
    )
    s.labels.save(Annotation(first.id, "bob", "done", ("denial",)))
    s.close()


def test_stats_and_annotators_are_inert(tmp_path: Path, evil_setup: tuple[Path, Path]) -> None:
    folder, db = evil_setup
    # a name with escapes, as an older stanceterm (or the store API) could write it
    _labelled(db, folder, tmp_path, name=EVIL)
    p = run_raw("--db", str(db), "stats", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert_inert(p, MARKUP, LINK, "[bold red]x[link=mailto:a]y")
    p = run_raw("--db", str(db), "annotators", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert_inert(p, MARKUP, LINK)


def test_export_and_import_labels_messages_are_inert(
    tmp_path: Path, evil_setup: tuple[Path, Path]
) -> None:
    folder, db = evil_setup
    _labelled(db, folder, tmp_path)
    out = tmp_path / f"out {EVIL_FILE}.jsonl"
    p = run_in("--db", str(db), "export", "--out", str(out), cwd=tmp_path)
    assert p.returncode == 0 and out.is_file()
    assert_inert(p, "Wrote 2 lines (annotations)")
    # the file itself keeps the data exactly (JSON escapes the controls, markup stays text)
    recs = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    assert {r["annotator"] for r in recs} == {EVIL_NAME, "bob"}
    assert [s["actor"] for r in recs for s in r["stances"]] == [EVIL]
    p = run_in("--db", str(db), "import-labels", str(out), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert_inert(p, "Imported 0 label records (2 unchanged")
    bad = tmp_path / f"labels {EVIL_FILE}.jsonl"
    bad.write_bytes(out.read_bytes() + b"[1]\n")
    p = run_in("--db", str(db), "import-labels", str(bad), cwd=tmp_path)
    assert p.returncode == 1
    assert_inert(p, ":3: expected a JSON object")


def test_merge_summary_is_inert(tmp_path: Path, evil_setup: tuple[Path, Path]) -> None:
    folder, db = evil_setup
    _labelled(db, folder, tmp_path)
    other = tmp_path / f"other {EVIL_FILE}.db"
    p = run_raw("--db", str(other), "merge", str(db), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    # both column headers are file names: shown literally, markup not applied
    assert_inert(p, "labels taken", "[bold red]x[link=mailto:a]y")
    assert p.stdout.decode().count("[bold red]x[link=mailto:a]y") == 2


def test_errors_naming_files_are_inert(tmp_path: Path) -> None:
    junk = tmp_path / f"junk {EVIL_FILE}.db"
    junk.write_bytes(b"not a database at all\n")
    p = run_raw("--db", str(junk), "stats", cwd=tmp_path)
    assert p.returncode == 1
    assert_inert(p, "not a stanceterm database")
    assert len(p.stderr.splitlines()) == 1
    p = run_in("--db", str(tmp_path / "x.db"), "import", f"{EVIL_FILE}.txt", cwd=tmp_path)
    assert_inert(p, "no such file")
    p = run_in("--db", str(tmp_path / "x.db"), "import-labels", f"{EVIL_FILE}.jsonl", cwd=tmp_path)
    assert p.returncode != 0
    assert_inert(p)
    p = run_in("schemas", "--dir", str(tmp_path / f"s {EVIL_FILE}"), cwd=tmp_path)
    assert p.returncode == 0
    assert_inert(p, "wrote ")


def test_click_usage_errors_are_inert(tmp_path: Path) -> None:
    p = run_in("export", f"--{OSC}", cwd=tmp_path)
    assert p.returncode == 2
    assert_inert(p)
    p = run_in("export", "--kind", EVIL_FILE, cwd=tmp_path)
    assert p.returncode == 2
    assert_inert(p)
    p = run_in("stats", OSC, cwd=tmp_path)  # click prints extra arguments as they are
    assert p.returncode == 2
    assert_inert(p, "unexpected extra argument")


def test_assign_table_shows_names_literally(tmp_path: Path) -> None:
    from tests.conftest import DEMO

    db = tmp_path / "t.db"
    assert run_in("--db", str(db), "import", str(DEMO), cwd=tmp_path).returncode == 0
    names = f"{MARKUP},{LINK},\x9b31mc"
    p = run_raw("--db", str(db), "assign", "--annotators", names, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    out = p.stdout + p.stderr
    assert b"\x1b" not in out and "\x9b".encode() not in out
    assert MARKUP in out.decode() and LINK in out.decode() and "\\x9b31mc" in out.decode()


# --------------------------------------------------------------------------- the TUI


def test_tui_shows_escapes_and_markup_as_text(tmp_path: Path) -> None:
    """A real annotate process in a terminal: the title and sentence are shown, not executed."""
    from tests.conftest import Tui

    db = tmp_path / "t.db"
    store = Store.open(db)
    store.set_label_schema(load_schema())
    store.close()
    corpus = tmp_path / "evil.jsonl"
    corpus.write_bytes(
        orjson.dumps({"title": f"T {OSC}{MARKUP}", "text": f"Il a dit {CSI}{LINK} {MARKUP} hier."})
        + b"\n"
    )
    assert run_in("--db", str(db), "import", str(corpus), cwd=tmp_path).returncode == 0
    with Tui(tmp_path, db, "alice") as tui:
        screen = tui.wait_for(lambda s: "0/1 finished" in s and "sentence 1/1" in s and "hier" in s)
        assert "␛]0;pwned␇" in screen and "␛[2J" in screen
        assert MARKUP in screen and LINK in screen.replace("\n", "")
        assert tui.title() != "pwned"
    with Store.open(db) as s:
        export(s, "sentences", tmp_path / "s.jsonl")
    # the data itself is unchanged: the TUI escaped it only for display
    assert CSI in orjson.loads((tmp_path / "s.jsonl").read_bytes())["text"]


def test_import_labels_keeps_evil_names_exactly(tmp_path: Path) -> None:
    """The sanitiser is for display only: the DB and exports keep the bytes as they were."""
    schema = load_schema()
    a = Store.open(tmp_path / "a.db")
    a.set_label_schema(schema)
    from tests.conftest import add_article

    add_article(a, "art", ["Une phrase."])
    actor = a.actors.add(EVIL, created_by="x")
    a.labels.save(Annotation("art:0", EVIL_NAME, "done", ("denial",)))
    a.labels.save(
        Annotation("art:0", "z", "done", ("denial",), (Stance("denial", actor, "oppose"),))
    )
    out = tmp_path / "l.jsonl"
    export(a, "annotations", out)
    b = Store.open(tmp_path / "b.db")
    b.set_label_schema(schema)
    add_article(b, "art", ["Une phrase."])
    import_labels(b, out, schema)
    merge_databases(a, [tmp_path / "b.db"])
    assert {x.annotator for x in a.labels.for_sentence("art:0")} == {EVIL_NAME, "z"}
    assert b.actors.names()[actor] == EVIL
    a.close()
    b.close()


def test_click_usage_errors_are_one_line(tmp_path: Path) -> None:
    """A bad option value, a missing argument or an unknown option: one line on stderr that
    names the command and says where to look, exit code 2, no Usage block."""
    cases = [
        (("dedup", "--threshold", "30"), "stanceterm dedup: Invalid value for '--threshold'"),
        (("suggest", "--folds", "1"), "stanceterm suggest: Invalid value for '--folds'"),
        (("annotate", "--order", "foo"), "stanceterm annotate: Invalid value for '--order'"),
        (("dedup", "split"), "stanceterm dedup split: Missing argument 'SENTENCE_ID'"),
        (("export", "--nope"), "stanceterm export: No such option '--nope'"),
    ]
    for args, start in cases:
        p = run_in("--db", str(tmp_path / "x.db"), *args, cwd=tmp_path)
        assert p.returncode == 2, (args, p.stderr)
        lines = bytes(p.stderr).decode().splitlines()
        assert len(lines) == 1, (args, p.stderr)
        assert lines[0].startswith("error: " + start), (args, lines[0])
        assert lines[0].endswith("(see --help)"), lines[0]
