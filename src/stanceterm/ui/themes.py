"""The Textual themes a user may name ($STANCETERM_THEME or the config's ``theme``).

Here so that the CLI checks a theme name without importing Textual itself (import contract:
no Textual outside ``stanceterm.ui``).
"""

from __future__ import annotations

from textual.theme import BUILTIN_THEMES


def theme_names() -> list[str]:
    """The built-in theme names, sorted."""
    return sorted(BUILTIN_THEMES)
