"""Gold has a history (issue 12 §7): every decision is an append-only event, re-deciding in a
later session keeps the earlier one, undo works across sessions, `export --kind gold --history`
writes the trail, and gold converges under merge."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson

from stanceterm.store import Gold, Store
from stanceterm.team import merge_databases
from tests.conftest import S, demo_db, run


def test_redecide_in_a_later_session_keeps_history_and_undo_crosses_sessions(
    tmp_path: Path,
) -> None:
    s = demo_db(tmp_path / "t.db")
    s.gold.set(Gold(S(1), "gold", ("denial",), (), "lead", "alice"))
    s.close()
    s = Store.open(tmp_path / "t.db")  # a later session
    s.gold.set(Gold(S(1), "unresolvable", (), (), "lead", None, note="unclear"))
    s.close()
    s = Store.open(tmp_path / "t.db")  # and another: undo reaches the earlier session's decision
    done = s.gold.undo("lead")
    assert done is not None and done[0] == S(1)
    got = s.gold.get(S(1))
    assert got is not None and got.status == "gold" and got.claims == ("denial",)
    assert s.gold.undo("lead") is not None and s.gold.get(S(1)) is None
    assert s.gold.undo("lead") is None
    assert [e["action"] for e in s.gold.history(S(1))] == ["decide", "decide", "undo", "undo"]
    s.close()
    out = tmp_path / "trail.jsonl"
    p = run(
        "--db",
        str(tmp_path / "t.db"),
        "export",
        "--kind",
        "gold",
        "--history",
        "--out",
        str(out),
        cwd=tmp_path,
    )
    assert p.returncode == 0, p.stderr
    trail = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    assert [t["action"] for t in trail] == ["decide", "decide", "undo", "undo"]
    assert trail[1]["replaced"]["status"] == "gold" and trail[1]["labels"]["status"] == (
        "unresolvable"
    )
    assert trail[1]["adjudicator"] == "lead" and trail[1]["time"] > trail[0]["time"]
    assert trail[2]["undoes"] == trail[1]["event_id"]
    assert [t["standing"] for t in trail] == [False, False, False, True]
    assert trail[3]["labels"] is None  # the standing state: no gold
    p = run(
        "--db", str(tmp_path / "t.db"), "export", "--kind", "annotations", "--history", cwd=tmp_path
    )
    assert p.returncode != 0 and "--history goes with --kind gold" in p.stderr


def test_gold_undo_on_a_laptop_wins_both_ways(tmp_path: Path) -> None:
    s = demo_db(tmp_path / "a.db")
    s.gold.set(Gold(S(2), "gold", ("denial",), (), "lead", "alice"))
    s.close()
    shutil.copy(tmp_path / "a.db", tmp_path / "b.db")
    a = Store.open(tmp_path / "a.db")
    a.gold.set(Gold(S(2), "gold", ("arms_deal",), (), "lead", "bob"))  # re-decided on a ...
    a.close()
    b = Store.open(tmp_path / "b.db")
    assert b.gold.undo("lead") is not None  # ... later, the first decision undone on b
    b.close()
    shutil.copy(tmp_path / "a.db", tmp_path / "a0.db")
    shutil.copy(tmp_path / "b.db", tmp_path / "b0.db")
    a, b = Store.open(tmp_path / "a.db"), Store.open(tmp_path / "b.db")
    merge_databases(a, [tmp_path / "b0.db"])
    merge_databases(b, [tmp_path / "a0.db"])
    assert a.gold.get(S(2)) is None and b.gold.get(S(2)) is None
    assert len(a.gold.history(S(2))) == len(b.gold.history(S(2))) == 3
    a.close()
    b.close()
