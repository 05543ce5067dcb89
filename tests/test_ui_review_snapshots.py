"""Snapshots (80×24) of the review screen and the gold editor, on a fixed DB.

Regenerate after an intended layout change with ``pytest tests/test_ui_review_snapshots.py
--snapshot-update`` and look at the SVGs in tests/__snapshots__/ before committing them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stanceterm.ui.review_app import ReviewApp
from tests.conftest import label_for_review as label
from tests.conftest import make_db, settle


def _app(tmp_path: Path) -> ReviewApp:
    store = make_db(tmp_path / "snap.db")
    label(store)
    schema = store.label_schema()
    assert schema is not None
    return ReviewApp(store, schema, "carol")


def test_review_screen(snap_compare: Any, tmp_path: Path) -> None:
    app = _app(tmp_path)

    async def before(pilot: Any) -> None:
        await settle(app, pilot)
        await pilot.press("j")  # a claim disagreement with a stance only one annotator gave
        await settle(app, pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=before)


def test_review_decided(snap_compare: Any, tmp_path: Path) -> None:
    app = _app(tmp_path)

    async def before(pilot: Any) -> None:
        await settle(app, pilot)
        await pilot.press("2", "k")  # accept bob's version, come back to see the gold
        await settle(app, pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=before)


def test_gold_editor(snap_compare: Any, tmp_path: Path) -> None:
    app = _app(tmp_path)

    async def before(pilot: Any) -> None:
        await settle(app, pilot)
        await pilot.press("e", "2")
        await settle(app, pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=before)
