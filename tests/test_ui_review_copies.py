"""Pilot test: the review screen shows the text an annotator actually labelled when that label
sits on a copy of the cluster (a sentence dedup hid after it was labelled), and says it is a copy
of the representative shown above, so a lead never adjudicates a sentence they cannot see."""

from __future__ import annotations

import os
from pathlib import Path

from rich.console import Console
from textual.widgets import Static

from stanceterm.dedup import run_dedup
from stanceterm.store import Annotation, Stance, Store
from stanceterm.ui.review_app import ReviewApp
from stanceterm.ui.screens.review import ReviewScreen
from tests.conftest import make_db, run_async, settle

SENT = (
    "The State Department said more than 1,000 containers of munitions had been shipped to "
    "Russia, Matthew Miller said."
)
COPY = "According to Reuters, " + SENT.replace("1,000", "1 000")
ARTICLES = [
    ("afp", "Munitions shipped", "AFP", "2023-10-13", [SENT, "AFP closes on the weather."]),
    ("reuters", "Containers to Russia", "Reuters", "2023-10-13", [COPY, "Reuters ends here."]),
]


def _label(store: Store, sid: str, who: str, stance: str) -> None:
    store.labels.save(
        Annotation(sid, who, "done", ("arms_deal",), (Stance("arms_deal", "moscou", stance),))
    )


def _versions_text(app: ReviewApp) -> str:
    screen = next(s for s in app.screen_stack if isinstance(s, ReviewScreen))
    widget = screen.query_one("#versions-table", Static)
    console = Console(width=78, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(widget.content)
    return " ".join(console.export_text().split())


@run_async
async def test_a_version_on_a_copy_shows_the_copy_text(tmp_path: Path) -> None:
    store = make_db(tmp_path / "copies.db", ARTICLES)
    _label(store, "reuters:0", "alice", "support")  # labelled before dedup hid the copy
    _label(store, "afp:0", "bob", "oppose")
    run_dedup(store)
    assert store.corpus.sentence("reuters:0").cluster_id == "c:afp:0"  # type: ignore[union-attr]
    schema = store.label_schema()
    assert schema is not None
    app = ReviewApp(store, schema, "carol")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = next(s for s in app.screen_stack if isinstance(s, ReviewScreen))
        assert screen.summary["sentence"] == "afp:0"
        assert screen.summary["copies"] == {"alice": "reuters:0"}
        shown = _versions_text(app)
        # alice's version shows the text she labelled, marked as a copy; bob's is the sentence
        assert "According to Reuters, The State Department said more than 1 000" in shown, shown
        assert "copy" in shown and "reuters:0" in shown, shown
        assert shown.count("According to Reuters") == 1, shown
        await app.flush()
    store.close()
