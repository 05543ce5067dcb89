"""The label editor: the claim toggles, the stance table and the claim → actor → stance flow.

One widget for the annotate screen and the gold editor, so both follow the same ``[keys]``
keymap (claim keys, stance keys). It shows labels and runs the flow; the screen that holds it
owns the labels (an annotation, a gold decision) and its key bindings
(:data:`~stanceterm.ui.keymap.LABEL_EDITOR_IDS`), and calls the editor from its actions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import cast

from textual.app import ComposeResult
from textual.containers import Vertical

from stanceterm.schema import LabelSchema
from stanceterm.store import Stance
from stanceterm.ui.base import StoreApp
from stanceterm.ui.dialogs.actor_picker import ActorChoice, ActorPicker
from stanceterm.ui.dialogs.prompts import ClaimChooser, StancePrompt
from stanceterm.ui.keymap import claim_key_map, stance_key_map
from stanceterm.ui.widgets.claim_bar import ClaimBar
from stanceterm.ui.widgets.stance_table import StanceTable

Labels = tuple[tuple[str, ...], tuple[Stance, ...]]


class LabelEditor(Vertical):
    DEFAULT_CSS = """
    LabelEditor {
        height: auto;
    }
    """

    def __init__(
        self,
        schema: LabelSchema,
        keymap: Mapping[str, str],
        *,
        claims_id: str,
        stances_id: str,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.schema = schema
        self.keymap = dict(keymap)
        self._claims_id = claims_id
        self._stances_id = stances_id

    @property
    def store_app(self) -> StoreApp:
        return cast("StoreApp", self.app)

    def compose(self) -> ComposeResult:
        yield ClaimBar(self.schema, id=self._claims_id)
        yield StanceTable(id=self._stances_id)

    # ---------------------------------------------------------------- showing

    def show(
        self,
        claims: tuple[str, ...],
        stances: tuple[Stance, ...],
        keep: int | None,
        suggested: Mapping[str, float] | None = None,
        *,
        pending: bool = False,
    ) -> None:
        """Show these labels; ``keep`` is the stance row to highlight (None: the last one);
        ``suggested``: the suggested claims' marks (claim -> probability; None keeps them);
        ``pending``: the suggestion is still being computed."""
        self.query_one(ClaimBar).set_claims(claims, suggested, pending=pending)
        self.show_stances(stances, keep)

    def show_stances(self, stances: tuple[Stance, ...], keep: int | None) -> None:
        name = self.store_app.display_actor
        self.query_one(StanceTable).show_rows(
            [(s.claim, name(s.actor), s.stance) for s in stances], keep
        )

    @property
    def highlighted(self) -> int | None:
        return self.query_one(StanceTable).highlighted

    # ---------------------------------------------------------------- keys

    def claim_keys(self) -> dict[int, list[str]]:
        """Claim number -> its keys after the keymap (the claim chooser follows them too)."""
        return claim_key_map(self.keymap)

    def stance_keys(self) -> dict[str, str]:
        """Key -> stance, after the keymap (the stance prompt's keys)."""
        return stance_key_map(self.schema.stances, self.keymap)

    # ---------------------------------------------------------------- edits

    def toggled(self, labels: Labels, key: int) -> Labels | None:
        """``labels`` with claim type ``key`` switched (its stances go with it)."""
        claim = self.schema.claim_by_key(key)
        if claim is None:
            return None
        claims, stances = labels
        if claim.id in claims:
            return (
                tuple(c for c in claims if c != claim.id),
                tuple(s for s in stances if s.claim != claim.id),
            )
        return tuple(self.schema.order_claims([*claims, claim.id])), stances

    def without_highlighted(
        self, stances: tuple[Stance, ...]
    ) -> tuple[tuple[Stance, ...], int] | None:
        """``stances`` without the highlighted row, and that row (None: no row highlighted)."""
        row = self.highlighted
        if row is None or row >= len(stances):
            return None
        return stances[:row] + stances[row + 1 :], row

    def add_stance(
        self,
        sentence_text: str,
        claims: tuple[str, ...],
        chosen: Callable[[Stance], None],
        actor_created: Callable[[str, str], None],
        boost: Callable[[str], Mapping[str, int]] | None = None,
    ) -> None:
        """Ask the claim (if several are tagged), the actor (created if new) and the stance;
        ``chosen(stance)`` gets the result, ``actor_created(provisional, real)`` runs once a new
        actor exists. ``boost(claim)``: the picker's tie-break (actors the team used with the
        claim on other sentences)."""
        if not claims:
            return
        app = self.store_app
        schema = self.schema
        tagged = [
            (c.key, c.id) for c in sorted(schema.claims, key=lambda c: c.key) if c.id in claims
        ]

        def claim_chosen(claim: str | None) -> None:
            if claim is None:
                return
            picker = ActorPicker(
                sentence_text,
                app.store.actors.alias_map(),
                app.store.actors.names(),
                claim,
                boost(claim) if boost is not None else None,
            )
            app.push_screen(picker, lambda choice: actor_chosen(claim, choice))

        def actor_chosen(claim: str, choice: ActorChoice | None) -> None:
            if choice is None:
                return
            if choice.actor_id is None:
                actor_id = app.create_actor(choice.name, actor_created)
            else:
                actor_id = choice.actor_id
                if choice.alias:
                    app.add_alias(actor_id, choice.alias)
            app.push_screen(
                StancePrompt(choice.name, claim, schema.stances, self.stance_keys()),
                lambda stance: stance_chosen(claim, actor_id, stance),
            )

        def stance_chosen(claim: str, actor_id: str, stance: str | None) -> None:
            if stance is not None:
                chosen(Stance(claim, actor_id, stance))

        if len(tagged) == 1:
            claim_chosen(tagged[0][1])
        else:
            app.push_screen(ClaimChooser(tagged, self.claim_keys()), claim_chosen)


def allowed(
    schema: LabelSchema, action: str, parameters: tuple[object, ...], labels: Labels | None
) -> bool | None:
    """The label actions' availability (``check_action``): False hides, None greys out.
    ``labels``: the (claims, stances) being edited, None when there is nothing to edit."""
    if action == "toggle_claim":
        key = parameters[0] if parameters else None
        if not isinstance(key, int) or schema.claim_by_key(key) is None:
            return False
    if action == "add_stance" and (labels is None or not labels[0]):
        return None
    if action == "delete_stance" and (labels is None or not labels[1]):
        return None
    return True


def with_stance(stances: tuple[Stance, ...], new: Stance) -> tuple[Stance, ...]:
    """``stances`` with ``new`` last, replacing the stance of the same actor on the same claim."""
    kept = [s for s in stances if not (s.claim == new.claim and s.actor == new.actor)]
    return (*kept, new)
