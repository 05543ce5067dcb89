"""Review and adjudication core: which sentences need review, gold records, the gold export."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from stanceterm.adjudicate import (
    Version,
    accept_version,
    disagreement,
    edited_gold,
    first_unreviewed,
    reasons,
    review_queue,
    shared_labels,
    stale_sources,
    unresolvable_gold,
    versions_for,
)
from stanceterm.export import export
from stanceterm.records import GoldRecord
from stanceterm.store import Annotation, Stance, Store
from tests.conftest import run


def _v(who: str, status: str = "done", claims: tuple[str, ...] = (), *stances: Stance) -> Version:
    return Version(who, status, claims, tuple(stances))


P = Stance("arms_deal", "putin", "support")
P_OPP = Stance("arms_deal", "putin", "oppose")
K = Stance("denial", "kim", "support")


# --------------------------------------------------------------------------- pure decisions


def test_equal_labels_in_any_order_agree() -> None:
    a = _v("alice", "done", ("arms_deal", "denial"), P, K)
    b = _v("bob", "flagged", ("denial", "arms_deal"), K, P)
    assert not disagreement([a, b])
    assert reasons([a, b]) == ("flagged",)  # flagged asks for review even when they agree
    assert reasons([a, Version("bob", "done", ("denial", "arms_deal"), (K, P))]) == ()


def test_claim_and_stance_disagreements_are_located() -> None:
    a = _v("alice", "done", ("arms_deal", "denial"), P, K)
    b = _v("bob", "done", ("arms_deal",), P_OPP)
    d = disagreement([a, b])
    assert d.claims == {"denial"}
    assert d.stances == {P, P_OPP, K}
    assert reasons([a, b]) == ("disagree",)
    # three annotators: a claim two of three share is still disputed
    c = _v("carol", "done", ("arms_deal",), P)
    d3 = disagreement([a, b, c])
    assert d3.claims == {"denial"} and P in d3.stances and "arms_deal" not in d3.claims
    assert shared_labels([a, c]) == (("arms_deal",), (P,))


def test_no_claim_differs_from_a_claim_but_skipped_is_missing() -> None:
    none = _v("alice", "done")
    some = _v("bob", "done", ("arms_deal",))
    assert reasons([none, some]) == ("disagree",)
    assert disagreement([none, some]).claims == {"arms_deal"}
    skipped = _v("bob", "skipped")
    assert reasons([some, skipped]) == ()  # one label and missing data: nothing to compare
    assert not disagreement([some, skipped])
    assert reasons([_v("a", "skipped"), _v("b", "skipped")]) == ()
    assert reasons([_v("a", "flagged", ("denial",))]) == ("flagged",)  # one flagged label


def test_gold_records_from_versions() -> None:
    a = _v("alice", "done", ("arms_deal",), P)
    b = _v("bob", "skipped")
    g = accept_version("s:1", [a, b], 0, "carol")
    assert (g.status, g.claims, g.stances, g.chosen_from) == ("gold", ("arms_deal",), (P,), "alice")
    assert [s["annotator"] for s in g.sources] == ["alice", "bob"]
    assert g.sources[1]["status"] == "skipped"
    with pytest.raises(ValueError, match="skipped"):
        accept_version("s:1", [a, b], 1, "carol")
    # edited back to alice's labels: chosen_from says so; stances of dropped claims go
    e = edited_gold("s:1", [a, b], ["arms_deal"], [P], "carol", ["arms_deal", "denial"])
    assert e.chosen_from == "alice"
    e2 = edited_gold("s:1", [a, b], ["denial", "arms_deal"], [K], "carol", ["arms_deal", "denial"])
    assert e2.claims == ("arms_deal", "denial") and e2.stances == (K,) and e2.chosen_from is None
    e3 = edited_gold("s:1", [a, b], ["denial"], [P, K], "carol")
    assert e3.stances == (K,)
    u = unresolvable_gold("s:1", [a, b], "carol", "ask the client")
    assert (u.status, u.claims, u.stances, u.note) == ("unresolvable", (), (), "ask the client")


# --------------------------------------------------------------------------- on a DB


def _two_annotators(s: Store) -> dict[str, str]:
    pid, rid = s.actors.resolve("Putin"), s.actors.resolve("Moscou")
    assert pid and rid
    s.labels.save(
        Annotation("a1:0", "alice", "done", ("arms_deal",), (Stance("arms_deal", pid, "support"),))
    )
    s.labels.save(
        Annotation("a1:0", "bob", "done", ("arms_deal",), (Stance("arms_deal", pid, "oppose"),))
    )
    s.labels.save(Annotation("a1:1", "alice", "done", ("denial",)))  # agree
    s.labels.save(Annotation("a1:1", "bob", "done", ("denial",)))
    s.labels.save(
        Annotation("a1:2", "alice", "done", ("sanctions_efficacy",))
    )  # one label + a skip
    s.labels.save(Annotation("a1:2", "bob", "skipped"))
    s.labels.save(Annotation("a2:0", "alice", "done", ()))  # no claim vs a claim
    s.labels.save(Annotation("a2:0", "bob", "draft", ("denial",)))  # a draft is not final...
    s.labels.save(Annotation("a2:0", "carol", "done", ("denial",)))
    s.labels.save(
        Annotation("a2:1", "bob", "flagged", ("denial",), (Stance("denial", rid, "support"),))
    )
    return {"putin": pid, "moscow": rid}


def test_queue_in_sentence_order_with_reasons(filled: Store) -> None:
    _two_annotators(filled)
    q = review_queue(filled)
    assert [(i.sentence_id, i.reasons) for i in q] == [
        ("a1:0", ("disagree",)),
        ("a2:0", ("disagree",)),
        ("a2:1", ("flagged",)),
    ]
    assert [v.annotator for v in q[1].versions] == ["alice", "carol"]  # bob's draft left out
    everything = review_queue(filled, include_all=True)
    assert [i.sentence_id for i in everything] == ["a1:0", "a1:1", "a1:2", "a2:0", "a2:1"]
    assert everything[2].reasons == () and [v.status for v in everything[2].versions] == [
        "done",
        "skipped",
    ]


def test_queue_of_an_empty_or_unanimous_db(filled: Store) -> None:
    assert review_queue(filled) == [] and review_queue(filled, include_all=True) == []
    filled.labels.save(Annotation("a1:0", "alice", "done", ("denial",)))
    filled.labels.save(Annotation("a1:0", "bob", "done", ("denial",)))
    assert review_queue(filled) == []
    # the same labels stored in another order agree; one stance more does not
    pid, rid = filled.actors.resolve("Putin"), filled.actors.resolve("Moscou")
    assert pid and rid
    both = (Stance("denial", pid, "support"), Stance("denial", rid, "support"))
    filled.labels.save(Annotation("a1:1", "alice", "done", ("arms_deal", "denial"), both))
    filled.labels.save(Annotation("a1:1", "bob", "done", ("denial", "arms_deal"), both[::-1]))
    assert review_queue(filled) == []
    filled.labels.save(Annotation("a1:1", "carol", "done", ("denial", "arms_deal"), both[:1]))
    [item] = review_queue(filled)
    assert item.sentence_id == "a1:1" and disagreement(item.versions).stances == {both[1]}


def test_actors_are_compared_through_their_aliases(filled: Store) -> None:
    pid = filled.actors.resolve("Putin")
    assert pid
    other = filled.actors.add("V. V. Poutine", created_by="bob")  # bob made a new actor
    assert other != pid
    filled.labels.save(
        Annotation("a1:0", "alice", "done", ("arms_deal",), (Stance("arms_deal", pid, "support"),))
    )
    filled.labels.save(
        Annotation("a1:0", "bob", "done", ("arms_deal",), (Stance("arms_deal", other, "support"),))
    )
    assert [i.sentence_id for i in review_queue(filled)] == ["a1:0"]
    filled.actors.add_alias(pid, "V. V. Poutine")  # the gazetteer now says they are one actor
    assert filled.actors.canonical() == {other: pid}
    assert review_queue(filled) == []
    versions = versions_for(filled, "a1:0")
    assert {v.stances for v in versions} == {(Stance("arms_deal", pid, "support"),)}


def test_propagated_labels_count_once(filled: Store) -> None:
    with filled.tx() as c:  # a1:0 represents a2:0 (a dedup cluster made by hand)
        c.execute(
            "INSERT INTO clusters(id, representative_id, size, threshold, created_at) "
            "VALUES ('c1', 'a1:0', 2, 90, 'now')"
        )
        c.execute("UPDATE sentences SET cluster_id = 'c1' WHERE id IN ('a1:0', 'a2:0')")
        c.execute("UPDATE sentences SET hidden = 1 WHERE id = 'a2:0'")
    filled.labels.save(Annotation("a1:0", "alice", "done", ("arms_deal",)))
    filled.labels.save(Annotation("a1:0", "bob", "done", ("denial",)))
    assert filled.labels.get("a2:0", "bob") is not None  # propagated copies exist...
    assert [i.sentence_id for i in review_queue(filled)] == ["a1:0"]  # ...but are not reviewed
    assert [i.sentence_id for i in review_queue(filled, include_all=True)] == ["a1:0"]


def test_resume_starts_at_first_sentence_without_gold(filled: Store) -> None:
    _two_annotators(filled)
    q = review_queue(filled)
    assert first_unreviewed(q, filled.gold.statuses([i.sentence_id for i in q])) == 0
    filled.gold.set(accept_version("a1:0", q[0].versions, 0, "dora"))
    filled.gold.set(unresolvable_gold("a2:1", q[2].versions, "dora"))
    gold = filled.gold.statuses([i.sentence_id for i in q])
    assert gold == {"a1:0": "gold", "a2:1": "unresolvable"}
    assert first_unreviewed(q, gold) == 1
    filled.gold.set(accept_version("a2:0", q[1].versions, 1, "dora"))
    assert first_unreviewed(q, filled.gold.statuses([i.sentence_id for i in q])) is None


def test_restore_gold_is_exact_and_stale_sources_noticed(filled: Store) -> None:
    _two_annotators(filled)
    q = review_queue(filled)
    first = filled.gold.set(accept_version("a1:0", q[0].versions, 0, "dora"))
    assert first.created_at and first.updated_at
    assert not stale_sources(first, versions_for(filled, "a1:0"))
    second = filled.gold.set(unresolvable_gold("a1:0", q[0].versions, "erin"))
    assert second.created_at == first.created_at and second.adjudicator == "erin"
    filled.gold.restore("a1:0", first)
    assert filled.gold.get("a1:0") == first
    filled.gold.restore("a1:0", None)
    assert filled.gold.get("a1:0") is None
    # an annotator changes their labels after the decision: the gold is stale
    gold = filled.gold.set(accept_version("a1:0", q[0].versions, 0, "dora"))
    filled.labels.save(Annotation("a1:0", "bob", "done", ("denial",)))
    assert stale_sources(gold, versions_for(filled, "a1:0"))


def test_gold_export_has_labels_and_source_versions(filled: Store, tmp_path: Path) -> None:
    ids = _two_annotators(filled)
    q = review_queue(filled)
    filled.gold.set(accept_version("a1:0", q[0].versions, 1, "dora"))
    filled.gold.set(
        edited_gold(
            "a2:0", q[1].versions, ["denial"], [Stance("denial", ids["moscow"], "oppose")], "dora"
        )
    )
    filled.gold.set(unresolvable_gold("a2:1", q[2].versions, "dora", "two readings"))
    out = tmp_path / "gold.jsonl"
    assert export(filled, "gold", out) == 3
    rows = [GoldRecord.model_validate(orjson.loads(x)) for x in out.read_bytes().splitlines()]
    a, b, c = rows
    assert (a.sentence_id, a.status, a.claims, a.chosen_from) == (
        "a1:0",
        "gold",
        ["arms_deal"],
        "bob",
    )
    assert [(s.actor, s.stance) for s in a.stances] == [("Vladimir Poutine", "oppose")]
    assert [(s.annotator, s.stances[0].stance) for s in a.sources] == [
        ("alice", "support"),
        ("bob", "oppose"),
    ]
    bob_now = filled.labels.get("a1:0", "bob")
    assert bob_now is not None and a.sources[1].updated_at == bob_now.updated_at
    assert (b.status, b.claims, b.chosen_from) == ("gold", ["denial"], None)
    assert b.stances[0].actor == "la Russie" and b.stances[0].actor_id == ids["moscow"]
    assert [s.annotator for s in b.sources] == ["alice", "carol"]
    assert (c.status, c.claims, c.stances, c.note) == ("unresolvable", [], [], "two readings")
    assert a.adjudicator == "dora" and a.decided_at


# --------------------------------------------------------------------------- command line


def test_review_with_nothing_to_review_exits_zero(tmp_path: Path) -> None:
    from tests.conftest import DEMO

    assert run("--db", "r.db", "import", str(DEMO), cwd=tmp_path).returncode == 0
    proc = run("--db", "r.db", "review", "--annotator", "dora", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Nothing to review" in proc.stderr and "--all" in proc.stderr
    env = {"STANCETERM_ANNOTATOR": "dora"}  # the adjudicator from the environment
    proc = run("--db", "r.db", "review", "--all", cwd=tmp_path, env=env)
    assert proc.returncode == 0 and "no sentence has a label" in proc.stderr
    bad = run("--db", "r.db", "review", "--annotator", "a\tb", cwd=tmp_path)
    assert bad.returncode == 1 and bad.stderr.startswith("error: annotator name")
    missing = run("--db", "nope.db", "review", "--annotator", "dora", cwd=tmp_path)
    assert missing.returncode == 1 and missing.stderr.startswith("error: ")
    assert not (tmp_path / "nope.db").exists()
