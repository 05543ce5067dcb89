"""Data on the terminal: strings that came from files, articles or other users are shown, never run.

A file name, a title, an actor or annotator name can hold terminal escape sequences (``ESC [2J``
clears the screen, ``ESC ] 0;… BEL`` retitles the window, OSC 8 plants links), bare carriage
returns that overwrite what was printed, NUL bytes, bidi overrides that reorder a line, or
invisible format characters (a zero-width space, a word joiner, a BOM) that make two different
strings look the same. :func:`clean` turns each such character into a visible backslash escape
(``\\x1b``, ``\\r``, ``\\u202e``, ``\\u200b``) so the output is plain, one-line and shows
exactly what the data holds. :func:`visible` does the same for the TUI with Unicode "control
pictures" (ESC → ␛) and ``⟨U+200B⟩`` for the others. Both are for display only: the store and the
exports keep the text as it was imported.

Rich markup is a separate matter: data printed through Rich (tables, ``Console.print``) goes in
as ``rich.text.Text(clean(value))``, which Rich never parses for ``[bold]`` or ``[link=…]``; a
plain ``str`` there would be parsed as markup. ``click.echo`` output is not markup-parsed at all,
so there :func:`clean` is enough.
"""

from __future__ import annotations

import re
from typing import Any

#: bidi embeddings, overrides and isolates, the Arabic letter mark: they reorder what follows
BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
#: invisible format characters: zero-width space, non-joiner and joiner, the word joiner and the
#: invisible operators (U+2060-U+2064), the BOM / zero-width no-break space
INVISIBLE = "\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff"
#: C0 controls (NUL, BEL, BS, TAB, LF, CR, ESC…), DEL, C1 controls (8-bit CSI 0x9b, OSC 0x9d…),
#: bidi controls, invisible format characters and the Unicode line/paragraph separators
UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f{BIDI}{INVISIBLE}\u2028\u2029]")

_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(m: re.Match[str]) -> str:
    ch = m.group(0)
    short = _SHORT.get(ch)
    if short is not None:
        return short
    code = ord(ch)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def clean(value: Any) -> str:
    """``str(value)`` on one line with every control, bidi and invisible format character shown
    as a backslash escape."""
    text = value if isinstance(value, str) else str(value)
    return UNSAFE.sub(_escape, text)


def _picture(m: re.Match[str]) -> str:
    code = ord(m.group(0))
    if code < 0x20:
        return chr(0x2400 + code)
    if code == 0x7F:
        return "\u2421"
    return f"⟨U+{code:04X}⟩"


def visible(text: str | None) -> str:
    """``text`` with every control, bidi, invisible format and separator character as a visible
    picture (TUI)."""
    if not text:
        return ""
    return UNSAFE.sub(_picture, text)
