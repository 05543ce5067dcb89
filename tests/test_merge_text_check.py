"""Merge checks the text an event was about (issue 12 §4 leftovers): after `import --replace`,
the old label events of a dropped sentence keep its id (`article:index`), which may now name
another sentence; merge (and any replay of events) must not land them on that sentence."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import orjson

from tests.conftest import run

V1 = "Moscou nie tout. Kim a signé l'accord. Les sanctions échouent."
# the middle sentence is dropped: "Les sanctions échouent." moves from art1:2 to art1:1
V2 = "Moscou nie tout. Les sanctions échouent."


def _article(path: Path, text: str) -> Path:
    path.write_bytes(
        orjson.dumps({"id": "art1", "title": "Titre", "lang": "fr", "text": text}) + b"\n"
    )
    return path


def _replace_with_v2(db: Path, tmp: Path) -> Path:
    """`import --replace` of the article's second version (its middle sentence dropped); returns
    that version's file."""
    v2 = _article(tmp / "v2.jsonl", V2)
    p = run("--db", str(db), "import", "--replace", str(v2), cwd=tmp)
    assert p.returncode == 0, p.stderr
    return v2


def _import_label(db: Path, tmp: Path, sid: str, text: str, claims: list[str]) -> None:
    f = tmp / "one.jsonl"
    rec = {
        "sentence_id": sid,
        "text": text,
        "annotator": "alice",
        "status": "done",
        "claims": claims,
        "stances": [],
    }
    f.write_bytes(orjson.dumps(rec) + b"\n")
    p = run("--db", str(db), "import-labels", str(f), cwd=tmp)
    assert p.returncode == 0, p.stderr


def _labels(db: Path) -> dict[str, str]:
    c = sqlite3.connect(db)
    try:
        return {
            str(t): str(cl)
            for t, cl in c.execute(
                "SELECT s.text, a.claims FROM annotations a JOIN sentences s ON s.id = a.sentence_id"
            )
        }
    finally:
        c.close()


def test_old_events_of_a_replaced_sentence_never_land_on_the_sentence_now_at_its_id(
    tmp_path: Path,
) -> None:
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    assert (
        run(
            "--db", str(a), "import", str(_article(tmp_path / "v1.jsonl", V1)), cwd=tmp_path
        ).returncode
        == 0
    )
    # first the label that survives the replacement, then (later) the one on the dropped sentence
    _import_label(a, tmp_path, "art1:2", "Les sanctions échouent.", [])
    _import_label(a, tmp_path, "art1:1", "Kim a signé l'accord.", ["arms_deal"])
    shutil.copy(a, b)
    for db in (a, b):  # both laptops replace the article (b later)
        _replace_with_v2(db, tmp_path)
    want = {"Les sanctions échouent.": "[]"}
    assert _labels(a) == want and _labels(b) == want
    p = run("--db", str(a), "merge", str(b), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    # art1:1 now names "Les sanctions échouent."; the Kim label's events (and b's tombstone for
    # it) are about another text: the label moved there stays, unchanged
    assert _labels(a) == want
    p = run("--db", str(b), "merge", str(a), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert _labels(b) == want


def test_merge_skips_events_about_another_text_with_a_count_and_one_warning(
    tmp_path: Path,
) -> None:
    """A replica that replaced the article merges one that labelled the dropped sentence before
    the copy: the current texts agree, but the old events name another text; they are skipped,
    counted, and said in one line."""
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    assert (
        run(
            "--db", str(a), "import", str(_article(tmp_path / "v1.jsonl", V1)), cwd=tmp_path
        ).returncode
        == 0
    )
    _import_label(a, tmp_path, "art1:2", "Les sanctions échouent.", [])
    _import_label(a, tmp_path, "art1:1", "Kim a signé l'accord.", ["arms_deal"])
    v2 = _replace_with_v2(a, tmp_path)
    shutil.copy(a, b)
    # b's history has the Kim events under art1:1, and a fresh DB c replays b's events
    c = tmp_path / "c.db"
    assert run("--db", str(c), "import", str(v2), cwd=tmp_path).returncode == 0
    p = run("--db", str(c), "merge", str(b), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert _labels(c) == {"Les sanctions échouent.": "[]"}
    warnings = [x for x in p.stderr.splitlines() if "another text" in x]
    assert len(warnings) == 1, p.stderr
    assert "b.db" in warnings[0] and "2 label events" in warnings[0], warnings


def test_undo_after_replace_never_restores_a_label_onto_another_sentence(tmp_path: Path) -> None:
    """`u` (labels.undo) replays the latest event of the annotator: the `replace` event of the
    dropped Kim sentence names art1:1, which now holds "Les sanctions échouent."; it is about
    another text, so undo leaves it alone."""
    from stanceterm.store import Annotation, Store

    a = tmp_path / "a.db"
    assert (
        run(
            "--db", str(a), "import", str(_article(tmp_path / "v1.jsonl", V1)), cwd=tmp_path
        ).returncode
        == 0
    )
    s = Store.open(a)
    s.labels.save(Annotation("art1:1", "alice", "done", ("arms_deal",)))  # on the Kim sentence
    s.close()
    _replace_with_v2(a, tmp_path)
    s = Store.open(a)
    s.labels.undo("alice")
    s.close()
    assert _labels(a) == {}, "the Kim label came back on another sentence"


def test_undo_import_after_replace_leaves_a_label_on_the_new_sentence_at_its_id(
    tmp_path: Path,
) -> None:
    """An import run labelled "Kim a signé l'accord." at art1:1; `import --replace` drops that
    sentence, so art1:1 now names "Les sanctions échouent.", and a second run labels it with the
    same claims. Undoing the FIRST run must not delete the second run's label: the first run's
    event is about another text."""
    a = tmp_path / "a.db"
    p = run("--db", str(a), "import", str(_article(tmp_path / "v1.jsonl", V1)), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    _import_label(a, tmp_path, "art1:1", "Kim a signé l'accord.", ["arms_deal"])
    c = sqlite3.connect(a)
    first_run = c.execute("SELECT id FROM import_runs ORDER BY started_at LIMIT 1").fetchone()[0]
    c.close()
    _replace_with_v2(a, tmp_path)
    _import_label(a, tmp_path, "art1:1", "Les sanctions échouent.", ["arms_deal"])
    assert _labels(a) == {"Les sanctions échouent.": '["arms_deal"]'}
    p = run("--db", str(a), "undo-import", str(first_run), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert _labels(a) == {"Les sanctions échouent.": '["arms_deal"]'}, "undo-import moved a label"
