"""The screen uses its space (issue 15 §4) and says what a write is doing (§3, issue 12 §6):
dialogs docked so the sentence stays visible, a context box filled with the article around the
sentence, finished vs done, a smoothed rate, "saving…" while a write waits, and a clear draft."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from stanceterm.store import Store
from stanceterm.ui.app import StanceApp
from stanceterm.ui.dialogs.actor_picker import ActorPicker
from stanceterm.ui.dialogs.prompts import ClaimChooser, StancePrompt
from stanceterm.ui.progress_model import Progress
from stanceterm.ui.screens.annotate import AnnotateScreen
from tests.conftest import demo_db, make_db, run_async, settle


def app_for(store: Store, annotator: str = "alice") -> StanceApp:
    schema = store.label_schema()
    assert schema is not None
    return StanceApp(store, schema, annotator, nudge_stances=False)


def screen(app: StanceApp) -> AnnotateScreen:
    return next(s for s in app.screen_stack if isinstance(s, AnnotateScreen))


def text_of(app: StanceApp, selector: str) -> str:
    return str(screen(app).query_one(selector).visual)  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- progress


def test_rate_waits_for_ten_sentences_or_five_active_minutes() -> None:
    p = Progress()
    p.total = 41
    for i in range(3):
        p.completed(i * 2.0)
    assert p.rate_per_min() is None and p.eta_minutes() is None  # 3 quick ones: noise
    for i in range(3, 10):
        p.completed(i * 6.0)
    rate = p.rate_per_min()
    assert rate is not None and 9 < rate < 25  # smoothed toward 10/min, not 30/min
    # a long pause is not active time and does not drag the rate down
    p.completed(9 * 6.0 + 3600)
    assert p.rate_per_min() == pytest.approx(rate)


def test_rate_after_five_active_minutes_with_few_sentences() -> None:
    p = Progress()
    for i in range(6):
        p.completed(i * 70.0)
    assert p.completions == 6 and p.active_s >= 300
    assert p.rate_per_min() == pytest.approx(60 / 70, rel=0.01)


@run_async
async def test_progress_shows_finished_and_done(tmp_path: Path) -> None:
    db = make_db(tmp_path / "ui.db")
    app = app_for(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        while screen(app).counting:
            await pilot.pause(0.01)
        await pilot.press("1", "enter", "x", "3", "f")  # done, skipped, flagged
        await settle(app, pilot)
        line = text_of(app, "#progress")
        assert "3/6 finished · 1 done" in line, line
    db.close()


# --------------------------------------------------------------------------- docked dialogs


async def _no_overlap(app: StanceApp, pilot: Any, dialog_type: type) -> None:
    await settle(app, pilot)
    assert isinstance(app.screen, dialog_type), app.screen
    box = app.screen.query_one(".dialog").region
    cur = screen(app).query_one("#current-sentence").region
    view = screen(app).query_one("#sentence").region
    assert cur.height > 0 and view.contains_region(cur), (cur, view)
    assert not box.overlaps(cur), (box, cur)


@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
@run_async
async def test_dialogs_leave_the_sentence_visible(tmp_path: Path, size: tuple[int, int]) -> None:
    db = demo_db(tmp_path / "d.db")
    app = app_for(db)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        await pilot.press("j", "j", "j")  # a sentence in the middle of the article
        await pilot.press("1", "a")
        await _no_overlap(app, pilot, ActorPicker)
        await pilot.press("enter")
        await _no_overlap(app, pilot, StancePrompt)
        await pilot.press("escape")
        await pilot.press("2", "a")
        await _no_overlap(app, pilot, ClaimChooser)
        await pilot.press("escape")
    db.close()


@run_async
async def test_context_box_is_filled_and_keeps_the_sentence_in_view(tmp_path: Path) -> None:
    db = demo_db(tmp_path / "d.db")
    app = app_for(db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press(*"jjjjjjjj")
        await settle(app, pilot)
        s = screen(app)
        nxt = s.query_one("#next-sentence").region
        view = s.query_one("#sentence").region
        # the following sentences fill the box down to its bottom (not 15 blank lines)
        assert nxt.height >= view.height - 8, (nxt, view)
        assert view.contains_region(s.query_one("#current-sentence").region)
        assert s.query_one("#prev-sentence").region.height >= 1
    db.close()


# --------------------------------------------------------------------------- saving…, drafts


@run_async
async def test_a_write_waiting_on_a_lock_shows_saving(tmp_path: Path) -> None:
    db = make_db(tmp_path / "ui.db")
    app = app_for(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        # another process holds the write lock for 3 s
        holder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1], isolation_level=None);"
                "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); time.sleep(3);"
                "c.execute('COMMIT')",
                str(tmp_path / "ui.db"),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        await pilot.press("1")
        t0 = time.monotonic()
        seen = False
        while time.monotonic() - t0 < 2.5:
            await pilot.pause(0.1)
            if "saving…" in text_of(app, "#status"):
                seen = True
                break
        assert seen, text_of(app, "#status")
        holder.wait(10)
        await settle(app, pilot)
        assert "saving…" not in text_of(app, "#status")
        row = db.labels.get("art-a:0", "alice")
        assert row is not None and row.claims == ("arms_deal",)
    db.close()
    sqlite3.connect(tmp_path / "ui.db").close()


@run_async
async def test_leaving_a_changed_sentence_without_enter_says_it_is_a_draft(
    tmp_path: Path,
) -> None:
    db = make_db(tmp_path / "ui.db")
    app = app_for(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("1")
        await settle(app, pilot)
        status = text_of(app, "#status")
        assert "draft" in status and "Enter" in status, status
        await pilot.press("j")  # away without Enter
        await settle(app, pilot)
        notes = [str(n.message) for n in app._notifications]
        assert any("left as a draft" in n for n in notes), notes
    db.close()


@run_async
async def test_claim_then_a_typed_in_one_burst_opens_the_picker(tmp_path: Path) -> None:
    """Found driving the demo in tmux: "1a" arriving together said "Tag a claim first"."""
    from textual import events

    db = make_db(tmp_path / "ui.db")
    app = app_for(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.post_message(events.Key("1", "1"))
        app.post_message(events.Key("a", "a"))
        await pilot.pause(0.3)
        assert isinstance(app.screen, ActorPicker)
        assert not any("Tag a claim" in str(n.message) for n in app._notifications)
    db.close()


def test_progress_line_shows_the_rate_within_80_columns() -> None:
    from rich.console import Console

    from stanceterm.ui.widgets.progress import progress_text

    p = Progress()
    p.total, p.done, p.labelled = 41, 20, 14
    p.claims = {"arms_deal": 5, "denial": 4, "sanctions_efficacy": 3}
    for i in range(12):
        p.completed(i * 6.0)
    text = progress_text(p, ["arms_deal", "denial", "sanctions_efficacy"], 0)
    console = Console(width=78, record=True)
    console.print(text)
    shown = console.export_text()
    assert shown.startswith("20/41 finished · 14 done │ 10.0/min ETA 2 min │"), shown
