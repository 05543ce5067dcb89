"""The annotate screen's keypress path paints only what changed (issue 18: key -> next sentence
painted, p95 < 20 ms). Pilot tests: the footer is not rebuilt when its keys stay the same, and
moving on lays out only the sentence box (the one-line bars and the footer repaint without a
layout)."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from stanceterm.store import Annotation, Store
from stanceterm.ui.app import StanceApp
from stanceterm.ui.screens.annotate import AnnotateScreen
from stanceterm.ui.widgets.claim_bar import ClaimBar, ClaimButton
from stanceterm.ui.widgets.label_editor import LabelEditor
from stanceterm.ui.widgets.line import Line
from stanceterm.ui.writer import SAVING_AFTER_S
from tests.conftest import make_db, run_async, settle

SIZE = (80, 24)


@pytest.fixture
def db(tmp_path: Path) -> Any:
    store = make_db(tmp_path / "paint.db")
    yield store
    store.close()


def app_for(store: Store) -> StanceApp:
    schema = store.label_schema()
    assert schema is not None
    return StanceApp(store, schema, "alice", nudge_stances=False, team_refresh=3600)


def annotate(app: StanceApp) -> AnnotateScreen:
    screen = app.screen
    assert isinstance(screen, AnnotateScreen)
    return screen


def footer_key(screen: AnnotateScreen, action: str) -> FooterKey:
    return next(k for k in screen.query(FooterKey) if k.action == action)


@run_async
async def test_moving_on_does_not_rebuild_the_footer(db: Store) -> None:
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        screen = annotate(app)
        footer = screen.query_one(Footer)
        rebuilt = []
        real = footer.recompose

        async def counted() -> None:
            rebuilt.append(1)
            await real()

        footer.recompose = counted  # type: ignore[method-assign]
        assert footer_key(screen, "add_stance").has_class(
            "-disabled"
        )  # no claim tagged: `a` greyed out
        for n in range(3):
            await pilot.press("0")  # no claim: done, next; the footer's keys stay the same
            await settle(app, pilot)
            assert screen.sentence is not None and screen.sentence.idx == n + 1
        assert rebuilt == []
        # a key whose availability changes is still shown at once: a claim makes `a` available
        await pilot.press("1")
        await settle(app, pilot)
        await pilot.pause()
        assert not footer_key(screen, "add_stance").has_class("-disabled")
        assert len(rebuilt) == 1


@run_async
async def test_moving_on_lays_out_only_the_sentence_box(db: Store) -> None:
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        screen = annotate(app)
        await pilot.pause(SAVING_AFTER_S + 0.2)
        layouts = []
        real = screen._refresh_layout

        def counted(*args: Any, **kwargs: Any) -> None:
            layouts.append(
                sorted(
                    f"{type(w).__name__}#{w.id}"
                    for ws in screen._layout_widgets.values()
                    for w in ws
                )
            )
            real(*args, **kwargs)

        screen._refresh_layout = counted  # type: ignore[method-assign]
        presses = 3
        for _ in range(presses):
            await pilot.press("0")
            # the write commits, the progress line and the "saving…" check follow it
            await settle(app, pilot)
            await pilot.pause(SAVING_AFTER_S + 0.2)
        assert screen.sentence is not None and screen.sentence.idx == presses
        # the sentence box's text changes height: one layout per key, none for the one-line
        # bars (top bar, status, progress) nor the footer
        # the sentence box's parts change height: they need a layout (and Textual lays out again
        # once their new sizes are known); the one-line bars (top bar, status, progress) and the
        # footer, whose sizes never change, need none
        parts = {"Static#prev-sentence", "Static#current-sentence", "Static#next-sentence"}
        assert layouts and all(set(ws) <= parts for ws in layouts), layouts
        assert len(layouts) <= 2 * presses, layouts


@run_async
async def test_the_heap_is_frozen_after_the_first_screen(db: Store) -> None:
    """The objects alive after the first paint are moved out of the collector's generations,
    so a full collection no longer walks the app and its widgets during a keypress."""
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert gc.get_freeze_count() > 0


@run_async
async def test_a_new_probability_of_the_same_width_repaints_without_a_layout(db: Store) -> None:
    """The ◌ mark of the next sentence (another probability, same width) repaints its button;
    the first mark asks for a layout, and from then on every label keeps its width (blank where
    no mark), so a mark that goes or comes back is a repaint too."""
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        bar = annotate(app).query_one(ClaimBar)
        claim = app.schema.claims[0].id
        button = bar.query_one(f"#claim-{claim}")
        bar.set_claims((), {claim: 0.87})
        assert button._layout_required  # the mark appears: wider
        await pilot.pause()
        bar.set_claims((), {claim: 0.55})
        assert "0.55" in str(button.label)
        assert not button._layout_required  # same width: a repaint only
        await pilot.pause()
        bar.set_claims((), {})
        assert not button._layout_required  # the mark goes: its place stays, blank
        assert str(button.label).endswith(" " * 7)
        await pilot.pause()
        bar.set_claims((), {claim: 0.91})
        assert not button._layout_required  # and it comes back in the same width
        other = bar.query_one(f"#claim-{app.schema.claims[1].id}")
        assert len(str(other.label)) == len(str(button.label)) - len(claim) + len(
            app.schema.claims[1].id
        )


@run_async
async def test_finishing_a_sentence_paints_the_labels_once(db: Store) -> None:
    """`0`, Enter, `x`, `f`, `A` save and go on: the labels are painted for the next sentence
    only (painting the saved ones first restyled the claim bar twice per key); on the last
    sentence not done, they are painted for the sentence that stays."""
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        screen = annotate(app)
        editor = screen.query_one(LabelEditor)
        shown: list[tuple[str, ...]] = []
        real = editor.show

        def counted(claims: tuple[str, ...], *args: Any, **kwargs: Any) -> None:
            shown.append(claims)
            real(claims, *args, **kwargs)

        editor.show = counted  # type: ignore[method-assign]
        await pilot.press("1")  # tag a claim: painted once
        await settle(app, pilot)
        first = screen.sentence
        assert len(shown) == 1 and shown[0]
        shown.clear()
        await pilot.press("enter")  # done, next: painted once, for the next sentence (no claim)
        await settle(app, pilot)
        assert screen.sentence is not None and first is not None
        assert screen.sentence.id != first.id
        assert shown == [()]
        assert not any(b.has_class("-on") for b in screen.query(ClaimButton))


@run_async
async def test_finishing_the_last_sentence_paints_its_labels(db: Store) -> None:
    """With nothing left to do, the sentence stays on screen, its labels painted as saved."""
    last = "art-b:1"
    for sid in ("art-a:0", "art-a:1", "art-a:2", "art-a:3", "art-b:0"):
        db.labels.save(Annotation(sid, "alice", status="done"))
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        screen = annotate(app)
        assert screen.sentence is not None and screen.sentence.id == last
        await pilot.press("1", "enter")  # done: nothing left, the sentence stays
        await settle(app, pilot)
        assert screen.sentence.id == last
        status = str(screen.query_one("#status", Line).visual)
        assert "done" in status and "draft" not in status, status
        assert any(b.has_class("-on") for b in screen.query(ClaimButton))
