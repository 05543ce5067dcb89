"""The documented SQL views (labels_flat, gold_flat) agree with the exports, row for row.

They are what the README shows users querying with `sqlite-utils` and browsing with datasette.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import sqlite_utils

from stanceterm.schema import load_schema
from stanceterm.store import Annotation, Gold, ImportCounts, NewArticle, Stance, Store

ROW = tuple[Any, ...]


def _db(tmp_path: Path) -> Path:
    path = tmp_path / "t.db"
    s = Store.open(path)
    s.set_label_schema(load_schema())
    texts = ["Poutine soutient l'accord.", "Kim dément tout.", "Rien ici.", "Encore « rien »."]
    art = NewArticle("a1", "T", None, None, None, "fr", "h1", texts, [t.lower() for t in texts])
    with s.tx():
        s.corpus.insert_articles([art], ImportCounts())
    putin, kim = s.actors.add("Vladimir Poutine"), s.actors.add("Kim Jong Un")
    two = (Stance("arms_deal", putin, "support"), Stance("arms_deal", kim, "support"))
    s.labels.save(Annotation("a1:0", "alice", "done", ("arms_deal", "denial"), two, note="n"))
    s.labels.save(Annotation("a1:0", "bob", "done", ("arms_deal",), two[:1]))
    s.labels.save(Annotation("a1:1", "alice", "done", ()))  # done, no claim
    s.labels.save(Annotation("a1:1", "bob", "skipped"))
    s.labels.save(Annotation("a1:2", "bob", "flagged", ("denial",), note="?"))
    s.labels.save(Annotation("a1:3", "alice", "draft", ("arms_deal",), two[1:]))
    g = Gold("a1:0", "gold", ("arms_deal",), two[:1], "carol", "alice")
    s.gold.set(g)
    s.gold.set(Gold("a1:2", "unresolvable", (), (), "carol", None, note="unclear"))
    s.gold.set(Gold("a1:1", "gold", ("denial",), (), "carol", None))
    s.close()
    return path


def _export(path: Path, kind: str, *extra: str) -> list[dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STANCETERM_")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "stanceterm",
            "--db",
            str(path),
            "export",
            "--kind",
            kind,
            "--out",
            "-",
            *extra,
        ],
        capture_output=True,
        timeout=60,
        cwd=path.parent,
        env=env,
        check=True,
    )
    return [orjson.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def _flatten(rec: dict[str, Any], head: ROW) -> list[ROW]:
    """The documented rule: a row per stance; a claim without stance, or no claim at all, still
    gives a row (with NULLs)."""
    rows = [
        (*head, st["claim"], st["actor_id"], st["actor"], st["stance"]) for st in rec["stances"]
    ]
    with_stance = {st["claim"] for st in rec["stances"]}
    rows += [(*head, c, None, None, None) for c in rec["claims"] if c not in with_stance]
    if not rec["claims"] and not rec["stances"]:
        rows.append((*head, None, None, None, None))
    return rows


def test_labels_flat_matches_the_annotations_export(tmp_path: Path) -> None:
    path = _db(tmp_path)
    expected: list[ROW] = []
    every = [a for st in ("done", "skipped", "flagged", "draft") for a in ("--status", st)]
    for rec in _export(path, "annotations", *every):  # the view has drafts too
        head = (rec["sentence_id"], rec["text"], rec["annotator"], rec["status"], rec["note"])
        expected += _flatten(rec, head)
    db = sqlite_utils.Database(path)
    assert {"labels_flat", "gold_flat"} <= set(db.view_names())
    got = [
        tuple(r.values())
        for r in db.query(
            "SELECT sentence_id, text, annotator, status, note, claim, actor_id, actor, stance "
            "FROM labels_flat"
        )
    ]
    key = repr
    assert sorted(got, key=key) == sorted(expected, key=key)
    assert len(expected) == 8  # alice a1:0: two stances + a claim with none; one row each else
    # every label appears at least once, "done with no claim" as a NULL-claim row
    assert ("a1:1", "Kim dément tout.", "alice", "done", None, None, None, None, None) in got
    db.close()


def test_gold_flat_matches_the_gold_export(tmp_path: Path) -> None:
    path = _db(tmp_path)
    expected: list[ROW] = []
    for rec in _export(path, "gold"):
        head = (rec["sentence_id"], rec["status"], rec["adjudicator"], rec["note"])
        expected += _flatten(rec, head)
    db = sqlite_utils.Database(path)
    got = [
        tuple(r.values())
        for r in db.query(
            "SELECT sentence_id, status, adjudicator, note, claim, actor_id, actor, stance "
            "FROM gold_flat"
        )
    ]
    assert sorted(got, key=repr) == sorted(expected, key=repr)
    assert ("a1:2", "unresolvable", "carol", "unclear", None, None, None, None) in got
    db.close()
