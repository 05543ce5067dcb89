"""Pick the actor of a stance: typing ranks known actors, aliases and the sentence's new names by
how well the typed text matches their start; Enter takes the first row (the highlight always
starts there), which is "+ create" when nothing known matches well."""

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
    best_alias_rank,
    cue_names,
    is_strong,
    match_rank,
    name_as_written,
    near_duplicates,
)
from stanceterm.ui.text import visible
from stanceterm.wording import noun


@dataclass(frozen=True, slots=True)
class ActorChoice:
    """The picked actor: an existing id, or ``actor_id=None`` to create ``name``."""

    actor_id: str | None
    name: str
    #: the typed name, to be made an alias of ``actor_id`` (the picker's alias key); such an
    #: alias is not trusted for dedup (one annotator's keystroke must not merge sentences)
    alias: str | None = None


#: A candidate's place in the list: the typed text's :data:`stanceterm.actors.Rank` then 0 for
#: actors the sentence names, 1 for the others. Equal keys are equally good answers: a later
#: boost (suggestions) may reorder only among those.
CandidateRank = tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class Candidate:
    actor_id: str | None  # None: a new actor named `name`
    name: str
    why: str = ""  # "in sentence", "in sentence · new", "alias: Putin", "new actor"
    rank: CandidateRank | None = None  # None: nothing typed, or "+ create" what was typed


def sentence_names(sentence: str, aliases: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """(actor ids the sentence names, new names near its attribution cues): the same for every
    keystroke, so the picker computes them once."""
    return actors_in_sentence(sentence, aliases), cue_names(sentence, aliases)


def candidates(
    query: str,
    sentence: str,
    aliases: Mapping[str, str],
    names: Mapping[str, str],
    limit: int = 30,
    found: tuple[list[str], list[str]] | None = None,
    boost: Mapping[str, int] | None = None,
) -> list[Candidate]:
    """The picker's list for ``query``; Enter takes the first row.

    Nothing typed: the sentence's actors, its new names near attribution cues, then every actor.
    Typed: known actors and the sentence's new names ranked by how well the typed text matches
    the start of a name or alias (:func:`stanceterm.actors.match_rank`), the sentence's own
    actors first among equals; "+ create" comes first when nothing matches well, else last.
    ``boost`` (actor id -> how often the team used it with this claim, on other sentences)
    reorders only candidates whose rank is equal (suggestions: ``russ`` still puts la Russie
    first), and the actors listed when nothing is typed after the sentence's own.
    """
    used = boost or {}
    here, cues = found if found is not None else sentence_names(sentence, aliases)
    key = alias_key(query)
    if not key:
        out = [Candidate(a, names.get(a, a), "in sentence") for a in here]
        out.extend(Candidate(None, name, "in sentence · new") for name in cues)
        seen = set(here)
        rest = sorted(
            (a for a in names if a not in seen),
            key=lambda a: (-used.get(a, 0), alias_key(names.get(a, a))),
        )
        out.extend(Candidate(a, names.get(a, a)) for a in rest)
        return out[:limit]
    in_here = set(here)
    ranked: list[tuple[CandidateRank, int, str, Candidate]] = []
    strong = False
    for actor_id, (rank, alias) in best_alias_rank(query, aliases).items():
        name = names.get(actor_id, actor_id)
        why = "in sentence" if actor_id in in_here else ""
        if alias_key(alias) != alias_key(name):
            why = f"{why} · alias: {alias}" if why else f"alias: {alias}"
        key4 = (*rank, 0 if actor_id in in_here else 1)
        ranked.append(
            (key4, -used.get(actor_id, 0), alias_key(name), Candidate(actor_id, name, why, key4))
        )
        strong = strong or is_strong(rank)
    for name in cues:
        cue_rank = match_rank(query, name)
        if cue_rank is None:
            continue
        key4 = (*cue_rank, 0)
        ranked.append((key4, 0, alias_key(name), Candidate(None, name, "in sentence · new", key4)))
        strong = strong or is_strong(cue_rank)
    ranked.sort(key=lambda t: (t[0], t[1], t[2]))
    out = [c for _, _, _, c in ranked]
    exact = any(alias_key(a) == key for a in aliases) or any(alias_key(c.name) == key for c in out)
    if not exact:
        written = name_as_written(query, sentence) or " ".join(query.split())
        create = Candidate(None, written, "new actor")
        if strong:
            out = [*out[: limit - 1], create]
        else:
            out.insert(0, create)
    return out[:limit]


class ActorPicker(ModalScreen[ActorChoice | None]):
    """Returns the chosen actor, or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "cancel"),
        Binding("ctrl+l", "alias", "typed name as alias", show=False),
        Binding("down", "move(1)", "next", show=False),
        Binding("up", "move(-1)", "previous", show=False),
    ]

    def __init__(
        self,
        sentence: str,
        aliases: Mapping[str, str],
        names: Mapping[str, str],
        claim: str,
        boost: Mapping[str, int] | None = None,
    ) -> None:
        super().__init__()
        self.boost = dict(boost or {})  # actor id -> uses with this claim on other sentences
        self.sentence = sentence
        self.aliases = dict(aliases)
        self.names = dict(names)
        self.claim = claim
        self._cands: list[Candidate] = []
        self._found: tuple[list[str], list[str]] | None = None
        self._confirm: str | None = None  # a near-duplicate name the user was warned about
        self._known_names = sorted(set(self.names.values()) | set(self.aliases))

    def compose(self) -> ComposeResult:
        with Vertical(id="picker", classes="dialog docked"):
            yield Static(Text(f"Actor for claim {self.claim}", style="bold"), classes="title")
            yield Input(placeholder="type a name or alias…", id="actor-query", compact=True)
            yield OptionList(id="actor-options", compact=True)
            yield Static(id="actor-warning")
            yield Static(
                Text(
                    "Enter pick · ctrl+l make the typed name an alias of the highlighted actor · "
                    "Esc cancel",
                    style="dim",
                ),
                id="actor-footer",
            )
            with Horizontal(classes="buttons"):
                yield Button("Pick", id="pick", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self._fill("")
        self.query_one(Input).focus()

    def _fill(self, query: str) -> None:
        if self._found is None:
            self._found = sentence_names(self.sentence, self.aliases)
        self._cands = candidates(
            query, self.sentence, self.aliases, self.names, found=self._found, boost=self.boost
        )
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
            options.highlighted = 0  # Enter takes the first row, always
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

    def action_alias(self) -> None:
        """Pick the highlighted known actor and make the typed name one of its aliases."""
        typed = " ".join(self.query_one(Input).value.split())
        index = self.query_one(OptionList).highlighted
        c = self._cands[index] if index is not None and 0 <= index < len(self._cands) else None
        if not typed or c is None or c.actor_id is None:
            self._warn("Type a name and highlight a known actor to make the name its alias.")
            return
        self.dismiss(ActorChoice(c.actor_id, c.name, alias=typed))

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
                f"⚠ « {visible(c.name)} » is close to known {noun(len(near), 'actor')}: "
                f"{', '.join(visible(n) for n in near[:3])}. Enter again to create it anyway, "
                "or pick the known one."
            )
            return
        self.dismiss(ActorChoice(None, c.name.strip()))
