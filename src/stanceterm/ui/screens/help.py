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

from stanceterm.ui.keymap import effective_keys, key_display


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


def _short(keys: str) -> str:
    """« 1, 2, …, 9 » as « 1-9 » (the claim keys' default)."""
    return "1-9" if keys == ", ".join(str(n) for n in range(1, 10)) else keys


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
        table = Table(box=None, show_header=True, expand=True, padding=(0, 1))
        table.add_column("keys", style="bold", no_wrap=True, header_style="bold")
        table.add_column("what", ratio=1, header_style="bold")
        table.add_column(Text("[keys] name"), style="dim", no_wrap=True, header_style="bold")
        for keys, desc, binding_id in self.rows:
            name = "claim_1…9" if binding_id == "claim_1" else binding_id
            table.add_row(Text(_short(keys)), Text(desc), Text(name))
        for keys, desc in self.extra:
            table.add_row(Text(keys), Text(desc), Text(""))
        with VerticalScroll(id="help", classes="dialog"):
            yield Static(
                Text.assemble(
                    ("stanceterm keys", "bold"),
                    " (Esc, q or ? closes). Rebind any of them in the config file: "
                    '[keys] name = "key,key".',
                )
            )
            yield Static(table, id="help-table")

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
