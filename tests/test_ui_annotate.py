"""Pilot tests of the annotation screen: every key, asserted on the DB, not only on the screen."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import OptionList

from stanceterm.store import Annotation, Stance, Store
from stanceterm.store.corpus import Corpus
from stanceterm.store.labels import Labels
from stanceterm.store.team import Team
from stanceterm.ui.app import StanceApp
from stanceterm.ui.dialogs.actor_picker import ActorPicker
from stanceterm.ui.dialogs.prompts import ClaimChooser, ClusterDialog, NoteDialog, StancePrompt
from stanceterm.ui.screens.annotate import AnnotateScreen
from stanceterm.ui.screens.help import HelpScreen
from stanceterm.ui.widgets.claim_bar import ClaimBar
from tests.conftest import make_db, run_async, settle

SIZE = (80, 24)
A0, A1, A2, A3, B0, B1 = "art-a:0", "art-a:1", "art-a:2", "art-a:3", "art-b:0", "art-b:1"


@pytest.fixture
def db(tmp_path: Path) -> Any:
    store = make_db(tmp_path / "ui.db")
    yield store
    store.close()


def app_for(store: Store, annotator: str = "alice", **kwargs: Any) -> StanceApp:
    # these tests press Enter on claims without stances; the nudge has its own tests (test_ui_silent)
    kwargs.setdefault("nudge_stances", False)
    schema = store.label_schema()
    assert schema is not None
    return StanceApp(store, schema, annotator, **kwargs)


def screen(app: StanceApp) -> AnnotateScreen:
    for s in app.screen_stack:
        if isinstance(s, AnnotateScreen):
            return s
    raise AssertionError("no annotate screen")


def current(app: StanceApp) -> str:
    s = screen(app).sentence
    assert s is not None
    return s.id


async def searched(app: StanceApp, pilot: Any) -> None:
    """Let the `/` search worker finish and its answer reach the screen."""
    await pilot.pause()
    running = [w for w in app.workers if w.group == "search"]
    if running:  # (an empty list would mean every worker, the writer included)
        await app.workers.wait_for_complete(running)
    await settle(app, pilot)


def ann(store: Store, sid: str, who: str = "alice") -> Annotation | None:
    return store.labels.get(sid, who)


@run_async
async def test_claim_toggles_save_draft_immediately(db: Store) -> None:
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert current(app) == A0
        await pilot.press("1", "3")
        await settle(app, pilot)
        a = ann(db, A0)
        assert a is not None and a.status == "draft"
        assert a.claims == ("arms_deal", "sanctions_efficacy")
        await pilot.press("1")
        await settle(app, pilot)
        assert ann(db, A0).claims == ("sanctions_efficacy",)  # type: ignore[union-attr]
        # a digit with no claim type does nothing
        await pilot.press("9")
        await settle(app, pilot)
        assert ann(db, A0).claims == ("sanctions_efficacy",)  # type: ignore[union-attr]
        # the mouse works too: click the claim bar
        await pilot.click("#claim-denial")
        await settle(app, pilot)
        assert ann(db, A0).claims == ("denial", "sanctions_efficacy")  # type: ignore[union-attr]
        assert "2 denial ●" in str(app.screen.query_one("#claim-denial").label)  # type: ignore[attr-defined]


@run_async
async def test_zero_enter_x_f_statuses_and_advance(db: Store) -> None:
    db.labels.save(Annotation(A2, "alice", status="done"))  # already done: enter skips over it
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert current(app) == A0
        await pilot.press("1", "0")  # no claim: done, no claims, no stances, advance
        await settle(app, pilot)
        a = ann(db, A0)
        assert a is not None and (a.status, a.claims, a.stances) == ("done", (), ())
        assert current(app) == A1
        await pilot.press("2", "enter")  # done, advance to the next not done (A2 is done)
        await settle(app, pilot)
        a = ann(db, A1)
        assert a is not None and (a.status, a.claims) == ("done", ("denial",))
        assert current(app) == A3
        await pilot.press("x")  # skipped: missing data
        await settle(app, pilot)
        assert ann(db, A3).status == "skipped"  # type: ignore[union-attr]
        assert current(app) == B0
        await pilot.press("3", "f")  # flagged keeps the labels
        await settle(app, pilot)
        a = ann(db, B0)
        assert a is not None and (a.status, a.claims) == ("flagged", ("sanctions_efficacy",))
        assert current(app) == B1
        # toggling on a done sentence keeps it done
        await pilot.press("k", "k", "k")
        await settle(app, pilot)
        assert current(app) == A2
        await pilot.press("1")
        await settle(app, pilot)
        assert ann(db, A2).status == "done"  # type: ignore[union-attr]
        # progress counts what is done
        assert screen(app).progress.done == 5
        assert screen(app).progress.claims["arms_deal"] == 1


@run_async
async def test_note_is_saved(db: Store) -> None:
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("m")
        await pilot.pause()
        assert isinstance(app.screen, NoteDialog)
        await pilot.press(*"check [quote]")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        a = ann(db, A0)
        assert a is not None and a.note == "check [quote]" and a.status == "draft"
        await pilot.press("m", "escape")  # cancel keeps the note
        await settle(app, pilot)
        assert ann(db, A0).note == "check [quote]"  # type: ignore[union-attr]


@run_async
async def test_stance_pick_known_actor_then_support(db: Store) -> None:
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert not screen(app).check_action("add_stance", ())  # no claim tagged yet
        await pilot.press("1", "a")  # one tagged claim: straight to the picker
        await pilot.pause()
        assert isinstance(app.screen, ActorPicker)
        await pilot.press(*"poutine")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, StancePrompt)
        await pilot.press("o")
        await settle(app, pilot)
        a = ann(db, A0)
        assert a is not None
        assert a.stances == (Stance("arms_deal", "vladimir-poutine", "oppose"),)
        # a second stance, by clicking in the picker (sentence actors come first: Kim is 2nd)
        await pilot.press("a")
        await pilot.pause()
        await pilot.press("down", "enter", "n")
        await settle(app, pilot)
        a = ann(db, A0)
        assert a is not None and a.stances[-1] == Stance("arms_deal", "kim-jong-un", "neutral")
        # d deletes the highlighted row (the last added), removing the claim removes its stances
        await pilot.press("d")
        await settle(app, pilot)
        assert ann(db, A0).stances == (Stance("arms_deal", "vladimir-poutine", "oppose"),)  # type: ignore[union-attr]
        await pilot.press("1")
        await settle(app, pilot)
        a = ann(db, A0)
        assert a is not None and a.claims == () and a.stances == ()


@run_async
async def test_stance_with_several_claims_and_new_actor(db: Store) -> None:
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("j", "j")  # « Selon Jean Dupont, les sanctions ne fonctionnent plus. »
        assert current(app) == A2
        await pilot.press("1", "3", "a")
        await pilot.pause()
        assert isinstance(app.screen, ClaimChooser)
        await pilot.press("3")
        await pilot.pause()
        assert isinstance(app.screen, ActorPicker)
        # with nothing typed, the cue name « Jean Dupont » (not a known actor) is offered
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, StancePrompt)
        await pilot.press("o")
        await settle(app, pilot)
        a = ann(db, A2)
        assert a is not None
        assert a.stances == (Stance("sanctions_efficacy", "jean-dupont", "oppose"),)
        assert db.actors.names()["jean-dupont"] == "Jean Dupont"
        # the table shows the name, not the id
        assert "Jean Dupont" in str(screen(app).query_one("#stances").get_row_at(0)[1])  # type: ignore[attr-defined]


@run_async
async def test_near_duplicate_actor_warns_then_creates(db: Store) -> None:
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("1", "a")
        await pilot.pause()
        await pilot.press(*"Vladimir Poutinne")
        await pilot.press("up")  # the last option: + create « Vladimir Poutinne »
        await pilot.press("enter")
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, ActorPicker)
        warning = str(picker.query_one("#actor-warning").visual)  # type: ignore[attr-defined]
        assert "close to known actor" in warning and "Vladimir Poutine" in warning
        await pilot.press("enter")  # create it anyway
        await pilot.pause()
        assert isinstance(app.screen, StancePrompt)
        await pilot.press("s")
        await settle(app, pilot)
        a = ann(db, A0)
        assert a is not None and a.stances == (Stance("arms_deal", "vladimir-poutinne", "support"),)
        assert db.actors.names()["vladimir-poutinne"] == "Vladimir Poutinne"


@run_async
async def test_escape_cancels_stance_without_writing(db: Store) -> None:
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("2", "a", "escape")
        await settle(app, pilot)
        assert isinstance(app.screen, AnnotateScreen)
        assert ann(db, A0).stances == ()  # type: ignore[union-attr]


@run_async
async def test_undo_walks_back_and_jumps(db: Store) -> None:
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("1", "2", "enter")  # A0: draft, draft, done → now on A1
        await settle(app, pilot)
        await pilot.press("3")
        await settle(app, pilot)
        assert current(app) == A1
        await pilot.press("u")  # undoes A1's claim
        await settle(app, pilot)
        assert ann(db, A1) is None and current(app) == A1
        await pilot.press("u")  # undoes A0's done: jumps back there
        await settle(app, pilot)
        assert current(app) == A0
        a = ann(db, A0)
        assert a is not None and (a.status, a.claims) == ("draft", ("arms_deal", "denial"))
        assert screen(app).progress.done == 0
        await pilot.press("u", "u")
        await settle(app, pilot)
        assert ann(db, A0) is None
        await pilot.press("u")  # nothing left: a message, nothing changes
        await settle(app, pilot)
        assert ann(db, A0) is None


@run_async
async def test_navigation_g_search(db: Store) -> None:
    db.labels.save(Annotation(A1, "alice", status="done"))
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("j", "down")
        assert current(app) == A2
        await pilot.press("k")
        assert current(app) == A1
        await pilot.press("up", "up")  # stays on the first
        assert current(app) == A0
        await pilot.press("g")  # next not done: A1 is done
        assert current(app) == A2
        await pilot.press("slash")
        await pilot.pause()
        await pilot.press(*"ARMOURED", "enter")
        await searched(app, pilot)
        assert current(app) == B1
        await pilot.press("escape")  # the prompt stays open until Esc
        await pilot.press("slash")
        await pilot.pause()
        await pilot.press(*"ÉTATS-unis", "enter")  # case folded; wraps around
        await searched(app, pilot)
        assert current(app) == A1
        await pilot.press("escape", "slash")
        await pilot.pause()
        await pilot.press(*"zzz", "enter")
        await searched(app, pilot)
        assert current(app) == A1
        status = str(app.screen.query_one("#search-status").render())
        assert "No sentence contains « zzz »" in status, status


@run_async
async def test_help_guidelines_and_quit(db: Store) -> None:
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        ids = {i for _, _, i in help_screen.rows}
        bound = {b.id for b in AnnotateScreen.BINDINGS if not isinstance(b, tuple)}
        assert bound - {f"claim_{n}" for n in range(2, 10)} <= ids
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, AnnotateScreen)
        panel = app.screen.query_one("#guidelines")
        assert not panel.display
        await pilot.press("G")
        assert panel.display
        await pilot.press("f1")
        assert not panel.display
        await pilot.press("1", "q")
        await pilot.pause()
    assert app.return_value is not None and app.return_value.failed_writes == 0
    assert ann(db, A0) is not None  # q waited for the pending write


@run_async
async def test_restart_resumes_at_first_not_done(db: Store) -> None:
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("0", "0", "2")  # A0, A1 done; A2 draft
        await pilot.press("q")
        await pilot.pause()
    app2 = app_for(db)
    async with app2.run_test(size=SIZE) as pilot:
        await settle(app2, pilot)
        assert current(app2) == A2
        assert screen(app2).ann is not None and screen(app2).ann.claims == ("denial",)  # type: ignore[union-attr]
        assert screen(app2).progress.done == 2 and screen(app2).progress.total == 6


@run_async
async def test_annotators_are_blind_unless_show_others(db: Store) -> None:
    db.labels.save(
        Annotation(
            A0, "alice", "done", ("arms_deal",), (Stance("arms_deal", "kim-jong-un", "support"),)
        )
    )
    bob = app_for(db, "bob")
    async with bob.run_test(size=SIZE) as pilot:
        await settle(bob, pilot)
        assert current(bob) == A0  # alice's done does not count for bob
        s = screen(bob)
        assert s.ann is not None and s.ann.claims == () and not s.stored
        assert not s.query_one("#others").display
        await pilot.press("2")
        await settle(bob, pilot)
    assert ann(db, A0, "bob").claims == ("denial",)  # type: ignore[union-attr]
    assert ann(db, A0, "alice").claims == ("arms_deal",)  # type: ignore[union-attr]
    bob2 = app_for(db, "bob", show_others=True)
    async with bob2.run_test(size=SIZE) as pilot:
        await settle(bob2, pilot)
        await pilot.press("k")  # resumed on A1; look at A0
        others = screen(bob2).query_one("#others")
        assert others.display
        text = str(others.visual)  # type: ignore[attr-defined]
        assert "alice: done" in text and "Kim Jong Un support" in text


@run_async
async def test_failed_write_is_shown_and_retried(
    db: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = app_for(db)
    real_save = Labels.save

    def broken(self: Labels, a: Annotation, action: str = "set") -> Annotation:
        raise RuntimeError("disk full")

    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        monkeypatch.setattr(Labels, "save", broken)
        await pilot.press("1")
        await settle(app, pilot)
        assert ann(db, A0) is None
        assert A0 in app.unsaved
        status = str(screen(app).query_one("#status").visual)  # type: ignore[attr-defined]
        assert "NOT SAVED" in status
        progress = str(screen(app).query_one("#progress").visual)  # type: ignore[attr-defined]
        assert "1 NOT SAVED" in progress
        assert any("disk full" in str(n.message) for n in app._notifications)
        # the optimistic state stays on screen; the next change saves everything
        assert screen(app).ann is not None and screen(app).ann.claims == ("arms_deal",)  # type: ignore[union-attr]
        monkeypatch.setattr(Labels, "save", real_save)
        await pilot.press("2")
        await settle(app, pilot)
        assert ann(db, A0).claims == ("arms_deal", "denial")  # type: ignore[union-attr]
        assert not app.unsaved
        monkeypatch.setattr(Labels, "save", broken)
        await pilot.press("3", "q")
        await pilot.pause()
    assert app.return_value is not None and app.return_value.failed_writes == 1


@run_async
async def test_a_write_failing_under_a_dialog_marks_the_screen_below(
    db: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app tells every screen on its stack (WritesChanged): a save that fails while the
    note dialog is open shows NOT SAVED on the annotate screen under it."""
    import threading

    from stanceterm.store.labels import Labels

    app = app_for(db)
    release = threading.Event()

    def broken(self: Labels, a: Annotation, action: str = "set") -> Annotation:
        release.wait(10)
        raise RuntimeError("disk full")

    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        monkeypatch.setattr(Labels, "save", broken)
        await pilot.press("1", "m")  # the save waits in the writer; the note dialog opens
        await pilot.pause()
        assert isinstance(app.screen, NoteDialog)
        release.set()
        await settle(app, pilot)
        assert isinstance(app.screen, NoteDialog) and A0 in app.unsaved
        status = str(screen(app).query_one("#status").visual)  # type: ignore[attr-defined]
        assert "NOT SAVED" in status
        progress = str(screen(app).query_one("#progress").visual)  # type: ignore[attr-defined]
        assert "1 NOT SAVED" in progress
        await pilot.press("escape")


