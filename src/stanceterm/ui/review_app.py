"""ReviewApp: the review screen (``stanceterm review``) on the annotate app's machinery.

It is a :class:`~stanceterm.ui.app.StanceApp` (same stylesheet, same ordered writer worker,
same optimistic updates and visible failed writes, same actor creation) that opens the review
screen instead of the annotation screen. ``annotator`` is the adjudicator.
"""

from __future__ import annotations

from dataclasses import replace

from textual import events

from stanceterm.adjudicate import ReviewItem, review_queue
from stanceterm.schema import LabelSchema
from stanceterm.store import Gold, Store
from stanceterm.ui.app import RunResult, StanceApp


class ReviewApp(StanceApp):
    """Adjudicate disagreements into gold labels.

    ``queue`` is the review queue (computed on mount when None). Gold writes and their undo run
    in the writer thread, so the undo stack (the state each decision replaced) is only touched
    there, in the order the decisions were made.
    """

    def __init__(
        self,
        store: Store,
        schema: LabelSchema,
        adjudicator: str,
        *,
        include_all: bool = False,
        queue: list[ReviewItem] | None = None,
    ) -> None:
        super().__init__(store, schema, adjudicator)
        self.include_all = include_all
        self.queue = queue
        self.sub_title = f"review · {adjudicator}"
        #: (sentence id, the gold it replaced), newest last; writer thread only
        self._gold_history: list[tuple[str, Gold | None]] = []

    def on_mount(self, event: events.Mount) -> None:  # type: ignore[override]
        from stanceterm.ui.screens.review import ReviewScreen

        event.prevent_default()  # Textual would also run StanceApp.on_mount (the annotate screen)

        if self.queue is None:
            self.queue = review_queue(self.store, include_all=self.include_all)
        self.actor_names = self.store.actors.names()
        self._writer()
        self.push_screen(ReviewScreen(self.queue))

    def _refresh_screen(self) -> None:
        from stanceterm.ui.screens.review import ReviewScreen

        for screen in self.screen_stack:
            if isinstance(screen, ReviewScreen):
                screen.writes_changed()

    def write_gold(self, store: Store, gold: Gold) -> Gold:
        """Store a decision (writer thread): provisional actor ids replaced by the real ones,
        the replaced decision remembered for undo."""
        stances = self.real_stances(gold.stances)
        if stances is not gold.stances:
            gold = replace(gold, stances=stances)
        before, stored = store.gold.replace(gold)  # read and written in one transaction
        self._gold_history.append((gold.sentence_id, before))
        return stored

    def undo_gold(self, store: Store) -> tuple[str, Gold | None] | None:
        """Put back what the latest decision replaced (writer thread); None: nothing to undo."""
        if not self._gold_history:
            return None
        sentence_id, before = self._gold_history[-1]
        store.gold.restore(sentence_id, before)
        self._gold_history.pop()
        return sentence_id, before


def run_review(
    store: Store,
    schema: LabelSchema,
    adjudicator: str,
    *,
    queue: list[ReviewItem],
    theme: str | None = None,
) -> RunResult:
    """Run the review screen until the user quits; returns what went wrong, if anything."""
    app = ReviewApp(store, schema, adjudicator, queue=queue)
    if theme:
        app.theme = theme
    result = app.run()
    return result or RunResult(failed_writes=len(app.unsaved), errors=app.result.errors)
