"""Data → display text. Article text, titles, actor names and notes are DATA, never markup.

:func:`visible` makes control characters visible (C0 controls become the U+2400 "control
pictures": ESC → ␛, BEL → ␇; DEL → ␡; C1 controls and bidi overrides become ⟨U+XXXX⟩), so an
ANSI escape sequence or a stray bell in a sentence is shown, not executed, and cannot disturb the
layout. :func:`data` wraps the result in a :class:`rich.text.Text`, which is never parsed for
markup: ``[bold]``, ``[link=…]`` or a lone ``[`` are shown literally.
"""

from __future__ import annotations

import re

from rich.text import Text

_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}\u2028\u2029]")


def _placeholder(m: re.Match[str]) -> str:
    ch = m.group(0)
    code = ord(ch)
    if code < 0x20:
        return chr(0x2400 + code)
    if code == 0x7F:
        return "\u2421"
    return f"⟨U+{code:04X}⟩"


def visible(text: str | None) -> str:
    """``text`` with every control, bidi-override and line-separator character made visible."""
    if not text:
        return ""
    return _UNSAFE.sub(_placeholder, text)


def data(text: str | None, style: str = "", *, fold: bool = True) -> Text:
    """A Text that shows ``text`` literally (no markup), folding words too long for a line."""
    return Text(visible(text), style=style, overflow="fold" if fold else "ellipsis")


def one_line(text: str | None, width: int) -> str:
    """``text`` made visible, on one line, cut to ``width`` cells with an ellipsis."""
    flat = " ".join(visible(text).split())
    return flat if len(flat) <= width else flat[: max(0, width - 1)] + "…"
