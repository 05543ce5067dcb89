"""Edit the gold labels of a sentence: the annotate screen's label editor (claim toggles, stance
table, actor picker and stance prompt, with the ``[keys]`` keymap) in a dialog. Enter returns the
labels, Esc cancels."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from stanceterm.schema import LabelSchema
from stanceterm.store import Stance
from stanceterm.ui import keymap
from stanceterm.ui.keymap import LABEL_EDITOR_IDS, claim_key_map, key_display
from stanceterm.ui.text import data
from stanceterm.ui.widgets.claim_bar import ClaimBar
from stanceterm.ui.widgets.label_editor import LabelEditor, allowed, with_stance


@dataclass(frozen=True, slots=True)
class GoldLabels:
    claims: tuple[str, ...]
    stances: tuple[Stance, ...]


def editor_keys(keys: Mapping[str, str]) -> tuple[str, str, str]:
    """How the claim, add-stance and delete-stance keys read after the keymap (« 1-9 », « a »,
    « d » by default)."""
    claim_keys = claim_key_map(keys)
    firsts = [key_display(claim_keys[n][0]) for n in sorted(claim_keys)]
    claims = "1-9" if firsts == [str(n) for n in range(1, 10)] else ", ".join(firsts)
    add = ", ".join(key_display(k) for k in keys.get("add_stance", "a").split(","))
    delete = ", ".join(key_display(k) for k in keys.get("delete_stance", "d").split(","))
    return claims, add, delete


def editor_keys_line(keys: Mapping[str, str]) -> str:
    """The gold editor's key reminder, after the keymap."""
    claims, add, delete = editor_keys(keys)
    return f"{claims} toggle a claim · {add} add a stance · {delete} delete the highlighted one"


class GoldEditor(ModalScreen[GoldLabels | None]):
    """Toggle claims (1-9), add (a) or delete (d) stances; Enter keeps, Esc cancels. ``keys``
    (the config's ``[keys]``) rebinds the label keys as on the annotate screen."""

    AUTO_FOCUS = ""
    BINDINGS: ClassVar[list[BindingType]] = keymap.GOLD_EDITOR

    def __init__(
        self,
        sentence: str,
        claims: tuple[str, ...],
        stances: tuple[Stance, ...],
        *,
        schema: LabelSchema,
        keys: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(classes="gold-editor")  # the class outranks the ModalScreen rule
        self.sentence = sentence
        self.claims = claims
        self.stances = stances
        self.schema = schema
        self.keys = dict(keys or {})
        keymap.apply_to(self, self.keys, LABEL_EDITOR_IDS)

    def compose(self) -> ComposeResult:
        with Vertical(id="gold-editor", classes="dialog"):
            yield Static(Text("Gold labels (Enter keeps them, Esc cancels)", style="bold"))
            yield Static(data(self.sentence), id="gold-editor-sentence")
            yield LabelEditor(
                self.schema, self.keys, claims_id="gold-claims", stances_id="gold-stances"
            )
            yield Static(Text(editor_keys_line(self.keys)), id="gold-editor-keys")

    def on_mount(self) -> None:
        self._show(None)

    @property
    def editor(self) -> LabelEditor:
        return self.query_one(LabelEditor)

    def _show(self, keep: int | None) -> None:
        self.editor.show(self.claims, self.stances, keep)
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return allowed(self.schema, action, parameters, (self.claims, self.stances))

    def action_toggle_claim(self, key: int) -> None:
        labels = self.editor.toggled((self.claims, self.stances), key)
        if labels is not None:
            self.claims, self.stances = labels
            self._show(None)

    def on_claim_bar_toggled(self, message: ClaimBar.Toggled) -> None:
        message.stop()
        if self.check_action("toggle_claim", (message.key,)):
            self.action_toggle_claim(message.key)

    def action_delete_stance(self) -> None:
        cut = self.editor.without_highlighted(self.stances)
        if cut is not None:
            self.stances, row = cut
            self._show(row)

    def action_add_stance(self) -> None:
        def chosen(new: Stance) -> None:
            if new.claim not in self.claims:
                return
            self.stances = with_stance(self.stances, new)
            self._show(len(self.stances) - 1)

        self.editor.add_stance(self.sentence, self.claims, chosen, self._actor_created)

    def _actor_created(self, provisional: str, real: str) -> None:
        self.stances = tuple(
            Stance(s.claim, real if s.actor == provisional else s.actor, s.stance)
            for s in self.stances
        )
        if self.is_attached:
            self._show(self.editor.highlighted)

    def action_save(self) -> None:
        self.dismiss(GoldLabels(self.claims, self.stances))

    def action_cancel(self) -> None:
        self.dismiss(None)
