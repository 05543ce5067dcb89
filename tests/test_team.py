"""Teams: assignment planning, the assignment CLI, live progress counters, activity and agreement."""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stanceterm.agreement import alpha
from stanceterm.reliability import LabelRow, claim_agreement, collect, store_claim_agreement
from stanceterm.store import Annotation, Stance, Store
from stanceterm.team import AssignmentError, activity, assign, plan_assignment
from tests.conftest import DEMO, add_article, assert_clean_error, run

NAMES = ["alice", "bob", "carol", "dan", "eve", "fay", "gus"]


# --------------------------------------------------------------------------- planning


@settings(max_examples=150, deadline=None)
@given(
    total=st.integers(1, 400),
    n=st.integers(1, 7),
    data=st.data(),
    seed=st.integers(0, 2**32),
)
def test_plan_covers_each_sentence_k_times_balanced(
    total: int, n: int, data: st.DataObject, seed: int
) -> None:
    k = data.draw(st.integers(1, n))
    sample = data.draw(st.none() | st.floats(0.01, 1.0)) if k > 1 else None
    seqs = sorted(random.Random(seed).sample(range(10 * total), total))
    plan = plan_assignment(seqs, NAMES[:n], k, seed=seed, overlap_sample=sample)
    per_sentence = Counter(q for queue in plan.queues.values() for q in queue)
    for queue in plan.queues.values():
        assert queue == sorted(queue) and len(set(queue)) == len(queue)  # distinct annotators
    assert set(per_sentence) == set(seqs)
    if sample is None:
        assert set(per_sentence.values()) == {k}
    else:
        shared = round(sample * total)
        assert Counter(per_sentence.values()) == Counter({k: shared, 1: total - shared}) - Counter()
        assert plan.shared == shared
    loads = plan.loads().values()
    assert max(loads) - min(loads) <= 1
    again = plan_assignment(seqs, NAMES[:n], k, seed=seed, overlap_sample=sample)
    assert again == plan


def test_full_overlap_gives_every_sentence_to_all() -> None:
    seqs = list(range(1, 38))
    plan = plan_assignment(seqs, NAMES[:3], 3, seed=5)
    assert all(q == seqs for q in plan.queues.values())


def test_single_overlap_gives_contiguous_runs() -> None:
    seqs = list(range(100))
    plan = plan_assignment(seqs, NAMES[:3], 1, seed=1)
    for queue in plan.queues.values():
        assert queue == list(range(queue[0], queue[-1] + 1))  # one run of consecutive sentences
    assert sorted(len(q) for q in plan.queues.values()) == [33, 33, 34]


def test_overlap_two_mixes_pairs_and_seed_changes_plan() -> None:
    seqs = list(range(500))
    plan = plan_assignment(seqs, NAMES[:5], 2, seed=3)
    holders: dict[int, list[str]] = {}
    for name, queue in plan.queues.items():
        for q in queue:
            holders.setdefault(q, []).append(name)
    pairs = {tuple(sorted(h)) for h in holders.values()}
    assert len(pairs) >= 5  # every annotator overlaps with several others
    partners = {a: {b for p in pairs if a in p for b in p if b != a} for a in NAMES[:5]}
    assert all(len(p) >= 2 for p in partners.values())
    assert plan_assignment(seqs, NAMES[:5], 2, seed=4) != plan


def test_extend_favours_the_least_loaded() -> None:
    plan = plan_assignment(list(range(10)), ["alice", "bob"], 1, existing={"alice": 20, "bob": 4})
    assert len(plan.queues["bob"]) == 10 and plan.queues["alice"] == []
    plan = plan_assignment(list(range(10)), ["alice", "bob"], 1, existing={"alice": 7, "bob": 5})
    assert len(plan.queues["bob"]) == 6 and len(plan.queues["alice"]) == 4


