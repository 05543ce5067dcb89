"""`stanceterm import` of what newsrooms have (issue 15 §7): saved news pages (.html/.htm, main
text and metadata through trafilatura) and CSV with a `text` column; folder imports name what they
skipped. Real CLI subprocesses, asserted on the DB."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from stanceterm.ingest import import_file
from stanceterm.store import Store

HTML = Path(__file__).resolve().parent / "fixtures" / "html"
PAGE = HTML / "sommet-vostochny.html"  # canonical URL, og:site_name, published time
WIRE = HTML / "wire-no-canonical.htm"  # no canonical URL


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STANCETERM_")}
    return subprocess.run(
        [sys.executable, "-m", "stanceterm", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    con = sqlite3.connect(db)
    try:
        return list(con.execute(sql))
    finally:
        con.close()


def error_lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    assert "Traceback" not in proc.stderr, proc.stderr
    return [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]


def test_html_page_main_text_and_metadata(tmp_path: Path) -> None:
    proc = run("--db", "t.db", "import", str(PAGE), str(WIRE), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    arts = {
        r[0]: r[1:]
        for r in rows(tmp_path / "t.db", "SELECT id, title, source, url, published FROM articles")
    }
    canonical = "https://www.courrier-matin.example/monde/2023/09/13/poutine-kim-vostochny"
    assert arts[canonical] == (
        "Poutine et Kim se rencontrent à Vostochny",
        "Le Courrier du Matin",
        canonical,
        "2023-09-13",
    )
    (wire_id,) = [a for a in arts if a != canonical]
    assert wire_id.startswith("a") and len(wire_id) == 16  # no canonical URL: the content hash
    assert arts[wire_id][0] == "Kim heads home by armoured train"
    assert arts[wire_id][3] == "2023-09-15"
    texts = [
        r[0]
        for r in rows(
            tmp_path / "t.db",
            f"SELECT text FROM sentences WHERE article_id = '{canonical}' ORDER BY idx",
        )
    ]
    assert texts[0].startswith("Le dirigeant nord-coréen Kim Jong Un a rencontré")  # not the h1
    assert any(t.startswith("Rorry Daniels, vice-présidente") for t in texts)
    joined = "\n".join(t for (t,) in rows(tmp_path / "t.db", "SELECT text FROM sentences"))
    for junk in (
        "cookies",
        "newsletter",
        "droits réservés",
        "S'abonner",
        "Share this story",
        "Privacy policy",
        "À lire aussi",
    ):
        assert junk not in joined
    again = run("--db", "t.db", "import", str(PAGE), cwd=tmp_path)  # same page: nothing new
    assert again.returncode == 0 and "Imported 0 articles," in again.stderr


def test_html_without_article_text_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "nav-only.html"
    empty.write_text(
        "<html><head><title>Menu</title></head><body><nav><a href='/'>Home</a></nav></body></html>",
        encoding="utf-8",
    )
    proc = run("--db", "t.db", "import", str(empty), str(PAGE), cwd=tmp_path)
    assert proc.returncode == 1
    lines = error_lines(proc)
    assert lines == [f"error: {empty}:1: no article text found in this page"], proc.stderr
    assert rows(tmp_path / "t.db", "SELECT count(*) FROM articles") == [(1,)]  # the good one


def test_csv_with_text_column_and_optional_fields(tmp_path: Path) -> None:
    f = tmp_path / "export.csv"
    f.write_text(
        "\ufeffid,title,source,url,published,lang,text,section\n"
        "w1,Sommet,AFP,https://afp.example/1,2023-09-14,fr,\"Moscou a indiqué qu'elle aiderait "
        'Pyongyang. Les deux parties nient tout.",monde\n'
        ',Kim home,,,,en,"Kim Jong Un went home.\n\nWashington said nothing.",world\n',
        encoding="utf-8",
    )
    semi = tmp_path / "excel.csv"
    semi.write_text("text;title\nLe Kremlin a démenti.;Démenti\n", encoding="utf-8")
    proc = run("--db", "t.db", "import", str(f), str(semi), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    arts = rows(tmp_path / "t.db", "SELECT id, title, source, url, published, lang FROM articles")
    by_title = {r[1]: r for r in arts}
    assert by_title["Sommet"] == (
        "w1",
        "Sommet",
        "AFP",
        "https://afp.example/1",
        "2023-09-14",
        "fr",
    )
    assert by_title["Kim home"][2:] == (None, None, None, "en")
    assert by_title["Démenti"][0].startswith("a")
    n = rows(tmp_path / "t.db", "SELECT count(*) FROM sentences WHERE article_id = 'w1'")
    assert n == [(2,)]
    origins = {r[0] for r in rows(tmp_path / "t.db", "SELECT origin FROM articles")}
    assert {"export.csv:2", "export.csv:3", "excel.csv:2"} <= origins


def test_bad_csv_names_file_and_line_and_writes_nothing(tmp_path: Path) -> None:
    no_text = tmp_path / "no-text.csv"
    no_text.write_text("title,body\nA,B\n", encoding="utf-8")
    empty_text = tmp_path / "empty-text.csv"
    empty_text.write_text('text,title\n"Une phrase.",A\n"a\nb",B\n"  ",C\n', encoding="utf-8")
    bad_utf8 = tmp_path / "latin1.csv"
    bad_utf8.write_bytes("text\nUne phrase.\nDeux.\nL'été\n".encode("latin-1"))
    bad_lang = tmp_path / "lang.csv"
    bad_lang.write_text("text,lang\nOne.,english please\n", encoding="utf-8")
    unclosed = tmp_path / "unclosed.csv"
    unclosed.write_text('text,title\n"Une phrase.",A\n"jamais fermé,B\n', encoding="utf-8")
    too_many = tmp_path / "too-many.csv"
    too_many.write_text("text,title\nUne, deux,A\n", encoding="utf-8")
    proc = run(
        "--db",
        "t.db",
        "import",
        str(no_text),
        str(empty_text),
        str(bad_utf8),
        str(bad_lang),
        str(unclosed),
        str(too_many),
        cwd=tmp_path,
    )
    assert proc.returncode == 1
    lines = error_lines(proc)
    assert lines[0] == f"error: {no_text}:1: no 'text' column (columns: title, body)"
    # the record starting on line 5 (after a quoted field over lines 3-4)
    assert lines[1].startswith(f"error: {empty_text}:5: text:") and "is empty" in lines[1]
    assert lines[2].startswith(f"error: {bad_utf8}:4: invalid UTF-8")
    assert lines[3].startswith(f"error: {bad_lang}:2: lang:")
    assert lines[4].startswith(f"error: {unclosed}:3: broken CSV")
    assert lines[5].startswith(f"error: {too_many}:2: 3 fields but the header has 2")
    assert len(lines) == 6
    assert rows(tmp_path / "t.db", "SELECT count(*) FROM articles") == [(0,)]
    assert rows(tmp_path / "t.db", "SELECT count(*) FROM sentences") == [(0,)]


def test_folder_import_reports_skipped_types(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(PAGE, folder / "page.html")
    shutil.copy(WIRE, folder / "sub" / "wire.htm")
    (folder / "a.csv").write_text("text\nMoscou a démenti.\n", encoding="utf-8")
    (folder / "b.txt").write_text("Titre\n\nLe Kremlin a nié.\n", encoding="utf-8")
    (folder / "memo.docx").write_bytes(b"PK\x03\x04")
    (folder / "sub" / "scan.pdf").write_bytes(b"%PDF-1.4")
    (folder / "sub" / "scan2.PDF").write_bytes(b"%PDF-1.4")
    proc = run("--db", "t.db", "import", str(folder), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "skipped 1 .docx, 2 .pdf: unsupported" in proc.stderr
    assert rows(tmp_path / "t.db", "SELECT count(*) FROM articles") == [(4,)]


def test_import_file_html_in_process(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "x.db")
    try:
        res = import_file(store, PAGE)
        assert res.error is None and res.counts.articles_added == 1
    finally:
        store.close()