@run_async
async def test_writes_apply_in_order(db: Store) -> None:
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press(*"123123121")  # no waiting between keys
        await settle(app, pilot)
        assert ann(db, A0).claims == ("denial",)  # type: ignore[union-attr]
        # moving away and back before commits shows the newest state
        await pilot.press("1", "j", "k")
        assert screen(app).ann.claims == ("arms_deal", "denial")  # type: ignore[union-attr]
        await settle(app, pilot)
        assert ann(db, A0).claims == ("arms_deal", "denial")  # type: ignore[union-attr]


@run_async
async def test_keymap_override(db: Store) -> None:
    app = app_for(db, keymap={"next": "l", "accept": "space"})
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("l")
        assert current(app) == A1
        await pilot.press("j")  # j is no longer "next"
        assert current(app) == A1
        await pilot.press("space")
        await settle(app, pilot)
        assert ann(db, A1).status == "done"  # type: ignore[union-attr]


@run_async
async def test_cluster_members_and_split_by_keyboard(db: Store) -> None:
    with db.tx() as c:  # a hand-made dedup cluster: A0 represents B1
        c.execute(
            "INSERT INTO clusters(id, representative_id, size, threshold, created_at) "
            "VALUES ('c1', ?, 2, 0.9, 'now')",
            (A0,),
        )
        c.execute("UPDATE sentences SET cluster_id = 'c1' WHERE id IN (?, ?)", (A0, B1))
        c.execute("UPDATE sentences SET hidden = 1 WHERE id = ?", (B1,))
    app = app_for(db, keymap={"split": "v"})  # the dialog's key follows the keymap too
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        status = str(screen(app).query_one("#status").visual)  # type: ignore[attr-defined]
        assert "also in 1 article" in status
        await pilot.press("2")  # labels of the representative propagate to the member
        await settle(app, pilot)
        b1 = ann(db, B1)
        assert b1 is not None and b1.propagated_from == A0
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, ClusterDialog)
        dialog = app.screen
        # the highlight starts on the first copy, never on the representative
        assert dialog.query_one(OptionList).highlighted == 1
        await pilot.press("s")  # "s" is no longer the split key
        await pilot.pause()
        assert isinstance(app.screen, ClusterDialog)
        # a split is for good: the first key asks, the second splits, esc or a move keeps it
        await pilot.press("v")
        await pilot.pause()
        assert app.screen is dialog
        ask = str(dialog.query_one("#cluster-title").visual)  # type: ignore[attr-defined]
        assert "for good" in ask and "v again" in ask, ask
        await pilot.press("up", "down", "v")  # moving disarms: this v asks again
        await pilot.pause()
        assert app.screen is dialog
        s = db.corpus.sentence(B1)
        assert s is not None and s.cluster_id == "c1"  # nothing split yet
        await pilot.press("v")  # split the copy out
        await settle(app, pilot)
        assert isinstance(app.screen, AnnotateScreen)
        s = db.corpus.sentence(B1)
        assert s is not None and s.cluster_id is None and not s.hidden
        assert ann(db, B1) is None  # its propagated labels were withdrawn
        assert not screen(app).check_action("cluster", ())