@pytest.mark.parametrize(
    ("names", "k", "sample", "message"),
    [
        (["alice", "bob"], 3, None, "needs at least 3 annotators"),
        (["alice", "bob"], 0, None, "at least 1"),
        (["alice", "alice"], 1, None, "listed twice"),
        (["alice", " "], 1, None, "empty annotator name"),
        (["alice", "bob"], 2, 1.5, "fraction"),
        (["alice", "bob"], 1, 0.2, "--overlap 2 or more"),
    ],
)
def test_plan_refuses_bad_options(
    names: list[str], k: int, sample: float | None, message: str
) -> None:
    with pytest.raises(AssignmentError, match=message):
        plan_assignment([1, 2, 3], names, k, overlap_sample=sample)


# --------------------------------------------------------------------------- store: assignments


def test_assign_refuses_a_db_that_has_assignments_unless_replace_or_extend(filled: Store) -> None:
    """The refusal rule lives in the core (team.assign), not in the command."""
    first = assign(filled, ["alice", "bob"], 2, seed=1)
    assert first is not None and first.written == 10 and first.annotators == ["alice", "bob"]
    with pytest.raises(AssignmentError, match=r"already has 10 assignments; pass --replace"):
        assign(filled, ["alice", "bob"], 1)
    assert filled.team.assignment_count() == 10  # refused: nothing written
    again = assign(filled, ["carol"], 1, replace=True)
    assert again is not None and filled.team.assignment_summary().keys() == {"carol"}
    assert assign(filled, ["dan"], 1, extend=True) is None  # nothing left nobody has
    with pytest.raises(AssignmentError, match="listed twice"):
        assign(filled, ["eve", "eve"], 1, replace=True)
    empty = Store.memory()
    with pytest.raises(AssignmentError, match="no sentences to assign"):
        assign(empty, ["alice"], 1)


def test_assignments_drive_the_queue(filled: Store) -> None:
    seqs = filled.team.unit_seqs()
    assert len(seqs) == 5
    plan = plan_assignment(seqs, ["alice", "bob"], 1, seed=0)
    assert filled.team.write_assignments(plan.queues) == 5
    for name, queue in plan.queues.items():
        assert filled.team.queue_size(name) == len(queue)
        first = filled.corpus.first(name)
        assert first is not None and first.seq == queue[0]
    summary = filled.team.assignment_summary()
    assert {a: n for a, (n, _) in summary.items()} == plan.loads()
    assert all(shared == 0 for _, shared in summary.values())
    assert filled.team.unit_seqs(unassigned_only=True) == []
    # hidden (non-representative) sentences are never handed out
    with filled.tx() as c:
        c.execute("UPDATE sentences SET hidden = 1 WHERE id = 'a2:1'")
    assert len(filled.team.unit_seqs()) == 4
    filled.team.write_assignments({"alice": filled.team.unit_seqs()}, replace=True)
    assert filled.team.assigned_loads() == {"alice": 4}


def _direct_counts(store: Store) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    with store.read() as c:
        for a, s, n in c.execute(
            "SELECT annotator, status, count(*) FROM annotations WHERE propagated_from IS NULL "
            "GROUP BY annotator, status"
        ):
            out.setdefault(a, {})[s] = n
        for a, n in c.execute("SELECT annotator, count(*) FROM assignments GROUP BY annotator"):
            out.setdefault(a, {})["assigned"] = n
    return out


@settings(max_examples=25, deadline=None)
@given(
    ops=st.lists(st.tuples(st.integers(0, 7), st.integers(0, 4), st.integers(0, 2)), max_size=40)
)
def test_progress_counters_match_a_full_count(ops: list[tuple[int, int, int]]) -> None:
    """The trigger-kept counters equal a GROUP BY after any mix of writes (save, undo,
    propagation into a cluster, split, bulk load, import, assignments)."""
    from stanceterm.schema import load_schema

    store = Store.memory()
    store.set_label_schema(load_schema())
    add_article(store, "a1", ["S0.", "S1.", "S2."])
    add_article(store, "a2", ["S0 copy.", "T1."])
    with store.tx() as c:
        c.execute(
            "INSERT INTO clusters(id, representative_id, size, threshold, created_at) "
            "VALUES ('c1', 'a1:0', 2, 90, 'now')"
        )
        c.execute("UPDATE sentences SET cluster_id = 'c1' WHERE id IN ('a1:0', 'a2:0')")
        c.execute("UPDATE sentences SET hidden = 1 WHERE id = 'a2:0'")
    sids = ["a1:0", "a1:1", "a1:2", "a2:0", "a2:1"]
    people = ["alice", "bob", "carol"]
    statuses = ["draft", "done", "skipped", "flagged"]
    for op, i, j in ops:
        sid, who = sids[i], people[j]
        if op <= 3:
            store.labels.save(Annotation(sid, who, statuses[op], ("arms_deal",) if op else ()))
        elif op == 4:
            store.labels.undo(who)
        elif op == 5:
            store.clusters.split(sid, who)
        elif op == 6:
            store.labels.bulk_load([Annotation(sid, who, "done", (), (), None, None, "t", "t")])
        else:
            store.team.write_assignments({who: [i + 1]}, replace=True)
    expected = _direct_counts(store)
    progress = store.team.progress_by_annotator()
    for name, entry in progress.items():
        for kind in ("done", "skipped", "flagged", "draft", "assigned"):
            assert entry[kind] == expected.get(name, {}).get(kind, 0), (name, kind)
    store.close()


