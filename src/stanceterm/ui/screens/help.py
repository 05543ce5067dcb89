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


def stance_bindings(stances: Sequence[str], keymap: Mapping[str, str]) -> list[Binding]:
    """One binding per stance of the schema (id ``stance_<name>``), for the stance prompt.

    Default keys: the stance's first letter, else its next letter not taken (``s`` support,
    ``o`` oppose, ``n`` neutral). ``[keys]`` can rebind them like any other action.
    """
    from stanceterm.ui.dialogs.prompts import stance_keys

    defaults = {stance: key for key, stance in stance_keys(stances).items()}
    return [
        Binding(
            keymap.get(f"stance_{stance}", defaults[stance]),
            f"stance({stance!r})",
            stance,
            id=f"stance_{stance}",
            tooltip=f"after `a` and an actor: {stance}",
        )
        for stance in stances
    ]


def stance_key_map(stances: Sequence[str], keymap: Mapping[str, str]) -> dict[str, str]:
    """key -> stance, after the keymap. Raises ValueError when two stances share a key."""
    out: dict[str, str] = {}
    for b in stance_bindings(stances, keymap):
        for key in effective_keys(b, {}):
            other = out.setdefault(key, b.description)
            if other != b.description:
                raise ValueError(
                    f"key {key!r} is bound to both stance_{other} and stance_{b.description}"
                )
    return out


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
