"""Data → display text. Article text, titles, actor names and notes are DATA, never markup.

:func:`visible` makes control characters visible (C0 controls become the U+2400 "control
pictures": ESC → ␛, BEL → ␇; DEL → ␡; C1 controls and bidi overrides become ⟨U+XXXX⟩), so an
ANSI escape sequence or a stray bell in a sentence is shown, not executed, and cannot disturb the
layout. :func:`data` wraps the result in a :class:`rich.text.Text`, which is never parsed for
markup: ``[bold]``, ``[link=…]`` or a lone ``[`` are shown literally.
"""

from __future__ import annotations

from rich.text import Text

from stanceterm.textsafe import visible

__all__ = ["data", "one_line", "visible"]


def data(text: str | None, style: str = "", *, fold: bool = True) -> Text:
    """A Text that shows ``text`` literally (no markup), folding words too long for a line."""
    return Text(visible(text), style=style, overflow="fold" if fold else "ellipsis")


def one_line(text: str | None, width: int) -> str:
    """``text`` made visible, on one line, cut to ``width`` cells with an ellipsis."""
    flat = " ".join(visible(text).split())
    return flat if len(flat) <= width else flat[: max(0, width - 1)] + "…"
