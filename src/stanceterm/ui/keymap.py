"""Every binding of the UI and the ``[keys]`` keymap that can change them.

The screens' and dialogs' ``BINDINGS`` are defined here, so the keymap check, the help screen and
the screens read one list. Each configurable binding has an id: ``[keys]`` in the config file maps
these ids to other keys (``next = "j,down,space"``), and one ``stance_<name>`` per stance of the
label schema picks the stance in the stance prompt.

This module imports only Textual's binding types: screens, dialogs and widgets import it, never
the other way round.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from textual.app import App
from textual.binding import Binding, BindingType

if TYPE_CHECKING:
    from textual.dom import DOMNode

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


# ---------------------------------------------------------------- the label editor's keys


def claim_bindings() -> list[Binding]:
    """``1``-``9`` toggle claim type n (ids ``claim_1`` … ``claim_9``)."""
    return [
        Binding(
            str(n),
            f"toggle_claim({n})",
            "claim",
            show=n == 1,
            key_display="1-9" if n == 1 else None,
            id=f"claim_{n}",
            tooltip=f"toggle claim type {n}",
        )
        for n in range(1, 10)
    ]


ADD_STANCE = Binding(
    "a",
    "add_stance",
    "stance",
    id="add_stance",
    tooltip="add a stance: the claim (if several), the actor, then the stance key",
)
DELETE_STANCE = Binding(
    "d",
    "delete_stance",
    "del",
    show=False,
    id="delete_stance",
    tooltip="delete the highlighted stance row",
)
#: The ids of the label editor's bindings (claims, add and delete a stance); with the stances'
#: ``stance_<name>`` they are the keys the gold editor shares with the annotate screen.
LABEL_EDITOR_IDS = frozenset({*(f"claim_{n}" for n in range(1, 10)), "add_stance", "delete_stance"})


def stance_keys(stances: Sequence[str]) -> dict[str, str]:
    """One letter per stance: its first letter, else its next letter not yet taken."""
    out: dict[str, str] = {}
    for stance in stances:
        for ch in stance.casefold() + "abcdefghijklmnopqrstuvwxyz":
            if ch.isalpha() and ch not in out:
                out[ch] = stance
                break
    return out


def stance_bindings(stances: Sequence[str], keymap: Mapping[str, str]) -> list[Binding]:
    """One binding per stance of the schema (id ``stance_<name>``), for the stance prompt.

    Default keys: the stance's first letter, else its next letter not taken (``s`` support,
    ``o`` oppose, ``n`` neutral). ``[keys]`` can rebind them like any other action.
    """
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


def claim_key_map(keymap: Mapping[str, str]) -> dict[int, list[str]]:
    """Claim number -> its keys after the keymap (the claim chooser follows them too)."""
    return {
        int(b.id.removeprefix("claim_")): effective_keys(b, keymap)
        for b in claim_bindings()
        if b.id
    }


def apply_to(node: DOMNode, keymap: Mapping[str, str], ids: frozenset[str]) -> None:
    """Rebind the ``ids`` among ``node``'s own bindings (not the app's keymap: the review app
    keeps its screen's keys, and only its label editor follows ``[keys]``)."""
    chosen = {k: v for k, v in keymap.items() if k in ids}
    if chosen:
        node._bindings.apply_keymap(App._normalize_keymap(chosen))


# ---------------------------------------------------------------- the annotate screen

ANNOTATE: list[BindingType] = [
    Binding("j,down", "next", "next", id="next", tooltip="next sentence"),
    Binding("k,up", "prev", "prev", show=False, id="prev", tooltip="previous sentence"),
    Binding(
        "g",
        "next_undone",
        "todo",
        show=False,
        id="next_undone",
        tooltip="next sentence I have not done",
    ),
    Binding(
        "slash",
        "search",
        "search",
        show=False,
        key_display="/",
        id="search",
        tooltip="search sentences by text",
    ),
    Binding(
        "n",
        "search_next",
        "next match",
        show=False,
        id="search_next",
        tooltip="next sentence matching the last / search",
    ),
    *claim_bindings(),
    Binding(
        "0",
        "no_claim",
        "none",
        id="no_claim",
        tooltip="no claim: done with no claims and no stances, and advance",
    ),
    Binding(
        "enter",
        "accept",
        "done",
        id="accept",
        tooltip="accept as done and go to the next sentence not done",
    ),
    Binding(
        "A",
        "accept_suggestions",
        "accept ◌",
        show=False,
        id="accept_suggestions",
        tooltip="accept the suggested claims (◌) as done and go on (stances: k back, then a)",
    ),
    ADD_STANCE,
    DELETE_STANCE,
    Binding("x", "skip", "skip", id="skip", tooltip="skip: missing data (not 'no claim')"),
    Binding("f", "flag", "flag", show=False, id="flag", tooltip="flag for discussion"),
    Binding("m", "note", "note", show=False, id="note", tooltip="write a note"),
    Binding("u", "undo", "undo", id="undo", tooltip="undo my last change (repeatable)"),
    Binding(
        "c",
        "cluster",
        "copies",
        id="cluster",
        tooltip="list the copies of this sentence in other articles; split one out",
    ),
    Binding(
        "f1,G",
        "guidelines",
        "guide",
        show=False,
        id="guidelines",
        tooltip="show or hide the guidelines of the claim types",
    ),
    Binding(
        "t",
        "team",
        "team",
        show=False,
        id="team",
        tooltip="show or hide the table of the team's progress (live)",
    ),
    Binding("question_mark", "help", "help", key_display="?", id="help", tooltip="this help"),
    Binding("q", "quit", "quit", id="quit", tooltip="quit (waits for pending writes)"),
]

