"""From the actor picker, the typed name becomes an alias of the highlighted actor (issue 15
§2): a key shown in the picker's footer; such an alias is NOT trusted for dedup."""

from __future__ import annotations

from pathlib import Path

from stanceterm.store import Stance, Store
from tests.conftest import S, demo_db, run_async, settle


@run_async
async def test_picker_key_makes_the_typed_name_an_untrusted_alias(tmp_path: Path) -> None:
    from textual.widgets import Static

    from stanceterm.schema import load_schema
    from stanceterm.ui.app import StanceApp
    from stanceterm.ui.dialogs.actor_picker import ActorPicker
    from stanceterm.ui.dialogs.prompts import StancePrompt

    store: Store = demo_db(tmp_path / "t.db")
    app = StanceApp(store, load_schema(), "alice")
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(app, pilot)
            await pilot.press("1", "a")
            await pilot.pause()
            picker = app.screen
            assert isinstance(picker, ActorPicker)
            footer = str(picker.query_one("#actor-footer", Static).render())
            assert "ctrl+l" in footer.lower() and "alias" in footer
            await pilot.press(*"Poutine V")
            await pilot.pause()
            await pilot.press("ctrl+l")
            await pilot.pause()
            assert isinstance(app.screen, StancePrompt)  # the highlighted actor was picked
            await pilot.press("s")
            await settle(app, pilot)
        a = store.labels.get(S(0), "alice")
        assert a is not None and a.stances[-1].actor == "vladimir-poutine"
        assert a.stances[-1] == Stance(a.claims[0], "vladimir-poutine", "support")
        assert store.actors.resolve("Poutine V") == "vladimir-poutine"
        rows = {r.id: r for r in store.actor_ops.rows()}
        assert ("Poutine V", False) in rows["vladimir-poutine"].aliases  # not trusted for dedup
    finally:
        store.close()
