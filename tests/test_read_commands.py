"""Commands that only read never write the DB, so they run beside a writer holding the lock.

Getters never write: `agreement`, `review`'s schema lookup, `stats` and `export` used to record the
label schema on every run (a write transaction), so they waited for, and competed with, the
annotators' writes. Real CLI subprocesses, while this process holds the DB's write lock.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from stanceterm.schema import load_schema
from stanceterm.store import Annotation, ImportCounts, NewArticle, Stance, Store

TIMEOUT = 25  # a command waiting for the write lock would retry for 60 s


def _db(tmp_path: Path) -> Path:
    path = tmp_path / "t.db"
    store = Store.open(path)
    store.set_label_schema(load_schema())
    texts = ["Poutine soutient l'accord.", "Kim dément.", "Rien."]
    art = NewArticle("a1", "T", None, None, None, "fr", "h1", texts, [t.lower() for t in texts])
    with store.tx():
        store.corpus.insert_articles([art], ImportCounts())
    putin = store.actors.add("Vladimir Poutine")
    for who in ("alice", "bob"):
        store.labels.save(
            Annotation(
                "a1:0", who, "done", ("arms_deal",), (Stance("arms_deal", putin, "support"),)
            )
        )
        store.labels.save(Annotation("a1:1", who, "done", ("denial",) if who == "bob" else ()))
    store.close()
    return path


def _run(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STANCETERM_")}
    return subprocess.run(
        [sys.executable, "-m", "stanceterm", "--db", str(path), *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=path.parent,
        env=env,
    )


def _state(path: Path) -> tuple[int, int, int]:
    c = sqlite3.connect(path)
    try:
        return (
            c.execute("SELECT count(*) FROM annotation_events").fetchone()[0],
            c.execute("SELECT count(*) FROM meta").fetchone()[0],
            c.execute("SELECT count(*) FROM actors").fetchone()[0],
        )
    finally:
        c.close()


@pytest.mark.parametrize(
    "args",
    [
        ["agreement"],
        ["agreement", "--json"],
        ["stats"],
        ["export", "--kind", "annotations"],
    ],
    ids=lambda a: "-".join(a),
)
def test_read_commands_never_take_the_write_lock(tmp_path: Path, args: list[str]) -> None:
    path = _db(tmp_path)
    before = _state(path)
    writer = sqlite3.connect(path, isolation_level=None, timeout=0)
    writer.execute("BEGIN IMMEDIATE")  # an annotator's write in progress, held throughout
    try:
        proc = _run(path, *args)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert proc.returncode == 0, proc.stderr
    assert _state(path) == before


def test_an_explicit_schema_is_still_recorded(tmp_path: Path) -> None:
    """--schema keeps its meaning: an explicit schema is recorded (through the write path)."""
    path = _db(tmp_path)
    schema = load_schema()
    data = schema.model_dump(mode="json")
    data["actors"] = [*data.get("actors", []), {"name": "Nouvel Acteur", "aliases": []}]
    custom = tmp_path / "schema.json"
    custom.write_text(__import__("json").dumps(data), encoding="utf-8")
    proc = _run(path, "--schema", str(custom), "agreement")
    assert proc.returncode == 0, proc.stderr
    s = Store.open(path)
    try:
        assert s.actors.resolve("Nouvel Acteur") is not None  # the gazetteer was seeded
        stored = s.label_schema()
        assert stored is not None and "Nouvel Acteur" in [a.name for a in stored.actors]
    finally:
        s.close()
