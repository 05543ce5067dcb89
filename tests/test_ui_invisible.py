"""Invisible format characters in article text (a zero-width space, a word joiner, a BOM, bidi
marks) are shown as visible escapes in the screens (⟨U+200B⟩) and in the CLI's output (\\u200b),
through stanceterm.textsafe; exports keep the text exactly as it was imported."""

from __future__ import annotations

from pathlib import Path

import orjson

from stanceterm.export import Filters, export
from stanceterm.textsafe import clean, visible
from stanceterm.ui.app import AnnotateApp
from stanceterm.ui.screens.annotate import AnnotateScreen
from stanceterm.ui.widgets.sentence_view import SentenceView
from tests.conftest import make_db, run_async, settle

#: U+200B-U+200F, U+2060-U+2064, U+FEFF, and a bidi isolate
INVISIBLE = [*map(chr, range(0x200B, 0x2010)), *map(chr, range(0x2060, 0x2065)), "\ufeff", "\u2066"]
TEXT = "Moscou a\u200bnié tout accord\u2060 avec Pyongyang\ufeff, selon Kim\u200f Jong Un."


def test_visible_and_clean_show_every_invisible_format_character() -> None:
    for ch in INVISIBLE:
        shown = visible(f"a{ch}b")
        assert shown == f"a⟨U+{ord(ch):04X}⟩b", (hex(ord(ch)), shown)
        assert clean(f"a{ch}b") == f"a\\u{ord(ch):04x}b", hex(ord(ch))
    assert visible("Éric « 東京 » · ok") == "Éric « 東京 » · ok"  # visible text is left alone


@run_async
async def test_the_sentence_view_shows_a_zero_width_space(tmp_path: Path) -> None:
    articles = [("zw", "Titre\u200b", "AFP", "2023-09-14", [TEXT, "Une autre phrase."])]
    store = make_db(tmp_path / "zw.db", articles)
    schema = store.label_schema()
    assert schema is not None
    app = AnnotateApp(store, schema, "alice", nudge_stances=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        screen = next(s for s in app.screen_stack if isinstance(s, AnnotateScreen))
        shown = screen.query_one(SentenceView).current_text
        assert "a⟨U+200B⟩nié" in shown, shown
        assert "accord⟨U+2060⟩ avec" in shown and "Pyongyang⟨U+FEFF⟩," in shown, shown
        assert "Kim⟨U+200F⟩ Jong" in shown, shown
        await app.flush()
    # the export writes what was imported
    out = tmp_path / "s.jsonl"
    export(store, "sentences", str(out), Filters())
    rows = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert rows[0]["text"] == TEXT
    store.close()
