"""Nothing happens silently in the annotation screen (issue 15 §3): `a` with no claim says what to
do first, removing a claim says it removed its stances, `u` says what it undid, and Enter on a
claim with no stance nudges once per sentence (a config option turns the nudge off)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets._toast import Toast

from stanceterm.config import ConfigError, load_settings
from stanceterm.store import Stance, Store
from stanceterm.ui.app import StanceApp
from stanceterm.ui.dialogs.actor_picker import ActorPicker
from stanceterm.ui.screens.annotate import AnnotateScreen
from tests.conftest import make_db, run_async, settle

SIZE = (80, 24)
A0, A1 = "art-a:0", "art-a:1"


@pytest.fixture
def db(tmp_path: Path) -> Any:
    store = make_db(tmp_path / "ui.db")
    yield store
    store.close()


def app_for(store: Store, **kwargs: Any) -> StanceApp:
    schema = store.label_schema()
    assert schema is not None
    return StanceApp(store, schema, "alice", **kwargs)


def messages(app: StanceApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


def current(app: StanceApp) -> str:
    s = next(s for s in app.screen_stack if isinstance(s, AnnotateScreen)).sentence
    assert s is not None
    return s.id


async def add_poutine_oppose(app: StanceApp, pilot: Any) -> None:
    await pilot.press("a")
    await pilot.pause()
    assert isinstance(app.screen, ActorPicker)
    await pilot.press(*"poutine", "enter", "o")
    await settle(app, pilot)


@run_async
async def test_a_without_claim_says_what_to_do_first(db: Store) -> None:
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("a")
        await settle(app, pilot)
        assert isinstance(app.screen, AnnotateScreen)
        assert any("Tag a claim first" in m for m in messages(app)), messages(app)


@run_async
async def test_removing_a_claim_says_it_removed_its_stances_and_u_brings_them_back(
    db: Store,
) -> None:
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("1")
        await settle(app, pilot)
        await add_poutine_oppose(app, pilot)
        assert db.labels.get(A0, "alice").stances == (  # type: ignore[union-attr]
            Stance("arms_deal", "vladimir-poutine", "oppose"),
        )
        await pilot.press("1")  # the claim off: its stance goes with it
        await settle(app, pilot)
        assert db.labels.get(A0, "alice").stances == ()  # type: ignore[union-attr]
        assert any(
            "removed claim arms_deal and its 1 stance" in m and "u brings" in m
            for m in messages(app)
        ), messages(app)
        await pilot.press("u")
        await settle(app, pilot)
        assert db.labels.get(A0, "alice").stances == (  # type: ignore[union-attr]
            Stance("arms_deal", "vladimir-poutine", "oppose"),
        )
        assert any(
            m == "undid: removed claim arms_deal, removed stance Vladimir Poutine oppose on "
            "arms_deal, sentence 1"
            for m in messages(app)
        ), messages(app)
        await pilot.press("u")  # undo the stance itself
        await settle(app, pilot)
        assert any(
            m == "undid: stance Vladimir Poutine oppose on arms_deal, sentence 1"
            for m in messages(app)
        ), messages(app)


@run_async
async def test_enter_on_a_claim_without_stance_nudges_once(db: Store) -> None:
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("1", "enter")
        await settle(app, pilot)
        assert current(app) == A0  # stopped once, with a nudge
        assert any("no stance on arms_deal" in m for m in messages(app)), messages(app)
        await pilot.press("enter")  # the second Enter finishes the sentence
        await settle(app, pilot)
        assert current(app) == A1
        assert db.labels.get(A0, "alice").status == "done"  # type: ignore[union-attr]


def toasts(app: StanceApp) -> list[str]:
    """The messages of the toasts on screen (the toast rack's widgets)."""
    return [str(t._notification.message) for t in app.screen.query(Toast)]


@run_async
async def test_the_nudge_goes_away_when_the_sentence_changes(db: Store) -> None:
    """The nudge is about one sentence: it stayed over the bars for its whole timeout after the
    user moved on (by j, or by the second Enter); it goes when the sentence changes."""
    app = app_for(db)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await pilot.press("1", "enter")
        await settle(app, pilot)
        assert any("no stance on arms_deal" in m for m in toasts(app)), toasts(app)
        await pilot.press("j")
        await settle(app, pilot)
        assert current(app) == A1
        assert not any("no stance" in m for m in messages(app)), messages(app)
        assert not any("no stance" in m for m in toasts(app)), toasts(app)
        # a toast about something else stays; the nudge of A1 goes with the second Enter
        app.notify("unrelated", timeout=30)
        await pilot.press("2", "enter")
        await settle(app, pilot)
        assert any("no stance on" in m for m in toasts(app)), toasts(app)
        await pilot.press("enter")
        await settle(app, pilot)
        assert current(app) == "art-a:2"
        assert not any("no stance" in m for m in messages(app)), messages(app)
        assert "unrelated" in messages(app)


@run_async
async def test_nudge_turned_off(db: Store) -> None:
    app = app_for(db, nudge_stances=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("1", "enter")
        await settle(app, pilot)
        assert current(app) == A1
        assert not any("no stance" in m for m in messages(app))


def test_nudge_config_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "c.toml"
    monkeypatch.setenv("STANCETERM_CONFIG", str(cfg))
    cfg.write_text("nudge_stances = false\n", encoding="utf-8")
    assert load_settings().nudge_stances is False
    cfg.write_text("", encoding="utf-8")
    assert load_settings().nudge_stances is True
    cfg.write_text('nudge_stances = "no"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="nudge_stances must be true or false"):
        load_settings()
