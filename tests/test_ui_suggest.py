"""Pilot tests of claim suggestions in the annotation screen: the ◌ mark, A, provenance, and no
suggestions on overlap or blind units."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from stanceterm import suggest, suggest_trainer
from stanceterm.schema import LabelSchema
from stanceterm.store import Store
from stanceterm.ui.app import AnnotateApp
from stanceterm.ui.screens.annotate import AnnotateScreen
from tests.conftest import make_db, run_async, settle
from tests.conftest import suggest_corpus as corpus

SIZE = (100, 30)
PROBES = [
    "Russia will buy artillery shells and rockets from North Korea.",  # p:0 arms: A, Enter
    "Moscou a démenti toute livraison d'obus et d'armes.",  # p:1 A, then a digit: edited
    "North Korea could sell shells and rockets to Moscow.",  # p:2 overlap unit
    "Pyongyang livrerait des obus et des roquettes à Moscou.",  # p:3 blind unit
    "Le Kremlin a démenti ces informations.",  # p:4 typed with a suggestion shown
]


def screen(app: AnnotateApp) -> AnnotateScreen:
    s = app.screen_stack[0] if isinstance(app.screen_stack[0], AnnotateScreen) else app.screen
    assert isinstance(s, AnnotateScreen)
    return s


async def suggestions_ready(app: AnnotateApp, pilot: Any) -> suggest.Shown:
    for _ in range(400):
        await pilot.pause(0.05)
        shown = screen(app).shown()
        if shown is not None:
            return shown
    raise AssertionError("no suggestion computed")


def record(store: Store, sid: str, who: str = "alice") -> dict[str, Any] | None:
    ann = store.labels.get(sid, who)
    assert ann is not None
    return suggest.suggestion_record(ann)


def _db_with_model(
    tmp_path: Path, texts: list[str] = PROBES
) -> tuple[Path, Store, LabelSchema, suggest.ClaimModel]:
    """A DB of ``texts`` (one article, the default schema) with a claim model trained on the
    fixed corpus saved beside it: (its path, the store, the schema, the model)."""
    db = tmp_path / "ui.db"
    store = make_db(db, [("p", "Probes", "src", "2026-01-01", texts)])
    schema = store.label_schema()
    assert schema is not None
    model = suggest_trainer.train(corpus(), schema.claim_ids, schema.fingerprint, seed=0)
    suggest_trainer.save_model(model, suggest.model_path(db))
    return db, store, schema, model


@run_async
async def test_suggestions_shown_a_takes_them_provenance_saved_none_on_overlap(
    tmp_path: Path,
) -> None:
    db, store, schema, model = _db_with_model(tmp_path)
    seqs = {s.id: s.seq for s in (store.corpus.sentence(f"p:{i}") for i in range(5)) if s}
    store.team.write_assignments({"alice": list(seqs.values()), "bob": [seqs["p:2"]]})
    store.suggest.set_blind(["p:3"], seed=0)
    live = suggest.LiveSuggestions(str(db), schema.fingerprint, schema.claim_ids)
    app = AnnotateApp(store, schema, "alice", suggestions=live, nudge_stances=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        s = screen(app)
        shown = await suggestions_ready(app, pilot)
        assert s.sentence is not None and s.sentence.id == "p:0"
        assert shown.claims == ("arms_deal",) and shown.model_id == model.model_id
        label = str(app.screen.query_one("#claim-arms_deal").label)  # type: ignore[attr-defined]
        assert "○ ◌ 0." in label and "●" not in label  # a mark, never ticked
        assert store.labels.get("p:0", "alice") is None  # nothing saved by showing
        # A accepts the suggestion as-is in one key: done, and on to the next sentence
        await pilot.press("A")
        await settle(app, pilot)
        ann = store.labels.get("p:0", "alice")
        assert ann is not None and ann.claims == ("arms_deal",) and ann.status == "done"
        assert record(store, "p:0") == {
            "claims": ["arms_deal"],
            "model": model.model_id,
            "accepted": True,
            "applied": True,
        }
        assert suggest.provenance(record(store, "p:0")) == "accepted"
        # p:1: A, then back and a digit: the suggestion edited (still done)
        assert s.sentence is not None and s.sentence.id == "p:1"
        await suggestions_ready(app, pilot)
        await pilot.press("A")
        await settle(app, pilot)
        assert s.sentence is not None and s.sentence.id == "p:2"
        await pilot.press("k", "3")
        await settle(app, pilot)
        ann = store.labels.get("p:1", "alice")
        assert ann is not None and ann.status == "done" and "sanctions_efficacy" in ann.claims
        await pilot.press("enter")
        await settle(app, pilot)
        rec = record(store, "p:1")
        assert rec is not None and rec["applied"] is True and rec["accepted"] is False
        assert suggest.provenance(rec) == "edited"
        # p:2 is an overlap unit (alice and bob): no mark, A says why and saves nothing
        assert s.sentence is not None and s.sentence.id == "p:2"
        shown = await suggestions_ready(app, pilot)
        assert shown.excluded is not None and "overlap" in shown.excluded
        label = str(app.screen.query_one("#claim-arms_deal").label)  # type: ignore[attr-defined]
        assert "◌" not in label
        await pilot.press("A")
        await settle(app, pilot)
        assert store.labels.get("p:2", "alice") is None
        await pilot.press("1", "enter")
        await settle(app, pilot)
        assert record(store, "p:2") is None  # unassisted: no provenance record
        # p:3 is a blind unit
        assert s.sentence is not None and s.sentence.id == "p:3"
        shown = await suggestions_ready(app, pilot)
        assert shown.excluded is not None and "blind" in shown.excluded
        await pilot.press("1", "enter")
        await settle(app, pilot)
        assert record(store, "p:3") is None
        # p:4: typed by hand while a suggestion was shown
        assert s.sentence is not None and s.sentence.id == "p:4"
        await suggestions_ready(app, pilot)
        await pilot.press("2", "enter")
        await settle(app, pilot)
        rec = record(store, "p:4")
        assert rec is not None and rec["applied"] is False and rec["accepted"] is False
        assert suggest.provenance(rec) == "typed"
    # the history carries the provenance; export -> import-labels is the identity
    events = store.conn.execute(
        "SELECT after FROM annotation_events WHERE sentence_id = 'p:0' ORDER BY id DESC LIMIT 1"
    ).fetchone()
    assert json.loads(json.loads(events[0])["suggested"])["accepted"] is True
    out = tmp_path / "labels.jsonl"
    cmd = [sys.executable, "-m", "stanceterm", "--db", str(db)]
    r = subprocess.run([*cmd, "export", "--kind", "annotations", "--out", str(out)], timeout=120)
    assert r.returncode == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    by = {d["sentence_id"]: d for d in lines}
    assert by["p:0"]["suggested"]["accepted"] is True and "suggested" not in by["p:2"]
    r2 = subprocess.run(
        [*cmd, "import-labels", str(out)], capture_output=True, text=True, timeout=120
    )
    assert r2.returncode == 0, r2.stderr
    out2 = tmp_path / "labels2.jsonl"
    subprocess.run([*cmd, "export", "--kind", "annotations", "--out", str(out2)], timeout=120)
    assert out2.read_bytes() == out.read_bytes()
    store.close()


@run_async
async def test_order_uncertain_walks_the_least_sure_first(tmp_path: Path) -> None:
    db, store, schema, model = _db_with_model(tmp_path)
    rows = [(i, f"p:{i}", t) for i, t in enumerate(PROBES)]
    want = suggest.uncertain_order(model, rows)
    assert want != [r[1] for r in rows]  # the test means something: not document order
    live = suggest.LiveSuggestions(str(db), schema.fingerprint, schema.claim_ids)
    app = AnnotateApp(store, schema, "alice", suggestions=live, order="uncertain")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        s = screen(app)
        for _ in range(400):
            await pilot.pause(0.05)
            if s._uncertain is not None:
                break
        await settle(app, pilot)
        assert s._uncertain == want
        seen = []
        for i, _ in enumerate(PROBES):
            assert s.sentence is not None
            seen.append(s.sentence.id)
            # the order is on screen, with the place in the walk (new-user review: it was only
            # a pop-up at start)
            top = str(s.query_one("#topbar").visual)  # type: ignore[attr-defined]
            assert f"least sure first {i + 1}/{len(PROBES)}" in top, top
            await pilot.press("0")
            await settle(app, pilot)
        assert seen == want
    store.close()


@run_async
async def test_order_uncertain_without_a_model_says_document_order(tmp_path: Path) -> None:
    store = make_db(tmp_path / "ui.db", [("p", "Probes", "src", "2026-01-01", PROBES)])
    schema = store.label_schema()
    assert schema is not None
    live = suggest.LiveSuggestions(str(tmp_path / "ui.db"), schema.fingerprint, schema.claim_ids)
    app = AnnotateApp(store, schema, "alice", suggestions=live, order="uncertain")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        s = screen(app)
        for _ in range(200):
            await pilot.pause(0.05)
            top = str(s.query_one("#topbar").visual)  # type: ignore[attr-defined]
            if "document order" in top:
                break
        assert "uncertain order: no model yet, document order" in top, top
    store.close()


def test_uncertain_order_ranks_by_the_least_sure_claim() -> None:
    class Fixed:
        def predict(self, texts: list[str]) -> list[dict[str, float]]:
            table = {"sure": 0.99, "unsure": 0.5, "middling": 0.8, "also sure": 0.01}
            return [{"x": table[t]} for t in texts]

    rows = [(0, "a", "sure"), (1, "b", "unsure"), (2, "c", "middling"), (3, "d", "also sure")]
    assert suggest.uncertain_order(Fixed(), rows) == ["b", "c", "a", "d"]


@run_async
async def test_no_suggestion_where_another_annotator_labelled_the_sentence(tmp_path: Path) -> None:
    """Blindness first: the model may have learnt bob's label of p:0, so alice sees no
    suggestion there (p:1, labelled by nobody else, has one)."""
    from stanceterm.store import Annotation

    db, store, schema, _model = _db_with_model(tmp_path)
    store.labels.save(Annotation("p:0", "bob", "done", ("arms_deal",)))
    live = suggest.LiveSuggestions(str(db), schema.fingerprint, schema.claim_ids)
    app = AnnotateApp(store, schema, "alice", suggestions=live, nudge_stances=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        s = screen(app)
        shown = await suggestions_ready(app, pilot)
        assert s.sentence is not None and s.sentence.id == "p:0"
        assert shown.excluded is not None and "another annotator" in shown.excluded
        label = str(app.screen.query_one("#claim-arms_deal").label)  # type: ignore[attr-defined]
        assert "◌" not in label
        await pilot.press("A")
        await settle(app, pilot)
        assert store.labels.get("p:0", "alice") is None
        await pilot.press("j")
        await settle(app, pilot)
        shown = await suggestions_ready(app, pilot)
        assert shown.excluded is None and shown.claims
    store.close()


def _status(app: AnnotateApp) -> str:
    return str(app.screen.query_one("#status").render())  # type: ignore[attr-defined]


@run_async
async def test_the_status_line_says_what_a_accepts(tmp_path: Path) -> None:
    """A new user sees no ◌ mark when the model suggests no claim, and `A` is not in the
    footer: pressing it saved "done, no claim" without a word. The status line says what the
    model suggests and that `A` takes it, and why there is no suggestion on an excluded unit."""
    db, store, schema, _model = _db_with_model(tmp_path)
    store.suggest.set_blind(["p:3"], seed=0)
    live = suggest.LiveSuggestions(str(db), schema.fingerprint, schema.claim_ids)
    app = AnnotateApp(store, schema, "alice", suggestions=live, nudge_stances=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        s = screen(app)
        await suggestions_ready(app, pilot)
        await settle(app, pilot)
        assert "◌ A: arms_deal" in _status(app)
        s.jump_to("p:4")  # "Le Kremlin a démenti ces informations." with a claim or none
        await settle(app, pilot)
        shown = await suggestions_ready(app, pilot)
        await settle(app, pilot)
        want = ", ".join(shown.claims) if shown.claims else "no claim"
        assert f"◌ A: {want}" in _status(app)
        s.jump_to("p:3")
        await settle(app, pilot)
        await suggestions_ready(app, pilot)
        await settle(app, pilot)
        assert "◌ none here: a blind unit" in _status(app)
        s.jump_to("p:0")
        await settle(app, pilot)
        await pilot.press("A")
        await settle(app, pilot)
        await pilot.press("k")
        await settle(app, pilot)
        assert "◌" not in _status(app)  # done: nothing left to accept
    store.close()


@run_async
async def test_order_uncertain_precomputes_along_its_own_walk(tmp_path: Path) -> None:
    """With --order uncertain the next sentence is anywhere in the queue: its suggestion must
    be computed before the annotator gets there (the worker used to compute the next ones in
    document order, so A found "still computing")."""
    texts = [f"{t} ({i})" for i in range(20) for t in PROBES]  # 100 sentences
    db, store, schema, _model = _db_with_model(tmp_path, texts)
    live = suggest.LiveSuggestions(str(db), schema.fingerprint, schema.claim_ids)
    app = AnnotateApp(
        store, schema, "alice", suggestions=live, order="uncertain", nudge_stances=False
    )
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        s = screen(app)
        for _ in range(400):
            await pilot.pause(0.05)
            if s._uncertain is not None and s.shown() is not None:
                break
        order = s._uncertain
        assert order is not None and len(order) == 100
        assert s.sentence is not None and s.sentence.id == order[0]
        for _ in range(200):  # the worker's first pass along the walk
            await pilot.pause(0.05)
            if not s._suggest_running:
                break
        missing = [sid for sid in order[1:20] if live.get(sid) is None]
        assert not missing, f"{len(missing)} of the next 19 not computed ahead"
    store.close()


@run_async
async def test_a_mark_that_arrives_later_is_visible(tmp_path: Path) -> None:
    """The ◌ mark is added to a claim button after the sentence is shown (the worker computes
    it): the button must grow to show it (it kept its width, so the mark was cut off in a real
    terminal while the label held it)."""
    texts = [PROBES[4]] * 40 + [PROBES[0]]  # p:40 is past the first 30 computed ahead
    db, store, schema, _model = _db_with_model(tmp_path, texts)
    live = suggest.LiveSuggestions(str(db), schema.fingerprint, schema.claim_ids)
    app = AnnotateApp(store, schema, "alice", suggestions=live, nudge_stances=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        s = screen(app)
        await suggestions_ready(app, pilot)
        assert live.get("p:40") is None
        s.jump_to("p:40")
        shown = await suggestions_ready(app, pilot)
        await settle(app, pilot)
        assert shown.claims == ("arms_deal",)
        button = app.screen.query_one("#claim-arms_deal")
        label = str(button.label)  # type: ignore[attr-defined]
        assert "◌" in label
        assert button.content_size.width >= len(label), (label, button.content_size)
    store.close()


SCREEN_PROBE = r"""
import asyncio, sys, threading
from stanceterm import suggest
from stanceterm.schema import LabelSchema
from stanceterm.store import Store
from stanceterm.ui.app import AnnotateApp

