"""The help screen: every key, generated from the bindings (after the config's keymap)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

_DISPLAY = {
    "question_mark": "?",
    "slash": "/",
    "enter": "Enter",
    "escape": "Esc",
    "down": "↓",
    "up": "↑",
    "left": "←",
    "right": "→",
    "space": "Space",
}


def key_display(key: str) -> str:
    return _DISPLAY.get(key, key)


def effective_keys(binding: Binding, keymap: Mapping[str, str]) -> list[str]:
    """The keys of a binding after the keymap overrides (``id -> "key,key"``)."""
    keys = keymap.get(binding.id, binding.key) if binding.id else binding.key
    return [k.strip() for k in keys.split(",") if k.strip()]


def help_rows(bindings: Iterable[Binding], keymap: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(keys, description, binding id) per action, in binding order; same descriptions merged."""
    rows: dict[str, tuple[list[str], str, str]] = {}
    for b in bindings:
        desc = b.tooltip or b.description or b.action
        group = b.id or b.action
        if b.id and b.id.startswith("claim_"):
            group, desc = "claims", "toggle claim type n (schema order)"
        keys, _, _ = rows.setdefault(group, ([], desc, b.id or ""))
        keys.extend(key_display(k) for k in effective_keys(b, keymap))
    return [(", ".join(dict.fromkeys(k)), d, i) for k, d, i in rows.values()]


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss_help", "close", show=False),
    ]

    def __init__(
        self,
        bindings: Sequence[Binding],
        keymap: Mapping[str, str],
        extra: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__()
        self.rows = help_rows(bindings, keymap)
        self.extra = list(extra)

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, expand=True, padding=(0, 1))
        table.add_column("keys", style="bold", no_wrap=True)
        table.add_column("what")
        for keys, desc, _ in self.rows:
            table.add_row(Text(keys), Text(desc))
        for keys, desc in self.extra:
            table.add_row(Text(keys), Text(desc))
        with VerticalScroll(id="help", classes="dialog"):
            yield Static(Text("stanceterm keys (Esc, q or ? closes)", style="bold"))
            yield Static(table, id="help-table")

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
