"""Edit the gold labels of a sentence: the annotate screen's claim bar, stance table, actor picker
and stance prompt, in a dialog. Enter returns the labels, Esc cancels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from stanceterm.store import Stance
from stanceterm.ui.dialogs.actor_picker import ActorChoice, ActorPicker
from stanceterm.ui.dialogs.prompts import ClaimChooser, StancePrompt
from stanceterm.ui.text import data
from stanceterm.ui.widgets.claim_bar import ClaimBar
from stanceterm.ui.widgets.stance_table import StanceTable

if TYPE_CHECKING:
    from stanceterm.ui.app import StanceApp


@dataclass(frozen=True, slots=True)
class GoldLabels:
    claims: tuple[str, ...]
    stances: tuple[Stance, ...]


def _claim_keys() -> list[Binding]:
    return [
        Binding(str(n), f"toggle_claim({n})", "claim", show=n == 1, key_display="1-9")
        for n in range(1, 10)
    ]


class GoldEditor(ModalScreen[GoldLabels | None]):
    """Toggle claims (1-9), add (a) or delete (d) stances; Enter keeps, Esc cancels."""

    AUTO_FOCUS = ""
    BINDINGS: ClassVar[list[BindingType]] = [
        *_claim_keys(),
        Binding("a", "add_stance", "stance"),
        Binding("d", "delete_stance", "del"),
        Binding("enter", "save", "keep as gold"),
        Binding("escape", "cancel", "cancel"),
    ]

    def __init__(self, sentence: str, claims: tuple[str, ...], stances: tuple[Stance, ...]) -> None:
        super().__init__(classes="gold-editor")  # the class outranks the ModalScreen rule
        self.sentence = sentence
        self.claims = claims
        self.stances = stances

    @property
    def stance_app(self) -> StanceApp:
        return cast("StanceApp", self.app)

    def compose(self) -> ComposeResult:
        with Vertical(id="gold-editor", classes="dialog"):
            yield Static(Text("Gold labels (Enter keeps them, Esc cancels)", style="bold"))
            yield Static(data(self.sentence), id="gold-editor-sentence")
            yield ClaimBar(self.stance_app.schema, id="gold-claims")
            yield StanceTable(id="gold-stances")
            yield Static(
                Text("1-9 toggle a claim · a add a stance · d delete the highlighted one"),
                id="gold-editor-keys",
            )

    def on_mount(self) -> None:
        self._show(None)

    def _show(self, keep: int | None) -> None:
        self.query_one(ClaimBar).set_claims(self.claims)
        name = self.stance_app.display_actor
        rows = [(s.claim, name(s.actor), s.stance) for s in self.stances]
        self.query_one(StanceTable).show_rows(rows, keep)
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "toggle_claim":
            key = parameters[0] if parameters else None
            if not isinstance(key, int) or self.stance_app.schema.claim_by_key(key) is None:
                return False
        if action == "add_stance" and not self.claims:
            return None
        if action == "delete_stance" and not self.stances:
            return None
        return True

    def action_toggle_claim(self, key: int) -> None:
        schema = self.stance_app.schema
        claim = schema.claim_by_key(key)
        if claim is None:
            return
        if claim.id in self.claims:
            self.claims = tuple(c for c in self.claims if c != claim.id)
            self.stances = tuple(s for s in self.stances if s.claim != claim.id)
        else:
            self.claims = tuple(schema.order_claims([*self.claims, claim.id]))
        self._show(None)

    def on_claim_bar_toggled(self, message: ClaimBar.Toggled) -> None:
        message.stop()
        if self.check_action("toggle_claim", (message.key,)):
            self.action_toggle_claim(message.key)

    def action_delete_stance(self) -> None:
        row = self.query_one(StanceTable).highlighted
        if row is None or row >= len(self.stances):
            return
        self.stances = self.stances[:row] + self.stances[row + 1 :]
        self._show(row)

    def action_add_stance(self) -> None:
        if not self.claims:
            return
        app = self.stance_app
        schema = app.schema
        tagged = [
            (c.key, c.id) for c in sorted(schema.claims, key=lambda c: c.key) if c.id in self.claims
        ]

        def claim_chosen(claim: str | None) -> None:
            if claim is None:
                return
            picker = ActorPicker(
                self.sentence, app.store.actors.alias_map(), app.store.actors.names(), claim
            )
            app.push_screen(picker, lambda choice: actor_chosen(claim, choice))

        def actor_chosen(claim: str, choice: ActorChoice | None) -> None:
            if choice is None:
                return
            if choice.actor_id is None:
                actor_id = app.create_actor(choice.name, self._actor_created)
            else:
                actor_id = choice.actor_id
            app.push_screen(
                StancePrompt(choice.name, claim, schema.stances),
                lambda stance: stance_chosen(claim, actor_id, stance),
            )

        def stance_chosen(claim: str, actor_id: str, stance: str | None) -> None:
            if stance is None or claim not in self.claims:
                return
            kept = [s for s in self.stances if not (s.claim == claim and s.actor == actor_id)]
            self.stances = (*kept, Stance(claim, actor_id, stance))
            self._show(len(self.stances) - 1)

        if len(tagged) == 1:
            claim_chosen(tagged[0][1])
        else:
            app.push_screen(ClaimChooser(tagged), claim_chosen)

    def _actor_created(self, provisional: str, real: str) -> None:
        self.stances = tuple(
            Stance(s.claim, real if s.actor == provisional else s.actor, s.stance)
            for s in self.stances
        )
        if self.is_attached:
            self._show(self.query_one(StanceTable).highlighted)

    def action_save(self) -> None:
        self.dismiss(GoldLabels(self.claims, self.stances))

    def action_cancel(self) -> None:
        self.dismiss(None)
