"""A one-line text widget that repaints only when its text changes, without a layout pass.

The annotate screen's top bar, article line, status line, progress line and team line are one
row each (``height: 1`` in the stylesheet), so their size never depends on their text. A plain
``Static.update`` asks Textual for a layout of the whole screen every time; on the keypress path
(issue 18: key -> next sentence painted) :meth:`Line.show_text` repaints the line alone, and
nothing at all when the text is the same as the one shown.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


def _same(a: Text, b: Text) -> bool:
    """Do two Texts render the same (text, spans and the Text's own options)?"""
    return (
        a.plain == b.plain
        and a.spans == b.spans
        and a.style == b.style
        and a.no_wrap == b.no_wrap
        and a.overflow == b.overflow
        and a.justify == b.justify
        and a.end == b.end
    )


class Line(Static):
    """A Static one row high (its CSS says ``height: 1``): see the module docstring."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._shown: Text | None = None

    def show_text(self, text: Text) -> None:
        """Show ``text`` (literal: a Text is never parsed for markup)."""
        if self._shown is not None and _same(self._shown, text):
            return
        self._shown = text
        self.update(text, layout=False)
