"""AnnotateApp: the annotation TUI (``stanceterm annotate``), a :class:`StoreApp` that opens the
annotation screen and rebinds keys from the config's ``[keys]`` table."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from stanceterm.schema import LabelSchema
from stanceterm.store import Store
from stanceterm.suggest import LiveSuggestions
from stanceterm.ui.base import StoreApp
from stanceterm.ui.screens.annotate import AnnotateScreen
from stanceterm.ui.writer import Job


class AnnotateApp(StoreApp):
    """Annotate claims and actor stances, one sentence at a time."""

    def __init__(
        self,
        store: Store,
        schema: LabelSchema,
        annotator: str,
        *,
        show_others: bool = False,
        keymap: Mapping[str, str] | None = None,
        on_commit: Callable[[float, Job], None] | None = None,
        on_first_screen: Callable[[], None] | None = None,
        team_refresh: float = 3.0,
        suggestions: LiveSuggestions | None = None,
        order: str = "document",
        nudge_stances: bool = True,
    ) -> None:
        super().__init__(store, schema, annotator, keymap=keymap, on_commit=on_commit)
        self.nudge_stances = nudge_stances  # hour (issue 15 §3): Enter nudges a stanceless claim
        self.show_others = show_others
        self.on_first_screen = on_first_screen
        #: seconds between two reads of the team's progress (off the UI thread)
        self.team_refresh = team_refresh
        self.suggestions = suggestions
        self.order = order

    def first_screen(self) -> AnnotateScreen:
        if self.keymap_overrides:
            self.set_keymap(self.keymap_overrides)
        return AnnotateScreen(
            show_others=self.show_others,
            on_first_screen=self.on_first_screen,
            team_refresh=self.team_refresh,
            suggestions=self.suggestions,
            order=self.order,
        )


#: The name this app had before the review app became its sibling.
StanceApp = AnnotateApp