HOSTILE = [
    "[bold]x[/bold] and [red] and [link=http://x]y and a lone [ bracket",
    "\x1b[31mred\x1b[0m then \x07bell and \x00nul",
    "Z" * 400 + " after a very long word",
]


@run_async
async def test_hostile_sentences_render_literally(tmp_path: Path) -> None:
    store = make_db(tmp_path / "h.db", [("h", "[b]T[/b] \x1b[2J", "[red]", None, HOSTILE)])  # type: ignore[list-item]
    app = app_for(store)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            s = screen(app)
            text = s.current_text
            assert text == HOSTILE[0]
            article = str(s.query_one("#article").visual)  # type: ignore[attr-defined]
            assert "[b]T[/b] ␛[2J" in article and "[red]" in article
            bar = s.query_one(ClaimBar)
            assert bar.region.height == 1 and bar.region.y < 24
            await pilot.press("j")
            assert s.current_text == "␛[31mred␛[0m then ␇bell and ␀nul"
            await pilot.press("j")
            assert s.current_text.startswith("Z" * 400)
            assert s.query_one(ClaimBar).region.y < 24
            assert s.query_one("#sentence").region.width == 80
            # notes and actor names are data too
            await pilot.press("1", "a")
            await pilot.pause()
            await pilot.press(*"[red]Evil", "enter")  # no close known actor: creates it
            await pilot.pause()
            await pilot.press("s")
            await settle(app, pilot)
            row = s.query_one("#stances").get_row_at(0)  # type: ignore[attr-defined]
            assert str(row[1]) == "[red]Evil"
    finally:
        store.close()