def test_progress_last_activity(filled: Store) -> None:
    filled.labels.ensure_annotator("zoe")
    filled.labels.save(Annotation("a1:0", "alice", "done", ("arms_deal",)))
    saved = filled.labels.save(Annotation("a1:1", "alice", "skipped"))
    progress = filled.team.progress_by_annotator()
    assert progress["alice"]["done"] == 1 and progress["alice"]["skipped"] == 1
    assert progress["alice"]["last_activity"] >= saved.updated_at  # the event follows the save
    assert progress["zoe"] == {
        "done": 0,
        "skipped": 0,
        "flagged": 0,
        "draft": 0,
        "assigned": 0,
        "last_activity": None,
    }


def test_progress_is_flat_on_a_large_db(tmp_path: Path) -> None:
    """progress_by_annotator reads counters: a 100x larger annotation table costs about the same."""

    def timed(n: int) -> float:
        s = Store.open(tmp_path / f"p{n}.db")
        add_article(s, f"a{n}", [f"Sentence {i}." for i in range(n)])
        s.labels.bulk_load(
            Annotation(f"a{n}:{i}", who, "done", (), (), None, None, "t", "t")
            for i in range(n)
            for who in ("alice", "bob")
        )
        best = min(_time(s.team.progress_by_annotator) for _ in range(5))
        assert s.team.progress_by_annotator()["bob"]["done"] == n
        s.close()
        return best

    small, large = timed(500), timed(50_000)
    assert large < small * 10 + 0.002, (small, large)


