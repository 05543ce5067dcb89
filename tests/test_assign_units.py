"""A dedup cluster is ONE unit for overlap assignment too (ROUND-NOTES, Dedup: "Units").

* ``stanceterm assign`` after dedup gives each cluster out once, as its representative, to
  ``--overlap`` annotators; a copy (hidden, or kept visible by a label written before dedup) is
  never given out on its own.
* Assigning before dedup, then running dedup: an assignment of a copy follows the representative
  (the copy's holder now has the representative in their queue), so copies do not stay separate
  work for different people. A holder who already labelled their copy keeps it: that label is
  their version of the unit (agreement, review and ``export --kind final`` read it).
* ``assign --extend`` treats a unit as assigned when any of its sentences is; a copy split out of
  its cluster is a unit of its own and is given out.
* ``export --kind final`` counts a cluster once (labels on two copies are one unit).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson
import pytest
from conftest import add_article, run

from stanceterm.store import Annotation, Stance, Store

SENT = (
    "The State Department said more than 1,000 containers of munitions had been shipped to "
    "Russia, Matthew Miller said."
)
COPY_B = "According to Reuters, " + SENT.replace("1,000", "1 000")
COPY_C = SENT.replace(", Matthew Miller said.", ", said Matthew Miller.")
COPIES = ("reuters:0", "ap:0")
REP = "afp:0"


def outlets(path: Path) -> Store:
    """Three outlets, each a copy of one statement then a line of its own (6 sentences)."""
    store = Store.open(path)
    add_article(store, "afp", [SENT, "Only the first outlet has this closing line today."])
    add_article(store, "reuters", [COPY_B, "Reuters closes with a line about the markets."])
    add_article(store, "ap", [COPY_C, "The third outlet ends on the weather in Moscow."])
    return store


def assignments(path: Path) -> list[tuple[str, str]]:
    """(annotator, sentence id) of every assignment, read as a separate process would."""
    with Store.open(path) as s, s.read() as c:
        rows = c.execute(
            "SELECT annotator, sentence_id FROM assignments ORDER BY annotator, seq"
        ).fetchall()
    return [(str(a), str(b)) for a, b in rows]


def holders(rows: list[tuple[str, str]], sid: str) -> set[str]:
    return {a for a, s in rows if s == sid}


def label(store: Store, sid: str, who: str, stance: str = "support") -> None:
    store.labels.save(
        Annotation(
            sid, who, "done", ("arms_deal",), (Stance("arms_deal", "les-etats-unis", stance),)
        )
    )


def ok(*args: str, cwd: Path) -> str:
    p = run("--db", "t.db", *args, cwd=cwd)
    assert p.returncode == 0, p.stderr
    return p.stdout + p.stderr


def test_assign_after_dedup_gives_a_cluster_out_once_as_its_representative(
    tmp_path: Path,
) -> None:
    store = outlets(tmp_path / "t.db")
    label(store, "ap:0", "dave")  # work done before dedup keeps this copy visible
    store.close()
    ok("dedup", cwd=tmp_path)
    with Store.open(tmp_path / "t.db") as s:
        assert not s.corpus.sentence("ap:0").hidden  # type: ignore[union-attr]
        assert s.corpus.sentence("reuters:0").hidden  # type: ignore[union-attr]
    ok("assign", "--annotators", "alice,bob,carol", "--overlap", "2", cwd=tmp_path)
    rows = assignments(tmp_path / "t.db")
    per_sentence = Counter(sid for _, sid in rows)
    # 4 units (the cluster and three closing lines), each to exactly 2 annotators
    assert per_sentence == {
        REP: 2,
        "afp:1": 2,
        "reuters:1": 2,
        "ap:1": 2,
    }, per_sentence
    loads = Counter(a for a, _ in rows)
    assert max(loads.values()) - min(loads.values()) <= 1
    # the CLI counts units, not sentences
    out = ok("assign", "--annotators", "alice,bob,carol", "--replace", cwd=tmp_path)
    assert "4 sentences" in out or "4 units" in out, out
    assert Counter(sid for _, sid in assignments(tmp_path / "t.db")) == {
        REP: 1,
        "afp:1": 1,
        "reuters:1": 1,
        "ap:1": 1,
    }


def test_assign_before_dedup_then_dedup_assignments_follow_the_representative(
    tmp_path: Path,
) -> None:
    outlets(tmp_path / "t.db").close()
    ok("assign", "--annotators", "alice,bob,carol", cwd=tmp_path)  # overlap 1, runs of 2
    before = assignments(tmp_path / "t.db")
    (rep_holder,) = holders(before, REP)
    (b_holder,) = holders(before, "reuters:0")
    (c_holder,) = holders(before, "ap:0")
    assert len({rep_holder, b_holder, c_holder}) == 3  # the three copies went to three people
    with Store.open(tmp_path / "t.db") as s:
        label(s, "reuters:0", b_holder)  # b_holder already did their copy
    ok("dedup", cwd=tmp_path)
    after = assignments(tmp_path / "t.db")
    # c_holder's copy was not started: the assignment now names the representative
    assert holders(after, "ap:0") == set()
    assert holders(after, REP) == {rep_holder, c_holder}
    # b_holder's copy carries their label: it stays in their queue, as their version of the unit
    assert holders(after, "reuters:0") == {b_holder}
    # nobody holds a hidden sentence, and each queue is exactly its assignments
    with Store.open(tmp_path / "t.db") as s:
        for who in (rep_holder, b_holder, c_holder):
            mine = [sid for a, sid in after if a == who]
            assert all(not s.corpus.sentence(x).hidden for x in mine)  # type: ignore[union-attr]
            assert s.team.queue_size(who) == len(mine)
        assert s.team.assigned_loads() == Counter(a for a, _ in after)
        # the two people holding the unit label it: one unit, two versions
        label(s, REP, rep_holder, "support")
        label(s, REP, c_holder, "oppose")
    out = tmp_path / "final.jsonl"
    p = run("--db", "t.db", "export", "--kind", "final", "--out", str(out), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "disagree 1" in p.stderr, p.stderr  # the unit, once (three versions, two stances)


def test_extend_counts_a_unit_as_assigned_and_gives_out_a_split_copy(tmp_path: Path) -> None:
    store = outlets(tmp_path / "t.db")
    label(store, "ap:0", "dave")  # a visible copy, held by nobody
    store.close()
    ok("dedup", cwd=tmp_path)
    ok("assign", "--annotators", "alice,bob", cwd=tmp_path)
    out = ok("assign", "--annotators", "alice,bob", "--extend", cwd=tmp_path)
    assert "Nothing to assign" in out, out  # ap:0 belongs to an assigned unit
    with Store.open(tmp_path / "t.db") as s:
        s.clusters.split("ap:0")  # now a unit of its own
    ok("assign", "--annotators", "alice,bob", "--extend", cwd=tmp_path)
    assert len(holders(assignments(tmp_path / "t.db"), "ap:0")) == 1


def test_final_export_counts_a_cluster_labelled_on_two_copies_once(tmp_path: Path) -> None:
    store = outlets(tmp_path / "t.db")
    label(store, "reuters:0", "alice")  # before dedup, on two different copies
    label(store, "ap:0", "bob")
    label(store, "afp:1", "carol")  # the same person twice on one unit is one annotator:
    store.close()
    ok("dedup", cwd=tmp_path)
    with Store.open(tmp_path / "t.db") as s:
        label(s, "afp:1", "carol")  # (saving again changes nothing)
    out = tmp_path / "final.jsonl"
    p = run("--db", "t.db", "export", "--kind", "final", "--out", str(out), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    rows = {r["sentence_id"]: r for r in map(orjson.loads, out.read_bytes().splitlines())}
    assert rows[REP]["source"] == "agreed" and rows[REP]["annotators"] == ["alice", "bob"]
    assert {rows[c]["propagated_from"] for c in COPIES} == {REP}
    assert "agreed 1," in p.stderr, p.stderr  # one unit, three lines
    assert "fewer than 2 annotators 1" in p.stderr, p.stderr  # carol's afp:1 only


def test_final_export_one_annotator_on_two_copies_is_one_annotator(tmp_path: Path) -> None:
    store = outlets(tmp_path / "t.db")
    label(store, "reuters:0", "alice")
    label(store, "ap:0", "alice")
    store.close()
    ok("dedup", cwd=tmp_path)
    out = tmp_path / "final.jsonl"
    p = run("--db", "t.db", "export", "--kind", "final", "--out", str(out), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert out.read_bytes() == b""
    assert "fewer than 2 annotators 1" in p.stderr, p.stderr


def test_upgrade_re_points_assignments_made_before_the_rule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stanceterm.dedup import run_dedup
    from stanceterm.store import migrations as store_mod
    from stanceterm.team import assign

    p = tmp_path / "t.db"
    with monkeypatch.context() as mp:  # a DB as the previous version wrote it
        # the version before the migration that adds the rule (whatever its number)
        rule = next(v for v, sql in store_mod.MIGRATIONS if "sentences_assignments_follow" in sql)
        mp.setattr(store_mod, "MIGRATIONS", [m for m in store_mod.MIGRATIONS if m[0] < rule])
        mp.setattr(store_mod, "LATEST_VERSION", rule - 1)
        s = outlets(p)
        assign(s, ["alice", "bob", "carol"], 1)
        before = assignments_of(s)
        (b_holder,) = holders(before, "reuters:0")
        label(s, "reuters:0", b_holder)  # b_holder did their copy
        run_dedup(s)
        assert assignments_of(s) == before  # the old DB left copies assigned apart
        s.close()
    (c_holder,) = holders(before, "ap:0")
    (rep_holder,) = holders(before, REP)
    s = Store.open(p, migrate=True)  # as `stanceterm upgrade` does
    try:
        after = assignments_of(s)
    finally:
        s.close()
    assert holders(after, "ap:0") == set()
    assert holders(after, REP) == {rep_holder, c_holder}
    assert holders(after, "reuters:0") == {b_holder}


def assignments_of(s: Store) -> list[tuple[str, str]]:
    with s.read() as c:
        rows = c.execute("SELECT annotator, sentence_id FROM assignments ORDER BY 1, seq")
        return [(str(a), str(b)) for a, b in rows]
