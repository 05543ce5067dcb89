"""Merging other annotators' DB files: matching, last-writer-wins, idempotence, refusals, atomicity."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stanceterm.export import export
from stanceterm.schema import LabelSchema, load_schema
from stanceterm.store import Annotation, Gold, MergeConflict, Stance, Store, StoreError
from stanceterm.store.labels import save_in
from stanceterm.team import merge_databases
from tests.conftest import (
    AID,
    ROOT,
    S,
    add_article,
    assert_clean_error,
    fingerprint,
    run,
    snapshot,
)
from tests.conftest import demo_db as new_db


def test_merge_copies_labels_history_and_is_idempotent(tmp_path: Path) -> None:
    # alice works on a copy of the team DB (same db_uid); bob imported the article on his own
    team = new_db(tmp_path / "team.db")
    team.labels.save(Annotation(S(0), "carol", "done", ("arms_deal",)))
    team.close()
    shutil.copy(tmp_path / "team.db", tmp_path / "alice.db")
    alice = Store.open(tmp_path / "alice.db")
    bob = new_db(tmp_path / "bob.db")
    alice.labels.save(
        Annotation(S(1), "alice", "done", ("denial",), (Stance("denial", "putin", "oppose"),))
    )
    alice.labels.save(Annotation(S(2), "alice", "skipped"))
    bob.labels.save(Annotation(S(1), "bob", "flagged", ("denial",), note="unsure"))
    bob.labels.save(Annotation(S(3), "bob", "done", ()))
    bob.gold.set(Gold(S(1), "gold", ("denial",), (), "bob", "alice"))
    alice.close()
    bob.close()
    before = {p: fingerprint(tmp_path / p) for p in ("alice.db", "bob.db")}

    team = Store.open(tmp_path / "team.db")
    results = merge_databases(team, [tmp_path / "alice.db", tmp_path / "bob.db"])
    (_, a), (_, b) = results
    assert (a.labels_taken, a.events_added, a.articles_added) == (2, 2, 0)
    # 2 label events + 1 gold event (gold has a history now)
    assert (b.labels_taken, b.events_added, b.gold_taken, b.annotators_added) == (2, 3, 1, 1)
    assert b.labels_kept == 0 and a.labels_kept == 1  # carol's label came back unchanged
    got = team.labels.get(S(1), "alice")
    assert got is not None and got.stances == (Stance("denial", "putin", "oppose"),)
    bob_label = team.labels.get(S(1), "bob")
    assert bob_label is not None and bob_label.status == "flagged" and bob_label.note == "unsure"
    gold = team.gold.get(S(1))
    assert gold is not None and gold.adjudicator == "bob"
    assert {p: fingerprint(tmp_path / p) for p in before} == before  # sources untouched

    snap = snapshot(team, tmp_path)
    again = merge_databases(team, [tmp_path / "alice.db", tmp_path / "bob.db"])
    assert all(
        (c.labels_taken, c.events_added, c.gold_taken, c.articles_added, c.labels_deleted)
        == (0, 0, 0, 0, 0)
        for _, c in again
    )
    assert snapshot(team, tmp_path) == snap
    assert team.integrity_ok()
    progress = team.team.progress_by_annotator()
    assert progress["bob"]["flagged"] == 1 and progress["alice"]["skipped"] == 1
    team.close()


def test_later_edit_wins_both_stay_in_history_and_merge_converges(tmp_path: Path) -> None:
    a = new_db(tmp_path / "a.db")
    b = new_db(tmp_path / "b.db")
    a.labels.save(Annotation(S(0), "alice", "done", ("arms_deal",)))
    time.sleep(0.002)
    b.labels.save(Annotation(S(0), "alice", "done", ("denial",)))  # later: wins everywhere
    b.labels.save(Annotation(S(1), "alice", "done", ("denial",)))
    time.sleep(0.002)
    a.labels.save(Annotation(S(1), "alice", "flagged", ("arms_deal",)))  # later: wins everywhere
    a.close()
    b.close()
    shutil.copy(tmp_path / "a.db", tmp_path / "a2.db")
    ab = Store.open(tmp_path / "a.db")  # a <- b
    ba = Store.open(tmp_path / "b.db")  # b <- a (the copy made before the merge)
    merge_databases(ab, [tmp_path / "b.db"])
    merge_databases(ba, [tmp_path / "a2.db"])
    for s in (ab, ba):
        first, second = s.labels.get(S(0), "alice"), s.labels.get(S(1), "alice")
        assert first is not None and first.claims == ("denial",)
        assert second is not None and second.status == "flagged"
        with s.read() as c:
            history = c.execute(
                "SELECT count(*) FROM annotation_events WHERE sentence_id = ? AND action = 'set'",
                (S(0),),
            ).fetchone()[0]
        assert history == 2  # both edits are in the history
    out_a, out_b = tmp_path / "ab.jsonl", tmp_path / "ba.jsonl"
    export(ab, "annotations", out_a)
    export(ba, "annotations", out_b)
    assert out_a.read_bytes() == out_b.read_bytes()
    # undo here never reverts a change merged from elsewhere
    assert ab.labels.undo("alice") == S(1)  # a's own latest change ...
    assert ab.labels.undo("alice") == S(0)  # ... then a's own earlier one; b's events are skipped
    assert ab.labels.undo("alice") is None
    ab.close()
    ba.close()


def test_deletion_there_after_our_change_is_merged(tmp_path: Path) -> None:
    a = new_db(tmp_path / "a.db")
    a.labels.save(Annotation(S(4), "alice", "done", ("arms_deal",)))
    a.close()
    shutil.copy(tmp_path / "a.db", tmp_path / "laptop.db")
    laptop = Store.open(tmp_path / "laptop.db")
    time.sleep(0.002)
    assert laptop.labels.undo("alice") == S(4)  # undone offline, after the team DB's last change
    laptop.close()
    team = Store.open(tmp_path / "a.db")
    ((_, counts),) = merge_databases(team, [tmp_path / "laptop.db"])
    assert counts.labels_deleted == 1 and team.labels.get(S(4), "alice") is None
    ((_, again),) = merge_databases(team, [tmp_path / "laptop.db"])
    assert again.labels_deleted == 0
    assert team.team.progress_by_annotator()["alice"]["done"] == 0
    team.close()


def test_actors_made_on_two_machines_are_matched_by_id_and_name_never_remapped(
    tmp_path: Path,
) -> None:
    """Actor rows are a union by id; an alias both machines gave to different actors goes to
    one of them by the alias rule (trusted, then the smaller id), the two stay two actors, and
    no label or history event is rewritten (docs/ARCHITECTURE.md, "Merge ordering")."""
    team = new_db(tmp_path / "team.db")
    other = new_db(tmp_path / "other.db")
    mine = team.actors.add("Groupe Wagner", ["Wagner"], created_by="carol")
    theirs = other.actors.add("Wagner Group", ["wagner"], created_by="bob")
    fresh = other.actors.add("Evgueni Prigojine", ["Prigozhin"], created_by="bob")
    assert mine != theirs
    other.labels.save(
        Annotation(
            S(5),
            "bob",
            "done",
            ("denial",),
            (Stance("denial", theirs, "oppose"), Stance("denial", fresh, "support")),
        )
    )
    other.close()
    team.close()
    shutil.copy(tmp_path / "team.db", tmp_path / "team0.db")
    shutil.copy(tmp_path / "other.db", tmp_path / "other0.db")
    team = Store.open(tmp_path / "team.db")
    ((_, counts),) = merge_databases(team, [tmp_path / "other0.db"])
    assert counts.actors_added == 2 and counts.actors_remapped == 0
    got = team.labels.get(S(5), "bob")
    assert got is not None
    assert [s.actor for s in got.stances] == [theirs, fresh]
    assert team.actors.resolve("Wagner Group") == theirs
    assert team.actors.resolve("Wagner") == min(mine, theirs)  # the smaller id
    team.close()
    other = Store.open(tmp_path / "other.db")  # the other way round: the same tables
    merge_databases(other, [tmp_path / "team0.db"])
    other.close()
    with sqlite3.connect(tmp_path / "team.db") as a, sqlite3.connect(tmp_path / "other.db") as b:
        for sql in (
            "SELECT id, name, base_name, same_as, created_by FROM actors ORDER BY id",
            "SELECT key, alias, actor_id, trusted FROM actor_aliases ORDER BY key",
        ):
            assert a.execute(sql).fetchall() == b.execute(sql).fetchall()


def test_two_machines_renaming_two_actors_to_one_name_converge(tmp_path: Path) -> None:
    """Issue 12 §4 leftovers: `actors rename` of DIFFERENT actors to the SAME name on two
    machines. One name, one actor: the key's latest alias event keeps the name, the other actor
    stands for it (its labels read as naming it), the same after A into B and B into A."""
    base = new_db(tmp_path / "a.db")
    base.labels.save(
        Annotation(S(0), "bob", "done", ("denial",), (Stance("denial", "le-kremlin", "oppose"),))
    )
    base.close()
    shutil.copy(tmp_path / "a.db", tmp_path / "b.db")
    a, b = str(tmp_path / "a.db"), str(tmp_path / "b.db")
    p = run("--db", a, "actors", "rename", "le-kremlin", "Le Pouvoir", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    p = run("--db", b, "actors", "rename", "vladimir-poutine", "Le Pouvoir", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    shutil.copy(tmp_path / "a.db", tmp_path / "a0.db")
    shutil.copy(tmp_path / "b.db", tmp_path / "b0.db")
    assert run("--db", a, "merge", str(tmp_path / "b0.db"), cwd=tmp_path).returncode == 0
    assert run("--db", b, "merge", str(tmp_path / "a0.db"), cwd=tmp_path).returncode == 0
    with sqlite3.connect(a) as ca, sqlite3.connect(b) as cb:
        for sql in (
            "SELECT id, name, same_as FROM actors ORDER BY id",
            "SELECT key, alias, actor_id, trusted FROM actor_aliases ORDER BY key",
            "SELECT sentence_id, annotator, stances FROM annotations ORDER BY 1, 2",
        ):
            assert ca.execute(sql).fetchall() == cb.execute(sql).fetchall(), sql
        named = ca.execute("SELECT id, same_as FROM actors WHERE name = 'Le Pouvoir'").fetchall()
        joined = ca.execute(
            "SELECT id, same_as, name FROM actors WHERE id IN ('le-kremlin', 'vladimir-poutine') "
            "AND same_as IS NOT NULL"
        ).fetchall()
        stances = ca.execute("SELECT stances FROM annotations WHERE sentence_id = ?", (S(0),))
        label = stances.fetchone()[0]
    assert len(named) == 1 and named[0][1] is None  # one actor has the name ...
    assert len(joined) == 1 and joined[0][1] == named[0][0]  # ... the other stands for it
    assert joined[0][2] == f"Le Pouvoir ({joined[0][0]})"
    assert f'"actor":"{named[0][0]}"' in label  # the label reads as naming the kept actor
    p = run("--db", a, "actors", "list", cwd=tmp_path)
    assert p.returncode == 0 and "Le Pouvoir" in p.stdout, p.stderr


def test_missing_articles_are_copied(tmp_path: Path) -> None:
    team = Store.open(tmp_path / "team.db")
    team.set_label_schema(load_schema())
    add_article(team, "x1", ["Only here."])
    other = new_db(tmp_path / "other.db")
    add_article(other, "x2", ["Only there.", "Second."])
    other.labels.save(Annotation("x2:1", "bob", "done", ("arms_deal",)))
    other.labels.save(Annotation(S(0), "bob", "done", ()))
    other.close()
    ((_, counts),) = merge_databases(team, [tmp_path / "other.db"])
    assert counts.articles_added == 2 and counts.sentences_added == 41 + 2
    sentence = team.corpus.sentence("x2:1")
    assert sentence is not None and sentence.text == "Second."
    assert team.labels.get("x2:1", "bob") is not None
    assert team.counts()["articles"] == 3
    team.close()


def test_refusals_leave_everything_untouched(tmp_path: Path) -> None:
    team = new_db(tmp_path / "team.db")
    team.labels.save(Annotation(S(0), "carol", "done", ()))
    base = snapshot(team, tmp_path)
    # another label schema
    custom = load_schema().model_copy(deep=True)
    custom.claims[0].id = "ceasefire"
    other = new_db(tmp_path / "other.db", LabelSchema.model_validate(custom.model_dump()))
    other.labels.save(Annotation(S(1), "bob", "done", ("ceasefire",)))
    other.close()
    # a file that is not a stanceterm DB
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all\n" * 10)
    # a labelled sentence whose text differs (another segmentation)
    seg = Store.open(tmp_path / "seg.db")
    seg.set_label_schema(load_schema())
    add_article(seg, AID, ["Completely different text."])
    seg.labels.save(Annotation(S(0), "dan", "done", ()))
    seg.close()
    prints = {p: fingerprint(tmp_path / p) for p in ("other.db", "junk.db", "seg.db")}

    with pytest.raises(MergeConflict, match=r"another label schema \(claims only there: ceasefire"):
        merge_databases(team, [tmp_path / "other.db"])
    with pytest.raises(StoreError, match="not a stanceterm database"):
        merge_databases(team, [junk])
    with pytest.raises(MergeConflict, match=r"1 labelled sentence does not match"):
        merge_databases(team, [tmp_path / "seg.db"])
    with pytest.raises(MergeConflict, match="this database itself"):
        merge_databases(team, [tmp_path / "team.db"])
    with pytest.raises(StoreError, match="no such database"):
        merge_databases(team, [tmp_path / "nope.db"])
    assert snapshot(team, tmp_path) == base
    assert {p: fingerprint(tmp_path / p) for p in prints} == prints
    team.close()


def test_merge_into_a_new_db_adopts_the_schema(tmp_path: Path) -> None:
    custom = load_schema().model_copy(deep=True)
    custom.claims[0].id = "ceasefire"
    schema = LabelSchema.model_validate(custom.model_dump())
    other = new_db(tmp_path / "other.db", schema)
    other.labels.save(Annotation(S(1), "bob", "done", ("ceasefire",)))
    other.close()
    fresh = Store.open(tmp_path / "fresh.db")
    merge_databases(fresh, [tmp_path / "other.db"])
    adopted = fresh.label_schema()
    assert adopted is not None and adopted.fingerprint == schema.fingerprint
    assert fresh.labels.get(S(1), "bob") is not None
    fresh.close()


def test_cli_merge_summary_and_one_line_refusal(tmp_path: Path) -> None:
    team = new_db(tmp_path / "team.db")
    team.close()
    other = new_db(tmp_path / "bob.db")
    other.labels.save(Annotation(S(2), "bob", "done", ("arms_deal",)))
    other.close()
    p = run("--db", str(tmp_path / "team.db"), "merge", str(tmp_path / "bob.db"), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "bob.db" in p.stdout and "labels taken" in p.stdout
    junk = tmp_path / "notes.txt"
    junk.write_text("hello\n")
    bad = run("--db", str(tmp_path / "team.db"), "merge", str(junk), cwd=tmp_path)
    assert_clean_error(bad, "not a stanceterm database")
    assert junk.read_text() == "hello\n"


def test_kill_during_merge_is_consistent_and_resumable(tmp_path: Path) -> None:
    """kill -9 in the middle of a merge (applied in short transactions): every label is at its
    old or its merged state, never anything else, and running the merge again completes it."""
    big = new_db(tmp_path / "big.db")
    add_article(big, "bulk", [f"Bulk sentence {i}." for i in range(6000)])
    with big.tx():
        for i in range(6000):
            save_in(big.conn, Annotation(f"bulk:{i}", "bob", "done", ("arms_deal",)), "set")
    big.close()
    team = new_db(tmp_path / "team.db")
    team.labels.save(Annotation(S(0), "carol", "done", ()))
    before = snapshot(team, tmp_path)
    team.close()
    shutil.copy(tmp_path / "team.db", tmp_path / "full.db")
    full = Store.open(tmp_path / "full.db")
    merge_databases(full, [tmp_path / "big.db"])
    after = snapshot(full, tmp_path)
    full.close()

    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    wal = tmp_path / "team.db-wal"
    big_db = str(tmp_path / "big.db")
    proc = subprocess.Popen(
        [sys.executable, "-m", "stanceterm", "--db", str(tmp_path / "team.db"), "merge", big_db],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if wal.exists() and wal.stat().st_size > 256 * 1024:  # writing has begun
            break
        time.sleep(0.005)
    killed_midway = proc.poll() is None
    if killed_midway:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    team = Store.open(tmp_path / "team.db")
    state = snapshot(team, tmp_path)
    assert team.integrity_ok()
    lines = set(state[1].splitlines())
    assert lines <= set(before[1].splitlines()) | set(after[1].splitlines())
    merge_databases(team, [tmp_path / "big.db"])  # resumed: completes it
    assert snapshot(team, tmp_path) == after
    team.close()


def test_merge_leaves_a_closed_other_db_exactly_as_it_was(tmp_path: Path) -> None:
    """Reading a cleanly closed DB creates no -wal/-shm beside it and changes no byte."""
    here, there = new_db(tmp_path / "here.db"), new_db(tmp_path / "there.db")
    there.labels.save(Annotation(S(0), "dan", "done", ("arms_deal",)))
    there.close()
    assert not (tmp_path / "there.db-wal").exists()
    before = fingerprint(tmp_path / "there.db")
    merge_databases(here, [tmp_path / "there.db"])
    assert here.labels.get(S(0), "dan") is not None
    assert fingerprint(tmp_path / "there.db") == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("there")) == ["there.db"]


def test_merge_never_holds_the_write_lock_long(tmp_path: Path) -> None:
    """A big merge runs in a real process while an annotator saves here: each save waits well
    under a second (the merge commits in short transactions)."""
    big = new_db(tmp_path / "big.db")
    add_article(big, "bulk", [f"Bulk sentence {i}." for i in range(20000)])
    with big.tx():
        for i in range(20000):
            save_in(big.conn, Annotation(f"bulk:{i}", "bob", "done", ("arms_deal",)), "set")
    big.close()
    team = new_db(tmp_path / "team.db")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stanceterm",
            "--db",
            str(tmp_path / "team.db"),
            "merge",
            str(tmp_path / "big.db"),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    waits: list[float] = []
    i = 0
    while proc.poll() is None:
        t0 = time.perf_counter()
        team.labels.save(Annotation(S(i % 40), "alice", "done", ("denial",)))
        waits.append(time.perf_counter() - t0)
        i += 1
        time.sleep(0.02)
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    assert team.counts()["annotations"] >= 20000
    team.close()
    assert len(waits) > 10  # the merge took a while: saves ran beside it
    assert max(waits) < 1.0, f"a save waited {max(waits):.2f} s for the merge"


def test_kill_while_copying_a_big_article_leaves_it_partial_and_resumable(tmp_path: Path) -> None:
    """An article's sentences are copied in batches of rows (issue 12 §3: no write transaction
    grows with the size of an article). kill -9 between two batches leaves the article partly
    copied; the next merge completes it, and the result is the uninterrupted merge's."""

    from stanceterm.store.merge import SENTENCE_BATCH

    n = SENTENCE_BATCH * 12
    big = new_db(tmp_path / "big.db")
    add_article(big, "bulk", [f"Bulk sentence {i}." for i in range(n)])
    big.labels.save(Annotation(f"bulk:{n - 1}", "bob", "done", ("arms_deal",)))
    big.close()
    team = new_db(tmp_path / "team.db")
    team.close()
    shutil.copy(tmp_path / "team.db", tmp_path / "full.db")
    full = Store.open(tmp_path / "full.db")
    merge_databases(full, [tmp_path / "big.db"])
    after = snapshot(full, tmp_path)
    full.close()

    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stanceterm",
            "--db",
            str(tmp_path / "team.db"),
            "merge",
            str(tmp_path / "big.db"),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    watch = sqlite3.connect(f"file:{tmp_path / 'team.db'}?mode=ro", uri=True, timeout=5)
    seen = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        with contextlib.suppress(sqlite3.OperationalError):
            seen = watch.execute(
                "SELECT count(*) FROM sentences WHERE article_id = 'bulk'"
            ).fetchone()[0]
        if 0 < seen < n:
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.002)
    proc.wait(timeout=30)
    watch.close()
    assert 0 < seen < n, f"never saw the article partly copied ({seen} of {n} sentences)"
    team = Store.open(tmp_path / "team.db")
    assert team.integrity_ok()
    assert team.counts()["sentences"] < after[0]["sentences"]  # partial: the kill landed midway
    merge_databases(team, [tmp_path / "big.db"])  # resumed: completes the article
    assert snapshot(team, tmp_path) == after
    assert team.labels.get(f"bulk:{n - 1}", "bob") is not None
    team.close()