def _time(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# --------------------------------------------------------------------------- activity / agreement


def test_activity_sessions_and_rate() -> None:
    rows = [
        ("alice", "2026-01-01T10:00:00.000000Z", "set", None, "draft"),
        ("alice", "2026-01-01T10:00:30.000000Z", "set", "draft", "done"),
        ("alice", "2026-01-01T10:01:00.000000Z", "set", None, "done"),
        ("alice", "2026-01-01T10:01:10.000000Z", "set", "done", "done"),  # an edit, not a label
        ("alice", "2026-01-01T10:02:00.000000Z", "undo", "done", None),
        # an hour's pause: a new session, the gap is not active time
        ("alice", "2026-01-01T11:02:00.000000Z", "set", None, "skipped"),
        ("alice", "2026-01-01T11:03:00.000000Z", "set", None, "flagged"),
        ("bob", "2026-01-01T09:00:00.000000Z", "set", None, "done"),
    ]
    acts = activity(rows)
    a = acts["alice"]
    # the finish at 10:01:00 was undone at 10:02:00: three sentences stay finished
    assert (a.labels, a.sessions, a.active_seconds) == (3, 2, 180.0)
    assert a.per_hour == pytest.approx(60.0)
    assert acts["bob"].per_hour is None and acts["bob"].labels == 1
    # an undo that leaves the sentence finished (done -> skipped) takes nothing back
    again = activity(
        [
            ("carol", "2026-01-01T10:00:00Z", "set", None, "done"),
            ("carol", "2026-01-01T10:00:20Z", "undo", "done", "skipped"),
        ]
    )
    assert again["carol"].labels == 1


def _claims_corpus(rows: list[tuple[str, str, tuple[str, ...]]]) -> object:
    labels = [LabelRow(sid, "", a, "done", claims, ()) for sid, a, claims in rows]
    return collect(labels, (), keep_text=False)


def test_claim_agreement_matches_alpha() -> None:
    """stats' claim alpha is reliability's ``claims`` field (one definition)."""
    rows = [
        ("s1", "alice", ("arms_deal",)),
        ("s1", "bob", ("arms_deal",)),
        ("s2", "alice", ("denial",)),
        ("s2", "bob", ("denial", "arms_deal")),
        ("s3", "bob", ()),
        ("s3", "carol", ()),
        ("s4", "alice", ("denial",)),
        ("s4", "carol", ("sanctions_efficacy",)),
        ("s5", "dan", ("denial",)),  # labelled once: not shared, no unit
    ]
    overall, per = claim_agreement(_claims_corpus(rows))  # type: ignore[arg-type]
    A, D, S, E = (
        frozenset({"arms_deal"}),
        frozenset({"denial"}),
        frozenset({"sanctions_efficacy"}),
        frozenset(),
    )
    full = [[A, D, None, D], [A, D | A, E, None], [None, None, E, S]]
    assert overall.units == 4 and overall.alpha == pytest.approx(alpha(full, "masi"))
    alice = [[A, D, D], [A, D | A, None], [None, None, S]]
    assert per["alice"].units == 3 and per["alice"].alpha == pytest.approx(alpha(alice, "masi"))
    assert "dan" not in per
    none, _ = claim_agreement(_claims_corpus([]))  # type: ignore[arg-type]
    assert none.units == 0 and math.isnan(none.alpha)


def test_shared_claims_exclude_skipped_drafts_flagged_and_propagated(filled: Store) -> None:
    s = filled
    s.labels.save(Annotation("a1:0", "alice", "done", ("arms_deal",)))
    s.labels.save(Annotation("a1:0", "bob", "done", ("arms_deal",)))
    s.labels.save(Annotation("a2:1", "alice", "done", ("arms_deal",)))
    s.labels.save(Annotation("a2:1", "bob", "flagged", ("arms_deal",)))  # as in agreement: missing
    s.labels.save(Annotation("a1:1", "alice", "done", ("denial",)))
    s.labels.save(Annotation("a1:1", "bob", "skipped"))
    s.labels.save(Annotation("a1:2", "alice", "done", ()))
    s.labels.save(Annotation("a1:2", "bob", "draft", ("denial",)))
    s.labels.bulk_load(
        [Annotation("a2:0", "bob", "done", (), (), None, "a1:0", "t", "t")]  # a propagated copy
    )
    s.labels.save(Annotation("a2:0", "alice", "done", ()))
    rows = list(s.labels.iter_shared_claims())
    assert [(r[0], r[1]) for r in rows] == [("a1:0", "alice"), ("a1:0", "bob")]
    # stats' figure (reliability's claims field) counts the same units as these rows
    overall, per = store_claim_agreement(s)
    assert overall.units == 1 and set(per) == {"alice", "bob"}


def test_stats_claim_alpha_equals_the_former_definition(filled: Store) -> None:
    """The claim alpha of `stats` moved to reliability's claims field: same figures as the former
    team.claim_agreement (alpha, MASI, over Store.labels.iter_shared_claims), on random labels."""
    import orjson

    rng = random.Random(5)
    sids = ["a1:0", "a1:1", "a1:2", "a2:0", "a2:1"]
    claims = ["arms_deal", "denial", "sanctions_efficacy"]
    for sid in sids:
        for who in ("alice", "bob", "carol"):
            if rng.random() < 0.9:
                done = rng.random() < 0.75
                status = "done" if done else rng.choice(["skipped", "flagged", "draft"])
                picked = tuple(c for c in claims if rng.random() < 0.4)
                filled.labels.save(Annotation(sid, who, status, picked))
    units: dict[str, dict[str, frozenset[str]]] = {}
    for sid, who, raw in filled.labels.iter_shared_claims():
        units.setdefault(sid, {})[who] = frozenset(orjson.loads(raw))

    def former(cols: list[dict[str, frozenset[str]]]) -> float:
        present = sorted({a for col in cols for a in col})
        return alpha([[col.get(a) for col in cols] for a in present], "masi")

    overall, per = store_claim_agreement(filled)
    assert overall.units == len(units) >= 3
    assert overall.alpha == pytest.approx(former(list(units.values())), nan_ok=True)
    for who in ("alice", "bob", "carol"):
        cols = [col for col in units.values() if who in col]
        assert per[who].units == len(cols)
        assert per[who].alpha == pytest.approx(former(cols), nan_ok=True)


# --------------------------------------------------------------------------- CLI


def test_cli_assign_annotators_stats(tmp_path: Path) -> None:
    db = str(tmp_path / "t.db")
    assert run("--db", db, "import", str(DEMO), cwd=tmp_path).returncode == 0
    p = run("--db", db, "assign", "--annotators", "alice,bob,carol", "--overlap", "2", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "alice" in p.stdout and "27" in p.stdout and "28" in p.stdout
    assert "41 sentences" in p.stderr
    again = run("--db", db, "assign", "--annotators", "alice,bob", cwd=tmp_path)
    assert_clean_error(again, "already has 82 assignments", "--replace")
    p = run(
        "--db", db, "assign", "--annotators", "alice,bob", "--overlap", "2",
        "--overlap-sample", "0.2", "--seed", "7", "--replace", cwd=tmp_path,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    s = Store.open(tmp_path / "t.db")
    summary = s.team.assignment_summary()
    assert sum(n for n, _ in summary.values()) == 41 + 8 and summary["alice"][1] == 8
    assert abs(summary["alice"][0] - summary["bob"][0]) <= 1
    assert "carol" not in summary
    # label a few sentences, including overlapping ones, to see rates and agreement
    shared = [sid for sid in _assigned(s, "alice") if sid in _assigned(s, "bob")]
    for sid in shared[:4]:
        s.labels.save(Annotation(sid, "alice", "done", ("arms_deal",)))
        s.labels.save(
            Annotation(sid, "bob", "done", ("arms_deal",) if sid != shared[0] else ("denial",))
        )
    s.labels.save(
        Annotation(shared[0], "bob", "done", ("denial",), (Stance("denial", "putin", "oppose"),))
    )
    s.close()
    ext = run("--db", db, "assign", "--annotators", "alice,bob", "--extend", cwd=tmp_path)
    assert ext.returncode == 0 and "Nothing to assign" in ext.stderr
    ann = run("--db", db, "annotators", cwd=tmp_path)
    assert ann.returncode == 0 and "alice" in ann.stdout and "carol" in ann.stdout
    stats = run("--db", db, "stats", cwd=tmp_path)
    assert stats.returncode == 0, stats.stderr
    assert "α claims" in stats.stdout and "4 shared sentences" in stats.stdout
    bad = run(
        "--db", db, "assign", "--annotators", "alice", "--overlap", "2", "--replace", cwd=tmp_path
    )
    assert_clean_error(bad, "needs at least 2 annotators")


def _assigned(store: Store, annotator: str) -> list[str]:
    with store.read() as c:
        return [
            r[0]
            for r in c.execute(
                "SELECT sentence_id FROM assignments WHERE annotator = ? ORDER BY seq", (annotator,)
            )
        ]


def test_annotate_refuses_a_name_that_differs_from_a_known_one_only_in_case(
    tmp_path: Path,
) -> None:
    """`annotate --annotator Alice` after `assign --annotators alice,bob` opened every sentence
    for a new, third annotator, silently (new-user review): names are case-sensitive, and a
    case slip splits one annotator's work in two in the agreement figures."""
    db = str(tmp_path / "t.db")
    assert run("--db", db, "import", str(DEMO), cwd=tmp_path).returncode == 0
    assert run("--db", db, "assign", "--annotators", "alice,bob", cwd=tmp_path).returncode == 0
    p = run("--db", db, "annotate", "--annotator", "Alice", cwd=tmp_path)
    assert_clean_error(p, "--annotator alice")
    assert "'Alice'" in p.stderr and "case" in p.stderr
    s = Store.open(db, read_only=True)
    assert "Alice" not in s.labels.annotators()
    s.close()
