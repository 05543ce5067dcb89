from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

from stanceterm.ingest import import_file
from stanceterm.store import Store
from tests.conftest import DEMO, assert_clean_error, run


def _write_jsonl(path: Path, records: list[object]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def test_demo_article_imports_without_boilerplate(store: Store) -> None:
    res = import_file(store, DEMO)
    assert res.error is None, res.error
    assert res.counts.articles_added == 1
    art_id = store.corpus.article_ids()[0]
    art = store.corpus.article(art_id)
    assert art is not None
    assert (
        art.title
        == "Vladimir Poutine signale son aide à Kim Jong Un mais reste silencieux sur les armes"
    )
    assert art.lang == "fr"
    texts = [row[4] for row in store.corpus.iter_sentence_rows()]
    assert texts[0].startswith(
        "Kim Jong Un de Corée du Nord a rencontré"
    )  # title is not sentence 0
    assert texts[-1].startswith("Si des preuves apparaissent")
    joined = "\n".join(texts)
    for junk in ("Leave a Reply", "email address", "Required fields"):
        assert junk not in joined
    assert len(texts) > 40
    assert not any(t.endswith(("M.", " M")) for t in texts)  # "M. Kim" never splits


def test_reimport_adds_nothing(store: Store) -> None:
    import_file(store, DEMO)
    again = import_file(store, DEMO)
    assert again.counts.articles_added == 0 and again.counts.articles_skipped == 1
    assert store.counts()["articles"] == 1


def test_jsonl_fields_ids_and_lang(store: Store, tmp_path: Path) -> None:
    f = _write_jsonl(
        tmp_path / "a.jsonl",
        [
            {
                "id": "wire-1",
                "title": "T1",
                "text": "Moscow denied the report. Washington disagreed.",
                "lang": "en",
                "source": "AFP",
                "url": "http://x",
                "published": "2023-09-14",
            },
            {
                "text": "Le Kremlin a démenti ces informations. Washington n'est pas d'accord avec cela."
            },
        ],
    )
    res = import_file(store, f)
    assert res.error is None
    assert res.counts.articles_added == 2 and res.counts.sentences_added == 4
    assert store.corpus.sentence("wire-1:0") is not None
    assert store.corpus.sentence("wire-1:1") is not None
    other = next(a for a in store.corpus.article_ids() if a != "wire-1")
    art = store.corpus.article(other)
    assert art is not None and art.lang == "fr"


def test_nbsp_normalised_typography_kept(store: Store, tmp_path: Path) -> None:
    f = _write_jsonl(
        tmp_path / "n.jsonl",
        [{"id": "n", "text": "Il a dit\u00a0: «\u202fnon\u202f». Fin de l'histoire."}],
    )
    import_file(store, f)
    s = store.corpus.sentence("n:0")
    assert s is not None
    assert "\u00a0" not in s.text and "\u202f" not in s.text
    assert "«" in s.text


@pytest.mark.parametrize(
    ("content", "line", "reason"),
    [
        (b'{"text": "ok one."}\n{"text": "broken\n', 2, "broken JSON"),
        (b'{"text": "ok."}\n{"text": 12}\n', 2, "text"),
        (b'{"text": "ok."}\n\n{"text": "bad \xff byte."}\n', 3, "invalid UTF-8"),
        (b'{"text": "ok."}\n{"text": "nul \x00 here."}\n', 2, "NUL"),
        (b'{"text": "ok."}\n{"text": "esc nul \\u0000 here."}\n', 2, "NUL"),
        (b"[1, 2]\n", 1, "JSON object"),
        (b'{"title": "no text"}\n', 1, "text"),
        (b'{"text": "x.", "lang": "klingon!"}\n', 1, "lang"),
        (b"[" * 5000 + b"\n", 1, "broken JSON"),
    ],
)
def test_bad_lines_refuse_whole_file(
    store: Store, tmp_path: Path, content: bytes, line: int, reason: str
) -> None:
    f = tmp_path / "bad.jsonl"
    f.write_bytes(content)
    res = import_file(store, f)
    assert res.error is not None
    assert res.error.startswith(f"{f}:{line}: ")
    assert reason in res.error
    assert "\n" not in res.error
    assert store.counts()["articles"] == 0  # nothing partial


def test_bad_txt(store: Store, tmp_path: Path) -> None:
    f = tmp_path / "bad.txt"
    f.write_bytes("Titre\n\nPremière phrase.\nDeuxième \xe9 ligne.\n".encode("latin-1"))
    res = import_file(store, f)
    assert res.error is not None and res.error.startswith(f"{f}:3: invalid UTF-8")
    assert store.counts()["articles"] == 0


def test_empty_file_warns(store: Store, tmp_path: Path) -> None:
    f = tmp_path / "empty.jsonl"
    f.write_bytes(b"")
    res = import_file(store, f)
    assert res.error is None and res.warning is not None


def test_unicode_path_with_spaces(store: Store, tmp_path: Path) -> None:
    d = tmp_path / "dossier spécial été"
    d.mkdir()
    f = d / "article à lire.txt"
    f.write_text("Titre\n\nUne phrase. Une autre phrase.\n", encoding="utf-8")
    res = import_file(store, f)
    assert res.error is None and res.counts.sentences_added == 2


def test_import_locks_nothing_while_reading_and_is_still_all_or_nothing(tmp_path: Path) -> None:
    """Other processes (annotators) keep writing while a long file is read and segmented; the
    file lands in one short transaction at the end, or not at all."""
    from stanceterm import ingest
    from stanceterm.store import Annotation

    db = tmp_path / "t.db"
    main = Store.open(db)
    assert import_file(main, DEMO).error is None
    (first,) = main.corpus.article_ids()
    other = Store.open(db)
    records = [{"id": f"n{i}", "text": f"Phrase {i}. Une autre phrase {i}."} for i in range(30)]
    f = _write_jsonl(tmp_path / "news.jsonl", records)
    saved: list[int] = []
    original = ingest.read_jsonl

    def slow_reader(path: Path):  # type: ignore[no-untyped-def]
        for i, pending in enumerate(original(path)):
            if i == 15:  # mid-file: another process writes, with a short busy timeout
                other.conn.execute("PRAGMA busy_timeout = 100")
                other.labels.save(Annotation(f"{first}:0", "alice", "done", ("arms_deal",)))
                saved.append(i)
                # nothing of this file is visible yet
                assert other.counts()["articles"] == 1
            yield pending

    ingest.read_jsonl = slow_reader  # type: ignore[assignment]
    try:
        res = import_file(main, f)
    finally:
        ingest.read_jsonl = original  # type: ignore[assignment]
    assert res.error is None and saved == [15]
    assert res.counts.articles_added == 30 and res.counts.sentences_added == 60
    assert other.counts()["articles"] == 31
    ids = [r[1] for r in main.corpus.iter_sentence_rows() if r[2] == "n7"]
    assert ids == ["n7:0", "n7:1"]
    # a bad line at the end still refuses the whole file
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(f.read_bytes().replace(b'"n', b'"m') + b"{broken\n")
    res = import_file(main, bad)
    assert res.error and "bad.jsonl:31" in res.error
    assert main.counts()["articles"] == 31
    # the same file again adds nothing; duplicates inside one file are skipped once
    again = import_file(main, f)
    assert again.counts.articles_added == 0 and again.counts.articles_skipped == 30
    twice = [{"id": "z1", "text": "Y. Z."}, {"id": "z1", "text": "X."}]  # same id
    twice += [{"id": "z2", "text": "W."}, {"id": "z3", "text": "W."}]  # same content
    res = import_file(main, _write_jsonl(tmp_path / "dup.jsonl", twice))
    assert (res.counts.articles_added, res.counts.articles_skipped) == (2, 2)
    assert main.corpus.article("z1") is not None and main.corpus.article("z3") is None


def test_the_html_reader_does_not_rely_on_an_extra_that_old_pips_miss() -> None:
    """jusText (trafilatura's) asks for ``lxml[html_clean]``; lxml 6 spells that extra
    ``html-clean``, and the pip that ``python3 -m venv`` bundles (23.x) does not match the two
    spellings: the README's install then lacks ``lxml_html_clean`` and every .html import died
    with an internal error. The package must ask for it by name."""
    import tomllib

    from stanceterm import __file__ as pkg

    pyproject = Path(pkg).resolve().parents[2] / "pyproject.toml"
    deps = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    names = {re.split(r"[<>=!\[ ;]", d, maxsplit=1)[0].lower().replace("-", "_") for d in deps}
    assert "lxml_html_clean" in names


def test_importing_only_missing_files_creates_no_db(tmp_path: Path) -> None:
    """A typo in the file name left an empty DB behind, which later "no such database" hints
    then listed (new-user review)."""
    p = run("--db", "fresh.db", "import", "missing.jsonl", "gone.txt", cwd=tmp_path)
    assert_clean_error(p, "missing.jsonl: no such file")
    assert "gone.txt: no such file" in p.stderr
    assert not list(tmp_path.iterdir()), list(tmp_path.iterdir())