# --------------------------------------------------------------------------- background reads


async def settle_all(app: StanceApp, pilot: Any) -> None:
    """settle(), plus the background count and the first team poll."""
    await settle(app, pilot)
    s = screen(app)
    for _ in range(1000):
        if not s.counting and s.team.polled and not s._team_polling:
            break
        await pilot.pause(0.01)
    await settle(app, pilot)


def seq(store: Store, sid: str) -> int:
    s = store.corpus.sentence(sid)
    assert s is not None
    return s.seq


@run_async
async def test_team_progress_refreshes_live(db: Store, tmp_path: Path) -> None:
    other = Store.open(db.path)  # bob, in another process: a second handle on the same file
    try:
        other.labels.save(Annotation(A0, "bob", "done"))
        app = app_for(db, team_refresh=0.1)
        async with app.run_test(size=SIZE) as pilot:
            await settle_all(app, pilot)
            s = screen(app)
            line = s.query_one("#team-line")
            assert "bob 1/6" in str(line.visual)  # type: ignore[attr-defined]
            assert "alice" not in str(line.visual)  # type: ignore[attr-defined]
            other.labels.save(Annotation(A1, "bob", "skipped"))
            other.labels.save(Annotation(A2, "bob", "done", ("denial",)))
            other.labels.save(Annotation(A3, "carol", "flagged"))
            for _ in range(1000):  # a few refresh intervals (10 s at most, on a loaded machine)
                if "bob 3/6" in str(line.visual) and "carol 1/6" in str(line.visual):  # type: ignore[attr-defined]
                    break
                await pilot.pause(0.01)
            text = str(line.visual)  # type: ignore[attr-defined]
            assert "bob 3/6" in text and "carol 1/6" in text
            assert "●" in text  # they just worked: shown as active
            # t: the full table, me included
            table = s.query_one("#team-table")
            assert not table.display
            await pilot.press("1")  # alice's own draft counts as nothing finished
            await pilot.press("t")
            await settle_all(app, pilot)
            assert table.display
            members = {m.name: m for m in s.team.members}
            assert set(members) == {"alice", "bob", "carol"}
            assert (members["bob"].done, members["bob"].skipped, members["bob"].queue) == (3, 1, 6)
            assert members["alice"].done == 0 and members["alice"].draft == 1
            await pilot.press("t")
            assert not table.display
    finally:
        other.close()


