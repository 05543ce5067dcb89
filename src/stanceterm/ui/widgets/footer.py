"""The key footer, rebuilt only when the keys it shows change (keypress latency, issue 18).

Textual's :class:`~textual.widgets.Footer` recomposes (removes and mounts every key widget, then
lays the screen out again) each time a screen calls ``refresh_bindings()``, even when no key
changed: the annotate screen calls it on every sentence shown, and that rebuild cost more than
the rest of the keypress. :class:`KeyFooter` coalesces the calls of one refresh into one look,
and recomposes only when the keys shown (key, action, description, enabled, tooltip) differ from
the ones on screen.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widgets import Footer


class KeyFooter(Footer):
    """A :class:`~textual.widgets.Footer` that recomposes only when its keys change."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._shown: tuple[tuple[object, ...], ...] | None = None
        self._look_due = False

    def shown_keys(self) -> tuple[tuple[object, ...], ...]:
        """What :meth:`Footer.compose` would show now: one entry per binding shown."""
        return tuple(
            (binding.key, binding.action, binding.description, binding.group, enabled, tooltip)
            for (_node, binding, enabled, tooltip) in self.screen.active_bindings.values()
            if binding.show
        )

    def bindings_changed(self, screen: Screen[Any]) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen and not self._look_due:
            self._look_due = True  # one look per refresh, however many calls came before it
            self.call_after_refresh(self._recompose_if_changed)

    async def _recompose_if_changed(self) -> None:
        self._look_due = False
        if not self.is_attached:
            return
        shown = self.shown_keys()
        if shown != self._shown:
            self._shown = shown
            await self.recompose()
