"""``export --kind final``: the dataset a lead ships (issue 15 §6).

Per sentence: the gold decision; else the label every annotator with a ``done`` label agrees on,
when there are at least ``--min-annotators`` of them (a flag sends the unit to review); else
nothing, counted as "needs review". A dedup cluster is one unit; its copies carry the decision
with ``propagated_from``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import orjson
import pandas as pd
import pytest
from conftest import add_article, assert_clean_error, run

from stanceterm.dedup import run_dedup
from stanceterm.records import FinalRecord
from stanceterm.schema import load_schema
from stanceterm.store import Annotation, Gold, Stance, Store

A = [
    "Vladimir Poutine a soutenu l'accord d'armement avec la Corée du Nord, selon le Kremlin.",
    "Les États-Unis ont dénoncé cet accord dans un communiqué publié mardi soir à Washington.",
    "Kim Jong Un a visité une usine de missiles près de Vladivostok pendant son long séjour.",
    "Le ministre a refusé de commenter ces informations devant la presse réunie au ministère.",
    "La Chine appelle au calme dans la péninsule coréenne depuis plusieurs semaines déjà.",
    "Le temps était gris et pluvieux sur Moscou pendant toute la durée de la visite officielle.",
]
B = [A[0], "Un autre texte sans aucun rapport avec le sujet principal de cet article de presse."]


def build(path: Path) -> Store:
    """a:0 (copy b:0) agreed through an alias; a:1 disagree; a:2 one annotator; a:3 flagged;
    a:4 adjudicated; a:5 one done + one skip; b:1 never labelled."""
    store = Store.open(path)
    store.set_label_schema(load_schema())
    add_article(store, "a", A)
    add_article(store, "b", B)
    run_dedup(store)
    assert store.corpus.sentence("b:0").cluster_id is not None  # type: ignore[union-attr]
    pid = store.actors.resolve("Poutine")
    assert pid
    # bob created his own "Poutine Vladimir", later made an alias of Vladimir Poutine
    other = store.actors.add("Poutine Vladimir", created_by="bob")
    store.actors.add_alias(pid, "Poutine Vladimir")
    assert other != pid and store.actors.canonical().get(other) == pid
    s = store.labels.save
    s(Annotation("a:0", "alice", "done", ("arms_deal",), (Stance("arms_deal", pid, "support"),)))
    s(Annotation("a:0", "bob", "done", ("arms_deal",), (Stance("arms_deal", other, "support"),)))
    s(Annotation("a:1", "alice", "done", ("denial",)))
    s(Annotation("a:1", "bob", "done", ()))
    s(Annotation("a:2", "alice", "done", ("sanctions_efficacy",)))
    s(Annotation("a:2", "bob", "draft", ("denial",)))  # unfinished: not a label
    s(Annotation("a:3", "alice", "done", ()))
    s(Annotation("a:3", "bob", "flagged", ()))
    s(Annotation("a:4", "alice", "done", ("denial",)))
    s(Annotation("a:4", "bob", "done", ("arms_deal",)))
    s(Annotation("a:5", "alice", "done", ()))
    s(Annotation("a:5", "bob", "skipped"))
    store.gold.set(
        Gold("a:4", "gold", ("arms_deal",), (Stance("arms_deal", pid, "oppose"),), "lead", None)
    )
    return store


def lines(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines()]


def test_final_export_picks_gold_then_agreement_and_counts_the_rest(tmp_path: Path) -> None:
    build(tmp_path / "t.db").close()
    out = tmp_path / "final.jsonl"
    proc = run("--db", "t.db", "export", "--kind", "final", "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = {r["sentence_id"]: r for r in lines(out)}
    assert list(rows) == ["a:0", "a:4", "b:0"]
    for r in rows.values():
        FinalRecord.model_validate(r)
    agreed = rows["a:0"]
    assert agreed["source"] == "agreed" and agreed["annotators"] == ["alice", "bob"]
    assert agreed["claims"] == ["arms_deal"] and agreed["propagated_from"] is None
    assert agreed["stances"] == [
        {
            "claim": "arms_deal",
            "actor": "Vladimir Poutine",
            "stance": "support",
            "actor_id": "vladimir-poutine",
        }
    ]
    copy = rows["b:0"]
    assert copy["propagated_from"] == "a:0" and copy["source"] == "agreed"
    assert copy["text"] == A[0] and copy["article_id"] == "b"
    gold = rows["a:4"]
    assert gold["source"] == "adjudicated" and gold["adjudicator"] == "lead"
    assert gold["stances"][0]["stance"] == "oppose"  # type: ignore[index]
    # the summary says what was left out, and why
    assert "needs review: 4" in proc.stderr, proc.stderr
    assert "disagree 1" in proc.stderr and "flagged 1" in proc.stderr
    assert "fewer than 2 annotators 2" in proc.stderr
    assert "not annotated: 1" in proc.stderr
    # what to do next: review holds the disagreements and flags, not the sentences with too few
    assert "review` to decide the 2 disagreeing or flagged" in proc.stderr
    assert "2 sentences have fewer than 2 annotators" in proc.stderr
    assert "--allow-single" in proc.stderr


def test_allow_single_and_min_annotators(tmp_path: Path) -> None:
    build(tmp_path / "t.db").close()
    out = tmp_path / "f.jsonl"
    proc = run(
        "--db", "t.db", "export", "--kind", "final", "--allow-single", "--out", str(out),
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = {r["sentence_id"]: r for r in lines(out)}
    assert list(rows) == ["a:0", "a:2", "a:4", "a:5", "b:0"]
    assert rows["a:2"]["source"] == "single" and rows["a:2"]["annotators"] == ["alice"]
    assert rows["a:5"]["source"] == "single" and rows["a:5"]["claims"] == []
    assert "needs review: 2" in proc.stderr
    proc = run(
        "--db", "t.db", "export", "--kind", "final", "--min-annotators", "3", "--out", str(out),
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert [r["sentence_id"] for r in lines(out)] == ["a:4"]
    assert "fewer than 3 annotators 3" in proc.stderr


def test_a_copy_labelled_differently_sends_the_cluster_to_review(tmp_path: Path) -> None:
    store = build(tmp_path / "t.db")
    # before dedup hid it, carol labelled the copy; her label differs from the others'
    store.labels.save(Annotation("b:0", "carol", "done", ("denial",)))
    store.close()
    out = tmp_path / "f.jsonl"
    proc = run("--db", "t.db", "export", "--kind", "final", "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert [r["sentence_id"] for r in lines(out)] == ["a:4"]
    assert "disagree 2" in proc.stderr


def test_loads_with_pandas_and_the_schema_is_published(tmp_path: Path) -> None:
    build(tmp_path / "t.db").close()
    out = tmp_path / "f.jsonl"
    assert (
        run("--db", "t.db", "export", "--kind", "final", "--out", str(out), cwd=tmp_path).returncode
        == 0
    )
    df = pd.read_json(out, lines=True)
    assert list(df["sentence_id"]) == ["a:0", "a:4", "b:0"]
    assert {"source", "annotators", "claims", "stances", "propagated_from"} <= set(df.columns)
    schema_file = Path(__file__).parent.parent / "schemas" / "final.schema.json"
    assert "FinalRecord" in schema_file.read_text(encoding="utf-8")


def test_csv_is_one_row_per_stance(tmp_path: Path) -> None:
    store = build(tmp_path / "t.db")
    kid = store.actors.resolve("Kim")
    assert kid
    # a claim with two stances and one claim with none
    st = (Stance("arms_deal", kid, "support"), Stance("arms_deal", "les-etats-unis", "oppose"))
    for who in ("alice", "bob"):
        store.labels.save(Annotation("a:2", who, "done", ("arms_deal", "denial"), st))
    store.close()
    out = tmp_path / "f.csv"
    proc = run(
        "--db", "t.db", "export", "--kind", "final", "--format", "csv", "--out", str(out),
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    by = [(r["sentence_id"], r["claim"], r["actor"], r["stance"]) for r in rows]
    assert by == [
        ("a:0", "arms_deal", "Vladimir Poutine", "support"),
        ("a:2", "arms_deal", "Kim Jong Un", "support"),
        ("a:2", "arms_deal", "les États-Unis", "oppose"),
        ("a:2", "denial", "", ""),
        ("a:4", "arms_deal", "Vladimir Poutine", "oppose"),
        ("b:0", "arms_deal", "Vladimir Poutine", "support"),
    ]
    assert rows[-1]["propagated_from"] == "a:0" and rows[0]["annotators"] == "alice;bob"
    df = pd.read_csv(out)
    assert len(df) == 6


def test_parquet(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    build(tmp_path / "t.db").close()
    out = tmp_path / "f.parquet"
    proc = run(
        "--db", "t.db", "export", "--kind", "final", "--format", "parquet", "--out", str(out),
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    df = pd.read_parquet(out)
    assert list(df["sentence_id"]) == ["a:0", "a:4", "b:0"]
    assert list(df["source"]) == ["agreed", "adjudicated", "agreed"]


def test_parquet_without_pyarrow_is_one_clean_line(tmp_path: Path) -> None:
    build(tmp_path / "t.db").close()
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "pyarrow.py").write_text("raise ImportError('No module named pyarrow')\n")
    out = tmp_path / "f.parquet"
    proc = run(
        "--db", "t.db", "export", "--kind", "final", "--format", "parquet", "--out", str(out),
        cwd=tmp_path, env={"PYTHONPATH": str(shim)},
    )  # fmt: skip
    assert_clean_error(proc, "pyarrow", "stanceterm[parquet]")
    assert not out.exists()


def test_final_refuses_options_it_does_not_take(tmp_path: Path) -> None:
    build(tmp_path / "t.db").close()
    proc = run("--db", "t.db", "export", "--kind", "final", "--status", "draft", cwd=tmp_path)
    assert_clean_error(proc, "--status")
    proc = run("--db", "t.db", "export", "--kind", "gold", "--format", "csv", cwd=tmp_path)
    assert_clean_error(proc, "--format")


def test_a_copy_before_its_representative_gets_the_units_decision(tmp_path: Path) -> None:
    """The final export streams the units in unit order beside the sentences: a copy that comes
    before its representative (the representative was chosen elsewhere, e.g. in another DB that
    was merged) still carries the unit's decision, and every other sentence keeps its own."""
    import sqlite3

    build(tmp_path / "t.db").close()
    before = tmp_path / "before.jsonl"
    assert run("--db", "t.db", "export", "--kind", "final", "--out", str(before), cwd=tmp_path)
    with sqlite3.connect(tmp_path / "t.db") as con:  # make the later sentence b:0 represent a:0
        (cid,) = con.execute("SELECT cluster_id FROM sentences WHERE id = 'a:0'").fetchone()
        con.execute("UPDATE clusters SET representative_id = 'b:0' WHERE id = ?", (cid,))
    out = tmp_path / "final.jsonl"
    proc = run("--db", "t.db", "export", "--kind", "final", "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = {r["sentence_id"]: r for r in lines(out)}
    assert list(rows) == ["a:0", "a:4", "b:0"]
    assert rows["a:0"]["propagated_from"] == "b:0" and rows["a:0"]["source"] == "agreed"
    assert rows["b:0"]["propagated_from"] is None and rows["b:0"]["source"] == "agreed"
    assert rows["a:0"]["annotators"] == rows["b:0"]["annotators"] == ["alice", "bob"]
    old = {r["sentence_id"]: r for r in lines(before)}
    assert rows["a:4"] == old["a:4"]
    assert "needs review: 4" in proc.stderr and "not annotated: 1" in proc.stderr