@run_async
async def test_counts_are_right_when_keys_beat_the_background_count(
    db: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    db.labels.save(Annotation(A2, "alice", "done", ("arms_deal",)))
    db.labels.save(Annotation(B0, "alice", "skipped"))
    import threading

    real = Team.progress_counts
    gate = threading.Event()

    def slow(self: Team, annotator: str) -> tuple[int, int, dict[str, int]]:
        gate.wait(20)  # a big DB: the count finishes after the keys below are committed
        return real(self, annotator)

    monkeypatch.setattr(Team, "progress_counts", slow)
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        s = screen(app)
        assert s.counting and s.progress.total is None
        assert "…/… finished" in str(s.query_one("#progress").visual)  # type: ignore[attr-defined]
        await pilot.press("1", "enter", "3", "0")  # A0 done (arms_deal), A1 done (no claim)
        await settle(app, pilot)
        assert s.counting
        gate.set()
        await settle_all(app, pilot)
        assert not s.counting
        total, done, claims = real(db.team, "alice")
        assert (s.progress.total, s.progress.done) == (total, done) == (6, 4)
        assert {k: v for k, v in s.progress.claims.items() if v} == claims == {"arms_deal": 2}
        assert "4/6 finished · 3 done" in str(s.query_one("#progress").visual)  # type: ignore[attr-defined]
        await pilot.press("u")  # undo A1's "no claim": counted from the undo's own states
        await settle_all(app, pilot)
        assert s.progress.done == 3 == real(db.team, "alice")[1]
        assert s.progress.claims.get("sanctions_efficacy", 0) == 1  # A1's draft claim is back
        assert {k: v for k, v in s.progress.claims.items() if v} == real(db.team, "alice")[2]


@run_async
async def test_resume_hint_is_checked_and_kept_true(db: Store) -> None:
    # a stale hint (as after an undo in another session) claims A0..A2 are done: the first
    # screen comes from the hint, the background check goes back to A0 while untouched
    db.team.set_resume_hint("alice", seq(db, A3))
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle_all(app, pilot)
        for _ in range(1000):
            if current(app) == A0:
                break
            await pilot.pause(0.01)
        assert current(app) == A0
        await settle(app, pilot)
        assert db.team.resume_hint("alice") == seq(db, A0)
        await pilot.press("x", "0")  # A0 skipped, A1 done
        await pilot.press("q")
        await pilot.pause()
    assert db.team.resume_hint("alice") == seq(db, A2)  # moved up on quit
    app2 = app_for(db)
    async with app2.run_test(size=SIZE) as pilot:
        await settle_all(app2, pilot)
        assert current(app2) == A2
        await pilot.press("k", "k")
        assert current(app2) == A0
        await pilot.press("2")  # skipped -> draft: A0 is to do again, the hint follows
        await settle(app2, pilot)
        assert ann(db, A0).status == "draft"  # type: ignore[union-attr]
        assert db.team.resume_hint("alice") == seq(db, A0)
        await pilot.press("q")
        await pilot.pause()
    app3 = app_for(db)
    async with app3.run_test(size=SIZE) as pilot:
        await settle_all(app3, pilot)
        assert current(app3) == A0
        # undo A0's claim (draft -> skipped), A1's done, A0's skip: nothing left, hint at A0
        await pilot.press("u", "u", "u")
        await settle_all(app3, pilot)
        assert ann(db, A0) is None and ann(db, A1) is None
        assert db.team.resume_hint("alice") == seq(db, A0)
        assert screen(app3).progress.done == 0 == db.team.done_count("alice")


@run_async
async def test_acted_user_is_not_moved_by_the_resume_check(
    db: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    db.team.set_resume_hint("alice", seq(db, A2))
    real = Corpus.first
    gate = threading.Event()

    def slow(self: Corpus, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("undone_only") and args == ("alice",):
            gate.wait(20)  # the background check comes back only when the test says so
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Corpus, "first", slow)
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert current(app) == A2
        await pilot.press("j")  # the user moved before the check came back
        assert current(app) == A3
        gate.set()
        for _ in range(1000):
            if db.team.resume_hint("alice") == seq(db, A0):
                break
            await pilot.pause(0.01)
        await settle_all(app, pilot)
        assert current(app) == A3
        assert any("earlier sentence" in str(n.message) for n in app._notifications)
        assert db.team.resume_hint("alice") == seq(db, A0)


# --------------------------------------------------------------------------- keys


@run_async
async def test_stance_and_dialog_keys_follow_the_keymap(db: Store) -> None:
    from stanceterm.ui.screens.help import HelpScreen

    keymap = {"stance_oppose": "p", "stance_support": "S,plus", "claim_3": "3,h"}
    app = app_for(db, keymap=keymap)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("1", "a")
        await pilot.pause()
        await pilot.press(*"poutine", "enter")
        await pilot.pause()
        assert isinstance(app.screen, StancePrompt)
        await pilot.press("o")  # no longer "oppose"
        await pilot.pause()
        assert isinstance(app.screen, StancePrompt)
        await pilot.press("p")
        await settle(app, pilot)
        assert ann(db, A0).stances == (Stance("arms_deal", "vladimir-poutine", "oppose"),)  # type: ignore[union-attr]
        # the claim chooser follows the claim keys: h picks claim 3
        await pilot.press("h", "a")
        await pilot.pause()
        assert isinstance(app.screen, ClaimChooser)
        await pilot.press("h")
        await pilot.pause()
        assert isinstance(app.screen, ActorPicker)
        await pilot.press(*"kim", "enter", "plus")
        await settle(app, pilot)
        assert ann(db, A0).stances[-1] == Stance("sanctions_efficacy", "kim-jong-un", "support")  # type: ignore[union-attr]
        # the help screen is generated from the same bindings
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        rows = {i: keys for keys, _, i in app.screen.rows}
        assert rows["stance_oppose"] == "p" and rows["stance_support"] == "S, plus"
        assert rows["stance_neutral"] == "n" and rows["team"] == "t"
        assert rows["split"] == "s" and rows["note_save"] == "ctrl+s"


def test_check_keymap_knows_stances_and_dialogs() -> None:
    from stanceterm.ui.keymap import KeymapError, check_keymap

    stances = ["support", "oppose", "neutral"]
    ok = {"stance_oppose": "p", "split": "v", "note_save": "ctrl+w", "team": "T"}
    assert check_keymap(ok, stances) == ok
    with pytest.raises(KeymapError, match="unknown action 'stance_maybe'"):
        check_keymap({"stance_maybe": "m"}, stances)
    with pytest.raises(KeymapError, match="stance_support and stance_oppose"):
        check_keymap({"stance_oppose": "s"}, stances)


def test_picker_enter_creates_a_new_name_rather_than_a_far_match(tmp_path: Path) -> None:
    from stanceterm.ui.dialogs.actor_picker import candidates

    store = make_db(tmp_path / "p.db")
    aliases, names = store.actors.alias_map(), store.actors.names()
    text = "Selon Jean Dupont, Moscou et les États-Unis divergent."
    store.close()

    def chosen(query: str) -> tuple[str | None, str]:
        c = candidates(query, text, aliases, names)[0]  # Enter takes the first row
        return c.actor_id, c.name

    assert chosen("")[0] == "la-russie"  # nothing typed: the sentence's actors first
    assert chosen("poutine")[0] == "vladimir-poutine"  # a strong match stays first
    assert chosen("Vladimir Poutinne")[0] == "vladimir-poutine"  # a typo of a known one too
    assert chosen("Sergueï Lavrov") == (None, "Sergueï Lavrov")  # weak matches: create it
    assert chosen("Jean") == (None, "Jean Dupont")  # the sentence's new name comes first


def test_team_progress_rates_queues_and_activity() -> None:
    from datetime import UTC, datetime, timedelta

    from stanceterm.ui.progress_model import TeamProgress

    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    stamp = (now - timedelta(seconds=30)).isoformat().replace("+00:00", "Z")
    old = (now - timedelta(hours=2)).isoformat().replace("+00:00", "Z")
    team = TeamProgress()
    progress = {
        "bob": {"done": 10, "skipped": 2, "flagged": 1, "draft": 3, "assigned": 0},
        "carol": {"done": 4, "assigned": 50, "last_activity": old},
    }
    progress["bob"]["last_activity"] = stamp  # type: ignore[assignment]
    team.update(progress, 1000, now=100.0, now_utc=now)
    bob, carol = team.members
    assert (bob.done, bob.queue, bob.rate, bob.active) == (13, 1000, None, True)
    assert (carol.done, carol.queue, carol.active) == (4, 50, False)  # assigned: their queue
    progress["bob"] = {**progress["bob"], "done": 13}
    team.update(progress, None, now=130.0, now_utc=now)  # 3 more in 30 s
    bob = team.members[0]
    assert bob.rate == 6.0 and bob.queue is None  # visible total not known in this poll
    assert [m.name for m in team.others("bob")] == ["carol"]


@run_async
async def test_slash_search_runs_off_the_ui_thread(tmp_path: Path) -> None:
    db = make_db(tmp_path / "ui.db")
    db.labels.save(Annotation("art-a:0", "alice", status="done"))
    threads: list[Any] = []
    real = Corpus.search

    def spy(self: Corpus, *a: Any, **k: Any) -> Any:
        threads.append(threading.current_thread())
        return real(self, *a, **k)

    app = app_for(db)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Corpus, "search", spy)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(app, pilot)
            await pilot.press("slash")
            await pilot.pause()
            await pilot.press(*"armoured", "enter")
            await searched(app, pilot)
            assert "rmoured" in screen(app).sentence.text  # type: ignore[union-attr]
    assert threads and all(t is not threading.main_thread() for t in threads)
    db.close()


@run_async
async def test_enter_on_an_untouched_sentence_asks_once(db: Store) -> None:
    """Enter on a sentence never tagged nor saved would save "done, no claim" silently (a stray
    Enter, or a double press on the sentence before): it asks once, a second Enter does it, and
    `0` says "no claim" in one key (new-user review)."""
    app = app_for(db, nudge_stances=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        s = screen(app)
        first = s.sentence
        assert first is not None and ann(db, first.id) is None
        await pilot.press("enter")
        await settle(app, pilot)
        assert s.sentence is first and ann(db, first.id) is None  # asked, nothing saved
        await pilot.press("enter")
        await settle(app, pilot)
        got = ann(db, first.id)
        assert got is not None and got.status == "done" and got.claims == ()
        second = s.sentence
        assert second is not None and second.id != first.id
        await pilot.press("0")  # the one-key "no claim" never asks
        await settle(app, pilot)
        got = ann(db, second.id)
        assert got is not None and got.status == "done" and got.claims == ()


@run_async
async def test_search_enter_steps_through_matches_and_n_repeats(db: Store) -> None:
    """The prompt said "Enter: next match", but Enter closed it, and the next two Enters marked
    the sentence done with no claim (new-user review). Enter now steps through the matches
    with the prompt open, Esc closes it, and n goes on to the next match of the last search."""
    app = app_for(db, nudge_stances=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert current(app) == A0
        await pilot.press("slash")
        await pilot.pause()
        await pilot.press(*"sanctions", "enter")
        await searched(app, pilot)
        assert current(app) == A2
        await pilot.press("enter")
        await searched(app, pilot)
        assert current(app) == B0
        await pilot.press("enter")
        await searched(app, pilot)
        assert current(app) == A2
        status = str(app.screen.query_one("#search-status").render())
        assert "wrapped" in status, status
        await pilot.press("escape")
        await settle(app, pilot)
        await pilot.press("n")
        await searched(app, pilot)
        assert current(app) == B0
        assert all(ann(db, sid) is None for sid in (A0, A2, B0))


@run_async
async def test_search_says_when_the_text_is_only_in_a_hidden_copy(tmp_path: Path) -> None:
    """After dedup, text only a wire copy holds ("1000" for the AFP's "1,000") gave "no sentence
    contains it" (new-user review): the screen goes to the sentence that stands for the copy and
    says so."""
    from stanceterm.dedup import run_dedup

    articles = [
        ("afp", "AFP", "AFP", "2023-09-14", ["Kim a signé un accord sur 1,000 conteneurs d'obus."]),
        (
            "reu",
            "Reuters",
            "Reuters",
            "2023-09-14",
            ["Kim a signé un accord sur 1000 conteneurs d'obus."],
        ),
        ("z", "Autre", "AFP", "2023-09-15", ["Rien à voir ici."]),
    ]
    db = make_db(tmp_path / "copies.db", articles)
    run_dedup(db)
    hidden = [r[0] for r in db.conn.execute("SELECT id FROM sentences WHERE hidden = 1")]
    assert len(hidden) == 1
    query = "sur 1000 conteneurs" if hidden[0].startswith("reu") else "sur 1,000 conteneurs"
    app = app_for(db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("slash")
        await pilot.pause()
        await pilot.press(*query, "enter")
        await searched(app, pilot)
        status = str(app.screen.query_one("#search-status").render())
        assert f"only in {hidden[0]}" in status, status
        assert current(app) != hidden[0] and current(app).split(":")[0] in ("afp", "reu")
    db.close()
