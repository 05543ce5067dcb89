"""An article re-imported under an existing id with another text (issue 12 §6)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson

from tests.conftest import assert_clean_error, run


def _article(path: Path, text: str) -> Path:
    path.write_bytes(
        orjson.dumps({"id": "art1", "title": "Titre", "lang": "fr", "text": text}) + b"\n"
    )
    return path


V1 = "Moscou nie tout. Kim a signé l'accord. Les sanctions échouent."
# a sentence inserted at the start, the second one rewritten: indexes shift
V2 = "Un préambule arrive. Moscou nie tout. Kim n'a rien signé. Les sanctions échouent."


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


def _label_all(db: Path, tmp_path: Path) -> None:
    out = run("--db", str(db), "export", "--kind", "sentences", "--out", "-", cwd=tmp_path)
    recs = [orjson.loads(x) for x in out.stdout.splitlines()]
    f = tmp_path / "labels.jsonl"
    f.write_bytes(
        b"".join(
            orjson.dumps(
                {
                    "sentence_id": r["sentence_id"],
                    "text": r["text"],
                    "annotator": "alice",
                    "status": "done",
                    "claims": ["arms_deal"] if "Kim" in r["text"] else [],
                    "stances": [],
                }
            )
            + b"\n"
            for r in recs
        )
    )
    p = run("--db", str(db), "import-labels", str(f), cwd=tmp_path)
    assert p.returncode == 0, p.stderr


def test_changed_article_is_refused_then_replaced_keeping_unchanged_labels(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    p = run("--db", str(db), "import", str(_article(tmp_path / "v1.jsonl", V1)), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    _label_all(db, tmp_path)
    assert len(_labels(db)) == 3
    v2 = _article(tmp_path / "v2.jsonl", V2)
    p = run("--db", str(db), "import", str(v2), cwd=tmp_path)
    assert_clean_error(p, f"{v2}:1: article 'art1' already imported with another text")
    assert len(_labels(db)) == 3
    p = run("--db", str(db), "import", "--replace", str(v2), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    labels = _labels(db)
    # mapped by text, not by index: both unchanged sentences keep their labels
    assert labels == {"Moscou nie tout.": "[]", "Les sanctions échouent.": "[]"}
    # the dropped label is listed and kept in the history
    assert "Kim a signé l'accord." in p.stderr and "alice" in p.stderr, p.stderr
    # one consistent summary (a new user saw "no article ... (empty file?)" and "Imported 0
    # articles, 4 sentences" for a replaced article)
    assert "empty file" not in p.stderr and "warning" not in p.stderr, p.stderr
    assert "replaced 1 article" in p.stderr, p.stderr
    c = sqlite3.connect(db)
    texts = [r[0] for r in c.execute("SELECT text FROM sentences ORDER BY idx")]
    assert texts == [
        "Un préambule arrive.",
        "Moscou nie tout.",
        "Kim n'a rien signé.",
        "Les sanctions échouent.",
    ]
    kept = c.execute(
        "SELECT count(*) FROM annotation_events WHERE after IS NULL AND before LIKE '%arms_deal%'"
    ).fetchone()[0]
    assert kept == 1
    assert c.execute("PRAGMA foreign_key_check").fetchall() == []
    assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    c.close()
    # the same file again changes nothing
    p = run("--db", str(db), "import", "--replace", str(v2), cwd=tmp_path)
    assert p.returncode == 0 and "Imported 0 articles," in p.stderr, p.stderr


def test_replace_refused_by_a_dedup_cluster_names_the_line_and_the_way_out(
    tmp_path: Path,
) -> None:
    """The refusal said "resolve it first", with no line and no way to do so (new-user
    review): it names file:line and the command."""
    db = tmp_path / "t.db"
    src = tmp_path / "a.jsonl"
    copy = "Kim a signé l'accord portant sur 1000 conteneurs."
    src.write_bytes(
        orjson.dumps({"id": "other", "lang": "fr", "text": "Rien. " + copy})
        + b"\n"
        + orjson.dumps({"id": "art1", "lang": "fr", "text": "Moscou nie tout. " + copy})
        + b"\n"
    )
    assert run("--db", str(db), "import", str(src), cwd=tmp_path).returncode == 0
    assert run("--db", str(db), "dedup", cwd=tmp_path).returncode == 0
    c = sqlite3.connect(db)
    rep = c.execute("SELECT representative_id FROM clusters").fetchone()[0]
    c.close()
    aid = rep.split(":")[0]
    line = 1 if aid == "other" else 2
    fixed = tmp_path / "fixed.jsonl"
    first = "Rien. " if aid == "other" else "Moscou nie tout. "
    fixed.write_bytes(
        b"\n" * (line - 1)
        + orjson.dumps({"id": aid, "lang": "fr", "text": first + copy.replace("1000", "2000")})
        + b"\n"
    )
    p = run("--db", str(db), "import", "--replace", str(fixed), cwd=tmp_path)
    assert_clean_error(p, f"{fixed}:{line}:")
    assert f"stanceterm dedup split {rep}" in p.stderr, p.stderr
