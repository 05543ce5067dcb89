"""A dedup cluster is ONE unit everywhere (ROUND-NOTES, Dedup: "Units"): labels written on two
copies of one cluster, before dedup hid them, meet in agreement and in review; gold decided on
the representative carries to its copies in ``export --kind gold``."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from conftest import add_article, run

from stanceterm.adjudicate import REASON_DISAGREE, review_queue, versions_for
from stanceterm.dedup import run_dedup
from stanceterm.export import Filters, export
from stanceterm.reliability import collect, rows_from_store
from stanceterm.schema import LabelSchema
from stanceterm.store import Annotation, Gold, Stance, Store

SENT = (
    "The State Department said more than 1,000 containers of munitions had been shipped to "
    "Russia, Matthew Miller said."
)
COPY_B = "According to Reuters, " + SENT.replace("1,000", "1 000")
COPY_C = SENT.replace(", Matthew Miller said.", ", said Matthew Miller.")


def three_outlets(store: Store) -> None:
    add_article(store, "afp", [SENT, "Only the first outlet has this closing line today."])
    add_article(store, "reuters", [COPY_B, "Reuters closes with a line about the markets."])
    add_article(store, "ap", [COPY_C, "The third outlet ends on the weather in Moscow."])


def lab(store: Store, sid: str, who: str, stance: str = "support", status: str = "done") -> None:
    store.labels.save(
        Annotation(
            sid,
            who,
            status,
            ("arms_deal",),
            (Stance("arms_deal", "les-etats-unis", stance),),
        )
    )


def units(store: Store, schema: LabelSchema) -> dict[str, set[str]]:
    corpus = collect(rows_from_store(store), schema.claim_ids)
    return {sid: set(labels) for sid, labels in corpus.sentences.items()}


def test_agreement_two_annotators_on_two_copies_are_one_unit(
    store: Store, schema: LabelSchema
) -> None:
    three_outlets(store)
    lab(store, "reuters:0", "alice", "support")  # labelled before dedup, on two copies
    lab(store, "ap:0", "bob", "oppose")
    run_dedup(store)
    assert store.corpus.sentence("ap:0").cluster_id == "c:afp:0"  # type: ignore[union-attr]
    assert units(store, schema) == {"afp:0": {"alice", "bob"}}


def test_agreement_one_annotator_on_two_copies_counts_once(
    store: Store, schema: LabelSchema
) -> None:
    three_outlets(store)
    lab(store, "afp:0", "alice", "support")
    lab(store, "ap:0", "alice", "support")
    lab(store, "reuters:0", "bob", "support")
    run_dedup(store)
    assert units(store, schema) == {"afp:0": {"alice", "bob"}}


def test_review_two_annotators_on_two_copies_disagree(store: Store) -> None:
    three_outlets(store)
    lab(store, "reuters:0", "alice", "support")
    lab(store, "ap:0", "bob", "oppose")
    assert review_queue(store) == []  # before dedup they never meet
    run_dedup(store)
    items = review_queue(store)
    assert [(i.sentence_id, i.reasons) for i in items] == [("afp:0", (REASON_DISAGREE,))]
    assert [(v.annotator, v.sentence_id) for v in items[0].versions] == [
        ("alice", "reuters:0"),
        ("bob", "ap:0"),
    ]
    assert [v.annotator for v in versions_for(store, "afp:0")] == ["alice", "bob"]


def test_review_one_annotator_two_copies_different_labels(store: Store) -> None:
    three_outlets(store)
    lab(store, "reuters:0", "alice", "support")
    lab(store, "ap:0", "alice", "oppose")
    run_dedup(store)
    items = review_queue(store)
    assert [(i.sentence_id, i.reasons) for i in items] == [("afp:0", (REASON_DISAGREE,))]
    # the same labels on both copies: nothing to review
    lab(store, "ap:0", "alice", "support")
    assert review_queue(store) == []


def test_gold_on_the_representative_carries_to_its_copies(store: Store, tmp_path: Path) -> None:
    three_outlets(store)
    run_dedup(store)
    lab(store, "afp:0", "alice")
    store.gold.set(
        Gold(
            "afp:0",
            "gold",
            ("arms_deal",),
            (Stance("arms_deal", "les-etats-unis", "support"),),
            adjudicator="lea",
            chosen_from=None,
        )
    )
    out = tmp_path / "gold.jsonl"
    export(store, "gold", out, Filters())
    rows = {r["sentence_id"]: r for r in map(orjson.loads, out.read_bytes().splitlines())}
    assert set(rows) == {"afp:0", "reuters:0", "ap:0"}
    assert rows["afp:0"]["propagated_from"] is None
    assert rows["reuters:0"]["propagated_from"] == "afp:0"
    assert rows["ap:0"]["propagated_from"] == "afp:0"
    assert rows["ap:0"]["claims"] == ["arms_deal"]
    assert rows["ap:0"]["text"] == COPY_C
    # a split copy no longer carries it
    store.clusters.split("ap:0")
    export(store, "gold", out, Filters())
    assert {r["sentence_id"] for r in map(orjson.loads, out.read_bytes().splitlines())} == {
        "afp:0",
        "reuters:0",
    }


@pytest.mark.parametrize("kind", ["gold"])
def test_cli_export_gold_marks_propagated(tmp_path: Path, kind: str) -> None:
    arts = [
        {"id": "afp", "text": SENT},
        {"id": "reuters", "text": COPY_B},
    ]
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps(a) for a in arts) + "\n")
    assert run("--db", "t.db", "import", "a.jsonl", cwd=tmp_path).returncode == 0
    assert run("--db", "t.db", "dedup", cwd=tmp_path).returncode == 0
    with Store.open(tmp_path / "t.db") as s:
        rep = s.corpus.first()
        assert rep is not None
        s.gold.set(Gold(rep.id, "gold", ("arms_deal",), (), "lea", None))
    p = run("--db", "t.db", "export", "--kind", kind, "--out", "-", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    rows = [json.loads(line) for line in p.stdout.splitlines()]
    assert sorted((r["sentence_id"], r["propagated_from"]) for r in rows) == [
        ("afp:0", None),
        ("reuters:0", "afp:0"),
    ]


# --------------------------------------------------------------------------- trusted aliases

SHOIGU = "Shoigu told the generals that the new brigades would be ready before the end of the year."


def test_a_picker_alias_never_merges_a_lead_alias_does(store: Store) -> None:
    add_article(store, "a1", [SHOIGU])
    add_article(store, "a2", ["Sergei " + SHOIGU])
    actor = store.actors.add("Sergei Shoigu", aliases=["Shoigu"], created_by="alice")  # picker
    run_dedup(store)
    assert store.clusters.counts() == (0, 0)
    store.actors.add_alias(actor, "Shoigu", trusted=False)  # again untrusted: still apart
    assert run_dedup(store).mode == "up to date"
    store.actors.add_alias(actor, "Shoigu", trusted=True)  # `stanceterm actors alias` (a lead)
    r = run_dedup(store)
    assert r.mode == "full" and r.reason == "the trusted aliases changed"
    assert store.clusters.counts() == (1, 1)
    assert store.actors.trusted_alias_map()["Sergei Shoigu"] == actor
    # adding it again untrusted (the picker) does not lower a lead's alias
    store.actors.add("Shoigu", created_by="bob")
    assert store.actors.trusted_alias_map()["Shoigu"] == actor


def test_migration_v10_trusts_the_schema_gazetteer_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, schema: LabelSchema
) -> None:
    import sqlite3

    from stanceterm.store import migrations as store_mod

    p = tmp_path / "v5.db"
    with monkeypatch.context() as mp:
        mp.setattr(store_mod, "MIGRATIONS", [m for m in store_mod.MIGRATIONS if m[0] <= 5])
        mp.setattr(store_mod, "LATEST_VERSION", 5)
        s = Store.open(p)
        assert s.schema_version() == 5
        s.close()
    with sqlite3.connect(p) as c:  # rows as a v5 stanceterm wrote them (no connection open)
        c.execute(
            "INSERT INTO actors(id, name, created_by, created_at) VALUES "
            "('poutine', 'Vladimir Poutine', NULL, 't'), ('shoigu', 'Sergei Shoigu', 'alice', 't')"
        )
        c.execute(
            "INSERT INTO actor_aliases(key, alias, actor_id) VALUES "
            "('putin', 'Putin', 'poutine'), ('shoigu', 'Shoigu', 'shoigu')"
        )
    s = Store.open(p, migrate=True)  # as `stanceterm upgrade` does
    try:
        assert s.schema_version() >= 10
        trusted = s.actors.trusted_alias_map()
        assert trusted == {"Putin": "poutine", "Vladimir Poutine": "poutine"}
    finally:
        s.close()


def test_a_label_on_a_hidden_copy_shows_it_whatever_writes_it(store: Store) -> None:
    three_outlets(store)
    run_dedup(store)
    assert store.corpus.sentence("ap:0").hidden  # type: ignore[union-attr]
    rec = Annotation(
        "ap:0", "bob", "done", ("arms_deal",), (), updated_at="2026-01-01", created_at="2026-01-01"
    )
    with store.tx():
        store.labels.import_records([rec])  # import-labels
    assert not store.corpus.sentence("ap:0").hidden  # type: ignore[union-attr]
    with store.tx() as c:  # its last direct label gone: hidden again, as a full run has it
        c.execute("DELETE FROM annotations WHERE sentence_id = 'ap:0'")
    assert store.corpus.sentence("ap:0").hidden  # type: ignore[union-attr]


def test_cli_import_labels_propagate_to_hidden_copies(tmp_path: Path) -> None:
    """A label imported on a representative reaches its hidden copies, as a label from the
    screen or from merge does (README: "whether they come from the screen, import-labels or
    merge"); a copy's own direct label is kept; undo-import takes the propagated rows back.
    The fast import path wrote the representative only (new-user review)."""
    arts = [
        {"id": "afp", "text": SENT},
        {"id": "reuters", "text": COPY_B},
        {"id": "ap", "text": COPY_C},
    ]
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps(a) for a in arts) + "\n")
    assert run("--db", "t.db", "import", "a.jsonl", cwd=tmp_path).returncode == 0
    p = run("--db", "t.db", "dedup", cwd=tmp_path)
    assert p.returncode == 0 and "2 copies hidden" in p.stderr, p.stderr
    with Store.open(tmp_path / "t.db") as s:  # bob labelled the ap copy himself, earlier
        s.labels.save(Annotation("ap:0", "bob", "done", ("denial",), ()))
    recs = [
        {
            "sentence_id": "afp:0",
            "annotator": who,
            "status": "done",
            "claims": ["arms_deal"],
            "stances": [],
        }
        for who in ("carol", "bob")
    ]
    (tmp_path / "l.jsonl").write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    p = run("--db", "t.db", "import-labels", "l.jsonl", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    p = run("--db", "t.db", "export", "--kind", "annotations", "--out", "-", cwd=tmp_path)
    rows = {(r["sentence_id"], r["annotator"]): r for r in map(json.loads, p.stdout.splitlines())}
    assert rows[("reuters:0", "carol")]["propagated_from"] == "afp:0"
    assert rows[("ap:0", "carol")]["propagated_from"] == "afp:0"
    assert rows[("ap:0", "carol")]["claims"] == ["arms_deal"]
    assert rows[("reuters:0", "bob")]["propagated_from"] == "afp:0"
    assert rows[("ap:0", "bob")]["propagated_from"] is None  # his own label stays
    assert rows[("ap:0", "bob")]["claims"] == ["denial"]
    p = run("--db", "t.db", "dedup", cwd=tmp_path)
    assert "0 labels propagated" in p.stderr, p.stderr  # nothing was left for dedup to do
    p = run("--db", "t.db", "undo-import", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    p = run("--db", "t.db", "export", "--kind", "annotations", "--out", "-", cwd=tmp_path)
    left = {(r["sentence_id"], r["annotator"]) for r in map(json.loads, p.stdout.splitlines())}
    assert left == {("ap:0", "bob")}
