"""Pilot test of the copies list (`c`): each copy says how it differs from the representative."""

from __future__ import annotations

from pathlib import Path

from conftest import add_article, run_async, settle
from rich.text import Text
from textual.widgets import OptionList

from stanceterm.dedup import run_dedup
from stanceterm.schema import load_schema
from stanceterm.store import Store
from stanceterm.ui.app import StanceApp
from stanceterm.ui.dialogs.prompts import ClusterDialog

HOSTILE = "[bold]Moscow[/bold]"
SENT = (
    f"The State Department said more than 1,000 containers of munitions had been shipped to "
    f"{HOSTILE}, Matthew Miller said."
)


@run_async
async def test_copies_list_says_how_each_copy_differs(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "ui.db")
    schema = load_schema()
    store.set_label_schema(schema)
    add_article(store, "afp", [SENT])
    add_article(store, "reuters", ["According to Reuters, " + SENT.replace("1,000", "1 000")])
    add_article(store, "ap", [SENT.replace(", Matthew Miller said.", ", said Matthew Miller.")])
    add_article(
        store, "bbc", [SENT.replace("containers of munitions", "« containers of munitions »")]
    )
    run_dedup(store)
    assert store.clusters.size("c:afp:0") == (4, 4)
    app = StanceApp(store, schema, "alice")
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(app, pilot)
            await pilot.press("c")
            await pilot.pause()
            assert isinstance(app.screen, ClusterDialog)
            dialog = app.screen
            for _ in range(200):  # the differences are computed in a thread
                if all(d is not None for d in dialog.differences[1:]):
                    break
                await pilot.pause(0.05)
            await pilot.pause()
            options = dialog.query_one(OptionList)
            lines = []
            for i in range(options.option_count):
                prompt = options.get_option_at_index(i).prompt
                assert isinstance(prompt, Text)
                lines.append(prompt.plain)
            assert "(representative)" in lines[0]
            assert "differs by: number format, attribution added" in lines[1]
            assert "differs by: attribution moved" in lines[2]
            assert "differs by: quotes" in lines[3]
            assert all(HOSTILE in line for line in lines)  # text is data, never markup
            await pilot.press("escape")
    finally:
        store.close()
