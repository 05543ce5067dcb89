"""Tests of the UI's pure parts (the shared UI test helpers live in conftest.py)."""

from __future__ import annotations

from collections.abc import Awaitable
from pathlib import Path

import pytest
from rich.text import Text

from tests.conftest import make_db


def noop(*_: object) -> Awaitable[None] | None:
    return None


# --------------------------------------------------------------------------- pure parts


def test_visible_shows_controls_and_keeps_brackets() -> None:
    from stanceterm.ui.text import data, one_line, visible

    assert visible("\x1b[31mred\x1b[0m") == "␛[31mred␛[0m"
    assert visible("\x07bell") == "␇bell"
    assert visible("a\u202eb") == "a⟨U+202E⟩b"
    assert visible("x\x9by") == "x⟨U+009B⟩y"
    assert visible("[bold]x[/bold] [") == "[bold]x[/bold] ["
    t = data("[link=http://x]y")
    assert isinstance(t, Text) and t.plain == "[link=http://x]y" and not t.spans
    assert one_line("a\nb  c" * 10, 12).endswith("…") and len(one_line("a" * 50, 12)) == 12


def test_stance_keys_first_free_letter() -> None:
    from stanceterm.ui.keymap import stance_keys

    assert stance_keys(["support", "oppose", "neutral"]) == {
        "s": "support",
        "o": "oppose",
        "n": "neutral",
    }
    keys = stance_keys(["support", "skeptical", "neutral"])
    assert keys["s"] == "support" and keys["k"] == "skeptical"


def test_help_rows_follow_keymap() -> None:
    from stanceterm.ui.screens.annotate import AnnotateScreen
    from stanceterm.ui.screens.help import help_rows

    bindings = [b for b in AnnotateScreen.BINDINGS if not isinstance(b, tuple)]
    rows = {i: keys for keys, _, i in help_rows(bindings, {"next": "l,space"})}
    assert rows["next"] == "l, Space"
    assert rows["prev"] == "k, ↑"
    assert rows["help"] == "?" and rows["search"] == "/"
    assert rows["claim_1"] == "1, 2, 3, 4, 5, 6, 7, 8, 9"


def test_check_keymap_rejects_unknown_action() -> None:
    from stanceterm.ui.keymap import KeymapError, check_keymap

    assert check_keymap({"next": "l, down"}) == {"next": "l,down"}
    with pytest.raises(KeymapError, match="unknown action 'jump'"):
        check_keymap({"jump": "x"})
    with pytest.raises(KeymapError):
        check_keymap({"next": ""})


def test_picker_candidates_put_sentence_actors_first(tmp_path: Path) -> None:
    from stanceterm.ui.dialogs.actor_picker import candidates

    store = make_db(tmp_path / "c.db")
    aliases, names = store.actors.alias_map(), store.actors.names()
    text = "Selon Jean Dupont, Moscou et les États-Unis divergent."
    empty = candidates("", text, aliases, names)
    assert [c.actor_id for c in empty[:2]] == ["la-russie", "les-etats-unis"]
    assert empty[2].actor_id is None and empty[2].name == "Jean Dupont"
    assert len({c.actor_id for c in empty if c.actor_id}) == len(names)
    typed = candidates("poutine", text, aliases, names)
    assert typed[0].actor_id == "vladimir-poutine"
    new = candidates("Matthieu Martin", text, aliases, names)
    assert new[-1].actor_id is None and new[-1].name == "Matthieu Martin"
    # an exact alias offers no "create"
    assert all(c.actor_id is not None for c in candidates("Moscou", text, aliases, names))
    store.close()