threads = []
predict = suggest.ClaimModel.predict
def spy(self, texts):
    threads.append(threading.current_thread() is threading.main_thread())
    return predict(self, texts)
suggest.ClaimModel.predict = spy

async def main():
    store = Store.open(sys.argv[1], create=False)
    schema = store.label_schema()
    live = suggest.LiveSuggestions(sys.argv[1], schema.fingerprint, schema.claim_ids)
    app = AnnotateApp(store, schema, "alice", suggestions=live, order="uncertain",
                      nudge_stances=False)
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(3):
            for _ in range(400):
                await pilot.pause(0.05)
                if app.screen.shown() is not None:
                    break
            await pilot.press("A")
        await pilot.pause(0.5)
        await app.flush()
    store.close()
    done = sum(1 for sid in ("p:0", "p:1", "p:2", "p:3", "p:4")
               if (a := Store.open(sys.argv[1], create=False).labels.get(sid, "alice")))
    print(len(threads), any(threads), "sklearn" in sys.modules, "scipy" in sys.modules, done)

asyncio.run(main())
"""


def test_the_screen_predicts_off_the_ui_thread_and_never_loads_scikit_learn(
    tmp_path: Path,
) -> None:
    """In a fresh process, as `annotate --order uncertain` runs it: every prediction (the
    suggestions ahead, the uncertain order) runs in a worker thread, and neither scikit-learn
    nor scipy is ever imported by the screen (cold start, RSS)."""
    db, store, _schema, _model = _db_with_model(tmp_path)
    store.close()
    r = subprocess.run(
        [sys.executable, "-c", SCREEN_PROBE, str(db)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    calls, on_main, sklearn, scipy, done = r.stdout.split()
    assert int(calls) >= 2 and on_main == "False"
    assert sklearn == "False" and scipy == "False"
    assert int(done) == 3


@run_async
async def test_a_never_drops_what_the_annotator_tagged_without_asking(tmp_path: Path) -> None:
    """A new user tagged a claim and a stance, then pressed `A` (beside `a`) where the model
    suggested something else: the tags were replaced without a word. Now the first `A` says what
    it would drop and changes nothing; a second `A` on the same sentence replaces them."""
    db, store, schema, _model = _db_with_model(tmp_path)
    live = suggest.LiveSuggestions(str(db), schema.fingerprint, schema.claim_ids)
    app = AnnotateApp(store, schema, "alice", suggestions=live, nudge_stances=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        s = screen(app)
        shown = await suggestions_ready(app, pilot)
        assert s.sentence is not None and s.sentence.id == "p:0"
        assert "denial" not in shown.claims
        await pilot.press("2")  # denial, which the suggestion does not have
        await settle(app, pilot)
        await pilot.press("A")
        await settle(app, pilot)
        assert s.sentence is not None and s.sentence.id == "p:0", "A moved on"
        ann = store.labels.get("p:0", "alice")
        assert ann is not None and ann.claims == ("denial",) and ann.status == "draft"
        await pilot.press("A")  # asked twice: replace
        await settle(app, pilot)
        ann = store.labels.get("p:0", "alice")
        assert ann is not None and ann.claims == shown.claims and ann.status == "done"
        assert s.sentence is not None and s.sentence.id == "p:1"
    store.close()


@run_async
async def test_a_broken_suggester_is_reported_once_and_on_the_status_line(tmp_path: Path) -> None:
    """A plug-in returning what is not a probability: one warning, not one per key (a stack of
    pop-ups over the screen, new-user review), and the status line says why there is no ◌."""
    db = tmp_path / "ui.db"
    store = make_db(db, [("p", "Probes", "src", "2026-01-01", PROBES)])
    schema = store.label_schema()
    assert schema is not None
    plugin = suggest.PluginModel(
        lambda texts: [{"denial": "high"} for _ in texts], schema.claim_ids, "mysug:bad"
    )
    live = suggest.LiveSuggestions(str(db), schema.fingerprint, schema.claim_ids, plugin=plugin)
    app = AnnotateApp(store, schema, "alice", suggestions=live, nudge_stances=False)
    warnings: list[str] = []
    async with app.run_test(size=SIZE) as pilot:
        real_notify = app.notify

        def notify(message: str, *args: Any, **kwargs: Any) -> None:
            if "Suggestions" in message:
                warnings.append(message)
            real_notify(message, *args, **kwargs)

        app.notify = notify  # type: ignore[method-assign]
        s = screen(app)
        s.notify = notify  # type: ignore[method-assign]
        await settle(app, pilot)
        for _ in range(6):
            await pilot.press("j")
            await settle(app, pilot)
            for _ in range(20):
                await pilot.pause(0.02)
        assert len(warnings) == 1, warnings
        assert "not a probability" in warnings[0]
        assert "◌ off: suggester mysug:bad" in _status(app), _status(app)
    store.close()


@run_async
async def test_while_suggestions_are_computed_the_marks_say_so(tmp_path: Path) -> None:
    """Fast `j` presses past what was computed ahead: the worker is still busy, and the claim
    bar's ◌ marks and the status line were blank for a second or two, as if the model had
    nothing to say. They show a pending mark (◌ …) until the suggestion arrives, then fill in."""
    texts = [PROBES[4]] * 40 + [PROBES[0]]  # p:40 is past the first 30 computed ahead
    db, store, schema, _model = _db_with_model(tmp_path, texts)
    live = suggest.LiveSuggestions(str(db), schema.fingerprint, schema.claim_ids)
    gate = threading.Event()
    gate.set()
    compute = live.compute

    def slow(*args: Any, **kwargs: Any) -> int:
        gate.wait(30)
        return compute(*args, **kwargs)

    live.compute = slow  # type: ignore[method-assign]
    app = AnnotateApp(store, schema, "alice", suggestions=live, nudge_stances=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        s = screen(app)
        await suggestions_ready(app, pilot)
        await settle(app, pilot)
        assert "◌ A:" in _status(app)
        gate.clear()  # the next computation is slow
        s.jump_to("p:40")
        for _ in range(10):
            await pilot.pause(0.02)
        assert live.get("p:40") is None and s._suggest_running
        label = str(app.screen.query_one("#claim-arms_deal").label)  # type: ignore[attr-defined]
        assert "◌ …" in label, label
        assert "◌ …" in _status(app), _status(app)
        gate.set()
        shown = await suggestions_ready(app, pilot)
        await settle(app, pilot)
        assert shown.claims == ("arms_deal",)
        label = str(app.screen.query_one("#claim-arms_deal").label)  # type: ignore[attr-defined]
        assert "◌ 0." in label and "…" not in label, label
        assert "◌ A: arms_deal" in _status(app), _status(app)
        other = str(app.screen.query_one("#claim-denial").label)  # type: ignore[attr-defined]
        assert "…" not in other, other
    store.close()
