"""This sentence's (claim, actor, stance) rows; a row can be highlighted by mouse or arrows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from stanceterm.ui.text import data


class StanceTable(DataTable[Text], inherit_bindings=False):
    """Only up/down/home/end of its own: Enter, digits and letters stay the screen's keys."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "row up", show=False),
        Binding("down", "cursor_down", "row down", show=False),
        Binding("home", "scroll_top", "first row", show=False),
        Binding("end", "scroll_bottom", "last row", show=False),
        Binding("escape", "leave", "back", show=False),
    ]

    #: the rows shown (None: not shown yet)
    _rows: list[tuple[str, str, str]] | None = None

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = False
        self.show_cursor = True
        self.add_columns("claim", "actor", "stance")

    def show_rows(self, rows: Sequence[tuple[str, str, str]], keep: int | None = None) -> None:
        """Replace the rows; ``keep`` is the row to highlight (clamped). The columns are made
        again too, so their widths fit these rows, not the widest ever shown. The same rows as
        shown are not made again (the next sentence has none, most often): only the highlight
        moves, so showing a sentence costs no table rebuild (issue 18: keypress latency)."""
        rows = list(rows)
        if rows == self._rows:
            if rows:
                row = min(max(keep if keep is not None else len(rows) - 1, 0), len(rows) - 1)
                if row != self.cursor_row:
                    self.move_cursor(row=row, animate=False)
            return
        self._rows = rows
        self.clear(columns=True)
        self.add_columns("claim", "actor", "stance")
        for claim, actor, stance in rows:
            self.add_row(Text(claim), data(actor, fold=False), Text(stance))
        if rows:
            row = min(max(keep if keep is not None else len(rows) - 1, 0), len(rows) - 1)
            self.move_cursor(row=row, animate=False)

    @property
    def highlighted(self) -> int | None:
        return self.cursor_row if self.row_count else None

    def action_leave(self) -> None:
        self.screen.set_focus(None)
