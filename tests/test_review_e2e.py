"""A two-annotator round on the bundled article ends in a gold export.

The command line imports the article and both annotators' labels (import-labels), the review
screen is driven by keys, and `stanceterm export --kind gold` writes the decisions.
"""

from __future__ import annotations

from pathlib import Path

import orjson

from stanceterm.records import GoldRecord
from stanceterm.store import Store
from stanceterm.ui.review_app import ReviewApp
from tests.conftest import DEMO, run, run_async, settle

STAMP = "2026-11-30T10:00:00.000000Z"


def _record(sid: str, aid: str, text: str, who: str, status: str, claims: list[str], stances: list[tuple[str, str, str]]) -> bytes:  # fmt: skip
    return orjson.dumps(
        {
            "schema_version": 1,
            "sentence_id": sid,
            "article_id": aid,
            "text": text,
            "annotator": who,
            "status": status,
            "claims": claims,
            "stances": [{"claim": c, "actor": a, "stance": s} for c, a, s in stances],
            "propagated_from": None,
            "note": None,
            "created_at": STAMP,
            "updated_at": STAMP,
        }
    )


@run_async
async def test_two_annotators_review_and_gold_export(tmp_path: Path) -> None:
    assert run("--db", "round.db", "import", str(DEMO), cwd=tmp_path).returncode == 0
    store = Store.open(tmp_path / "round.db")
    aid = store.corpus.article_ids()[0]
    sentences = {i: store.corpus.sentence(f"{aid}:{i}") for i in range(6)}
    text = {i: s.text for i, s in sentences.items() if s is not None}
    assert "satellites" in text[2] and "nient" in text[3]  # « Les deux parties nient… »
    denial = [("denial", "Russie", "support"), ("denial", "Corée du Nord", "support")]
    lines = [
        # 0: agree (arms deal expected, reported neutrally)
        _record(f"{aid}:0", aid, text[0], "alice", "done", ["arms_deal"], []),
        _record(f"{aid}:0", aid, text[0], "bob", "done", ["arms_deal"], []),
        # 2: Moscow helps with satellites: alice no claim, bob arms_deal -> disagreement
        _record(f"{aid}:2", aid, text[2], "alice", "done", [], []),
        _record(f"{aid}:2", aid, text[2], "bob", "done", ["arms_deal"], []),
        # 3: both see the denial, bob also the US claim as arms_deal support -> disagreement
        _record(f"{aid}:3", aid, text[3], "alice", "done", ["denial"], denial),
        _record(
            f"{aid}:3",
            aid,
            text[3],
            "bob",
            "done",
            ["arms_deal", "denial"],
            [*denial, ("arms_deal", "Washington", "support")],
        ),
        # 4: alice labels, bob skips (missing data): not a disagreement
        _record(f"{aid}:4", aid, text[4], "alice", "done", ["arms_deal"], []),
        _record(f"{aid}:4", aid, text[4], "bob", "skipped", [], []),
    ]
    labels = tmp_path / "labels.jsonl"
    labels.write_bytes(b"\n".join(lines) + b"\n")
    proc = run("--db", "round.db", "import-labels", str(labels), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr

    schema = store.label_schema()
    assert schema is not None
    app = ReviewApp(store, schema, "carol")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("2")  # sentence 2: bob's arms_deal
        await settle(app, pilot)
        await pilot.press("e", "1")  # sentence 3: start from the shared denial; add arms_deal
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("q")
        await settle(app, pilot)
    store.close()

    out = tmp_path / "gold.jsonl"
    proc = run("--db", "round.db", "export", "--kind", "gold", "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Wrote 2 lines (gold)" in proc.stderr
    rows = [GoldRecord.model_validate(orjson.loads(x)) for x in out.read_bytes().splitlines()]
    sat, den = rows
    assert (sat.sentence_id, sat.status, sat.claims, sat.chosen_from) == (
        f"{aid}:2",
        "gold",
        ["arms_deal"],
        "bob",
    )
    assert sat.adjudicator == "carol" and sat.text == text[2]
    assert [(s.annotator, s.claims, s.updated_at) for s in sat.sources] == [
        ("alice", [], STAMP),
        ("bob", ["arms_deal"], STAMP),
    ]
    assert (den.sentence_id, den.claims, den.chosen_from) == (
        f"{aid}:3",
        ["arms_deal", "denial"],
        None,
    )
    assert sorted((s.claim, s.actor, s.stance) for s in den.stances) == [
        ("denial", "la Corée du Nord", "support"),
        ("denial", "la Russie", "support"),
    ]
    assert [len(s.stances) for s in den.sources] == [2, 3]
    assert all(r.decided_at > STAMP for r in rows)
