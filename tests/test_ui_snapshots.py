"""Snapshots (80×24) of the main screen, the actor picker and the help screen, on a fixed DB.

Regenerate after an intended layout change with ``pytest tests/test_ui_snapshots.py
--snapshot-update`` and look at the SVGs in tests/__snapshots__/ before committing them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import Input

from stanceterm.ui.app import StanceApp
from tests.conftest import make_db, settle


async def settle_all(app: StanceApp, pilot: Any) -> None:
    """Also wait for the background count and the first team poll (they change the screen)."""
    from stanceterm.ui.screens.annotate import AnnotateScreen

    await settle(app, pilot)
    screen = next(s for s in app.screen_stack if isinstance(s, AnnotateScreen))
    for _ in range(1000):
        if not screen.counting and screen.team.polled and not screen._team_polling:
            break
        await pilot.pause(0.01)
    await settle(app, pilot)


def _app(tmp_path: Path) -> StanceApp:
    store = make_db(tmp_path / "snap.db")
    schema = store.label_schema()
    assert schema is not None
    return StanceApp(store, schema, "alice")


def test_main_screen(snap_compare: Any, tmp_path: Path) -> None:
    app = _app(tmp_path)

    async def before(pilot: Any) -> None:
        await settle_all(app, pilot)
        await pilot.press("j", "1", "2")
        await settle(app, pilot)

    assert snap_compare(app, run_before=before)


def test_actor_picker(snap_compare: Any, tmp_path: Path) -> None:
    app = _app(tmp_path)

    async def before(pilot: Any) -> None:
        await settle_all(app, pilot)
        await pilot.press("j", "2", "a")
        await settle(app, pilot)
        app.screen.query_one(Input).cursor_blink = False
        await pilot.pause()

    assert snap_compare(app, run_before=before)


def test_help_screen(snap_compare: Any, tmp_path: Path) -> None:
    app = _app(tmp_path)

    async def before(pilot: Any) -> None:
        await settle_all(app, pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(app, run_before=before)


def test_team_panel(snap_compare: Any, tmp_path: Path) -> None:
    """Two other annotators at work: the team line, and the full table (t)."""
    from stanceterm.store import Annotation

    app = _app(tmp_path)
    store = app.store
    for sid, who, status in [
        ("art-a:0", "bob", "done"),
        ("art-a:1", "bob", "skipped"),
        ("art-a:0", "carol", "flagged"),
    ]:
        store.labels.save(Annotation(sid, who, status))

    async def before(pilot: Any) -> None:
        await settle_all(app, pilot)
        await pilot.press("1", "t")
        await settle_all(app, pilot)

    assert snap_compare(app, run_before=before)


def test_main_screen_light_theme(snap_compare: Any, tmp_path: Path) -> None:
    """The same screen in a light theme ($STANCETERM_THEME / theme = ... in the config)."""
    app = _app(tmp_path)
    app.theme = "textual-light"

    async def before(pilot: Any) -> None:
        await settle_all(app, pilot)
        await pilot.press("j", "1", "2")
        await settle(app, pilot)

    assert snap_compare(app, run_before=before)