# ---------------------------------------------------------------- dialogs

NOTE_DIALOG: list[BindingType] = [
    Binding("ctrl+s", "save", "save", id="note_save", tooltip="note: save it"),
    Binding("escape", "cancel", "cancel"),
]
CLUSTER_DIALOG: list[BindingType] = [
    Binding(
        "s",
        "split",
        "split out",
        id="split",
        tooltip="copies list (c): split the highlighted copy out of the cluster",
    ),
    Binding("escape", "cancel", "close"),
    Binding("down", "move(1)", "next", show=False),
    Binding("up", "move(-1)", "previous", show=False),
]
GOLD_EDITOR: list[BindingType] = [
    *claim_bindings(),
    ADD_STANCE,
    DELETE_STANCE,
    Binding("enter", "save", "keep as gold"),
    Binding("escape", "cancel", "cancel"),
]

# ---------------------------------------------------------------- the review screen


def _accept_bindings() -> list[Binding]:
    return [
        Binding(
            str(n),
            f"accept({n})",
            "accept",
            show=n == 1,
            key_display="1-9",
            id="accept",
            tooltip="accept annotator n's labels as gold, then go to the next undecided",
        )
        for n in range(1, 10)
    ]


REVIEW: list[BindingType] = [
    *_accept_bindings(),
    Binding("e", "edit", "edit", id="edit", tooltip="edit the gold labels (claims, stances)"),
    Binding(
        "r",
        "unresolvable",
        "unresolvable",
        id="unresolvable",
        tooltip="mark unresolvable (no gold labels), then go to the next undecided",
    ),
    Binding("m", "note", "note", show=False, id="note", tooltip="note on the gold decision"),
    Binding("j,down,n", "next", "next", id="next", tooltip="next sentence to review"),
    Binding("k,up,p", "prev", "prev", show=False, id="prev", tooltip="previous sentence"),
    Binding("g", "next_open", "todo", show=False, id="next_open", tooltip="next undecided"),
    Binding("u", "undo", "undo", id="undo", tooltip="undo my last decision (repeatable)"),
    Binding(
        "pagedown,ctrl+d",
        "scroll_versions(1)",
        "more",
        show=False,
        id="versions_down",
        tooltip="scroll the annotators' versions down",
    ),
    Binding(
        "pageup,ctrl+u",
        "scroll_versions(-1)",
        "back",
        show=False,
        id="versions_up",
        tooltip="scroll the annotators' versions up",
    ),
    Binding("question_mark", "help", "help", key_display="?", id="help", tooltip="this help"),
    Binding("q", "quit", "quit", id="quit", tooltip="quit (waits for pending writes)"),
]

# ---------------------------------------------------------------- the keymap check


def bindings_of(bindings: Sequence[BindingType]) -> list[Binding]:
    return [b for b in bindings if isinstance(b, Binding)]


def configurable_bindings(
    stances: Sequence[str] = (), keymap: Mapping[str, str] | None = None
) -> list[Binding]:
    """Every binding ``[keys]`` can change, in help order: the annotate screen's, then one per
    stance (``stance_support``...) and the dialogs'."""
    dialogs = [b for b in bindings_of([*NOTE_DIALOG, *CLUSTER_DIALOG]) if b.id]
    return [*bindings_of(ANNOTATE), *stance_bindings(stances, keymap or {}), *dialogs]


class KeymapError(ValueError):
    """A bad [keys] table; the message is one line."""


def check_keymap(keys: Mapping[str, str], stances: Sequence[str] = ()) -> dict[str, str]:
    """Validate ``[keys]`` (action id -> "key,key") against the binding ids: the screen's, the
    dialogs' and one ``stance_<name>`` per stance of the label schema."""
    known = [b.id for b in configurable_bindings(stances) if b.id]
    out: dict[str, str] = {}
    for action, value in keys.items():
        if action not in known:
            raise KeymapError(f"unknown action {action!r} (known: {', '.join(known)})")
        parts = [k.strip() for k in value.split(",")]
        if not value.strip() or any(not k or " " in k for k in parts):
            raise KeymapError(f'{action} = {value!r}: expected keys like "j,down"')
        out[action] = ",".join(parts)
    try:
        stance_key_map(stances, out)
    except ValueError as exc:
        raise KeymapError(str(exc)) from None
    return out
