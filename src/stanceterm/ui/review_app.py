"""ReviewApp: the review screen (``stanceterm review``), a sibling of the annotate app.

A :class:`~stanceterm.ui.base.StoreApp` (same stylesheet, same ordered writer worker, same
optimistic updates and visible failed writes, same actor creation) that opens the review screen.
``annotator`` is the adjudicator. The config's ``[keys]`` rebinds the gold editor's label keys
(claims, stances), not the review screen's own keys.
"""

from __future__ import annotations

from collections.abc import Mapping

from stanceterm.adjudicate import ReviewItem, review_queue
from stanceterm.schema import LabelSchema
from stanceterm.store import Store
from stanceterm.ui.base import StoreApp
from stanceterm.ui.screens.review import ReviewScreen


class ReviewApp(StoreApp):
    """Adjudicate disagreements into gold labels.

    ``queue`` is the review queue (computed on mount when None).
    """

    def __init__(
        self,
        store: Store,
        schema: LabelSchema,
        adjudicator: str,
        *,
        include_all: bool = False,
        queue: list[ReviewItem] | None = None,
        keymap: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(store, schema, adjudicator, keymap=keymap)
        self.include_all = include_all
        self.queue = queue
        self.sub_title = f"review · {adjudicator}"

    def first_screen(self) -> ReviewScreen:
        if self.queue is None:
            self.queue = review_queue(self.store, include_all=self.include_all)
        return ReviewScreen(self.queue)
