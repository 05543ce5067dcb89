"""``stanceterm actors list | rename | merge | alias | undo`` as a user runs them (issue 15 §2):
actor operations are replicated events; a merge rewrites labels through the history without
making them newer, and agreement/review/export follow it."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson

from stanceterm.actors import alias_key
from stanceterm.store import Annotation, Stance, Store
from tests.conftest import S, assert_clean_error, demo_db, run


def _db(tmp: Path) -> Path:
    s = demo_db(tmp / "t.db")
    s.labels.save(
        Annotation(S(0), "alice", "done", ("denial",), (Stance("denial", "le-kremlin", "oppose"),))
    )
    s.labels.save(
        Annotation(
            S(0), "bob", "done", ("denial",), (Stance("denial", "vladimir-poutine", "oppose"),)
        )
    )
    s.close()
    return tmp / "t.db"


def _labels(db: Path) -> dict[tuple[str, str], tuple[list[str], str]]:
    s = Store.open(db)
    try:
        out = {}
        for who in ("alice", "bob"):
            a = s.labels.get(S(0), who)
            assert a is not None
            out[(S(0), who)] = ([st.actor for st in a.stances], a.updated_at)
        return out
    finally:
        s.close()


def test_actors_merge_rewrites_labels_not_newer_and_undo_puts_them_back(tmp_path: Path) -> None:
    db = _db(tmp_path)
    before = _labels(db)
    p = run("--db", str(db), "actors", "merge", "Vladimir Poutine", "le Kremlin", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "1 label rewritten" in p.stderr
    after = _labels(db)
    assert after[(S(0), "alice")][0] == ["vladimir-poutine"]
    assert after[(S(0), "alice")][1] == before[(S(0), "alice")][1]  # updated_at unchanged
    out = tmp_path / "labels.jsonl"
    # the label history records the rewrite
    s = Store.open(db)
    with s.read() as c:
        n = c.execute(
            "SELECT count(*) FROM annotation_events WHERE action = 'actor-merge'"
        ).fetchone()[0]
    assert s.actors.resolve("the kremlin") == "vladimir-poutine"
    assert s.actors.canonical()["le-kremlin"] == "vladimir-poutine"  # review and agreement
    s.close()
    assert n == 1
    p = run("--db", str(db), "actors", "list", "--json", cwd=tmp_path)
    rows = {r["id"]: r for r in orjson.loads(p.stdout)}
    assert rows["le-kremlin"]["merged_into"] == "vladimir-poutine"
    assert rows["vladimir-poutine"]["labels"] == 2
    p = run("--db", str(db), "actors", "undo", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert _labels(db) == before
    p = run("--db", str(db), "export", "--out", str(out), cwd=tmp_path)
    assert p.returncode == 0
    assert b'"actor_id":"le-kremlin"' in out.read_bytes() or b"le Kremlin" in out.read_bytes()


def test_actors_rename_and_alias_are_trusted_and_replicated_by_merge(tmp_path: Path) -> None:
    db = _db(tmp_path)
    shutil.copy(db, tmp_path / "laptop.db")
    p = run(
        "--db", str(db), "actors", "rename", "la Russie", "la Fédération de Russie", cwd=tmp_path
    )
    assert p.returncode == 0, p.stderr
    p = run("--db", str(db), "actors", "alias", "la-russie", "Moscou", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    rows = {
        r["id"]: r
        for r in orjson.loads(run("--db", str(db), "actors", "list", "--json", cwd=tmp_path).stdout)
    }
    assert rows["la-russie"]["name"] == "la Fédération de Russie"
    assert {"alias": "Moscou", "trusted": True} in rows["la-russie"]["aliases"]
    # the laptop gets the operations through merge, and merging back changes nothing
    p = run("--db", str(tmp_path / "laptop.db"), "merge", str(db), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    got = {
        r["id"]: r
        for r in orjson.loads(
            run(
                "--db", str(tmp_path / "laptop.db"), "actors", "list", "--json", cwd=tmp_path
            ).stdout
        )
    }
    assert got["la-russie"]["name"] == "la Fédération de Russie"
    assert {"alias": "Moscou", "trusted": True} in got["la-russie"]["aliases"]


def test_actors_refusals_are_one_line(tmp_path: Path) -> None:
    db = _db(tmp_path)
    assert_clean_error(
        run("--db", str(db), "actors", "merge", "nobody", "la Russie", cwd=tmp_path),
        "no actor named",
    )
    assert_clean_error(
        run("--db", str(db), "actors", "rename", "la Russie", "l'Ukraine", cwd=tmp_path),
        "already named",
    )
    assert_clean_error(run("--db", str(db), "actors", "undo", cwd=tmp_path), "no actor operation")


def test_alias_naming_another_actor_is_refused_not_a_silent_merge(tmp_path: Path) -> None:
    """`actors alias vladimir-poutine "Kim Jong-un"` (the display name of kim-jong-un, spelled
    with a hyphen) used to merge Kim into Putin without a word, and every label on Kim then read
    as Putin on every replica. A name of another actor is refused; moving another actor's alias
    needs --move."""
    db = _db(tmp_path)
    before = run("--db", str(db), "actors", "list", "--json", cwd=tmp_path).stdout
    p = run("--db", str(db), "actors", "alias", "vladimir-poutine", "Kim Jong-un", cwd=tmp_path)
    assert_clean_error(p, "actors merge")
    assert run("--db", str(db), "actors", "list", "--json", cwd=tmp_path).stdout == before
    rows = {r["id"]: r for r in orjson.loads(before)}
    other = next(
        (a["alias"], r["id"])
        for r in rows.values()
        for a in r["aliases"]
        if r["id"] != "la-russie" and alias_key(a["alias"]) != alias_key(r["name"])
    )
    p = run("--db", str(db), "actors", "alias", "la-russie", other[0], cwd=tmp_path)
    assert_clean_error(p, "--move")
    assert run("--db", str(db), "actors", "list", "--json", cwd=tmp_path).stdout == before
    p = run("--db", str(db), "actors", "alias", "--move", "la-russie", other[0], cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    after = {
        r["id"]: r
        for r in orjson.loads(run("--db", str(db), "actors", "list", "--json", cwd=tmp_path).stdout)
    }
    assert any(a["alias"] == other[0] for a in after["la-russie"]["aliases"])
    assert after[other[1]]["merged_into"] is None
