"""Pilot tests of the review screen: driven by keys, asserted on the gold rows in the DB."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import OptionList, Static

from stanceterm.store import Annotation, Gold, Stance, Store
from stanceterm.ui.dialogs.actor_picker import ActorPicker
from stanceterm.ui.dialogs.gold_editor import GoldEditor
from stanceterm.ui.dialogs.prompts import ClaimChooser, StancePrompt
from stanceterm.ui.review_app import ReviewApp
from stanceterm.ui.screens.review import ReviewScreen
from tests.conftest import label_for_review as label
from tests.conftest import make_db, run_async, settle

SIZE = (80, 24)
A0, A1, A2, A3, B0, B1 = "art-a:0", "art-a:1", "art-a:2", "art-a:3", "art-b:0", "art-b:1"


@pytest.fixture
def db(tmp_path: Path) -> Any:
    store = make_db(tmp_path / "review.db")
    label(store)
    yield store
    store.close()


def app_for(store: Store, adjudicator: str = "carol", **kwargs: Any) -> ReviewApp:
    schema = store.label_schema()
    assert schema is not None
    return ReviewApp(store, schema, adjudicator, **kwargs)


def screen(app: ReviewApp) -> ReviewScreen:
    for s in app.screen_stack:
        if isinstance(s, ReviewScreen):
            return s
    raise AssertionError("no review screen")


def current(app: ReviewApp) -> str | None:
    return screen(app).summary["sentence"]  # type: ignore[no-any-return]


def text_of(app: ReviewApp, selector: str) -> str:
    """The plain text a Static shows (rich renderables rendered at the screen's width)."""
    from rich.console import Console
    from textual.widgets import Static

    widget = screen(app).query_one(selector, Static)
    console = Console(width=78, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(widget.content)
    return console.export_text()


@run_async
async def test_walks_disagreements_and_accepts_annotator_two(db: Store) -> None:
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        sc = screen(app)
        assert [it.sentence_id for it in sc.items] == [A0, A2, B0]
        assert current(app) == A0
        assert sc.summary["versions"] == ["alice", "bob"]
        assert sc.summary["disputed_stances"] == [
            ("arms_deal", "vladimir-poutine", "oppose"),
            ("arms_deal", "vladimir-poutine", "support"),
        ]
        assert sc.summary["disputed_claims"] == []
        assert "0/3 reviewed" in text_of(app, "#review-progress")
        await pilot.press("2")
        await settle(app, pilot)
        gold = db.gold.get(A0)
        assert gold is not None and gold.status == "gold" and gold.chosen_from == "bob"
        assert gold.adjudicator == "carol" and gold.updated_at
        assert gold.stances == (Stance("arms_deal", "vladimir-poutine", "oppose"),)
        assert [s["annotator"] for s in gold.sources] == ["alice", "bob"]
        assert current(app) == A2  # advanced to the next undecided
        assert "1/3 reviewed" in text_of(app, "#review-progress")
        # a digit with no annotator behind it does nothing
        await pilot.press("3")
        await settle(app, pilot)
        assert db.gold.get(A2) is None and current(app) == A2
        # back to A0: its gold is shown
        await pilot.press("k")
        await settle(app, pilot)
        assert current(app) == A0 and "bob's version" in text_of(app, "#gold")


@run_async
async def test_unresolvable_then_undo_walks_back(db: Store) -> None:
    earlier = db.gold.set(Gold(A2, "gold", ("denial",), (), "erin", None, [], "first pass", "", ""))
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert current(app) == A0  # A2 already has erin's gold: review resumes at A0
        await pilot.press("1")  # A0: alice's labels
        await settle(app, pilot)
        assert current(app) == B0  # A2 is decided: skipped over
        await pilot.press("r")
        await settle(app, pilot)
        flagged = db.gold.get(B0)
        assert flagged is not None and flagged.status == "unresolvable"
        assert (flagged.claims, flagged.stances, flagged.chosen_from) == ((), (), None)
        await pilot.press("k", "1")  # A2: overrule erin with alice's version
        await settle(app, pilot)
        assert db.gold.get(A2).adjudicator == "carol"  # type: ignore[union-attr]
        await pilot.press("u")  # erin's decision comes back exactly
        await settle(app, pilot)
        assert db.gold.get(A2) == earlier and current(app) == A2
        await pilot.press("u")
        await settle(app, pilot)
        assert db.gold.get(B0) is None and current(app) == B0
        await pilot.press("u")
        await settle(app, pilot)
        assert db.gold.get(A0) is None and current(app) == A0
        await pilot.press("u")  # nothing left: nothing changes
        await settle(app, pilot)
        assert db.gold.get(A2) == earlier and db.counts()["gold"] == 1
        assert "1/3 reviewed" in text_of(app, "#review-progress")


@run_async
async def test_edit_gold_with_claims_and_a_stance(db: Store) -> None:
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("j")  # A2: alice denial + Moscow support, bob no claim
        await settle(app, pilot)
        assert current(app) == A2
        assert screen(app).summary["disputed_claims"] == ["denial"]
        await pilot.press("e")
        await settle(app, pilot)
        editor = app.screen
        assert isinstance(editor, GoldEditor)
        assert editor.claims == () and editor.stances == ()  # starts from what all share
        await pilot.press("2", "1", "a")  # denial, arms_deal; add a stance: which claim?
        await settle(app, pilot)
        assert isinstance(app.screen, ClaimChooser)
        await pilot.press("1")
        await settle(app, pilot)
        assert isinstance(app.screen, ActorPicker)
        await pilot.press(*"poutine", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, StancePrompt)
        await pilot.press("o")
        await settle(app, pilot)
        assert isinstance(app.screen, GoldEditor)
        assert db.gold.get(A2) is None  # nothing written before Enter
        await pilot.press("enter")
        await settle(app, pilot)
        gold = db.gold.get(A2)
        assert gold is not None and gold.status == "gold" and gold.chosen_from is None
        assert gold.claims == ("arms_deal", "denial")
        assert gold.stances == (Stance("arms_deal", "vladimir-poutine", "oppose"),)
        assert current(app) == B0
        # edit again, starting from the gold, and cancel: nothing changes
        await pilot.press("k", "e")
        await settle(app, pilot)
        assert isinstance(app.screen, GoldEditor) and app.screen.claims == gold.claims
        await pilot.press("3", "escape")
        await settle(app, pilot)
        assert db.gold.get(A2) == gold


@run_async
async def test_edit_can_create_an_actor(db: Store) -> None:
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("e", "a")  # A0: the shared claim is arms_deal only
        await settle(app, pilot)
        assert isinstance(app.screen, ActorPicker)
        await pilot.press(*"Jean", "space", *"Dupont")
        await settle(app, pilot)
        picker = app.screen
        assert isinstance(picker, ActorPicker)
        create = [i for i, c in enumerate(picker._cands) if c.actor_id is None]
        assert create and picker._cands[create[0]].name == "Jean Dupont"
        start = picker.query_one(OptionList).highlighted or 0  # Enter's default may be it
        await pilot.press(*["down"] * (create[0] - start), "enter")  # the "+ create" line
        await settle(app, pilot)
        if not isinstance(app.screen, StancePrompt):  # near-duplicate warning: confirm
            await pilot.press("enter")
            await settle(app, pilot)
        await pilot.press("n", "enter")
        await settle(app, pilot)
        gold = db.gold.get(A0)
        assert gold is not None
        new = db.actors.resolve("Jean Dupont")
        assert new is not None and gold.stances == (Stance("arms_deal", new, "neutral"),)


@run_async
async def test_skipped_version_cannot_be_accepted_and_all_mode(db: Store) -> None:
    app = app_for(db, include_all=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert [it.sentence_id for it in screen(app).items] == [A0, A1, A2, A3, B0]
        await pilot.press("j", "j", "j")
        await settle(app, pilot)
        assert current(app) == A3
        await pilot.press("2")  # bob skipped A3
        await settle(app, pilot)
        assert db.gold.get(A3) is None and current(app) == A3
        await pilot.press("1")
        await settle(app, pilot)
        assert db.gold.get(A3).chosen_from == "alice"  # type: ignore[union-attr]


@run_async
async def test_resume_after_restart_and_note(db: Store) -> None:
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("1")
        await settle(app, pilot)
        await pilot.press("q")
        await settle(app, pilot)
    assert db.gold.get(A0) is not None
    again = app_for(db, adjudicator="dora")
    async with again.run_test(size=SIZE) as pilot:
        await settle(again, pilot)
        assert current(again) == A2  # the first sentence without gold
        assert "1/3 reviewed" in text_of(again, "#review-progress")
        await pilot.press("j")  # B0: bob's flagged note is data, not markup
        await settle(again, pilot)
        assert "note: [bold]unsure[/bold]" in text_of(again, "#versions-table")
        await pilot.press("1")  # accept bob's flagged labels; back to A2, the one left
        await settle(again, pilot)
        assert current(again) == A2
        await pilot.press("m")  # no decision on A2: no note
        await settle(again, pilot)
        assert isinstance(again.screen, ReviewScreen)
        await pilot.press("j", "m")
        await settle(again, pilot)
        await pilot.press(*"agreed", "ctrl+s")
        await settle(again, pilot)
        gold = db.gold.get(B0)
        assert gold is not None and gold.note == "agreed" and gold.adjudicator == "dora"
    # everything decided: it opens at the start and says so
    db.gold.set(Gold(A2, "unresolvable", (), (), "dora", None))
    last = app_for(db)
    async with last.run_test(size=SIZE) as pilot:
        await settle(last, pilot)
        assert current(last) == A0
        assert "3/3 reviewed" in text_of(last, "#review-progress")


@run_async
async def test_failed_write_is_visible(db: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(gold: Gold) -> tuple[Gold | None, Gold]:
        raise OSError("disk full")

    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        monkeypatch.setattr(db.gold, "replace", broken)
        await pilot.press("1")
        await settle(app, pilot)
        assert db.gold.get(A0) is None
        assert "NOT SAVED" in text_of(app, "#review-progress")
        await pilot.press("k")
        await settle(app, pilot)
        assert "NOT SAVED" in text_of(app, "#gold")
        await pilot.press("q")
        await settle(app, pilot)
    assert app.result.errors and "disk full" in app.result.errors[0]


@run_async
async def test_help_lists_the_review_keys(db: Store) -> None:
    from stanceterm.ui.screens.help import HelpScreen

    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        await settle(app, pilot)
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        keys = {k: d for k, d, _ in help_screen.rows}
        assert "accept annotator n" in keys["1, 2, 3, 4, 5, 6, 7, 8, 9"]
        assert "unresolvable" in keys["r"] and "undo" in keys["u"]
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, ReviewScreen)


@run_async
async def test_data_is_shown_literally_and_versions_scroll(db: Store) -> None:
    weird = db.actors.add("[red]Mallory[/red] \x1b[31m", created_by="eve")
    for who in ("[b]eve", "frank", "gina", "hugo"):
        db.labels.save(
            Annotation(
                B1,
                who,
                "done",
                ("arms_deal", "denial"),
                (Stance("arms_deal", weird, "support"), Stance("denial", weird, "oppose")),
                note="[link=http://x]click[/link] " * 4,
            )
        )
    db.labels.save(Annotation(B1, "ivan", "done", ("denial",)))
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        screen(app).jump_to(B1)
        await settle(app, pilot)
        table = text_of(app, "#versions-table")
        assert "[b]eve" in table and "[red]Mallory[/red] ␛[31m" in table
        assert "[link=http://x]click[/link]" in table
        panel = screen(app).query_one("#versions")
        assert panel.scroll_y == 0 and panel.max_scroll_y > 0
        await pilot.press("pagedown")
        await settle(app, pilot)
        assert panel.scroll_y > 0
        await pilot.press("pageup")
        await settle(app, pilot)
        assert panel.scroll_y == 0


@run_async
async def test_gold_editor_follows_the_keymap(db: Store) -> None:
    """[keys] rebinds the label editor's keys in the gold editor too (stances, claims, add);
    the review screen's own keys (1-9 accept, j next) are not touched by it."""
    keymap = {"stance_support": "p", "stance_oppose": "S", "claim_2": "2,h", "add_stance": "plus"}
    app = app_for(db, keymap=keymap)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("j")  # A2; j still moves: the review screen keeps its keys
        await settle(app, pilot)
        assert current(app) == A2
        await pilot.press("e")
        await settle(app, pilot)
        assert isinstance(app.screen, GoldEditor)
        reminder = str(app.screen.query_one("#gold-editor-keys", Static).content)
        assert reminder == "1-9 toggle a claim · plus add a stance · d delete the highlighted one"
        await pilot.press("h", "plus")  # claim 2 (denial) through its new key; add a stance
        await settle(app, pilot)
        assert isinstance(app.screen, ActorPicker)
        await pilot.press(*"poutine", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, StancePrompt)
        await pilot.press("s")  # no longer "support"
        await settle(app, pilot)
        assert isinstance(app.screen, StancePrompt)
        await pilot.press("p")
        await settle(app, pilot)
        assert isinstance(app.screen, GoldEditor)
        await pilot.press("enter")
        await settle(app, pilot)
        gold = db.gold.get(A2)
        assert gold is not None and gold.claims == ("denial",)
        assert gold.stances == (Stance("denial", "vladimir-poutine", "support"),)
        # the review help tells the gold editor's keys after the keymap
        from stanceterm.ui.screens.help import HelpScreen

        await pilot.press("question_mark")
        await settle(app, pilot)
        assert isinstance(app.screen, HelpScreen)
        extra = dict(app.screen.extra)
        assert "then p/S/n" in extra["edit: plus, d"]


def test_review_command_passes_the_keymap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db: Store
) -> None:
    """`stanceterm review` hands the config's [keys] to the review app (the gold editor)."""
    from click.testing import CliRunner
    from textual.app import App

    from stanceterm.cli import cli

    config = tmp_path / "config.toml"
    config.write_text('[keys]\nstance_support = "p"\n', encoding="utf-8")
    seen: dict[str, Any] = {}

    def fake_run(self: Any, *args: Any, **kwargs: Any) -> None:
        seen["keymap"] = dict(self.keymap_overrides)

    monkeypatch.setattr(App, "run", fake_run)
    monkeypatch.setenv("STANCETERM_CONFIG", str(config))
    result = CliRunner().invoke(
        cli, ["--db", str(db.path), "review", "--annotator", "carol"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert seen["keymap"] == {"stance_support": "p"}


async def _checked(app: ReviewApp, pilot: Any) -> str:
    """The progress line once the screen's check of out-of-date decisions (a thread after the
    first frame) has landed."""
    await settle(app, pilot)
    for _ in range(500):
        if screen(app).stale_checked:
            await settle(app, pilot)
            return text_of(app, "#review-progress")
        await asyncio.sleep(0.01)
    raise AssertionError("the check of out-of-date decisions never finished")


@run_async
async def test_a_decision_whose_labels_changed_since_is_not_counted_as_reviewed(db: Store) -> None:
    """bob changed his label after carol's decision: the screen showed "⚠ labels changed since"
    on that sentence, but counted it reviewed ("3/3 reviewed · 0 left"), so nobody went back to
    it (new-user review). It now counts as left, and g goes to it."""
    from stanceterm.adjudicate import accept_version, versions_for

    pid = db.actors.resolve("Poutine")
    for sid in (A0, A2, B0):  # as the screen records them: every version, with its time
        db.gold.set(accept_version(sid, versions_for(db, sid), 0, "carol"))
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        progress = await _checked(app, pilot)
        assert "3/3 reviewed" in progress and "changed" not in progress, progress
    db.labels.save(
        Annotation(A0, "bob", "done", ("arms_deal",), (Stance("arms_deal", pid, "neutral"),))
    )
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        progress = await _checked(app, pilot)
        assert "2/3 reviewed" in progress and "1 left" in progress, progress
        assert "1 changed since its decision" in progress, progress
        await pilot.press("j", "g")
        await settle(app, pilot)
        assert current(app) == A0
