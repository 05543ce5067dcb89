"""The claim bar: one clickable toggle per claim type, with its key number, on (●) or off (○),
and a suggested claim's mark (◌ and the model's probability): a suggestion, never ticked. While
the sentence's suggestion is still being computed every claim shows a pending mark (◌ …)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.message import Message
from textual.widgets import Button

from stanceterm.schema import LabelSchema

#: the mark of every claim while the sentence's suggestion is being computed
PENDING = " ◌ …"


class ClaimButton(Button, can_focus=False):
    """A claim toggle; not focusable, so Enter and the digits always reach the screen."""


class ClaimBar(Horizontal):
    @dataclass
    class Toggled(Message):
        """A claim button was clicked."""

        key: int

    def __init__(self, schema: LabelSchema, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.schema = schema
        self._on: set[str] = set()
        self._suggested: dict[str, float] = {}
        self._buttons: dict[str, ClaimButton] = {}  # button id -> button, found once
        #: once a ◌ mark was shown, every label keeps its width (blank where no mark): moving
        #: on then repaints the bar without a layout (keypress paint, issue 18)
        self._reserve = False

    def compose(self) -> ComposeResult:
        for claim in sorted(self.schema.claims, key=lambda c: c.key):
            yield ClaimButton(
                self._label(claim.key, claim.id, on=False),
                id=f"claim-{claim.id}",
                compact=True,
                classes="claim",
            )

    @staticmethod
    def _label(
        key: int,
        claim_id: str,
        *,
        on: bool,
        prob: float | None = None,
        reserve: bool = False,
        pending: bool = False,
    ) -> Content:
        if prob is not None:
            mark = f" ◌ {prob:.2f}"
        elif pending:  # as wide as a probability: the bar is not laid out again when it comes
            mark = PENDING.ljust(len(" ◌ 0.00"))
        else:
            mark = " " * len(" ◌ 0.00") if reserve else ""
        return Content(f"{key} {claim_id} {'●' if on else '○'}{mark}")

    def set_claims(
        self,
        claims: Iterable[str],
        suggested: Mapping[str, float] | None = None,
        *,
        pending: bool = False,
    ) -> None:
        """Show the ticked claims and, if given, the suggested ones (claim -> probability);
        ``pending``: the suggestion is still being computed (a ◌ … mark on every claim)."""
        self._on = set(claims)
        if suggested is not None:
            self._suggested = dict(suggested)
            self._reserve = self._reserve or bool(self._suggested) or pending
        if not self._buttons:
            self._buttons = {b.id or "": b for b in self.query(ClaimButton)}
        for claim in self.schema.claims:
            on = claim.id in self._on
            prob = self._suggested.get(claim.id)
            button = self._buttons[f"claim-{claim.id}"]
            button.set_class(on, "-on")
            label = self._label(
                claim.key, claim.id, on=on, prob=prob, reserve=self._reserve, pending=pending
            )
            shown = str(button.label)
            if label.plain != shown:
                button.label = label
                # a label that grows (a ◌ mark computed after the sentence was shown) needs a
                # new layout: a button's width is measured then, not when its label changes.
                # One of the same width (another probability) is only repainted.
                if cell_len(label.plain) != cell_len(shown):
                    button.refresh(layout=True)
            button.set_class(prob is not None, "-suggested")

    @property
    def suggested(self) -> dict[str, float]:
        return dict(self._suggested)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        claim_id = (event.button.id or "").removeprefix("claim-")
        for claim in self.schema.claims:
            if claim.id == claim_id:
                self.post_message(self.Toggled(claim.key))
