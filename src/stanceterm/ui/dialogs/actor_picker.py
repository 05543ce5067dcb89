"""Pick the actor of a stance: typing filters known actors and aliases fuzzily; actors named in
the sentence come first; Enter takes the highlighted one or creates the typed name."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, OptionList, Static
from textual.widgets.option_list import Option

from stanceterm.actors import (
    actors_in_sentence,
    alias_key,
    cue_names,
    fuzzy_lookup,
    near_duplicates,
)
from stanceterm.ui.text import visible

#: Added to the fuzzy score of actors that the sentence itself names.
IN_SENTENCE_BONUS = 15.0
#: Below this fuzzy score, no known actor is what was typed: Enter creates the typed name (or
#: takes the name of the sentence it matches) rather than a far-fetched known actor.
STRONG_MATCH = 85.0


@dataclass(frozen=True, slots=True)
class ActorChoice:
    """The picked actor: an existing id, or ``actor_id=None`` to create ``name``."""

    actor_id: str | None
    name: str


@dataclass(frozen=True, slots=True)
class Candidate:
    actor_id: str | None  # None: a new actor named `name`
    name: str
    why: str = ""  # "in sentence", "near a cue", "alias: Putin", "new"
    score: float | None = None  # the fuzzy score of a known actor matching the typed text


def candidates(
    query: str,
    sentence: str,
    aliases: Mapping[str, str],
    names: Mapping[str, str],
    limit: int = 30,
) -> list[Candidate]:
    """The picker's list for ``query``: in-sentence actors first, then fuzzy matches, then names
    near attribution cues that are not known yet, then "create <query>"."""
    here = actors_in_sentence(sentence, aliases)
    cues = cue_names(sentence, aliases)
    out: list[Candidate] = []
    seen: set[str] = set()
    key = alias_key(query)
    if not key:
        for actor_id in here:
            out.append(Candidate(actor_id, names.get(actor_id, actor_id), "in sentence"))
        out.extend(Candidate(None, name, "in sentence · new") for name in cues)
        seen.update(here)
        rest = sorted((a for a in names if a not in seen), key=lambda a: alias_key(names.get(a, a)))
        out.extend(Candidate(a, names.get(a, a)) for a in rest)
        return out[:limit]
    matches = fuzzy_lookup(query, aliases, limit=limit)
    in_here = set(here)
    # actors named in the sentence get a boost, not an absolute first place
    ordered = sorted(
        matches, key=lambda m: -(m.score + (IN_SENTENCE_BONUS if m.actor_id in in_here else 0))
    )
    for m in ordered:
        if m.actor_id in seen:
            continue
        seen.add(m.actor_id)
        name = names.get(m.actor_id, m.actor_id)
        why = "in sentence" if m.actor_id in in_here else ""
        if alias_key(m.alias) != alias_key(name):
            why = f"{why} · alias: {m.alias}" if why else f"alias: {m.alias}"
        out.append(Candidate(m.actor_id, name, why, m.score))
    from rapidfuzz import fuzz  # lazy: rapidfuzz is not on the TUI's start-up path

    for name in cues:
        nk = alias_key(name)
        if nk.startswith(key) or fuzz.partial_ratio(key, nk) >= 80:
            out.append(Candidate(None, name, "in sentence · new"))
    exact = any(alias_key(a) == key for a in aliases)
    if not exact and all(alias_key(c.name) != key for c in out):
        out.append(Candidate(None, " ".join(query.split()), "new actor"))
    return out[:limit]


def default_choice(query: str, cands: list[Candidate]) -> int:
    """The option Enter takes: the first, unless a name was typed that no known actor matches
    well; then the first new name (a name of the sentence, else "create" what was typed)."""
    if not alias_key(query):
        return 0
    best = max((c.score for c in cands if c.score is not None), default=None)
    if best is not None and best >= STRONG_MATCH:
        return 0
    return next((i for i, c in enumerate(cands) if c.actor_id is None), 0)


class ActorPicker(ModalScreen[ActorChoice | None]):
    """Returns the chosen actor, or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "cancel"),
        Binding("down", "move(1)", "next", show=False),
        Binding("up", "move(-1)", "previous", show=False),
    ]

    def __init__(
        self,
        sentence: str,
        aliases: Mapping[str, str],
        names: Mapping[str, str],
        claim: str,
    ) -> None:
        super().__init__()
        self.sentence = sentence
        self.aliases = dict(aliases)
        self.names = dict(names)
        self.claim = claim
        self._cands: list[Candidate] = []
        self._confirm: str | None = None  # a near-duplicate name the user was warned about
        self._known_names = sorted(set(self.names.values()) | set(self.aliases))

    def compose(self) -> ComposeResult:
        with Vertical(id="picker", classes="dialog"):
            yield Static(Text(f"Actor for claim {self.claim}", style="bold"), classes="title")
            yield Input(placeholder="type a name or alias…", id="actor-query", compact=True)
            yield OptionList(id="actor-options", compact=True)
            yield Static(id="actor-warning")
            with Horizontal(classes="buttons"):
                yield Button("Pick", id="pick", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self._fill("")
        self.query_one(Input).focus()

    def _fill(self, query: str) -> None:
        self._cands = candidates(query, self.sentence, self.aliases, self.names)
        options = self.query_one(OptionList)
        options.clear_options()
        for i, c in enumerate(self._cands):
            prompt = Text(no_wrap=True, overflow="ellipsis")
            if c.actor_id is None:
                prompt.append("+ create ", style="italic")
            prompt.append(visible(c.name), style="bold")
            if c.why:
                prompt.append(f"  {visible(c.why)}", style="dim")
            options.add_option(Option(prompt, id=f"c{i}"))
        if self._cands:
            options.highlighted = default_choice(query, self._cands)
        self._warn(None)

    def _warn(self, text: str | None) -> None:
        warning = self.query_one("#actor-warning", Static)
        warning.update(Text(text or "", style="bold"))
        warning.display = bool(text)

    def on_input_changed(self, event: Input.Changed) -> None:
        self._confirm = None
        self._fill(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._take(self.query_one(OptionList).highlighted)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._take(event.option_index)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "pick":
            self._take(self.query_one(OptionList).highlighted)
        else:
            self.dismiss(None)

    def action_move(self, step: int) -> None:
        options = self.query_one(OptionList)
        if not self._cands:
            return
        current = options.highlighted if options.highlighted is not None else -step
        options.highlighted = (current + step) % len(self._cands)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def _take(self, index: int | None) -> None:
        if index is None or not (0 <= index < len(self._cands)):
            self.app.bell()
            return
        c = self._cands[index]
        if c.actor_id is not None:
            self.dismiss(ActorChoice(c.actor_id, c.name))
            return
        if not c.name.strip():
            return
        near = [n for n in near_duplicates(c.name, self._known_names) if n != c.name]
        if near and self._confirm != c.name:
            self._confirm = c.name
            self._warn(
                f"⚠ « {visible(c.name)} » is close to known actor(s): "
                f"{', '.join(visible(n) for n in near[:3])}. Enter again to create it anyway, "
                "or pick the known one."
            )
            return
        self.dismiss(ActorChoice(None, c.name.strip()))
